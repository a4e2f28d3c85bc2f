package org.gptjvm.tornado;

import org.gptjvm.engine.AdamW;
import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.Program;
import org.gptjvm.engine.Backends;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every kernel of the tornado backend against the reference backend, on the same inputs, for shapes
 * that are not powers of two (odd row counts, T that is not a multiple of anything, one head, one
 * row). Each case runs the same recorded launches on both backends and compares every output
 * buffer norm-wise. Runs with -Dtornado.recover.bailout=False, so a kernel TornadoVM cannot compile
 * fails here instead of running on the JVM.
 */
class TornadoKernelTest {
    static final double TOL = 1e-5;
    /** GemmCall.TILES_PROPERTY (this test compiles in builds without the TornadoVM-only sources). */
    static final String TILES = "gpt.tornado.gemm";
    static final Map<String, Double> WORST = new TreeMap<>();

    record Shape(int B, int T, int C, int NH, int V) {
        @Override
        public String toString() {
            return "B" + B + " T" + T + " C" + C + " NH" + NH + " V" + V;
        }
    }

    static Stream<Arguments> shapes() {
        // tiny and ragged shapes; T and C across the GEMM tile (64) without being multiples of it; the
        // lecture's layer (B2 of its B64): long-K weight gradients split into slices, T of 256
        return Stream.of(new Shape(2, 5, 12, 3, 7), new Shape(3, 17, 36, 6, 65), new Shape(1, 1, 8, 1, 3),
                new Shape(2, 32, 64, 4, 65), new Shape(3, 70, 100, 5, 65), new Shape(2, 256, 384, 6, 65))
                .map(Arguments::of);
    }

    @BeforeAll
    static void runtime() {
        assertTrue(System.getProperty("tornado.load.runtime.implementation") != null, "not running under TornadoVM's flags");
    }

    @AfterAll
    static void printWorst() {
        System.out.println("tornado-vs-reference worst norm-wise relative error per output:");
        WORST.forEach((k, v) -> System.out.printf("  %-40s %.2e%n", k, v));
    }

    /** Inputs named by the case, identical on both backends, and the launches to run over them. */
    static final class Case {
        final Backend be;
        final Random rnd;
        final Map<String, FloatBuf> outputs = new LinkedHashMap<>();

        Case(Backend be, long seed) {
            this.be = be;
            this.rnd = new Random(seed);
        }

        FloatBuf in(String name, int n, double scale) {
            float[] a = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = (float) (rnd.nextGaussian() * scale);
            }
            FloatBuf b = be.allocFloat(name, n);
            be.write(b, a);
            return b;
        }

        /** An output; starts as garbage (or as a gradient to accumulate into), compared afterwards. */
        FloatBuf out(String name, int n) {
            FloatBuf b = in(name, n, 1);
            outputs.put(name, b);
            return b;
        }

        IntBuf ints(String name, int n, int bound) {
            int[] a = new int[n];
            for (int i = 0; i < n; i++) {
                a[i] = rnd.nextInt(bound);
            }
            IntBuf b = be.allocInt(name, n);
            be.write(b, a);
            return b;
        }

        IntBuf ints(String name, int[] values) {
            IntBuf b = be.allocInt(name, values.length);
            be.write(b, values);
            return b;
        }

