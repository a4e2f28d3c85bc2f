package org.gptjvm.model.train;

import com.google.gson.JsonObject;
import org.gptjvm.engine.Backend;
import org.gptjvm.engine.cpu.CpuBackend;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.GptParams;
import org.gptjvm.model.Param;
import org.gptjvm.model.Rng;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.data.TextData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.function.Function;

import static org.gptjvm.model.ModelTestSupport.assertBitIdentical;
import static org.gptjvm.model.ModelTestSupport.bitIdentical;
import static org.gptjvm.model.ModelTestSupport.oneLineError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** nanoGPT's knobs: the schedule, clipping, accumulation, decay of matrices only, resume, evaluation. */
class RecipeTest {

    /** nanoGPT's get_lr, transcribed. */
    static double nanoGptLr(int it, double learningRate, int warmupIters, int lrDecayIters, double minLr) {
        if (it < warmupIters) {
            return learningRate * (it + 1) / (warmupIters + 1);
        }
        if (it > lrDecayIters) {
            return minLr;
        }
        double decayRatio = (double) (it - warmupIters) / (lrDecayIters - warmupIters);
        double coeff = 0.5 * (1.0 + Math.cos(Math.PI * decayRatio));
        return minLr + coeff * (learningRate - minLr);
    }

    @Test
    void cosineScheduleIsNanoGptsGetLr() {
        Recipe r = Recipe.NANOGPT;
        for (int it : new int[]{0, 1, 50, 99, 100, 101, 2550, 4999, 5000, 5001, 9000}) {
            assertEquals(nanoGptLr(it, 1e-3, 100, 5000, 1e-4), r.schedule().learningRate(1e-3, it, 5000), 1e-18, "iteration " + it);
        }
        assertEquals(1e-3 / 101, r.schedule().learningRate(1e-3, 0, 5000), 1e-18); // warmup starts above zero
        assertEquals(1e-3, r.schedule().learningRate(1e-3, 100, 5000), 1e-18); // the peak at the end of warmup
        assertEquals(1e-4, r.schedule().learningRate(1e-3, 5000, 5000), 1e-18); // min_lr at lr_decay_iters and after
        assertEquals(0.55e-3, r.schedule().learningRate(1e-3, 2550, 5000), 1e-15); // half way: the mean of peak and floor
        // unset decay horizon and floor: max_iters and a tenth of the peak
        Recipe d = Recipe.LECTURE.withSchedule(Optimizer.Schedule.Kind.cosine, 10, null, null);
        assertEquals(nanoGptLr(300, 2e-3, 10, 1000, 2e-4), d.schedule().learningRate(2e-3, 300, 1000), 1e-18);
        Recipe resolved = d.resolve(2e-3, 1000);
        assertEquals(1000, resolved.schedule().lrDecayIters());
        assertEquals(2e-4, resolved.schedule().minLr(), 0);
        // the lecture's: the rate itself, every iteration, bit for bit
        for (int it : new int[]{0, 1, 4999}) {
            assertEquals(3e-4, Recipe.LECTURE.schedule().learningRate(3e-4, it, 5000), 0);
        }
    }

    @Test
    void clipCoefficientIsClipGradNormsAndBadKnobsAreOneLineErrors() {
        Recipe r = Recipe.NANOGPT;
        assertEquals(1.0, r.clipCoefficient(0.5));
        assertEquals(1.0 / (4.0 + 1e-6), r.clipCoefficient(4.0), 0);
        assertEquals(1.0, Recipe.LECTURE.clipCoefficient(1e9));
        oneLineError(() -> r.withOptimizer(null, 1.0, null, null, null, null).validate());
        oneLineError(() -> r.withOptimizer(null, null, null, null, -1.0, null).validate());
        oneLineError(() -> r.withOptimizer(null, null, null, null, null, 0).validate());
        oneLineError(() -> r.withSchedule(null, 200, 100, null).validate());
        oneLineError(() -> r.withSchedule(null, null, null, -1e-3).validate());
    }

    @Test
    void recipeIsSavedAndOldCheckpointsMeanTheLecture() {
        TrainOptions o = Preset.nanogpt.trainOptions();
        assertEquals(o, TrainOptions.fromJson(o.toJson()));
        JsonObject old = Preset.small.trainOptions().toJson();
        for (String k : new String[]{"lr_schedule", "warmup_iters", "lr_decay_iters", "beta1", "beta2", "weight_decay",
                "decay_matrices_only", "grad_clip", "gradient_accumulation_steps"}) {
            old.remove(k);
        }
        assertEquals(Recipe.LECTURE, TrainOptions.fromJson(old).recipe());
    }

