package org.gptjvm.engine.conformance;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.BackendProvider;
import org.gptjvm.engine.Backends;
import org.gptjvm.engine.FloatBlock;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.Launch;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The one harness every backend is held to the reference with: the same recorded launches, over the
 * same inputs (drawn from one seeded generator in the order a case asks for them), run on a backend
 * and on the reference backend, and every output compared norm-wise as it ends and, for a gradient a
 * kernel adds onto earlier contents ({@link Case#grad}), as the increment alone too.
 *
 * <p>Which backends are under test comes from the registry: every backend that can run here but the
 * reference, or the list in the system property {@value #BACKENDS} (a module that builds one backend
 * names it there).
 */
public final class Conformance {
    /** Norm-wise relative error every output must stay within. */
    public static final double TOL = 1e-5;
    /** Comma-separated backends to test; unset: every present backend of the registry but the reference. */
    public static final String BACKENDS = "gpt.conformance.backends";

    private Conformance() {
    }

    /** The backends under test (the reference among them only where {@code withReference}). */
    public static List<String> backends(boolean withReference) {
        String named = System.getProperty(BACKENDS, "").trim();
        List<String> names = named.isEmpty()
                ? Backends.providers().stream().filter(p -> p.absence() == null).map(BackendProvider::name).toList()
                : Arrays.stream(named.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
        return names.stream().filter(n -> withReference || !n.equals("reference")).toList();
    }

    /** A model shape: batch, block, embedding, heads, vocabulary. */
    public record Shape(int B, int T, int C, int NH, int V) {
        public int N() {
            return B * T;
        }

        @Override
        public String toString() {
            return "B" + B + " T" + T + " C" + C + " NH" + NH + " V" + V;
        }
    }

    /**
     * Tiny and ragged shapes (odd row counts, one head, one row); T and C across a 64-wide GEMM tile
     * without being multiples of it; one layer of the lecture model (B2 of its B64), whose long
     * weight-gradient sums a device splits; and T and the Linear layers' rows and outputs across a
     * 128-wide tile, attention's causal square included (136 = 128 + 8 rows, 145 = 128 + 17 outputs);
     * and rows longer than 512 (C and T 520, N 520): a row kernel that takes 4 x 128 columns of a row a
     * pass goes round twice.
     */
    public static final List<Shape> SHAPES = List.of(new Shape(2, 5, 12, 3, 7), new Shape(3, 17, 36, 6, 65),
            new Shape(1, 1, 8, 1, 3), new Shape(2, 32, 64, 4, 65), new Shape(3, 70, 100, 5, 65),
            new Shape(2, 256, 384, 6, 65), new Shape(1, 136, 48, 2, 65), new Shape(1, 520, 520, 2, 65));

    /** The worst error seen per output over a test class, printed at its end. */
    public static final Map<String, Double> WORST = new TreeMap<>();

    /** Inputs named by the case, identical on every backend, and the outputs to compare. */
    public static final class Case {
        public final Backend be;
        public final Random rnd;
        final Map<String, FloatBuf> outputs = new LinkedHashMap<>();
        final Map<String, float[]> initial = new LinkedHashMap<>();

        public Case(Backend be, long seed) {
            this.be = be;
            this.rnd = new Random(seed);
        }

        public float[] randn(int n, double scale) {
            float[] a = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = (float) (rnd.nextGaussian() * scale);
            }
            return a;
        }

        /** An input of normal values times {@code scale}. */
        public FloatBuf in(String name, int n, double scale) {
            return in(name, randn(n, scale));
        }

        public FloatBuf in(String name, float[] values) {
            FloatBuf b = be.allocFloat(name, values.length);
            be.write(b, values);
            return b;
        }

        /** An output: starts as garbage (or as values a kernel updates), and is compared afterwards. */
        public FloatBuf out(String name, int n) {
            FloatBuf b = in(name, randn(n, 1));
            outputs.put(name, b);
            return b;
        }

        /**
         * A gradient a kernel adds to (+=), starting from random contents: compared afterwards, and its
         * increment too, so that the contents added to cannot hide an error in the kernel's own sum.
         */
        public FloatBuf grad(String name, int n) {
            float[] v = randn(n, 1);
            FloatBuf b = in(name, v);
            outputs.put(name, b);
            initial.put(name, v);
            return b;
        }

        /** An output block of parts named {@code name.0}, {@code name.1}, ... with random contents. */
        public FloatBlock outBlock(String name, int... sizes) {
            List<String> names = new ArrayList<>();
            for (int i = 0; i < sizes.length; i++) {
                names.add(name + "." + i);
            }
            FloatBlock block = be.allocBlock(name, names, sizes);
            for (int i = 0; i < sizes.length; i++) {
                be.write(block.part(i), randn(sizes[i], 1));
                outputs.put(names.get(i), block.part(i));
            }
            return block;
        }

        /** An input block (values written, not compared). */
        public FloatBlock inBlock(String name, double scale, int... sizes) {
            List<String> names = new ArrayList<>();
            for (int i = 0; i < sizes.length; i++) {
                names.add(name + "." + i);
            }
            FloatBlock block = be.allocBlock(name, names, sizes);
            for (int i = 0; i < sizes.length; i++) {
                be.write(block.part(i), randn(sizes[i], scale));
            }
            return block;
        }

        public IntBuf ints(String name, int n, int bound) {
            int[] a = new int[n];
            for (int i = 0; i < n; i++) {
                a[i] = rnd.nextInt(bound);
            }
            return ints(name, a);
        }

        public IntBuf ints(String name, int[] values) {
            IntBuf b = be.allocInt(name, values.length);
            be.write(b, values);
            return b;
        }

        /** Runs the launches as one program; returns every output, and its initial contents under "init." + name. */
        public Map<String, float[]> run(List<Launch> launches) {
            be.compile("case", launches).run();
            Map<String, float[]> res = new LinkedHashMap<>();
            outputs.forEach((k, b) -> {
                float[] a = new float[b.size()];
                be.read(b, a);
                res.put(k, a);
            });
            initial.forEach((k, v) -> res.put("init." + k, v));
            return res;
        }
    }

    /** The outputs of {@code build}'s launches on a fresh {@code backend} (2 threads where it has threads). */
    public static Map<String, float[]> outputs(String backend, long seed, Function<Case, List<Launch>> build) {
        return outputs(backend, 2, seed, build);
    }

    /** As above, on {@code threads} threads. */
    public static Map<String, float[]> outputs(String backend, int threads, long seed, Function<Case, List<Launch>> build) {
        try (Backend be = Backends.create(backend, threads)) {
            Case c = new Case(be, seed);
            return c.run(build.apply(c));
        }
    }

    /** {@code build}'s launches on {@code backend} and on the reference: every output within {@link #TOL}. */
    public static void assertMatchesReference(String backend, String what, long seed, Function<Case, List<Launch>> build) {
        Map<String, float[]> ref = outputs("reference", seed, build), got = outputs(backend, seed, build);
        List<String> bad = new ArrayList<>();
        for (String k : ref.keySet()) {
            if (k.startsWith("init.")) {
                continue;
            }
            double err = relErr(got.get(k), ref.get(k));
            float[] init = ref.get("init." + k);
            double inc = init == null ? 0 : relErr(minus(got.get(k), init), minus(ref.get(k), init));
            synchronized (WORST) {
                WORST.merge(backend + " " + k, Math.max(err, inc), Math::max);
            }
            if (!(err <= TOL && inc <= TOL)) {
                bad.add(init == null ? String.format("%s: %.3e", k, err)
                        : String.format("%s: total %.3e, increment %.3e", k, err, inc));
            }
        }
        assertTrue(bad.isEmpty(), backend + ", " + what + ": relative error above " + TOL + ":\n" + String.join("\n", bad));
    }

    /** {@code build}'s outputs on two fresh {@code backend}s are the same bits. */
    public static void assertRepeats(String backend, String what, long seed, Function<Case, List<Launch>> build) {
        assertSameBits(backend + ", " + what + ": two runs", outputs(backend, seed, build), outputs(backend, seed, build));
    }

    /** Every output of {@code a} and {@code b} is the same bits. */
    public static void assertSameBits(String what, Map<String, float[]> a, Map<String, float[]> b) {
        assertEquals(a.keySet(), b.keySet());
        List<String> differ = new ArrayList<>();
        a.forEach((k, v) -> {
            if (!Arrays.equals(v, b.get(k))) {
                differ.add(k);
            }
        });
        assertTrue(differ.isEmpty(), what + " differ in " + differ);
    }

    /** Prints the worst errors seen. */
    public static void printWorst(String title) {
        synchronized (WORST) {
            System.out.println("[" + title + "] worst norm-wise relative error per output (total or increment):");
            WORST.forEach((k, v) -> System.out.printf("[%s]   %-60s %.2e%n", title, k, v));
        }
    }

    /** Norm-wise relative error ||got - want|| / ||want|| in double (absolute where want is 0). */
    public static double relErr(float[] got, float[] want) {
        assertEquals(want.length, got.length, "lengths");
        double d = 0, n = 0;
        for (int i = 0; i < want.length; i++) {
            double e = (double) got[i] - want[i];
            d += e * e;
            n += (double) want[i] * want[i];
        }
        return n == 0 ? Math.sqrt(d) : Math.sqrt(d / n);
    }

    static float[] minus(float[] a, float[] b) {
        float[] d = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i] - b[i];
        }
        return d;
    }
}
