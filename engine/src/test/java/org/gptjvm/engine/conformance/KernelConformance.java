package org.gptjvm.engine.conformance;

import org.gptjvm.engine.AdamW;
import org.gptjvm.engine.Backend;
import org.gptjvm.engine.Backends;
import org.gptjvm.engine.FloatBlock;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.ParamBlocks;
import org.gptjvm.engine.Program;
import org.gptjvm.engine.conformance.Conformance.Case;
import org.gptjvm.engine.conformance.Conformance.Shape;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The kernel half of the conformance suite every backend runs: each kernel of the Backend contract
 * against the reference backend on {@link Conformance#SHAPES}, every variant the model launches (a
 * Linear layer with its bias, ReLU, dropout and residual; its backward with and without an input
 * gradient, through dropout and through a ReLU; a launch run twice and two launches into one
 * gradient in one program; attention with and without dropout; AdamW over runs of a block), and two
 * runs of all of it giving the same bits. A module runs it through a subclass, for the backends
 * {@link Conformance#backends} names there.
 */
public abstract class KernelConformance {

    static Stream<Arguments> cases() {
        return Conformance.backends(false).stream()
                .flatMap(b -> Conformance.SHAPES.stream().map(s -> Arguments.of(b, s)));
    }

    static Stream<String> backends() {
        return Conformance.backends(false).stream();
    }

    @AfterAll
    static void printWorst() {
        Conformance.printWorst("conformance");
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("org.gptjvm.engine.conformance.KernelConformance#cases")
    void embeddingsAndLayerNorm(String backend, Shape s) {
        Conformance.assertMatchesReference(backend, s + " embeddings and LayerNorm", s.hashCode(), c -> embeddings(c, s));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("org.gptjvm.engine.conformance.KernelConformance#cases")
    void linearLayers(String backend, Shape s) {
        Conformance.assertMatchesReference(backend, s + " Linear layers", s.hashCode(), c -> linear(c, s));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("org.gptjvm.engine.conformance.KernelConformance#cases")
    void attentionWithAndWithoutDropout(String backend, Shape s) {
        Conformance.assertMatchesReference(backend, s + " attention", s.hashCode(), c -> attention(c, s));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("org.gptjvm.engine.conformance.KernelConformance#cases")
    void lossAndOptimizer(String backend, Shape s) {
        Conformance.assertMatchesReference(backend, s + " loss, AdamW, zero, sum of squares", s.hashCode(),
                c -> lossAndOptimizer(c, s));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("org.gptjvm.engine.conformance.KernelConformance#cases")
    void decodingOneToken(String backend, Shape s) {
        Conformance.assertMatchesReference(backend, s + " decoding", s.hashCode(), c -> decode(c, s));
    }

    /** All of the above on one shape, twice, each on a fresh backend: the same bits. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.gptjvm.engine.conformance.KernelConformance#backends")
    void twoRunsGiveTheSameBits(String backend) {
        Shape s = Conformance.SHAPES.get(3);
        Conformance.assertRepeats(backend, s + " every kernel", 7, c -> everything(c, s));
    }

    /**
     * A program run again from the same inputs gives the same bits (nothing depends on state a run
     * left behind), and a run after new weights were written reads the new ones (as after an
     * optimizer step), as the reference does.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.gptjvm.engine.conformance.KernelConformance#backends")
    void rerunningAProgramGivesTheSameBits(String backend) {
        Shape s = Conformance.SHAPES.get(4);
        float[][] got = rerun(backend, s), want = rerun("reference", s);
        assertArrayEquals(got[0], got[1], backend + ": the second run of a program differs from the first");
        assertTrue(Conformance.relErr(got[0], want[0]) <= Conformance.TOL, backend + ": first run");
        assertTrue(Conformance.relErr(got[2], want[2]) <= Conformance.TOL, backend + ": the run after new weights");
        assertTrue(Conformance.relErr(got[2], got[0]) > 0.1, backend + ": the run after new weights used the old ones");
    }

    /**
     * A block changed on the host ({@link Backend#changeOnHost}: a data-parallel run's gradient
     * all-reduce) is handed the values the last program left there, and keeps what the host leaves,
     * in every part, for the next program and a read; a buffer beside it keeps its own values. Before
     * any program ran, and after programs that wrote the block (on a device, where only the device
     * then holds its values).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.gptjvm.engine.conformance.KernelConformance#backends")
    void aBlockChangedOnTheHostKeepsWhatTheHostLeft(String backend) {
        int[] sizes = {5, 1, 37};
        try (Backend be = Backends.create(backend, 2)) {
            Case c = new Case(be, 9);
            FloatBlock block = c.inBlock("grads", 1, sizes);
            FloatBuf beside = c.in("beside", 11, 1), squares = c.out("squares", 1);
            float[] besideBefore = read(be, beside);
            float[][] want = new float[sizes.length][];
            for (int i = 0; i < sizes.length; i++) {
                want[i] = read(be, block.part(i));
            }
            Program zero = be.compile("zero", List.of(be.zero(block)));
            Program sum = be.compile("squares", List.of(be.sumOfSquares(squares, block)));
            for (int round = 0; round < 4; round++) {
                if (round >= 1) { // the device writes the block: the host must see what it wrote
                    zero.run();
                    for (float[] part : want) {
                        java.util.Arrays.fill(part, 0f);
                    }
                }
                be.changeOnHost(block, seg -> {
                    for (long k = 0; k < seg.byteSize() / 4; k++) {
                        float v = seg.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, k);
                        seg.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, k, 2 * v + 1);
                    }
                });
                double expected = 0;
                for (float[] part : want) {
                    for (int k = 0; k < part.length; k++) {
                        part[k] = 2 * part[k] + 1;
                        expected += (double) part[k] * part[k];
                    }
                }
                sum.run();
                float got = read(be, squares)[0];
                assertTrue(Math.abs(got - expected) <= 1e-5 * expected, backend + ": round " + round + " sum of squares "
                        + got + ", want " + expected);
                for (int i = 0; i < sizes.length; i++) {
                    assertArrayEquals(want[i], read(be, block.part(i)), backend + ": round " + round + ", part " + i);
                }
                assertArrayEquals(besideBefore, read(be, beside), backend + ": the buffer beside the block");
            }
        }
    }

    /** Attention with dropout and a Linear layer over its output: run, run again, new weights, run. */
    private static float[][] rerun(String backend, Shape s) {
        int N = s.N(), C = s.C(), T = s.T(), NH = s.NH();
        try (Backend be = Backends.create(backend, 2)) {
            Case c = new Case(be, 5);
            FloatBuf qkv = c.in("qkv", N * 3 * C, 1), w = c.in("w", 2 * C * C, 0.3);
            // the batch's first row in a combined one of 3 batches (a data-parallel run's last process)
            IntBuf seed = c.ints("seed", new int[]{11, 12, 2 * N});
            FloatBuf att = c.out("att", s.B() * NH * T * T), atty = c.out("atty", N * C), out = c.out("out", N * 2 * C);
            float[] newWeights = c.randn(2 * C * C, 0.3);
            Program p = be.compile("forward", List.of(be.attentionForward(atty, att, qkv, seed, 0.25f, 3, s.B(), T, C, NH),
                    be.matmulForward(out, atty, w, null, N, C, 2 * C)));
            float[][] runs = new float[3][];
            p.run();
            runs[0] = read(be, out);
            p.run();
            runs[1] = read(be, out);
            be.write(w, newWeights);
            p.run();
            runs[2] = read(be, out);
            return runs;
        }
    }

    private static float[] read(Backend be, FloatBuf b) {
        float[] a = new float[b.size()];
        be.read(b, a);
        return a;
    }

    // ---------------------------------------------------------------- the launches of each case

    /** Every case on one shape, in one program. */
    public static List<Launch> everything(Case c, Shape s) {
        List<Launch> l = new ArrayList<>(embeddings(c, s));
        l.addAll(linear(c, s));
        l.addAll(attention(c, s));
        l.addAll(lossAndOptimizer(c, s));
        l.addAll(decode(c, s));
        return l;
    }

    /** The token and position embeddings (and the bigram model's table) forward and backward; LayerNorm. */
    static List<Launch> embeddings(Case c, Shape s) {
        int N = s.N(), C = s.C(), V = s.V();
        IntBuf idx = c.ints("idx", N, V);
        FloatBuf wte = c.in("wte", V * Math.max(C, V), 1), wpe = c.in("wpe", s.T() * C, 1), x = c.in("x", N * C, 1);
        FloatBuf w = c.in("w", C, 1), b = c.in("b", C, 1), d = c.in("dout", N * C, 1);
        FloatBuf mean = c.out("ln.mean", N), rstd = c.out("ln.rstd", N);
        return List.of(
                c.be.encoderForward(c.out("encoder_forward", N * C), idx, wte, wpe, s.B(), s.T(), C),
                c.be.encoderForward(c.out("encoder_forward(bigram)", N * V), idx, wte, null, s.B(), s.T(), V),
                c.be.encoderBackward(c.grad("encoder_backward.dwte", V * C), c.grad("encoder_backward.dwpe", s.T() * C), d,
                        idx, s.B(), s.T(), C),
                c.be.encoderBackward(c.grad("encoder_backward(bigram).dwte", V * V), null, c.in("dlogits", N * V, 1), idx,
                        s.B(), s.T(), V),
                c.be.layerNormForward(c.out("layernorm_forward", N * C), mean, rstd, x, w, b, N, C),
                c.be.layerNormBackward(c.grad("layernorm_backward.dinp", N * C), c.grad("layernorm_backward.dw", C),
                        c.grad("layernorm_backward.db", C), d, x, w, mean, rstd, N, C));
    }

    /**
     * Every Linear-layer launch: forward with and without bias, with the ReLU, with the residual with and
     * without dropout; backward with and without dinp and dbias, through dropout, through a ReLU before
     * the layer; a launch run twice in one program (its dout changed in between) and two launches into
     * one gradient (a device backend that lets the second passes of long sums wait must run them in time).
     */
    public static List<Launch> linear(Case c, Shape s) {
        int N = s.N(), C = s.C(), OC = 3 * C + 1;
        FloatBuf x = c.in("x", N * C, 1), w = c.in("w", OC * C, 0.3), b = c.in("bias", OC, 1);
        FloatBuf d = c.in("dout", N * OC, 1), r = c.in("residual", N * OC, 1);
        // seed, and the first row of this batch in a combined one (a data-parallel run's second process)
        IntBuf seed = c.ints("seed", new int[]{0x2545F491, 0x4F6CDD1D, N});
        FloatBuf d2 = c.in("dout2", N * OC, 1);
        Launch twice = c.be.matmulBackward(c.out("matmul_backward(run twice).dinp", N * C),
                c.grad("matmul_backward(run twice).dw", OC * C), c.grad("matmul_backward(run twice).db", OC), d2, x, w, N, C,
                OC);
        FloatBuf sharedW = c.grad("matmul_backward(two into one).dw", OC * C);
        FloatBuf sharedB = c.grad("matmul_backward(two into one).db", OC);
        return List.of(twice,
                // dout2 changes between the two runs: ReLU of a product into it
                c.be.matmulReluForward(d2, x, c.in("w2", OC * C, 0.3), null, N, C, OC), twice,
                c.be.matmulBackward(null, sharedW, sharedB, d, x, w, N, C, OC),
                c.be.matmulDropoutBackward(null, sharedW, sharedB, d, seed, 0.3f, 5, x, false, w, N, C, OC),
                c.be.matmulResidualForward(c.out("matmul_residual_forward", N * OC), r, x, w, b, null, 0f, 3, N, C, OC),
                c.be.matmulResidualForward(c.out("matmul_residual_forward(p=0.3)", N * OC), r, x, w, b, seed, 0.3f, 3, N,
                        C, OC),
                c.be.matmulDropoutBackward(c.out("matmul_dropout_backward.dinp", N * C),
                        c.grad("matmul_dropout_backward.dw", OC * C), c.grad("matmul_dropout_backward.db", OC), d, seed, 0.3f,
                        3, x, false, w, N, C, OC),
                // the feed-forward's second Linear layer: dinp through the ReLU whose output x stands for (x has
                // both signs), with dropout and without
                c.be.matmulDropoutBackward(c.out("matmul_dropout_backward(relu input).dinp", N * C),
                        c.grad("matmul_dropout_backward(relu input).dw", OC * C),
                        c.grad("matmul_dropout_backward(relu input).db", OC), d, seed, 0.3f, 3, x, true, w, N, C, OC),
                c.be.matmulDropoutBackward(c.out("matmul_dropout_backward(p=0, relu input).dinp", N * C),
                        c.grad("matmul_dropout_backward(p=0, relu input).dw", OC * C),
                        c.grad("matmul_dropout_backward(p=0, relu input).db", OC), d, seed, 0f, 3, x, true, w, N, C, OC),
                c.be.matmulForward(c.out("matmul_forward", N * OC), x, w, b, N, C, OC),
                c.be.matmulForward(c.out("matmul_forward(no bias)", N * OC), x, w, null, N, C, OC),
                c.be.matmulReluForward(c.out("matmul_relu_forward", N * OC), x, w, b, N, C, OC),
                c.be.matmulBackward(c.out("matmul_backward.dinp", N * C), c.grad("matmul_backward.dw", OC * C),
                        c.grad("matmul_backward.db", OC), d, x, w, N, C, OC),
                c.be.matmulBackward(null, c.grad("matmul_backward(no dinp, no dbias).dw", OC * C), null, d, x, w, N, C,
                        OC));
    }

    /** Attention forward and backward, without dropout and with. */
    static List<Launch> attention(Case c, Shape s) {
        int B = s.B(), T = s.T(), C = s.C(), NH = s.NH(), N = s.N();
        FloatBuf qkv = c.in("qkv", N * 3 * C, 1), d = c.in("attention.dout", N * C, 1);
        // seed, and the first row of this batch in a combined one: its masks are the second batch's there
        IntBuf seed = c.ints("attention.seed", new int[]{0x1234567, 0x7654321, N});
        List<Launch> l = new ArrayList<>();
        for (float p : new float[]{0f, 0.25f}) {
            FloatBuf att = c.out("attention_forward.att(p=" + p + ")", B * NH * T * T);
            l.add(c.be.attentionForward(c.out("attention_forward.out(p=" + p + ")", N * C), att, qkv, seed, p, 5, B, T, C,
                    NH));
            l.add(c.be.attentionBackward(c.out("attention_backward.dqkv(p=" + p + ")", N * 3 * C), d, qkv, att, seed, p, 5,
                    B, T, C, NH));
        }
        return l;
    }

    /**
     * The loss forward and backward; AdamW over a block of three parameters in two runs of different
     * scalars (as when only the matrices decay), gradients scaled as clipping scales them; zeroing a
     * block; the squares of a block.
     */
    static List<Launch> lossAndOptimizer(Case c, Shape s) {
        int N = s.N(), n = N * s.C(), V = s.V();
        FloatBuf logits = c.in("logits", N * V, 2);
        IntBuf targets = c.ints("targets", N, V);
        FloatBuf probs = c.out("crossentropy_forward.probs", N * V), losses = c.out("crossentropy_forward.losses", N);
        int[] parts = {n, s.C(), 3};
        FloatBuf decayed = c.in("hyper", AdamW.SIZE, 0), plain = c.in("hyper.no_decay", AdamW.SIZE, 0);
        float[] h = new float[AdamW.SIZE];
        AdamW.fill(h, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3, 0.37);
        c.be.write(decayed, h);
        AdamW.fill(h, 1e-3, 0.9, 0.999, 1e-8, 0, 3, 0.37);
        c.be.write(plain, h);
        c.be.hostInput(decayed);
        c.be.hostInput(plain);
        FloatBlock values = c.outBlock("adamw.param", parts), grads = c.inBlock("adamw.grad", 1, parts);
        FloatBlock m = c.outBlock("adamw.m", parts), v = c.be.allocBlock("adamw.v", List.of("v.0", "v.1", "v.2"), parts);
        for (int i = 0; i < parts.length; i++) { // second moments are never negative
            float[] a = c.randn(parts[i], 1);
            for (int j = 0; j < a.length; j++) {
                a[j] = Math.abs(a[j]);
            }
            c.be.write(v.part(i), a);
        }
        ParamBlocks blocks = new ParamBlocks(values, grads, m, v);
        FloatBlock zeroed = c.outBlock("zero", n, 7, s.C());
        FloatBlock squared = c.inBlock("squares", 1, n, N * V, 5);
        return List.of(
                c.be.crossEntropyForward(losses, probs, logits, targets, N, V),
                c.be.meanLoss(c.out("mean_loss", 1), losses, N),
                c.be.crossEntropyBackward(c.grad("crossentropy_backward", N * V), probs, targets, N, V),
                c.be.adamw(blocks, 0, 2, decayed),
                c.be.adamw(blocks, 2, 3, plain),
                c.be.zero(zeroed),
                c.be.sumOfSquares(c.out("sum_of_squares", 1), squared));
    }

    /** One token at the last position of the block: its embedding, and attention against a KV cache. */
    static List<Launch> decode(Case c, Shape s) {
        int T = s.T(), C = s.C(), NH = s.NH();
        FloatBuf wte = c.in("decode.wte", s.V() * C, 1), wpe = c.in("decode.wpe", T * C, 1);
        FloatBuf qkv = c.in("decode.qkv", 3 * C, 1);
        IntBuf tokPos = c.ints("tok_pos", new int[]{s.V() - 1, T - 1});
        return List.of(
                c.be.embedToken(c.out("embed_token", C), tokPos, wte, wpe, C),
                c.be.attentionDecode(c.out("attention_decode.out", C), qkv, c.out("attention_decode.k_cache", T * C),
                        c.out("attention_decode.v_cache", T * C), tokPos, T, C, NH));
    }
}
