package org.gptjvm.engine;

import org.gptjvm.engine.ref.ReferenceBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.Random;

import static org.gptjvm.engine.KernelTestSupport.assertClose;
import static org.gptjvm.engine.KernelTestSupport.buf;
import static org.gptjvm.engine.KernelTestSupport.ibuf;
import static org.gptjvm.engine.KernelTestSupport.params;
import static org.gptjvm.engine.KernelTestSupport.randInt;
import static org.gptjvm.engine.KernelTestSupport.randn;
import static org.gptjvm.engine.KernelTestSupport.read;
import static org.gptjvm.engine.KernelTestSupport.run;
import static org.gptjvm.engine.KernelTestSupport.seedBuf;
import static org.gptjvm.engine.KernelTestSupport.toDouble;
import static org.gptjvm.engine.KernelTestSupport.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every forward kernel of the reference backend against {@link NaiveKernels} in double precision, on
 * small shapes that are not powers of two. Runs on 3 threads so the row splits are uneven.
 */
class RefKernelForwardTest {

    static final int B = 2, T = 5, C = 12, NH = 3, N = 7, OC = 9, V = 11;
    /** Float kernels against double references: about 100 ulps of headroom. */
    static final double TOL = 1e-5;
    static final long SEED = 0x9E3779B97F4A7C15L;

    private Backend be;
    private Random rnd;

    @BeforeEach
    void setUp() {
        be = new ReferenceBackend(3);
        rnd = new Random(1234);
    }

    @AfterEach
    void tearDown() {
        be.close();
    }

    @Test
    void zeroClearsEveryBuffer() {
        FloatBlock block = be.allocBlock("ab", List.of("a", "b"), new int[]{13, 1});
        FloatBuf a = block.part(0), b = block.part(1);
        be.write(a, randn(rnd, 13, 1));
        be.write(b, randn(rnd, 1, 1));
        FloatBuf untouched = buf(be, "c", randn(rnd, 5, 1));
        float[] before = read(be, untouched);
        run(be, be.zero(block));
        for (float x : read(be, a)) {
            assertEquals(0f, x);
        }
        assertEquals(0f, read(be, b)[0]);
        assertTrue(java.util.Arrays.equals(before, read(be, untouched)));
    }

    @Test
    void encoderForward() {
        int[] idx = randInt(rnd, B * T, V);
        idx[3] = idx[7] = idx[0]; // repeated tokens
        float[] wte = randn(rnd, V * C, 1), wpe = randn(rnd, T * C, 1);
        FloatBuf out = be.allocFloat("out", B * T * C);
        run(be, be.encoderForward(out, ibuf(be, "idx", idx), buf(be, "wte", wte), buf(be, "wpe", wpe), B, T, C));
        assertClose("encoder out", NaiveKernels.encoder(idx, toDouble(wte), toDouble(wpe), B, T, C), read(be, out), TOL);
    }

    @Test
    void encoderForwardWithoutPositions() {
        int[] idx = randInt(rnd, B * T, V);
        float[] wte = randn(rnd, V * C, 1);
        FloatBuf out = be.allocFloat("out", B * T * C);
        run(be, be.encoderForward(out, ibuf(be, "idx", idx), buf(be, "wte", wte), null, B, T, C));
        assertClose("encoder out", NaiveKernels.encoder(idx, toDouble(wte), null, B, T, C), read(be, out), TOL);
    }

    @Test
    void layerNormForward() {
        // an offset and a spread per row so mean and variance matter
        float[] x = randn(rnd, N * C, 2);
        for (int i = 0; i < x.length; i++) {
            x[i] += 3f + (i / C);
        }
        float[] w = uniform(rnd, C, 0.5, 1.5), b = randn(rnd, C, 0.5);
        FloatBuf out = be.allocFloat("out", N * C), mean = be.allocFloat("mean", N), rstd = be.allocFloat("rstd", N);
        run(be, be.layerNormForward(out, mean, rstd, buf(be, "x", x), buf(be, "w", w), buf(be, "b", b), N, C));
        NaiveKernels.LayerNorm ref = NaiveKernels.layerNorm(toDouble(x), toDouble(w), toDouble(b), N, C);
        assertClose("layernorm out", ref.out(), read(be, out), TOL);
        assertClose("layernorm mean", ref.mean(), read(be, mean), TOL);
        assertClose("layernorm rstd", ref.rstd(), read(be, rstd), TOL);
    }

