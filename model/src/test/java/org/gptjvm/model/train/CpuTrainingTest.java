package org.gptjvm.model.train;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.cpu.CpuBackend;
import org.gptjvm.engine.cpu.CpuProvider;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.GptParams;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Random;

import static org.gptjvm.model.ModelTestSupport.assertBitIdentical;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Training on the cpu backend (Vector API kernels) is bit-identical across its thread counts with
 * dropout on, and agrees with the reference backend to float rounding. (PyTorch's fixtures and the
 * parity sweep are the conformance suite's, which every backend runs.)
 */
class CpuTrainingTest {
    static final double TOL = 1e-5;

    // ---------------------------------------------------------------- training across thread counts

    static final int STEPS = 4, B = 3;
    /** Small, but wide enough (qkv 3C = 96, MLP 4C = 128) for the full 4x4-vector GEMM tiles. */
    static final GptConfig CONFIG = new GptConfig(GptConfig.GPT, 13, 20, 32, 4, 2, 0.2f);

    record Run(int[] lossBits, Map<String, GptParams.Tensor> weights) {
    }

    static Run train(Backend be) {
        Random rnd = new Random(77);
        int n = B * CONFIG.blockSize();
        try (be) {
            Gpt gpt = new Gpt(be, CONFIG);
            Optimizer opt = new Optimizer(gpt, Optimizer.Settings.PYTORCH);
            gpt.initialize(123);
            int[] losses = new int[STEPS];
            int[] x = new int[n], y = new int[n];
            for (int s = 0; s < STEPS; s++) {
                for (int i = 0; i < n; i++) {
                    x[i] = rnd.nextInt(CONFIG.vocabSize());
                    y[i] = rnd.nextInt(CONFIG.vocabSize());
                }
                losses[s] = Float.floatToRawIntBits(gpt.forwardBackward(x, y, rnd.nextLong()));
                opt.step(s + 1, 3e-3, 1.0);
            }
            return new Run(losses, gpt.params.stateDict());
        }
    }

    @Test
    void trainingIsBitIdenticalForOneTwoAndThreeThreads() {
        assertTrue(CpuProvider.vectorApiPresent(), "jdk.incubator.vector is not in the boot layer");
        Run one = train(new CpuBackend(1));
        for (int threads : new int[] {2, 3}) {
            Run many = train(new CpuBackend(threads));
            assertArrayEquals(one.lossBits(), many.lossBits(), threads + " threads: losses");
            assertBitIdentical(one.weights(), many.weights());
        }
        // and the same training on the reference backend agrees to float rounding
        Run ref = train(new ReferenceBackend(2));
        for (int s = 0; s < STEPS; s++) {
            float a = Float.intBitsToFloat(one.lossBits()[s]), b = Float.intBitsToFloat(ref.lossBits()[s]);
            double rel = Math.abs(a - b) / Math.abs(b);
            System.out.printf("[cpu-train] step %d loss cpu %.9g reference %.9g relative %.3e%n", s + 1, a, b, rel);
            assertTrue(rel <= TOL, "step " + (s + 1) + " loss: cpu " + a + ", reference " + b);
        }
        // weights after the steps: printed only. Where a gradient is far below eps, AdamW's update is
        // lr * g / eps, so a float rounding of g moves the weight by lr * rounding / eps
        double worst = 0;
        int differing = 0;
        for (String k : ref.weights().keySet()) {
            float[] c = one.weights().get(k).data(), r = ref.weights().get(k).data();
            double diff = 0, norm = 0;
            for (int i = 0; i < r.length; i++) {
                diff += ((double) c[i] - r[i]) * ((double) c[i] - r[i]);
                norm += (double) r[i] * r[i];
                differing += Float.floatToRawIntBits(c[i]) != Float.floatToRawIntBits(r[i]) ? 1 : 0;
            }
            worst = Math.max(worst, norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm));
        }
        System.out.printf("[cpu-train] final weights cpu vs reference: worst relative %.3e, %d values differ in bits%n",
                worst, differing);
    }
}