    // ------------------------------------------------------------------ on a model

    static final int B = 4;

    static GptConfig config(TextData data, float dropout) {
        return new GptConfig(GptConfig.GPT, data.tokenizer().vocabSize(), 16, 24, 3, 2, dropout);
    }

    /** The global L2 norm of the gradients, summed directly in double. */
    static double directNorm(Gpt gpt) {
        double s = 0;
        for (Param p : gpt.params.all) {
            float[] g = new float[p.size()];
            gpt.backend.read(p.grad(), g);
            for (float v : g) {
                s += (double) v * v;
            }
        }
        return Math.sqrt(s);
    }

    @Test
    void gradNormIsTheGlobalNormForEveryBackendAndThreadCount() {
        TextData data = ReproducibilityTest.text();
        GptConfig cfg = config(data, 0.1f);
        int[] x = new int[B * cfg.blockSize()], y = new int[B * cfg.blockSize()];
        data.batch(TextData.Split.TRAIN, new Rng(5), B, cfg.blockSize(), x, y);
        float first = Float.NaN;
        for (Backend be : new Backend[]{new ReferenceBackend(1), new ReferenceBackend(3), new CpuBackend(1),
                new CpuBackend(2)}) {
            try (be) {
                Gpt gpt = new Gpt(be, cfg);
                gpt.params.initialize(Seeds.init(9));
                gpt.forwardBackward(x, y, 77);
                double norm = gpt.gradNorm(), direct = directNorm(gpt);
                assertEquals(direct, norm, 1e-6 * direct, be.device());
                if (be instanceof ReferenceBackend) {
                    // one backend's number does not depend on its threads
                    if (Float.isNaN(first)) {
                        first = (float) norm;
                    }
                    assertEquals(Float.floatToRawIntBits(first), Float.floatToRawIntBits((float) norm), be.device());
                }
                // accumulating the same batch twice doubles the gradients and their norm
                gpt.forwardBackward(x, y, 77, true);
                assertEquals(2 * direct, gpt.gradNorm(), 2e-6 * direct);
            }
        }
    }

    record Run(float[] losses, double[] norms, Map<String, GptParams.Tensor> weights) {
    }

    static Run train(Function<Integer, Backend> backend, int threads, TrainOptions opts, float dropout, int steps) {
        TextData data = ReproducibilityTest.text();
        try (Backend be = backend.apply(threads)) {
            Gpt gpt = new Gpt(be, config(data, dropout));
            gpt.params.initialize(Seeds.init(opts.seed()));
            Trainer t = new Trainer(gpt, data, opts);
            float[] losses = new float[steps];
            double[] norms = new double[steps];
            int[] k = {0};
            t.run(new Trainer.Listener() {
                @Override
                public void iteration(Trainer.StepReport s) {
                    losses[k[0]] = s.loss();
                    norms[k[0]++] = s.gradNorm();
                }

                @Override
                public boolean wantsGradNorm(int iter) {
                    return true;
                }
            });
            return new Run(losses, norms, gpt.params.stateDict());
        }
    }

    static TrainOptions options(int batch, int steps, Recipe recipe) {
        return new TrainOptions(batch, 3e-3, steps, 1000, 1, 21, recipe);
    }

    @Test
    void accumulatedMicroBatchesEqualOneLargeBatch() {
        int steps = 6;
        Recipe accum2 = Recipe.NANOGPT.withSchedule(null, 2, 6, null).withOptimizer(null, null, null, null, null, 2);
        Recipe accum1 = accum2.withOptimizer(null, null, null, null, null, 1);
        // the micro-batches of 2 x B draw the same rows as one batch of 2B; no dropout, so the same numbers
        Run micro = train(ReferenceBackend::new, 1, options(B, steps, accum2), 0f, steps);
        Run whole = train(ReferenceBackend::new, 1, options(2 * B, steps, accum1), 0f, steps);
        for (int i = 0; i < steps; i++) {
            assertEquals(whole.losses[i], micro.losses[i], 2e-6, "loss of step " + i);
            assertEquals(whole.norms[i], micro.norms[i], 1e-5 * whole.norms[i], "grad norm of step " + i);
        }
        for (String k : whole.weights.keySet()) {
            float[] a = whole.weights.get(k).data(), b = micro.weights.get(k).data();
            for (int i = 0; i < a.length; i++) {
                assertEquals(a[i], b[i], 2e-5, k + "[" + i + "]");
            }
        }
    }