    @Test
    void layerNormForwardConstantRow() {
        // zero variance: rstd = 1/sqrt(eps), output = bias
        float[] x = new float[C];
        java.util.Arrays.fill(x, 2.5f);
        float[] w = uniform(rnd, C, 0.5, 1.5), b = randn(rnd, C, 0.5);
        FloatBuf out = be.allocFloat("out", C), mean = be.allocFloat("mean", 1), rstd = be.allocFloat("rstd", 1);
        run(be, be.layerNormForward(out, mean, rstd, buf(be, "x", x), buf(be, "w", w), buf(be, "b", b), 1, C));
        NaiveKernels.LayerNorm ref = NaiveKernels.layerNorm(toDouble(x), toDouble(w), toDouble(b), 1, C);
        assertClose("layernorm out", ref.out(), read(be, out), TOL);
        assertClose("layernorm rstd", ref.rstd(), read(be, rstd), TOL);
    }

    @ParameterizedTest(name = "bias={0}")
    @ValueSource(booleans = {true, false})
    void matmulForward(boolean withBias) {
        float[] x = randn(rnd, N * C, 1), w = randn(rnd, OC * C, 0.5), bias = randn(rnd, OC, 1);
        FloatBuf out = be.allocFloat("out", N * OC);
        run(be, be.matmulForward(out, buf(be, "x", x), buf(be, "w", w), withBias ? buf(be, "b", bias) : null,
                N, C, OC));
        double[] ref = NaiveKernels.matmul(toDouble(x), toDouble(w), withBias ? toDouble(bias) : null, N, C, OC);
        assertClose("matmul out", ref, read(be, out), TOL);
    }

    @ParameterizedTest(name = "dropout={0}")
    @ValueSource(floats = {0f, 0.3f})
    void attentionForward(float dropout) {
        int salt = 17;
        float[] qkv = randn(rnd, B * T * 3 * C, 1.5);
        FloatBuf out = be.allocFloat("out", B * T * C), att = be.allocFloat("att", B * NH * T * T);
        // stale garbage in the outputs must not leak into the result
        be.write(out, randn(rnd, B * T * C, 9));
        be.write(att, randn(rnd, B * NH * T * T, 9));
        run(be, be.attentionForward(out, att, buf(be, "qkv", qkv), seedBuf(be, SEED), dropout, salt, B, T, C, NH));
        NaiveKernels.Attention ref = NaiveKernels.attention(toDouble(qkv), B, T, C, NH, SEED, dropout, salt);
        float[] a = read(be, att);
        assertClose("attention att", ref.att(), a, TOL);
        assertClose("attention out", ref.out(), read(be, out), TOL);
        // structure: causal zeros above the diagonal and rows summing to one (att is pre-dropout)
        for (int row = 0; row < B * NH * T; row++) {
            int t = row % T;
            double sum = 0;
            for (int t2 = 0; t2 < T; t2++) {
                if (t2 > t) {
                    assertEquals(0f, a[row * T + t2], "future position must have weight 0");
                }
                sum += a[row * T + t2];
            }
            assertEquals(1.0, sum, 1e-5);
        }
    }

    @Test
    void attentionDropoutChangesOutput() {
        float[] qkv = randn(rnd, B * T * 3 * C, 1);
        FloatBuf q = buf(be, "qkv", qkv);
        IntBuf seed = seedBuf(be, SEED);
        FloatBuf out0 = be.allocFloat("o0", B * T * C), out1 = be.allocFloat("o1", B * T * C);
        FloatBuf att = be.allocFloat("att", B * NH * T * T);
        run(be, be.attentionForward(out0, att, q, seed, 0f, 5, B, T, C, NH),
                be.attentionForward(out1, att, q, seed, 0.5f, 5, B, T, C, NH));
        assertTrue(!java.util.Arrays.equals(read(be, out0), read(be, out1)));
    }

    /** A Linear layer and its ReLU in one launch: relu(x W^T + b), zeros and negative zeros included. */
    @Test
    void matmulReluForward() {
        float[] x = randn(rnd, N * C, 1), w = randn(rnd, OC * C, 0.5), bias = randn(rnd, OC, 1);
        FloatBuf out = be.allocFloat("out", N * OC);
        run(be, be.matmulReluForward(out, buf(be, "x", x), buf(be, "w", w), buf(be, "b", bias), N, C, OC));
        double[] want = NaiveKernels.relu(NaiveKernels.matmul(toDouble(x), toDouble(w), toDouble(bias), N, C, OC));
        assertClose("matmul relu out", want, read(be, out), TOL);
    }

