package org.gptjvm.engine;

import org.gptjvm.engine.ref.ReferenceBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;

import static org.gptjvm.engine.KernelTestSupport.awayFromZero;
import static org.gptjvm.engine.KernelTestSupport.buf;
import static org.gptjvm.engine.KernelTestSupport.finiteDifference;
import static org.gptjvm.engine.KernelTestSupport.ibuf;
import static org.gptjvm.engine.KernelTestSupport.naiveFiniteDifference;
import static org.gptjvm.engine.KernelTestSupport.plus;
import static org.gptjvm.engine.KernelTestSupport.randInt;
import static org.gptjvm.engine.KernelTestSupport.randn;
import static org.gptjvm.engine.KernelTestSupport.read;
import static org.gptjvm.engine.KernelTestSupport.relErr;
import static org.gptjvm.engine.KernelTestSupport.report;
import static org.gptjvm.engine.KernelTestSupport.scaled;
import static org.gptjvm.engine.KernelTestSupport.seedBuf;
import static org.gptjvm.engine.KernelTestSupport.toDouble;
import static org.gptjvm.engine.KernelTestSupport.uniform;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every backward kernel of the reference backend against central finite differences of
 * L = sum(out * R) for a fixed random R:
 * <ul>
 *   <li>re-running the backend's own forward kernel in float (h = 1e-2 .. 1e-3), norm-wise relative
 *       error below {@link #FD_TOL};</li>
 *   <li>over the independent double-precision forward in {@link NaiveKernels} (h = 1e-6), which is
 *       exact to ~1e-9, so the float analytic gradient must agree to {@link #NAIVE_TOL}.</li>
 * </ul>
 * Also checks that backward kernels accumulate: a second call doubles the gradient, and a call onto
 * arbitrary initial contents adds to them.
 */
class RefKernelGradientTest {

    static final int B = 2, T = 5, C = 12, NH = 3, N = 7, OC = 9, V = 11;
    static final double FD_TOL = 1e-2;
    static final double NAIVE_TOL = 1e-4;
    static final double ACCUMULATE_TOL = 1e-6;
    static final long SEED = 0x0123456789ABCDEFL;

    /** One differentiable input: its buffer and host copy, its gradient buffer, the naive forward in it. */
    /**
     * A tensor whose gradient a backward kernel computes; {@code written}: the kernel writes that
     * gradient (=) instead of adding to it (+=), as the Linear layers and attention do their inputs'.
     */
    record Param(String name, FloatBuf buf, float[] host, FloatBuf grad, UnaryOperator<double[]> naive,
                 boolean written) {
        Param asWritten() {
            return new Param(name, buf, host, grad, naive, true);
        }
    }

    private Backend be;
    private Random rnd;

    @BeforeEach
    void setUp() {
        be = new ReferenceBackend(2);
        rnd = new Random(42);
    }

    @AfterEach
    void tearDown() {
        be.close();
    }

    /**
     * Runs forward, sets dout = r, zeroes the gradients and runs backward; checks each parameter's
     * gradient against both finite differences, then checks accumulation (or, for a written gradient,
     * that a second backward writes the same). Returns the worst float finite-difference error.
     */
    private double gradCheck(String kernel, List<Launch> forwardLaunches, FloatBuf out, float[] r, FloatBuf dout,
                             Launch backward, float h, Param... params) {
        Program forward = be.compile(kernel + "_fwd", forwardLaunches);
        Program bwd = be.compile(kernel + "_bwd", List.of(backward));
        forward.run();
        if (dout != null) {
            be.write(dout, r);
        }
        for (Param p : params) {
            be.write(p.grad(), new float[p.grad().size()]);
        }
        bwd.run();
        float[][] g1 = new float[params.length][];
        for (int k = 0; k < params.length; k++) {
            g1[k] = read(be, params[k].grad());
        }

        double worst = 0;
        for (int k = 0; k < params.length; k++) {
            Param p = params[k];
            double[] fd = finiteDifference(be, forward, p.buf(), p.host(), out, r, h);
            double err = relErr(g1[k], fd);
            report(kernel, "d" + p.name() + " vs float FD", err);
            assertTrue(err < FD_TOL, kernel + ": d" + p.name() + " relative error " + err + " vs float FD");
            worst = Math.max(worst, err);
            if (p.naive() != null) {
                double[] exact = naiveFiniteDifference(p.naive(), toDouble(p.host()), r, 1e-6);
                double e2 = relErr(g1[k], exact);
                report(kernel, "d" + p.name() + " vs double FD", e2);
                assertTrue(e2 < NAIVE_TOL, kernel + ": d" + p.name() + " relative error " + e2 + " vs naive FD");
            }
        }

        // accumulation: the forward state is current again (finiteDifference restores it)
        bwd.run();
        for (int k = 0; k < params.length; k++) {
            boolean written = params[k].written();
            double err = relErr(read(be, params[k].grad()), written ? toDouble(g1[k]) : scaled(g1[k], 2));
            assertTrue(err < ACCUMULATE_TOL, kernel + ": second backward must " + (written ? "rewrite" : "double")
                    + " d" + params[k].name() + " (error " + err + ")");
        }
        float[][] init = new float[params.length][];
        for (int k = 0; k < params.length; k++) {
            init[k] = randn(rnd, g1[k].length, 1);
            be.write(params[k].grad(), init[k]);
        }
        bwd.run();
        for (int k = 0; k < params.length; k++) {
            boolean written = params[k].written();
            double err = relErr(read(be, params[k].grad()), written ? toDouble(g1[k]) : plus(init[k], g1[k]));
            assertTrue(err < ACCUMULATE_TOL, kernel + ": backward must " + (written ? "overwrite" : "add to")
                    + " d" + params[k].name() + " (error " + err + ")");
        }
        // the gradient must not be trivially zero, or the checks above prove little
        for (int k = 0; k < params.length; k++) {
            assertTrue(KernelTestSupport.norm(toDouble(g1[k])) > 1e-3, kernel + ": d" + params[k].name() + " is ~0");
        }
        return worst;
    }

    private Param param(String name, float[] host, UnaryOperator<double[]> naive) {
        return new Param(name, buf(be, name, host), host, be.allocFloat("d" + name, host.length), naive, false);
    }

    // ---------------------------------------------------------------- encoder

    @Test
    void encoderBackward() {
        int[] idx = randInt(rnd, B * T, V);
        idx[4] = idx[6] = idx[9] = idx[1]; // repeated tokens must accumulate
        float[] wte = randn(rnd, V * C, 1), wpe = randn(rnd, T * C, 1);
        IntBuf ib = ibuf(be, "idx", idx);
        Param pte = param("wte", wte, x -> NaiveKernels.encoder(idx, x, toDouble(wpe), B, T, C));
        Param ppe = param("wpe", wpe, x -> NaiveKernels.encoder(idx, toDouble(wte), x, B, T, C));
        FloatBuf out = be.allocFloat("out", B * T * C), dout = be.allocFloat("dout", B * T * C);
        float[] r = randn(rnd, B * T * C, 1);
        gradCheck("encoder", List.of(be.encoderForward(out, ib, pte.buf(), ppe.buf(), B, T, C)), out, r, dout,
                be.encoderBackward(pte.grad(), ppe.grad(), dout, ib, B, T, C), 1e-2f, pte, ppe);
    }

    @Test
    void encoderBackwardWithoutPositions() {
        int[] idx = randInt(rnd, B * T, V);
        idx[2] = idx[8] = idx[5];
        float[] wte = randn(rnd, V * C, 1);
        IntBuf ib = ibuf(be, "idx", idx);
        Param pte = param("wte", wte, x -> NaiveKernels.encoder(idx, x, null, B, T, C));
        FloatBuf out = be.allocFloat("out", B * T * C), dout = be.allocFloat("dout", B * T * C);
        float[] r = randn(rnd, B * T * C, 1);
        gradCheck("encoder(no wpe)", List.of(be.encoderForward(out, ib, pte.buf(), null, B, T, C)), out, r, dout,
                be.encoderBackward(pte.grad(), null, dout, ib, B, T, C), 1e-2f, pte);
    }

    // ---------------------------------------------------------------- layernorm

    @Test
    void layerNormBackward() {
        float[] x = randn(rnd, N * C, 1.5);
        for (int i = 0; i < x.length; i++) {
            x[i] += 0.5f * (i / C);
        }
        float[] w = uniform(rnd, C, 0.5, 1.5), b = randn(rnd, C, 0.5);
        Param px = param("inp", x, v -> NaiveKernels.layerNorm(v, toDouble(w), toDouble(b), N, C).out());
        Param pw = param("weight", w, v -> NaiveKernels.layerNorm(toDouble(x), v, toDouble(b), N, C).out());
        Param pb = param("bias", b, v -> NaiveKernels.layerNorm(toDouble(x), toDouble(w), v, N, C).out());
        FloatBuf out = be.allocFloat("out", N * C), dout = be.allocFloat("dout", N * C);
        FloatBuf mean = be.allocFloat("mean", N), rstd = be.allocFloat("rstd", N);
        float[] r = randn(rnd, N * C, 1);
        gradCheck("layernorm",
                List.of(be.layerNormForward(out, mean, rstd, px.buf(), pw.buf(), pb.buf(), N, C)), out, r, dout,
                be.layerNormBackward(px.grad(), pw.grad(), pb.grad(), dout, px.buf(), pw.buf(), mean, rstd, N, C),
                1e-2f, px, pw, pb);
    }

    // ---------------------------------------------------------------- matmul

    @ParameterizedTest(name = "bias={0}")
    @ValueSource(booleans = {true, false})
    void matmulBackward(boolean withBias) {
        float[] x = randn(rnd, N * C, 1), w = randn(rnd, OC * C, 0.5), bias = randn(rnd, OC, 1);
        double[] biasD = withBias ? toDouble(bias) : null;
        Param px = param("inp", x, v -> NaiveKernels.matmul(v, toDouble(w), biasD, N, C, OC)).asWritten();
        Param pw = param("weight", w, v -> NaiveKernels.matmul(toDouble(x), v, biasD, N, C, OC));
        Param pb = withBias ? param("bias", bias, v -> NaiveKernels.matmul(toDouble(x), toDouble(w), v, N, C, OC))
                : null;
        FloatBuf out = be.allocFloat("out", N * OC), dout = be.allocFloat("dout", N * OC);
        float[] r = randn(rnd, N * OC, 1);
        Launch fwd = be.matmulForward(out, px.buf(), pw.buf(), withBias ? pb.buf() : null, N, C, OC);
        Launch bwd = be.matmulBackward(px.grad(), pw.grad(), withBias ? pb.grad() : null, dout, px.buf(), pw.buf(),
                N, C, OC);
        Param[] params = withBias ? new Param[] {px, pw, pb} : new Param[] {px, pw};
        gradCheck(withBias ? "matmul" : "matmul(no bias)", List.of(fwd), out, r, dout, bwd, 1e-2f, params);
    }

    // ---------------------------------------------------------------- attention

    @ParameterizedTest(name = "dropout={0}")
    @ValueSource(floats = {0f, 0.3f})
    void attentionBackward(float dropout) {
        int salt = 11;
        float[] qkv = randn(rnd, B * T * 3 * C, 1);
        Param pq = param("qkv", qkv, v -> NaiveKernels.attention(v, B, T, C, NH, SEED, dropout, salt).out())
                .asWritten();
        IntBuf seed = seedBuf(be, SEED);
        FloatBuf out = be.allocFloat("out", B * T * C), dout = be.allocFloat("dout", B * T * C);
        FloatBuf att = be.allocFloat("att", B * NH * T * T);
        float[] r = randn(rnd, B * T * C, 1);
        gradCheck(dropout > 0 ? "attention(p=" + dropout + ")" : "attention",
                List.of(be.attentionForward(out, att, pq.buf(), seed, dropout, salt, B, T, C, NH)), out, r, dout,
                be.attentionBackward(pq.grad(), dout, pq.buf(), att, seed, dropout, salt, B, T, C, NH),
                1e-2f, pq);
    }

    // ---------------------------------------------------------------- a residual branch's last layer

    /**
     * A residual branch's last Linear layer with its dropout and the residual add, on the output of a
     * ReLU (made by an identity Linear layer with its ReLU): z -> relu -> x W^T + b -> dropout -> +
     * residual. Its backward gives W's and b's gradients and, through the ReLU, z's.
     */
    @ParameterizedTest(name = "p={0}")
    @ValueSource(floats = {0f, 0.3f})
    void linearBranchBackward(float p) {
        int salt = 9;
        float[] z = awayFromZero(rnd, N * C, 0.1, 1.5); // no ReLU kink within h
        float[] w = randn(rnd, OC * C, 0.5), bias = randn(rnd, OC, 1), res = randn(rnd, N * OC, 1);
        float[] eye = new float[C * C];
        for (int i = 0; i < C; i++) {
            eye[i * C + i] = 1f;
        }
        double[] resD = toDouble(res);
        Param pz = param("z", z, v -> NaiveKernels.residual(resD, NaiveKernels.dropout(
                NaiveKernels.matmul(NaiveKernels.relu(v), toDouble(w), toDouble(bias), N, C, OC), SEED, p, salt))).asWritten();
        Param pw = param("weight", w, v -> NaiveKernels.residual(resD, NaiveKernels.dropout(
                NaiveKernels.matmul(NaiveKernels.relu(toDouble(z)), v, toDouble(bias), N, C, OC), SEED, p, salt)));
        Param pb = param("bias", bias, v -> NaiveKernels.residual(resD, NaiveKernels.dropout(
                NaiveKernels.matmul(NaiveKernels.relu(toDouble(z)), toDouble(w), v, N, C, OC), SEED, p, salt)));
        IntBuf seed = seedBuf(be, SEED);
        FloatBuf h = be.allocFloat("relu", N * C), out = be.allocFloat("out", N * OC), dout = be.allocFloat("dout", N * OC);
        float[] r = randn(rnd, N * OC, 1);
        Launch relu = be.matmulReluForward(h, pz.buf(), buf(be, "eye", eye), null, N, C, C);
        Launch forward = be.matmulResidualForward(out, buf(be, "res", res), h, pw.buf(), pb.buf(), seed, p, salt, N, C, OC);
        Launch backward = be.matmulDropoutBackward(pz.grad(), pw.grad(), pb.grad(), dout, seed, p, salt, h, true, pw.buf(),
                N, C, OC);
        gradCheck("linear branch(p=" + p + ")", List.of(relu, forward), out, r, dout, backward, 1e-2f, pz, pw, pb);
    }

    // ---------------------------------------------------------------- loss

    @Test
    void crossEntropyBackward() {
        float[] logits = randn(rnd, N * V, 1.5);
        int[] targets = randInt(rnd, N, V);
        IntBuf tb = ibuf(be, "targets", targets);
        Param pl = param("logits", logits,
                v -> new double[] {NaiveKernels.mean(NaiveKernels.crossEntropy(v, targets, N, V).losses())});
        FloatBuf losses = be.allocFloat("losses", N), probs = be.allocFloat("probs", N * V);
        FloatBuf loss = be.allocFloat("loss", 1);
        // L is the mean loss itself: R = [1] and there is no dout
        gradCheck("crossentropy",
                List.of(be.crossEntropyForward(losses, probs, pl.buf(), tb, N, V), be.meanLoss(loss, losses, N)),
                loss, new float[] {1f}, null, be.crossEntropyBackward(pl.grad(), probs, tb, N, V), 1e-2f, pl);
    }
}