    @Test
    void knobsAreBitIdenticalForAnyThreadCount() {
        int steps = 5;
        Recipe r = Recipe.NANOGPT.withSchedule(null, 2, 5, null).withOptimizer(null, null, null, null, 0.05, 2);
        Run one = train(CpuBackend::new, 1, options(B, steps, r), 0.2f, steps);
        Run two = train(CpuBackend::new, 2, options(B, steps, r), 0.2f, steps);
        assertArrayEquals(one.losses, two.losses);
        assertArrayEquals(one.norms, two.norms);
        assertBitIdentical(one.weights, two.weights);
        Run ref1 = train(ReferenceBackend::new, 1, options(B, steps, r), 0.2f, steps);
        Run ref3 = train(ReferenceBackend::new, 3, options(B, steps, r), 0.2f, steps);
        assertArrayEquals(ref1.losses, ref3.losses);
        assertBitIdentical(ref1.weights, ref3.weights);
        // clipping at 0.05 bites (the norms are larger), and changes the run
        assertTrue(Arrays.stream(one.norms).allMatch(n -> n > 0.05), Arrays.toString(one.norms));
        Run unclipped = train(CpuBackend::new, 1, options(B, steps, r.withOptimizer(null, null, null, null, 0.0, null)),
                0.2f, steps);
        assertFalse(bitIdentical(one.weights, unclipped.weights));
    }

    /**
     * A stop between micro-batches abandons the step: nothing is applied and the generators go back,
     * so the run's state (what a checkpoint saves) is the one before the step, and the weights too.
     */
    @Test
    void aStopBetweenMicroBatchesLeavesTheRunWhereTheStepBegan() {
        TextData data = ReproducibilityTest.text();
        Recipe r = Recipe.LECTURE.withOptimizer(null, null, null, null, null, 4);
        try (Backend be = new ReferenceBackend(1)) {
            Gpt gpt = new Gpt(be, config(data, 0.1f));
            gpt.params.initialize(Seeds.init(4));
            Trainer t = new Trainer(gpt, data, options(B, 3, r));
            t.step();
            TrainState before = t.state();
            Map<String, GptParams.Tensor> weights = gpt.params.stateDict();
            t.requestStop();
            assertTrue(Float.isNaN(t.step()), "an abandoned step has no loss");
            assertEquals(before, t.state());
            assertBitIdentical(weights, gpt.params.stateDict());
        }
    }

    @Test
    void clippedStepIsTheStepOnScaledGradients() {
        TextData data = ReproducibilityTest.text();
        Recipe r = Recipe.LECTURE.withOptimizer(null, null, null, null, 0.1, null);
        try (Backend a = new ReferenceBackend(1); Backend b = new ReferenceBackend(1)) {
            Gpt clipped = new Gpt(a, config(data, 0f)), manual = new Gpt(b, config(data, 0f));
            Optimizer adamw = new Optimizer(manual, Optimizer.Settings.PYTORCH);
            clipped.params.initialize(Seeds.init(4));
            manual.params.initialize(Seeds.init(4));
            Trainer t = new Trainer(clipped, data, options(B, 3, r));
            Rng rng = Seeds.data(21);
            int[] x = new int[B * 16], y = new int[B * 16];
            for (int step = 1; step <= 3; step++) {
                t.step();
                data.batch(TextData.Split.TRAIN, rng, B, 16, x, y);
                manual.forwardBackward(x, y, 0);
                double norm = directNorm(manual);
                assertTrue(norm > 0.1, "the clip bites");
                // torch.nn.utils.clip_grad_norm_: grads *= max_norm / (total_norm + 1e-6)
                adamw.step(step, 3e-3, 0.1 / (norm + 1e-6));
            }
            Map<String, GptParams.Tensor> w1 = clipped.params.stateDict(), w2 = manual.params.stateDict();
            for (String k : w1.keySet()) {
                float[] p = w1.get(k).data(), q = w2.get(k).data();
                for (int i = 0; i < p.length; i++) {
                    assertEquals(q[i], p[i], 1e-7, k);
                }
            }
        }
    }