    /**
     * A residual branch's last Linear layer: residual + dropout(x W^T + b) in one launch; p = 0 (no
     * seed) is the plain sum, and about p of the products are dropped.
     */
    @ParameterizedTest(name = "p={0}")
    @ValueSource(floats = {0f, 0.1f, 0.3f, 0.75f})
    void matmulResidualForward(float p) {
        int rows = 101, salt = 3;
        float[] x = randn(rnd, rows * C, 1), w = randn(rnd, OC * C, 0.5), bias = randn(rnd, OC, 1);
        float[] r = randn(rnd, rows * OC, 1);
        FloatBuf out = be.allocFloat("out", rows * OC);
        run(be, be.matmulResidualForward(out, buf(be, "r", r), buf(be, "x", x), buf(be, "w", w), buf(be, "b", bias),
                p > 0 ? seedBuf(be, SEED) : null, p, salt, rows, C, OC));
        double[] branch = NaiveKernels.dropout(NaiveKernels.matmul(toDouble(x), toDouble(w), toDouble(bias), rows, C, OC),
                SEED, p, salt);
        float[] o = read(be, out);
        assertClose("matmul residual out", NaiveKernels.residual(toDouble(r), branch), o, TOL);
        int dropped = 0;
        for (int i = 0; i < o.length; i++) {
            if (o[i] == r[i]) {
                dropped++;
            }
        }
        double sigma = Math.sqrt(o.length * p * (1 - p));
        assertEquals(o.length * p, dropped, 5 * sigma + 1, "dropped count");
    }

    @Test
    void crossEntropyForwardAndMeanLoss() {
        float[] logits = randn(rnd, N * V, 2);
        // an extreme row: the target's probability underflows float, the loss must still be exact
        for (int v = 0; v < V; v++) {
            logits[2 * V + v] = v == 0 ? 100f : -100f;
        }
        int[] targets = randInt(rnd, N, V);
        targets[2] = 4;
        FloatBuf losses = be.allocFloat("losses", N), probs = be.allocFloat("probs", N * V);
        FloatBuf loss = be.allocFloat("loss", 1);
        run(be, be.crossEntropyForward(losses, probs, buf(be, "logits", logits), ibuf(be, "t", targets), N, V),
                be.meanLoss(loss, losses, N));
        NaiveKernels.CrossEntropy ref = NaiveKernels.crossEntropy(toDouble(logits), targets, N, V);
        assertClose("crossentropy probs", ref.probs(), read(be, probs), TOL);
        assertClose("crossentropy losses", ref.losses(), read(be, losses), TOL);
        assertEquals(200.0, read(be, losses)[2], 1e-3);
        assertClose("mean loss", new double[] {NaiveKernels.mean(ref.losses())}, read(be, loss), TOL);
    }

    @Test
    void meanLossOfGivenValues() {
        float[] l = {1f, 2f, 4f, 0.5f, 3f};
        FloatBuf loss = be.allocFloat("loss", 1);
        run(be, be.meanLoss(loss, buf(be, "l", l), 5));
        assertEquals(2.1f, read(be, loss)[0], 1e-6f);
    }

    @Test
    void adamWFillMatchesFormulas() {
        float[] h = new float[AdamW.SIZE];
        AdamW.fill(h, 3e-4, 0.9, 0.95, 1e-8, 0.1, 7);
        assertEquals((float) (1 - 3e-4 * 0.1), h[AdamW.DECAY]);
        assertEquals(0.1f, h[AdamW.ONE_MINUS_BETA1]);
        assertEquals(0.95f, h[AdamW.BETA2]);
        assertEquals(0.05f, h[AdamW.ONE_MINUS_BETA2]);
        assertEquals(1e-8f, h[AdamW.EPS]);
        assertEquals(3e-4 / (1 - Math.pow(0.9, 7)), h[AdamW.STEP_SIZE], 1e-7 * h[AdamW.STEP_SIZE]);
        assertEquals(Math.sqrt(1 - Math.pow(0.95, 7)), h[AdamW.BC2_SQRT], 1e-7);
    }

    /**
     * The moment coefficients are (1 - beta) rounded once, not 1 - (beta rounded): from zero state,
     * v = (1 - beta2) g^2 and m = (1 - beta1) g to float precision. Formed from float betas,
     * 1 - 0.999f is 1.3e-5 off, and the second moment disagreed with its bias correction.
     */
    @Test
    void adamwMomentCoefficientsAreExactToFloat() {
        int n = 17;
        float[] g = randn(rnd, n, 1);
        float[] hyper = new float[AdamW.SIZE];
        AdamW.fill(hyper, 1e-3, 0.9, 0.999, 1e-8, 0.01, 1);
        ParamBlocks blocks = params(be, randn(rnd, n, 1), g, new float[n], new float[n]);
        run(be, be.adamw(blocks, 0, 1, buf(be, "h", hyper)));
        float[] m = read(be, blocks.m().part(0)), v = read(be, blocks.v().part(0));
        for (int i = 0; i < n; i++) {
            double g2 = (double) g[i] * g[i];
            assertEquals(0.001 * g2, v[i], 2e-7 * 0.001 * g2, "v[" + i + "]");
            assertEquals(0.1 * g[i], m[i], 2e-7 * Math.abs(0.1 * g[i]), "m[" + i + "]");
        }
    }

