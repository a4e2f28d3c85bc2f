package org.gptjvm.model.train;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.Rng;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.data.TextData;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** A training step, once warm, allocates (almost) nothing on the calling thread. */
class AllocationTest {
    static final int STEPS = 20;
    static final long LIMIT_PER_STEP = 1024;

    private static final com.sun.management.ThreadMXBean MX =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private static long allocated() {
        return MX.getCurrentThreadAllocatedBytes();
    }

    /** Bytes per call of {@code step} over STEPS calls (rounded up), less the probe's own (normally 0). */
    private static long perStep(Runnable step) {
        long overhead = -allocated() + allocated();
        long before = allocated();
        for (int i = 0; i < STEPS; i++) {
            step.run();
        }
        long total = allocated() - before - overhead;
        return (Math.max(0, total) + STEPS - 1) / STEPS;
    }

    private static void measure(int threads) {
        TextData data = ReproducibilityTest.text();
        GptConfig cfg = new GptConfig(GptConfig.GPT, data.tokenizer().vocabSize(), 16, 32, 4, 2, 0.2f);
        int B = 4, T = cfg.blockSize();
        int[] x = new int[B * T], y = new int[B * T];
        data.batch(TextData.Split.TRAIN, new Rng(1), B, T, x, y);
        try (Backend be = new ReferenceBackend(threads)) {
            Gpt gpt = new Gpt(be, cfg);
            Optimizer opt = new Optimizer(gpt, Optimizer.Settings.PYTORCH);
            gpt.params.initialize(Seeds.init(1));
            long[] step = {0};
            Runnable fbUpdate = () -> {
                gpt.forwardBackward(x, y, 1234 + step[0]);
                opt.step(++step[0], 1e-3, 1.0);
            };
            for (int i = 0; i < 5; i++) { // warm-up: graphs built, code compiled
                fbUpdate.run();
                gpt.loss(x, y);
            }
            long trainStep = perStep(fbUpdate);
            long lossOnly = perStep(() -> gpt.loss(x, y));
            Trainer trainer = new Trainer(gpt, data, new TrainOptions(B, 1e-3, 100, 100, 2, 5));
            for (int i = 0; i < 5; i++) {
                trainer.step();
            }
            long trainerStep = perStep(trainer::step);
            System.out.printf(Locale.ROOT, "allocation on the calling thread, %d backend thread(s): forwardBackward+update"
                            + " %d B/step, loss() %d B/call, Trainer.step() %d B/step (over %d steps)%n",
                    threads, trainStep, lossOnly, trainerStep, STEPS);
            assertTrue(trainStep < LIMIT_PER_STEP, threads + " thread(s): forwardBackward+update allocates "
                    + trainStep + " bytes per step");
            assertTrue(lossOnly < LIMIT_PER_STEP, threads + " thread(s): loss() allocates " + lossOnly + " bytes per call");
            assertTrue(trainerStep < LIMIT_PER_STEP, threads + " thread(s): Trainer.step() allocates " + trainerStep
                    + " bytes per step");
        }
    }

    @Test
    void trainingStepAllocatesNothingOneThread() {
        measure(1);
    }

    @Test
    void trainingStepAllocatesNothingTwoThreads() {
        measure(2);
    }
}