    @Test
    void decayOfMatricesOnlySparesBiasesAndLayerNorms() {
        TextData data = ReproducibilityTest.text();
        GptConfig cfg = config(data, 0f);
        try (Backend be = new ReferenceBackend(1)) {
            Gpt gpt = new Gpt(be, cfg);
            Optimizer adamw = new Optimizer(gpt, new Optimizer.Settings(0.9, 0.99, Optimizer.EPS, 0.5, true));
            gpt.params.initialize(Seeds.init(4));
            Map<String, float[]> before = values(gpt);
            // zero gradients: AdamW's step is then the decay alone (m = v = 0)
            gpt.batchGraph(B).zeroGrads.run();
            adamw.step(1, 0.1, 1.0);
            Map<String, float[]> after = values(gpt);
            float factor = (float) (1 - 0.1 * 0.5);
            int decayed = 0;
            for (Param p : gpt.params.all) {
                float[] w0 = before.get(p.name()), w1 = after.get(p.name());
                boolean matrix = p.shape().length >= 2;
                decayed += matrix ? 1 : 0;
                for (int i = 0; i < w0.length; i++) {
                    assertEquals(matrix ? w0[i] * factor : w0[i], w1[i], 0, p.name());
                }
            }
            assertEquals(3 + 4 * cfg.nLayer(), decayed); // both embeddings, lm_head, and per block qkv, proj, fc, fc_proj
        }
    }

    /** Every parameter's values by its name. */
    static Map<String, float[]> values(Gpt gpt) {
        Map<String, float[]> m = new java.util.LinkedHashMap<>();
        for (Param p : gpt.params.all) {
            float[] a = new float[p.size()];
            gpt.backend.read(p.value(), a);
            m.put(p.name(), a);
        }
        return m;
    }

    @Test
    void resumeInWarmupAndInDecayIsBitExact(@TempDir Path dir) {
        TextData data = ReproducibilityTest.text();
        GptConfig cfg = config(data, 0.2f);
        int steps = 10;
        Recipe r = Recipe.NANOGPT.withSchedule(null, 4, 9, null).withOptimizer(null, null, null, null, 0.5, 2);
        TrainOptions opts = options(B, steps, r).resolved();
        Map<String, GptParams.Tensor> straight;
        try (Backend be = new ReferenceBackend(1)) {
            Gpt gpt = new Gpt(be, cfg);
            gpt.params.initialize(Seeds.init(opts.seed()));
            Trainer t = new Trainer(gpt, data, opts);
            for (int i = 0; i < steps; i++) {
                t.step();
            }
            straight = gpt.params.stateDict();
        }
        for (int stop : new int[]{2, 7}) { // in the warmup, in the decay
            Path file = dir.resolve("stop" + stop + ".safetensors");
            try (Backend be = new ReferenceBackend(1)) {
                Gpt gpt = new Gpt(be, cfg);
                gpt.params.initialize(Seeds.init(opts.seed()));
                Trainer t = new Trainer(gpt, data, opts);
                for (int i = 0; i < stop; i++) {
                    t.step();
                }
                Checkpoint.save(file, gpt, t.optimizer(), data.tokenizer(), t.state());
            }
            Checkpoint c = Checkpoint.load(file);
            assertEquals(opts, c.train.options());
            try (Backend be = new ReferenceBackend(2)) {
                Gpt gpt = c.toModel(be, file);
                Trainer t = new Trainer(gpt, data, c.train.options());
                t.optimizer().restore(c.weights, file);
                t.restore(c.train);
                while (t.iteration() < steps) {
                    t.step();
                }
                assertBitIdentical(straight, gpt.params.stateDict());
            }
        }
    }

    @Test
    void evaluationInOnePassGivesTheLossesOfOneBatchAtATime() {
        TextData data = ReproducibilityTest.text();
        GptConfig cfg = config(data, 0.2f);
        int evalIters = 12;
        assertTrue(Trainer.evalBatchesPerPass(evalIters, B * cfg.blockSize()) > 1, "several batches per pass");
        assertEquals(1, Trainer.evalBatchesPerPass(200, 16384));
        assertEquals(25, Trainer.evalBatchesPerPass(200, Trainer.EVAL_ROWS / 25));
        for (Backend be : new Backend[]{new ReferenceBackend(2), new CpuBackend(2)}) {
            try (be) {
                Gpt gpt = new Gpt(be, cfg);
                gpt.params.initialize(Seeds.init(6));
                Trainer t = new Trainer(gpt, data, new TrainOptions(B, 1e-3, 0, 1, evalIters, 3));
                for (TextData.Split split : TextData.Split.values()) {
                    float fast = t.estimateLoss(split, new Rng(99));
                    // the lecture's estimate_loss: one batch at a time, the mean of their means
                    Rng rng = new Rng(99);
                    int[] x = new int[B * cfg.blockSize()], y = new int[B * cfg.blockSize()];
                    double sum = 0;
                    for (int k = 0; k < evalIters; k++) {
                        data.batch(split, rng, B, cfg.blockSize(), x, y);
                        sum += gpt.loss(x, y);
                    }
                    assertEquals(Float.floatToRawIntBits((float) (sum / evalIters)), Float.floatToRawIntBits(fast),
                            be.device() + " " + split);
                }
            }
        }
    }
}
