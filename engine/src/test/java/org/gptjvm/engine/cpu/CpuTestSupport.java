package org.gptjvm.engine.cpu;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;

import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Small helpers for the cpu backend tests (the ones in org.gptjvm.engine's KernelTestSupport are
 * package-private there).
 */
final class CpuTestSupport {
    private CpuTestSupport() {
    }

    static float[] randn(Random rnd, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rnd.nextGaussian() * scale);
        }
        return a;
    }

    static FloatBuf buf(Backend be, String name, float[] data) {
        FloatBuf b = be.allocFloat(name, data.length);
        be.write(b, data);
        return b;
    }

    /** A two-int dropout seed buffer holding {@code seed} (low word first). */
    static IntBuf seedBuf(Backend be, long seed) {
        IntBuf b = be.allocInt("seed", 2);
        be.write(b, new int[] {(int) seed, (int) (seed >>> 32)});
        return b;
    }

    static float[] read(Backend be, FloatBuf b) {
        float[] a = new float[b.size()];
        be.read(b, a);
        return a;
    }

    static void run(Backend be, org.gptjvm.engine.Launch... launches) {
        be.compile("test", List.of(launches)).run();
    }

    /** Norm-wise relative error ||actual - expected|| / ||expected|| in double (absolute when expected is 0). */
    static double relErr(float[] actual, double[] expected) {
        double diff = 0, ref = 0;
        for (int i = 0; i < actual.length; i++) {
            double d = actual[i] - expected[i];
            diff += d * d;
            ref += expected[i] * expected[i];
        }
        return ref == 0 ? Math.sqrt(diff) : Math.sqrt(diff / ref);
    }

    /** a - b element-wise (the increment a backward kernel added onto its initial contents). */
    static float[] minus(float[] a, float[] b) {
        float[] d = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i] - b[i];
        }
        return d;
    }

    /** Worst measured error per kernel/quantity, printed at the end of a test class. */
    static final class MaxErrors {
        private final Map<String, Double> max = new TreeMap<>();

        synchronized void add(String key, double err) {
            max.merge(key, err, Math::max);
        }

        synchronized void print(String title) {
            System.out.println("[" + title + "] worst norm-wise relative error per quantity:");
            max.forEach((k, v) -> System.out.printf("[%s]   %-50s %.3e%n", title, k, v));
        }
    }
}
