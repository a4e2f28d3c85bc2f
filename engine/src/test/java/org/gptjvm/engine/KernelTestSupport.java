package org.gptjvm.engine;

import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Shared helpers for the kernel tests: seeded random data, buffers, error measures and the two
 * finite-difference drivers (one re-running a backend's forward kernel in float, one over a naive
 * double-precision forward written in the tests).
 */
final class KernelTestSupport {

    private KernelTestSupport() {
    }

    // ---------------------------------------------------------------- random data

    /** Normal(0, scale^2) values from a seeded generator. */
    static float[] randn(Random rnd, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rnd.nextGaussian() * scale);
        }
        return a;
    }

    /** Uniform in [lo, hi). */
    static float[] uniform(Random rnd, int n, double lo, double hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (lo + (hi - lo) * rnd.nextDouble());
        }
        return a;
    }

    /** Values with |x| in [minAbs, maxAbs) and a random sign: safely away from a kink at 0. */
    static float[] awayFromZero(Random rnd, int n, double minAbs, double maxAbs) {
        float[] a = uniform(rnd, n, minAbs, maxAbs);
        for (int i = 0; i < n; i++) {
            if (rnd.nextBoolean()) {
                a[i] = -a[i];
            }
        }
        return a;
    }

    static int[] randInt(Random rnd, int n, int bound) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = rnd.nextInt(bound);
        }
        return a;
    }

    // ---------------------------------------------------------------- conversions and norms

    static double[] toDouble(float[] a) {
        if (a == null) {
            return null;
        }
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    static double[] scaled(float[] a, double s) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i] * s;
        }
        return d;
    }

    static double[] plus(float[] a, float[] b) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = (double) a[i] + b[i];
        }
        return d;
    }

    /** sum_i a[i] * r[i] in double. */
    static double dot(float[] a, float[] r) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * r[i];
        }
        return s;
    }

    static double dot(double[] a, float[] r) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * r[i];
        }
        return s;
    }

    static double norm(double[] a) {
        double s = 0;
        for (double x : a) {
            s += x * x;
        }
        return Math.sqrt(s);
    }

    /** Norm-wise relative error ||actual - expected|| / ||expected|| (absolute when expected is 0). */
    static double relErr(double[] actual, double[] expected) {
        if (actual.length != expected.length) {
            throw new IllegalArgumentException(actual.length + " vs " + expected.length);
        }
        double diff = 0;
        for (int i = 0; i < actual.length; i++) {
            double d = actual[i] - expected[i];
            diff += d * d;
        }
        double ref = norm(expected);
        return ref == 0 ? Math.sqrt(diff) : Math.sqrt(diff) / ref;
    }

    static double relErr(float[] actual, double[] expected) {
        return relErr(toDouble(actual), expected);
    }

    /** Element-wise |actual - expected| <= tol * (1 + |expected|). */
    static void assertClose(String what, double[] expected, float[] actual, double tol) {
        if (expected.length != actual.length) {
            fail(what + ": length " + actual.length + ", expected " + expected.length);
        }
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs(actual[i] - expected[i]);
            if (!(err <= tol * (1 + Math.abs(expected[i])))) {
                fail(what + "[" + i + "] = " + actual[i] + ", expected " + expected[i] + " (error " + err
                        + ", tolerance " + tol + " relative)");
            }
        }
    }

    // ---------------------------------------------------------------- backend plumbing

    static FloatBuf buf(Backend be, String name, float[] data) {
        FloatBuf b = be.allocFloat(name, data.length);
        be.write(b, data);
        return b;
    }

    /** A block of one part holding {@code data}. */
    static FloatBlock block(Backend be, String name, float[] data) {
        FloatBlock b = be.allocBlock(name, List.of(name), new int[]{data.length});
        be.write(b.part(0), data);
        return b;
    }

    /** AdamW's four blocks for one parameter: values, gradient and moments as given. */
    static ParamBlocks params(Backend be, float[] p, float[] g, float[] m, float[] v) {
        return new ParamBlocks(block(be, "p", p), block(be, "g", g), block(be, "m", m), block(be, "v", v));
    }

    static IntBuf ibuf(Backend be, String name, int[] data) {
        IntBuf b = be.allocInt(name, data.length);
        be.write(b, data);
        return b;
    }

    /** A two-int dropout seed buffer holding {@code seed} (low word first). */
    static IntBuf seedBuf(Backend be, long seed) {
        return ibuf(be, "seed", new int[] {(int) seed, (int) (seed >>> 32)});
    }

    static float[] read(Backend be, FloatBuf b) {
        float[] a = new float[b.size()];
        be.read(b, a);
        return a;
    }

    static Program program(Backend be, Launch... launches) {
        return be.compile("test", List.of(launches));
    }

    static void run(Backend be, Launch... launches) {
        program(be, launches).run();
    }

    // ---------------------------------------------------------------- finite differences

    /**
     * Central differences of L = sum(out * r) with respect to every element of the input {@code x}
     * (whose current contents are {@code xHost}), re-running {@code forward} in float for each
     * evaluation. Divides by the perturbation actually representable in float. Leaves {@code x}
     * restored and the forward state recomputed for the unperturbed input.
     */
    static double[] finiteDifference(Backend be, Program forward, FloatBuf x, float[] xHost, FloatBuf out,
                                     float[] r, float h) {
        float[] o = new float[out.size()];
        double[] g = new double[xHost.length];
        for (int i = 0; i < xHost.length; i++) {
            float orig = xHost[i];
            float plus = orig + h, minus = orig - h;
            xHost[i] = plus;
            be.write(x, xHost);
            forward.run();
            be.read(out, o);
            double lp = dot(o, r);
            xHost[i] = minus;
            be.write(x, xHost);
            forward.run();
            be.read(out, o);
            double lm = dot(o, r);
            xHost[i] = orig;
            g[i] = (lp - lm) / ((double) plus - (double) minus);
        }
        be.write(x, xHost);
        forward.run();
        return g;
    }

    /** Central differences of L = sum(f(x) * r) over a double-precision function. */
    static double[] naiveFiniteDifference(UnaryOperator<double[]> f, double[] x, float[] r, double h) {
        double[] xx = x.clone();
        double[] g = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            xx[i] = x[i] + h;
            double lp = dot(f.apply(xx), r);
            xx[i] = x[i] - h;
            double lm = dot(f.apply(xx), r);
            xx[i] = x[i];
            g[i] = (lp - lm) / (2 * h);
        }
        return g;
    }

    /** Prints a measured error so the test log shows how much headroom each check has. */
    static void report(String kernel, String what, double err) {
        System.out.printf("[gradcheck] %-22s %-28s %.3e%n", kernel, what, err);
    }
}
