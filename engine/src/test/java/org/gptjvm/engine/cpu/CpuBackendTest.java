package org.gptjvm.engine.cpu;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBlock;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.conformance.Conformance.Case;
import org.gptjvm.engine.conformance.Conformance;
import org.gptjvm.engine.ref.RefKernels;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.gptjvm.engine.cpu.CpuTestSupport.buf;
import static org.gptjvm.engine.cpu.CpuTestSupport.minus;
import static org.gptjvm.engine.cpu.CpuTestSupport.randn;
import static org.gptjvm.engine.cpu.CpuTestSupport.read;
import static org.gptjvm.engine.cpu.CpuTestSupport.run;
import static org.gptjvm.engine.cpu.CpuTestSupport.seedBuf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What is the cpu backend's own beyond the conformance suite: its Linear layers and attention on more
 * shapes (its GEMM's blocking, the few-rows path of decoding, short attention rows) against the
 * reference through the suite's harness, and the same bits on 1 to 4 threads there; a fused Linear
 * launch gives the bits of the plain product with its epilogue applied after; one row and a batch give
 * the same bits; the vectorised ReLU, LayerNorm and zeroing; results that do not change once the JIT
 * has compiled the kernels.
 */
class CpuBackendTest {
    static final long DROPOUT_SEED = 0x5DEECE66DL * 31 + 17;
    static final int SALT = 13;

    record MM(int N, int C, int OC) {
    }

    record AT(int B, int T, int C, int NH) {
    }

    static final List<MM> MATMULS = List.of(new MM(512, 64, 192), new MM(512, 64, 65), new MM(512, 256, 64),
            new MM(7, 12, 9), new MM(5, 3, 17), new MM(33, 100, 1), new MM(1, 16, 16),
            new MM(1, 384, 1536), new MM(3, 65, 13), new MM(2, 1536, 384));
    static final List<AT> ATTENTIONS = List.of(new AT(2, 5, 12, 3), new AT(4, 32, 64, 4), new AT(1, 1, 8, 2),
            new AT(3, 17, 36, 6), new AT(2, 64, 64, 1), new AT(1, 40, 24, 2));
    static final float[] DROPOUTS = {0f, 0.25f};

    @BeforeAll
    static void vectorApiIsOn() {
        // otherwise CpuBackend silently runs the reference kernels and the comparison proves nothing
        assertTrue(CpuProvider.vectorApiPresent(), "jdk.incubator.vector is not in the boot layer");
    }

    @AfterAll
    static void printWorst() {
        Conformance.printWorst("cpu-vs-ref");
    }

    // ---------------------------------------------------------------- the cases

    /** Every matmul variant on one shape (gradients added onto random contents, dinp over garbage). */
    static List<Launch> linear(Case c, MM s) {
        int N = s.N(), C = s.C(), OC = s.OC();
        FloatBuf x = c.in("x", N * C, 1), w = c.in("w", OC * C, 0.5), b = c.in("b", OC, 1), d = c.in("dout", N * OC, 1);
        return List.of(c.be.matmulForward(c.out("matmul_fwd.out(bias)", N * OC), x, w, b, N, C, OC),
                c.be.matmulForward(c.out("matmul_fwd.out(no bias)", N * OC), x, w, null, N, C, OC),
                c.be.matmulBackward(c.out("matmul_bwd.dinp", N * C), c.grad("matmul_bwd.dweight", OC * C),
                        c.grad("matmul_bwd.dbias", OC), d, x, w, N, C, OC),
                c.be.matmulBackward(c.out("matmul_bwd(null dbias).dinp", N * C),
                        c.grad("matmul_bwd(null dbias).dweight", OC * C), null, d, x, w, N, C, OC),
                c.be.matmulBackward(null, c.grad("matmul_bwd(null dinp).dweight", OC * C),
                        c.grad("matmul_bwd(null dinp).dbias", OC), d, x, w, N, C, OC));
    }

    /**
     * Attention forward, then backward on the backend's own att; and a second backward on a given att,
     * a causal softmax drawn here (so the backward kernel is compared on identical inputs).
     */
    static List<Launch> attention(Case c, AT s, float p) {
        int B = s.B(), T = s.T(), C = s.C(), NH = s.NH();
        IntBuf seed = c.ints("seed", new int[]{(int) DROPOUT_SEED, (int) (DROPOUT_SEED >>> 32)});
        FloatBuf qkv = c.in("qkv", B * T * 3 * C, 1), d = c.in("dout", B * T * C, 1);
        FloatBuf att = c.out("attention_fwd.att", B * NH * T * T);
        float[] given = new float[B * NH * T * T];
        for (int row = 0; row < B * NH * T; row++) {
            int t = row % T;
            double sum = 0;
            for (int k = 0; k <= t; k++) {
                given[row * T + k] = (float) Math.exp(c.rnd.nextGaussian());
                sum += given[row * T + k];
            }
            for (int k = 0; k <= t; k++) {
                given[row * T + k] /= (float) sum;
            }
        }
        FloatBuf sameAtt = c.in("att(given)", given);
        return List.of(c.be.attentionForward(c.out("attention_fwd.out", B * T * C), att, qkv, seed, p, SALT, B, T, C, NH),
                c.be.attentionBackward(c.out("attention_bwd.dqkv", B * T * 3 * C), d, qkv, att, seed, p, SALT, B, T, C, NH),
                c.be.attentionBackward(c.out("attention_bwd.dqkv(given att)", B * T * 3 * C), d, qkv, sameAtt, seed, p,
                        SALT, B, T, C, NH));
    }

    @Test
    void linearLayersMatchTheReference() {
        for (MM s : MATMULS) {
            Conformance.assertMatchesReference("cpu", s.toString(), s.hashCode(), c -> linear(c, s));
        }
    }

    @Test
    void attentionMatchesTheReference() {
        for (AT s : ATTENTIONS) {
            for (float p : DROPOUTS) {
                Conformance.assertMatchesReference("cpu", s + " p=" + p, s.hashCode(), c -> attention(c, s, p));
                // the masked (future) half of att is exactly zero, as in the reference
                float[] att = Conformance.outputs("cpu", s.hashCode(), c -> attention(c, s, p)).get("attention_fwd.att");
                for (int row = 0; row < s.B() * s.NH() * s.T(); row++) {
                    int t = row % s.T();
                    for (int t2 = t + 1; t2 < s.T(); t2++) {
                        assertEquals(0f, att[row * s.T() + t2], s + " att future position");
                    }
                }
            }
        }
    }

    @Test
    void sameBitsOnOneToFourThreads() {
        for (int threads = 2; threads <= 4; threads++) {
            int t = threads;
            for (MM s : MATMULS) {
                Conformance.assertSameBits("cpu " + s + ", 1 and " + t + " threads",
                        Conformance.outputs("cpu", 1, s.hashCode(), c -> linear(c, s)),
                        Conformance.outputs("cpu", t, s.hashCode(), c -> linear(c, s)));
            }
            for (AT s : ATTENTIONS) {
                for (float p : DROPOUTS) {
                    Conformance.assertSameBits("cpu " + s + " p=" + p + ", 1 and " + t + " threads",
                            Conformance.outputs("cpu", 1, s.hashCode(), c -> attention(c, s, p)),
                            Conformance.outputs("cpu", t, s.hashCode(), c -> attention(c, s, p)));
                }
            }
        }
    }

    // ---------------------------------------------------------------- fused launches, bit for bit

    @Test
    void zeroClearsABlockSplitAcrossThreads() {
        // more floats than one thread's grain, in odd lengths, so the split falls inside parts
        int[] lengths = {1, 40_000, 3, 70_001, 17, 65_536};
        for (int threads : new int[]{1, 2, 3}) {
            try (Backend be = new CpuBackend(threads)) {
                Random rnd = new Random(threads);
                List<String> names = new ArrayList<>();
                for (int i = 0; i < lengths.length; i++) {
                    names.add("z" + i);
                }
                FloatBlock block = be.allocBlock("z", names, lengths);
                for (FloatBuf part : block.parts()) {
                    be.write(part, randn(rnd, part.size(), 1));
                }
                FloatBuf untouched = buf(be, "keep", randn(rnd, 999, 1));
                float[] before = read(be, untouched);
                run(be, be.zero(block));
                for (FloatBuf z : block.parts()) {
                    for (float x : read(be, z)) {
                        assertEquals(0f, x, threads + " threads");
                    }
                }
                assertTrue(Arrays.equals(before, read(be, untouched)), "a buffer not in the block was changed");
            }
        }
    }

    /**
     * matmulReluForward gives relu(matmulForward) bit for bit, on the batched and the few-rows
     * (decoding) paths of the cpu backend and on the reference backend.
     */
    @Test
    void matmulReluIsReluOfMatmulBitForBit() {
        for (MM s : MATMULS) {
            for (Backend be : List.of(new CpuBackend(2), new ReferenceBackend(2))) {
                try (be) {
                    Random rnd = new Random(s.hashCode());
                    int N = s.N(), C = s.C(), OC = s.OC();
                    FloatBuf x = buf(be, "x", randn(rnd, N * C, 1)), w = buf(be, "w", randn(rnd, OC * C, 0.5));
                    FloatBuf b = buf(be, "b", randn(rnd, OC, 1));
                    FloatBuf plain = buf(be, "plain", randn(rnd, N * OC, 3)), fused = buf(be, "fused", randn(rnd, N * OC, 3));
                    run(be, be.matmulForward(plain, x, w, b, N, C, OC), be.matmulReluForward(fused, x, w, b, N, C, OC));
                    float[] want = read(be, plain), got = read(be, fused);
                    int positive = 0;
                    for (int i = 0; i < want.length; i++) {
                        float r = want[i] > 0f ? want[i] : 0f;
                        positive += want[i] > 0f ? 1 : 0;
                        assertEquals(Float.floatToRawIntBits(r), Float.floatToRawIntBits(got[i]), be.name() + " " + s + " @" + i);
                    }
                    assertTrue(positive > 0 && (positive < want.length || want.length < 4), "both signs occur: " + s);
                }
            }
        }
    }

    /**
     * matmulResidualForward is the plain product with dropout and the residual add applied after it
     * (the reference's loops), and matmulDropoutBackward is matmulBackward from dout times the mask,
     * with and without the ReLU gate on dinp: bit for bit on both host backends, with and without
     * dropout, on the batched and the few-rows paths. dinp holds garbage before (it is written) and the
     * input has both signs, so the gate matters.
     */
    @Test
    void fusedLinearLaunchesAreTheirPartsBitForBit() {
        for (MM s : MATMULS) {
            for (float p : DROPOUTS) {
                for (Backend be : List.of(new CpuBackend(2), new ReferenceBackend(2))) {
                    try (be) {
                        int N = s.N(), C = s.C(), OC = s.OC();
                        Random rnd = new Random(s.hashCode() + (long) (p * 100));
                        float[] xs = randn(rnd, N * C, 1), r = randn(rnd, N * OC, 1), d = randn(rnd, N * OC, 1);
                        FloatBuf x = buf(be, "x", xs), w = buf(be, "w", randn(rnd, OC * C, 0.5));
                        FloatBuf b = buf(be, "b", randn(rnd, OC, 1)), rb = buf(be, "r", r), db = buf(be, "d", d);
                        IntBuf seed = seedBuf(be, DROPOUT_SEED);
                        // what the fused launches stand for, from the plain product and the reference's loops
                        float[] g = new float[N * OC];
                        RefKernels.dropoutBackward(g, d, DROPOUT_SEED, 0, p, SALT, 0, N * OC);
                        float[] dx0 = randn(rnd, N * C, 1), dw0 = randn(rnd, OC * C, 1), db0 = randn(rnd, OC, 1);
                        FloatBuf plain = be.allocFloat("plain", N * OC), fused = buf(be, "fused", randn(rnd, N * OC, 3));
                        FloatBuf dx1 = buf(be, "dx1", dx0), dw1 = buf(be, "dw1", dw0), db1 = buf(be, "db1", db0);
                        FloatBuf dx2 = buf(be, "dx2", dx0), dw2 = buf(be, "dw2", dw0), db2 = buf(be, "db2", db0);
                        FloatBuf dx3 = buf(be, "dx3", dx0), dw3 = buf(be, "dw3", dw0), db3 = buf(be, "db3", db0);
                        run(be, be.matmulForward(plain, x, w, b, N, C, OC),
                                be.matmulResidualForward(fused, rb, x, w, b, seed, p, SALT, N, C, OC),
                                be.matmulBackward(dx1, dw1, db1, buf(be, "g", g), x, w, N, C, OC),
                                be.matmulDropoutBackward(dx2, dw2, db2, db, seed, p, SALT, x, false, w, N, C, OC),
                                be.matmulDropoutBackward(dx3, dw3, db3, db, seed, p, SALT, x, true, w, N, C, OC));
                        float[] want = read(be, plain);
                        if (p > 0f) {
                            RefKernels.dropoutForward(want, want, DROPOUT_SEED, 0, p, SALT, 0, N * OC);
                        }
                        RefKernels.residualForward(want, r, want, 0, N * OC);
                        String what = be.name() + " " + s + " p=" + p;
                        assertBits(want, read(be, fused), what + " forward");
                        float[] dinp = read(be, dx1);
                        assertBits(dinp, read(be, dx2), what + " dinp");
                        assertBits(read(be, dw1), read(be, dw2), what + " dweight");
                        assertBits(read(be, db1), read(be, db2), what + " dbias");
                        assertBits(read(be, dw1), read(be, dw3), what + " dweight (relu input)");
                        float[] gated = read(be, dx3);
                        int kept = 0;
                        for (int i = 0; i < xs.length; i++) {
                            float expect = xs[i] > 0f ? dinp[i] : 0f;
                            kept += xs[i] > 0f ? 1 : 0;
                            assertEquals(Float.floatToRawIntBits(expect), Float.floatToRawIntBits(gated[i]),
                                    what + " dinp through the ReLU @" + i);
                        }
                        assertTrue(kept > 0 && (kept < xs.length || xs.length < 4), "both signs occur: " + what);
                    }
                }
            }
        }
    }

    private static void assertBits(float[] want, float[] got, String what) {
        for (int i = 0; i < want.length; i++) {
            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), what + " @" + i);
        }
    }

    /**
     * One row at a time (the decode path, a matrix-vector product) gives the same bits as the same
     * row inside a batched product (register-tiled GEMM): each element is one FMA chain either way.
     */
    @Test
    void fewRowsMatchTheBatchedProductBitForBit() {
        int N = 150, C = 300, OC = 77; // 150 rows: packed B panels, and more than one block of A rows
        Random rnd = new Random(8);
        float[] x = randn(rnd, N * C, 1), w = randn(rnd, OC * C, 0.3), bias = randn(rnd, OC, 1);
        try (Backend be = new CpuBackend(2)) {
            FloatBuf bx = buf(be, "x", x), bw = buf(be, "w", w), bb = buf(be, "b", bias);
            FloatBuf all = be.allocFloat("all", N * OC);
            run(be, be.matmulForward(all, bx, bw, bb, N, C, OC));
            float[] batched = read(be, all);
            for (int n : new int[]{0, 1, 17, 127, 128, N - 1}) {
                for (int rows = 1; rows < Linear.FEW_ROWS && n + rows <= N; rows++) {
                    float[] part = Arrays.copyOfRange(x, n * C, (n + rows) * C);
                    FloatBuf px = buf(be, "px", part), out = be.allocFloat("out", rows * OC);
                    run(be, be.matmulForward(out, px, bw, bb, rows, C, OC));
                    float[] got = read(be, out);
                    for (int i = 0; i < rows * OC; i++) {
                        assertEquals(Float.floatToRawIntBits(batched[n * OC + i]), Float.floatToRawIntBits(got[i]),
                                "row " + n + " + " + i / OC + ", channel " + i % OC);
                    }
                }
            }
        }
    }

    /** The vectorised ReLU and its gate give the reference loops' bits, including -0, exact zeros and a scalar tail. */
    @Test
    void reluMatchesTheReferenceBitForBit() {
        int n = 16 * 37 + 5;
        Random rnd = new Random(3);
        float[] x = randn(rnd, n, 1), d = randn(rnd, n, 1);
        x[0] = -0f;
        x[1] = 0f;
        x[n - 1] = -0f;
        float[] want = new float[n], got = new float[n];
        RefKernels.reluForward(want, x, 0, n);
        Relu.forward(got, x, 0, n);
        float[] gated = d.clone();
        Relu.gate(gated, x, 0, n);
        for (int i = 0; i < n; i++) {
            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), "relu[" + i + "]");
            float expect = x[i] > 0f ? d[i] : 0f;
            assertEquals(Float.floatToRawIntBits(expect), Float.floatToRawIntBits(gated[i]), "gate[" + i + "]");
        }
    }

    /** Vectorised LayerNorm (float sums) against the reference (double sums), widths with a scalar tail. */
    @Test
    void layerNormMatchesTheReference() {
        for (int C : new int[]{5, 37, 64, 100, 384}) {
            int N = 23;
            Random rnd = new Random(C);
            float[] x = randn(rnd, N * C, 2), w = randn(rnd, C, 1), b = randn(rnd, C, 1), d = randn(rnd, N * C, 1);
            float[] dx0 = randn(rnd, N * C, 1), dw0 = randn(rnd, C, 1), db0 = randn(rnd, C, 1);
            Map<String, float[]> got = new java.util.HashMap<>(), want = new java.util.HashMap<>();
            for (Backend be : new Backend[]{new CpuBackend(3), new ReferenceBackend(1)}) {
                try (be) {
                    FloatBuf bx = buf(be, "x", x), bw = buf(be, "w", w), bb = buf(be, "b", b), bd = buf(be, "d", d);
                    FloatBuf out = be.allocFloat("out", N * C), mean = be.allocFloat("m", N), rstd = be.allocFloat("r", N);
                    FloatBuf dx = buf(be, "dx", dx0), dw = buf(be, "dw", dw0), db = buf(be, "db", db0);
                    run(be, be.layerNormForward(out, mean, rstd, bx, bw, bb, N, C),
                            be.layerNormBackward(dx, dw, db, bd, bx, bw, mean, rstd, N, C));
                    Map<String, float[]> m = be instanceof CpuBackend ? got : want;
                    m.put("out", read(be, out));
                    m.put("rstd", read(be, rstd));
                    m.put("dinp", minus(read(be, dx), dx0));
                    m.put("dw", minus(read(be, dw), dw0));
                    m.put("db", minus(read(be, db), db0));
                }
            }
            for (String k : want.keySet()) {
                double err = Conformance.relErr(got.get(k), want.get(k));
                assertTrue(err < Conformance.TOL, "C=" + C + " " + k + ": " + err);
            }
        }
    }

    /**
     * The same launch gives the same bits before and after the JIT compiles it: a reduction whose
     * order the Vector API leaves open (reduceLanes) once made whole runs differ from run to run.
     */
    @Test
    void resultsDoNotChangeWhenTheJitCompilesTheKernels() {
        int N = 4, C = 64;
        Random rnd = new Random(9);
        try (Backend be = new CpuBackend(1)) {
            FloatBuf x = buf(be, "x", randn(rnd, N * C, 2)), w = buf(be, "w", randn(rnd, C, 1)), b = buf(be, "b", randn(rnd, C, 1));
            FloatBuf d = buf(be, "d", randn(rnd, N * C, 1)), out = be.allocFloat("out", N * C);
            FloatBuf mean = be.allocFloat("m", N), rstd = be.allocFloat("r", N);
            FloatBlock grads = be.allocBlock("grads", List.of("dx", "dw", "db"), new int[]{N * C, C, C});
            FloatBuf dx = grads.part(0), dw = grads.part(1), db = grads.part(2);
            org.gptjvm.engine.Program p = be.compile("ln", List.of(be.zero(grads),
                    be.layerNormForward(out, mean, rstd, x, w, b, N, C),
                    be.layerNormBackward(dx, dw, db, d, x, w, mean, rstd, N, C)));
            p.run();
            float[][] first = {read(be, out), read(be, dx), read(be, dw)};
            for (int i = 0; i < 30_000; i++) {
                p.run();
            }
            float[][] later = {read(be, out), read(be, dx), read(be, dw)};
            for (int k = 0; k < first.length; k++) {
                assertTrue(Arrays.equals(first[k], later[k]), "output " + k + " changed after warm-up");
            }
        }
    }
}