        Map<String, float[]> run(List<Launch> launches) {
            be.compile("case", launches).run();
            Map<String, float[]> res = new LinkedHashMap<>();
            outputs.forEach((k, b) -> {
                float[] a = new float[b.size()];
                be.read(b, a);
                res.put(k, a);
            });
            return res;
        }
    }

    static void compare(Shape s, Function<Case, List<Launch>> build) {
        Map<String, float[]> ref, dev;
        try (Backend be = new ReferenceBackend(1)) {
            Case c = new Case(be, s.hashCode());
            ref = c.run(build.apply(c));
        }
        try (Backend be = Backends.create("tornado", 1)) {
            Case c = new Case(be, s.hashCode());
            dev = c.run(build.apply(c));
        }
        List<String> bad = new ArrayList<>();
        for (String k : ref.keySet()) {
            double err = relErr(dev.get(k), ref.get(k));
            WORST.merge(k, err, Math::max);
            if (!(err <= TOL)) {
                bad.add(k + " " + err);
            }
        }
        assertTrue(bad.isEmpty(), s + ": " + bad);
    }

    /**
     * When the tornado backend runs the second passes of long sums that wait for later launches: once
     * for a backward over distinct gradients, and before a launch that adds into a gradient a waiting
     * pass writes (two launches into one gradient race otherwise, which PoCL's two threads hardly show),
     * or that runs again. Reads the recorded plan; runs nothing.
     */
    @Test
    void waitingSumsRunBeforeWhatTouchesTheirGradients() {
        Shape s = new Shape(2, 256, 64, 4, 65); // 512 rows: the weight gradients are split along k
        int N = s.B() * s.T(), C = s.C(), OC = 3 * C + 1;
        try (Backend be = Backends.create("tornado", 1)) {
            Case c = new Case(be, 7);
            FloatBuf x = c.in("x", N * C, 1), w = c.in("w", OC * C, 0.3), d = c.in("dout", N * OC, 1);
            FloatBuf dw1 = c.out("dw1", OC * C), db1 = c.out("db1", OC), dw2 = c.out("dw2", OC * C);
            FloatBuf db2 = c.out("db2", OC), dx = c.out("dx", N * C);
            FloatBuf lnW = c.in("ln.w", C, 1), mean = c.out("ln.mean", N), rstd = c.out("ln.rstd", N);
            Launch a = be.matmulBackward(dx, dw1, db1, d, x, w, N, C, OC);
            Launch other = be.matmulBackward(null, dw2, db2, d, x, w, N, C, OC);
            Launch same = be.matmulBackward(null, dw1, db1, d, x, w, N, C, OC);
            Launch ln = be.layerNormBackward(c.out("ln.dx", N * C), c.out("ln.dw", C), c.out("ln.db", C), dx, x, lnW,
                    mean, rstd, N, C);
            assertEquals(1, sumsLaunches(be.compile("distinct", List.of(a, ln, other))));
            assertEquals(2, sumsLaunches(be.compile("one gradient twice", List.of(a, same))));
            assertEquals(2, sumsLaunches(be.compile("run twice", List.of(a, a))));
            assertEquals(2, sumsLaunches(be.compile("norm between", List.of(a, be.sumOfSquares(c.out("sq", 1),
                    List.of(dw1)), other))));
        }
    }

    private static long sumsLaunches(Program p) {
        return p.plan().stream().filter(l -> l.kernel().equals("backward_sums")).count();
    }

    static double relErr(float[] got, float[] want) {
        double d = 0, n = 0;
        for (int i = 0; i < want.length; i++) {
            d += (got[i] - (double) want[i]) * (got[i] - (double) want[i]);
            n += (double) want[i] * want[i];
        }
        return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-30);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void encoderAndLayerNorm(Shape s) {
        int N = s.B() * s.T(), C = s.C();
        compare(s, c -> {
            IntBuf idx = c.ints("idx", N, s.V());
            FloatBuf wte = c.in("wte", s.V() * Math.max(C, s.V()), 1), wpe = c.in("wpe", s.T() * C, 1), x = c.in("x", N * C, 1);
            FloatBuf w = c.in("w", C, 1), b = c.in("b", C, 1), d = c.in("dout", N * C, 1);
            FloatBuf mean = c.out("ln.mean", N), rstd = c.out("ln.rstd", N);
            return List.of(
                    c.be.encoderForward(c.out("encoder_forward", N * C), idx, wte, wpe, s.B(), s.T(), C),
                    c.be.encoderForward(c.out("encoder_forward(bigram)", N * s.V()), idx, wte, null, s.B(), s.T(), s.V()),
                    c.be.encoderBackward(c.out("encoder_backward.dwte", s.V() * C), c.out("encoder_backward.dwpe", s.T() * C),
                            d, idx, s.B(), s.T(), C),
                    c.be.layerNormForward(c.out("layernorm_forward", N * C), mean, rstd, x, w, b, N, C),
                    c.be.layerNormBackward(c.out("layernorm_backward.dinp", N * C), c.out("layernorm_backward.dw", C),
                            c.out("layernorm_backward.db", C), d, x, w, mean, rstd, N, C));
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void matmul(Shape s) {
        compare(s, c -> products(c, s));
    }

    /**
     * Every Linear-layer launch: forward with bias, ReLU, residual and dropout, backward with and without
     * dinp, through dropout and through a ReLU before the layer.
     */
    static List<Launch> products(Case c, Shape s) {
        int N = s.B() * s.T(), C = s.C(), OC = 3 * C + 1;
        FloatBuf x = c.in("x", N * C, 1), w = c.in("w", OC * C, 0.3), b = c.in("bias", OC, 1);
        FloatBuf d = c.in("dout", N * OC, 1), r = c.in("residual", N * OC, 1);
        IntBuf seed = c.ints("seed", new int[]{0x2545F491, 0x4F6CDD1D});
        // gradients added to twice in one program: one launch run twice (its dout changed in between), and
        // two launches into one gradient (a device backend that lets the second passes of sums wait must run
        // them in time)
        FloatBuf d2 = c.in("dout2", N * OC, 1);
        Launch twice = c.be.matmulBackward(c.out("matmul_backward(run twice).dinp", N * C),
                c.out("matmul_backward(run twice).dw", OC * C), c.out("matmul_backward(run twice).db", OC), d2, x, w,
                N, C, OC);
        FloatBuf sharedW = c.out("matmul_backward(two into one).dw", OC * C), sharedB = c.out(
                "matmul_backward(two into one).db", OC);
        return List.of(twice, c.be.reluForward(d2, d2, N * OC), twice,
                c.be.matmulBackward(null, sharedW, sharedB, d, x, w, N, C, OC),
                c.be.matmulDropoutBackward(null, sharedW, sharedB, d, seed, 0.3f, 5, x, false, w, N, C, OC),
                c.be.matmulResidualForward(c.out("matmul_residual_forward", N * OC), r, x, w, b, seed, 0f, 3, N, C, OC),
                c.be.matmulResidualForward(c.out("matmul_residual_forward(p=0.3)", N * OC), r, x, w, b, seed, 0.3f, 3,
                        N, C, OC),
                c.be.matmulDropoutBackward(c.out("matmul_dropout_backward.dinp", N * C),
                        c.out("matmul_dropout_backward.dw", OC * C), c.out("matmul_dropout_backward.db", OC), d, seed,
                        0.3f, 3, x, false, w, N, C, OC),
                // the feed-forward's second Linear layer: dinp through the ReLU whose output x stands for (x has
                // both signs), with dropout and without
                c.be.matmulDropoutBackward(c.out("matmul_dropout_backward(relu input).dinp", N * C),
                        c.out("matmul_dropout_backward(relu input).dw", OC * C),
                        c.out("matmul_dropout_backward(relu input).db", OC), d, seed, 0.3f, 3, x, true, w, N, C, OC),
                c.be.matmulDropoutBackward(c.out("matmul_dropout_backward(p=0, relu input).dinp", N * C),
                        c.out("matmul_dropout_backward(p=0, relu input).dw", OC * C),
                        c.out("matmul_dropout_backward(p=0, relu input).db", OC), d, seed, 0f, 3, x, true, w, N, C, OC),
                c.be.matmulForward(c.out("matmul_forward", N * OC), x, w, b, N, C, OC),
                c.be.matmulForward(c.out("matmul_forward(no bias)", N * OC), x, w, null, N, C, OC),
                c.be.matmulReluForward(c.out("matmul_relu_forward", N * OC), x, w, b, N, C, OC),
                c.be.matmulBackward(c.out("matmul_backward.dinp", N * C), c.out("matmul_backward.dw", OC * C),
                        c.out("matmul_backward.db", OC), d, x, w, N, C, OC),
                c.be.matmulBackward(null, c.out("matmul_backward(no dinp).dw", OC * C), null, d, x, w, N, C, OC));
    }

    /**
     * The products again on the 128-wide GEMM tiles ({@code -Dgpt.tornado.gemm=128} puts every
     * product on them, where {@code auto} would only take the large ones).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void matmulAndAttentionOnWideTiles(Shape s) {
        onTiles("128", () -> {
            matmul(s);
            attentionWithAndWithoutDropout(s);
            return null;
        });
    }

    /**
     * The products on {@code -Dgpt.tornado.gemm=auto}, on a shape where it gives a Linear layer's
     * input gradient (512 x 384) the 64-wide tiles and its weight gradient (1153 x 384) the 128-wide
     * ones: the two then take a launch each instead of sharing one.
     */
    @Test
    void matmulOnAutoTiles() {
        onTiles("auto", () -> {
            matmul(new Shape(2, 256, 384, 6, 65));
            return null;
        });
    }

    /**
     * {@link GemmKernels#gemmWide} ({@code -Dgpt.tornado.gemm=128}) sums every element in the default
     * kernel's k order: every product, the Linear layers' and attention's, gives the same bits on both.
     * The one exception is a weight gradient split along k: the split follows the tile count (enough
     * work-groups to fill a device), so on wide tiles its slices can end at other k, and the slices'
     * sums are added in another grouping. Those are held to the reference tolerance against each other.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void wideTilesGiveTheDefaultTilesBits(Shape s) {
        Function<Case, List<Launch>> all = c -> {
            List<Launch> l = new ArrayList<>(products(c, s));
            l.addAll(attention(c, s));
            return l;
        };
        Map<String, float[]> plain = onTiles("64", () -> onTornado(s, all));
        Map<String, float[]> wide = onTiles("128", () -> onTornado(s, all));
        assertEquals(plain.keySet(), wide.keySet());
        plain.forEach((k, v) -> {
            if (k.startsWith("matmul") && k.endsWith(".dw")) {
                double err = relErr(wide.get(k), v);
                assertTrue(err <= TOL, s + ": " + k + " differs by " + err);
            } else {
                assertArrayEquals(v, wide.get(k), s + ": " + k);
            }
        });
    }

    /** {@code body} with the GEMM tile setting {@code tiles}, then the setting as it was. */
    static <T> T onTiles(String tiles, java.util.function.Supplier<T> body) {
        String before = System.getProperty(TILES);
        System.setProperty(TILES, tiles);
        try {
            return body.get();
        } finally {
            if (before == null) {
                System.clearProperty(TILES);
            } else {
                System.setProperty(TILES, before);
            }
        }
    }

    /** The outputs of {@code build}'s launches on the tornado backend. */
    static Map<String, float[]> onTornado(Shape s, Function<Case, List<Launch>> build) {
        try (Backend be = Backends.create("tornado", 1)) {
            Case c = new Case(be, s.hashCode());
            return c.run(build.apply(c));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void attentionWithAndWithoutDropout(Shape s) {
        compare(s, c -> attention(c, s));
    }

    /** Attention forward and backward, without dropout and with. */
    static List<Launch> attention(Case c, Shape s) {
        int B = s.B(), T = s.T(), C = s.C(), NH = s.NH(), N = B * T;
        FloatBuf qkv = c.in("qkv", N * 3 * C, 1), d = c.in("dout", N * C, 1);
        IntBuf seed = c.ints("seed", new int[]{0x1234567, 0x7654321});
        List<Launch> l = new ArrayList<>();
        for (float p : new float[]{0f, 0.25f}) {
            FloatBuf att = c.out("attention_forward.att(p=" + p + ")", B * NH * T * T);
            l.add(c.be.attentionForward(c.out("attention_forward.out(p=" + p + ")", N * C), att, qkv, seed, p, 5,
                    B, T, C, NH));
            l.add(c.be.attentionBackward(c.out("attention_backward.dqkv(p=" + p + ")", N * 3 * C), d, qkv, att,
                    seed, p, 5, B, T, C, NH));
        }
        return l;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void elementwiseLossAndAdamW(Shape s) {
        int N = s.B() * s.T(), n = N * s.C(), V = s.V();
        compare(s, c -> {
            FloatBuf a = c.in("a", n, 1), b = c.in("b", n, 1), d = c.in("dout", n, 1);
            IntBuf seed = c.ints("seed", new int[]{99, -7});
            FloatBuf relu = c.out("relu_forward", n);
            FloatBuf logits = c.in("logits", N * V, 2);
            IntBuf targets = c.ints("targets", N, V);
            FloatBuf probs = c.out("crossentropy_forward.probs", N * V), losses = c.out("crossentropy_forward.losses", N);
            FloatBuf hyper = c.in("hyper", AdamW.SIZE, 0);
            float[] h = new float[AdamW.SIZE];
            AdamW.fill(h, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3, 0.37); // gradients scaled (clipping) too
            c.be.write(hyper, h);
            c.be.hostInput(hyper);
            FloatBuf m = c.out("adamw.m", n), v = c.out("adamw.v", n);
            c.be.write(v, abs(c, n)); // second moments are never negative
            return List.of(
                    c.be.reluForward(relu, a, n),
                    c.be.reluBackward(c.out("relu_backward", n), relu, d, n),
                    c.be.residualForward(c.out("residual_forward", n), a, b, n),
                    c.be.residualBackward(c.out("residual_backward.da", n), c.out("residual_backward.db", n), d, n),
                    c.be.dropoutForward(c.out("dropout_forward", n), a, seed, 0.3f, 7, n),
                    c.be.dropoutBackward(c.out("dropout_backward", n), d, seed, 0.3f, 7, n),
                    c.be.crossEntropyForward(losses, probs, logits, targets, N, V),
                    c.be.meanLoss(c.out("mean_loss", 1), losses, N),
                    c.be.crossEntropyBackward(c.out("crossentropy_backward", N * V), probs, targets, N, V),
                    c.be.adamw(c.out("adamw.param", n), b, m, v, hyper, n),
                    c.be.zero(List.of(c.out("zero", n))),
                    // a, b, dout are neighbours (one range), logits another
                    c.be.sumOfSquares(c.out("sum_of_squares", 1), List.of(a, b, d, logits)));
        });
    }

    private static float[] abs(Case c, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) Math.abs(c.rnd.nextGaussian());
        }
        return a;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void decodeKernels(Shape s) {
        int T = s.T(), C = s.C(), NH = s.NH();
        compare(s, c -> {
            FloatBuf wte = c.in("wte", s.V() * Math.max(C, s.V()), 1), wpe = c.in("wpe", T * C, 1), qkv = c.in("qkv", 3 * C, 1);
            IntBuf tokPos = c.ints("tok_pos", new int[]{s.V() - 1, T - 1});
            return List.of(
                    c.be.embedToken(c.out("embed_token", C), tokPos, wte, wpe, C),
                    c.be.attentionDecode(c.out("attention_decode.out", C), qkv,
                            c.out("attention_decode.k_cache", T * C), c.out("attention_decode.v_cache", T * C), tokPos, T, C, NH));
        });
    }
}