    /** One step from a non-trivial state, including tiny gradients where eps matters and zero gradients. */
    @Test
    void adamwOneStep() {
        int n = 29, step = 3;
        double lr = 1e-2, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, wd = 0.1;
        float[] p = randn(rnd, n, 1), g = randn(rnd, n, 1), m = randn(rnd, n, 0.1);
        float[] v = uniform(rnd, n, 0, 0.5);
        g[0] = 0f;
        g[1] = 1e-8f;
        m[1] = 0f;
        v[1] = 0f;
        g[2] = -3e-8f;
        m[2] = 0f;
        v[2] = 0f;
        float[] hyper = new float[AdamW.SIZE];
        AdamW.fill(hyper, lr, beta1, beta2, eps, wd, step);
        ParamBlocks blocks = params(be, p, g, m, v);
        FloatBuf pb = blocks.values().part(0), gb = blocks.grads().part(0), mb = blocks.m().part(0), vb = blocks.v().part(0);
        run(be, be.adamw(blocks, 0, 1, buf(be, "hyper", hyper)));

        double[] pr = toDouble(p), mr = toDouble(m), vr = toDouble(v);
        NaiveKernels.adamw(pr, toDouble(g), mr, vr, lr, beta1, beta2, eps, wd, step);
        assertClose("adamw param", pr, read(be, pb), 1e-6);
        assertClose("adamw m", mr, read(be, mb), 1e-6);
        // v is tiny for the small-gradient elements: compare relative to its own magnitude too
        assertClose("adamw v", vr, read(be, vb), 1e-6);
        float[] vk = read(be, vb);
        for (int i = 1; i <= 2; i++) {
            assertEquals(vr[i], vk[i], 1e-4 * vr[i], "v of a tiny gradient");
        }
        assertTrue(java.util.Arrays.equals(g, read(be, gb)), "the gradient is left as it was");
    }

    /** Several steps from a zero state with fresh gradients and a host refill of hyper each step. */
    @Test
    void adamwSeveralStepsFromZero() {
        int n = 23, steps = 6;
        double lr = 3e-3, beta1 = 0.9, beta2 = 0.95, eps = 1e-8, wd = 0.05;
        float[] p = randn(rnd, n, 1);
        ParamBlocks blocks = params(be, p, new float[n], new float[n], new float[n]);
        FloatBuf pb = blocks.values().part(0), gb = blocks.grads().part(0), mb = blocks.m().part(0), vb = blocks.v().part(0);
        FloatBuf hb = be.allocFloat("hyper", AdamW.SIZE);
        Program prog = be.compile("adamw", List.of(be.adamw(blocks, 0, 1, hb)));
        double[] pr = toDouble(p), mr = new double[n], vr = new double[n];
        float[] hyper = new float[AdamW.SIZE];
        for (int step = 1; step <= steps; step++) {
            float[] g = randn(rnd, n, 0.5);
            be.write(gb, g);
            AdamW.fill(hyper, lr, beta1, beta2, eps, wd, step);
            be.write(hb, hyper);
            prog.run();
            NaiveKernels.adamw(pr, toDouble(g), mr, vr, lr, beta1, beta2, eps, wd, step);
        }
        assertClose("adamw param after " + steps + " steps", pr, read(be, pb), 1e-6);
        assertClose("adamw m", mr, read(be, mb), 1e-6);
        assertClose("adamw v", vr, read(be, vb), 1e-6);
    }

    /** Step 1 from zero state is lr * sign(g) (plus decay) up to eps: catches a missing bias correction. */
    @Test
    void adamwFirstStepIsSignStep() {
        int n = 11;
        double lr = 0.01;
        float[] p = randn(rnd, n, 1), g = randn(rnd, n, 1);
        float[] hyper = new float[AdamW.SIZE];
        AdamW.fill(hyper, lr, 0.9, 0.999, 1e-8, 0.0, 1);
        ParamBlocks blocks = params(be, p, g, new float[n], new float[n]);
        run(be, be.adamw(blocks, 0, 1, buf(be, "h", hyper)));
        float[] out = read(be, blocks.values().part(0));
        for (int i = 0; i < n; i++) {
            assertEquals(p[i] - lr * Math.signum(g[i]), out[i], 1e-6);
        }
    }
}
