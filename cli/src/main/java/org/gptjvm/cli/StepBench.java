package org.gptjvm.cli;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.GptException;
import org.gptjvm.engine.KernelProfile;
import org.gptjvm.engine.device.DeviceDiagnostics;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.GptGraph;
import org.gptjvm.model.Rng;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.train.Optimizer;
import org.gptjvm.model.train.Preset;
import org.gptjvm.model.train.Trainer;

import java.util.Arrays;
import java.util.List;

/**
 * {@code gpt bench}'s measurement of one backend: whole training steps (forward, backward, AdamW
 * at torch.optim.AdamW's defaults) on batches of a {@link BatchSource}, timed one by one after a
 * warm-up, and beside them what the backend holds, its peak, and on request each kernel's time, the
 * step's launch plan and the evaluation's pace.
 */
final class StepBench {
    private StepBench() {
    }

    /** What --eval measured: ms per batch one at a time, ms per batch in passes of {@code perPass}. */
    record EvalTiming(double single, double batched, int perPass) {
    }

    /**
     * One backend's figures: ms of each timed step, the buffers it holds (of which the parameters,
     * gradients and AdamW moments), its measured peak (NaN: none), and when asked for, the kernels'
     * times, the step's plan and the evaluation's pace (else null).
     */
    record Timing(String device, double[] ms, long bufferBytes, long paramStateBytes, double peakGflops,
                  StepPlan.Measured measured, StepPlan plan, EvalTiming eval) {
        double median() {
            double[] sorted = ms.clone();
            Arrays.sort(sorted);
            return StepBench.median(sorted);
        }

        double mean() {
            return Arrays.stream(ms).average().orElse(Double.NaN);
        }

        double min() {
            return Arrays.stream(ms).min().orElse(Double.NaN);
        }

        double max() {
            return Arrays.stream(ms).max().orElse(Double.NaN);
        }
    }

    /** Times {@code warmup + iters} steps of {@code cfg} at batch {@code B} on {@code be}. */
    static Timing time(Backend be, GptConfig cfg, int B, BatchSource source, int warmup, int iters, boolean profile,
                       boolean plan, boolean eval) {
        KernelProfile kernels = new KernelProfile();
        if (profile) {
            be.profile(kernels);
        }
        Gpt gpt = new Gpt(be, cfg);
        Optimizer opt = new Optimizer(gpt, Optimizer.Settings.PYTORCH);
        gpt.params.initialize(Seeds.init(1337));
        Rng rng = Seeds.data(1337);
        int[] x = new int[B * cfg.blockSize()], y = new int[x.length];
        double[] ms = new double[iters];
        for (int i = 0; i < warmup + iters; i++) {
            source.batch(rng, B, cfg.blockSize(), x, y);
            long t0 = System.nanoTime();
            gpt.forwardBackward(x, y, i);
            opt.step(i + 1, 1e-3, 1.0);
            if (i >= warmup) {
                ms[i - warmup] = (System.nanoTime() - t0) / 1e6;
            }
        }
        int steps = warmup + iters;
        return new Timing(be.device(), ms, be.allocatedBytes(), 4L * 4 * gpt.params.count(), be.peakGflops(),
                profile ? StepPlan.Measured.of(kernels, be, steps) : null, plan ? plan(be, gpt, opt, B) : null,
                eval ? timeEvaluation(gpt, cfg, B, source, rng, iters) : null);
    }

    /** The launches of one training step (zeroing the gradients, forward and backward, AdamW) as {@code be} makes them. */
    static StepPlan plan(Backend be, Gpt gpt, Optimizer opt, int B) {
        if (!(be instanceof DeviceDiagnostics device)) {
            throw new GptException("the " + be.name() + " backend does not describe its launches: --plan is for device "
                    + "backends (see gpt devices)");
        }
        GptGraph g = gpt.batchGraph(B);
        return StepPlan.of(device, List.of(g.zeroGrads, g.forwardBackward, opt.program()), be.allocatedBytes());
    }

    /** The plan of a step of {@code cfg} on {@code be}, recorded without running anything. */
    static StepPlan planOnly(Backend be, GptConfig cfg, int B) {
        Gpt gpt = new Gpt(be, cfg);
        return plan(be, gpt, new Optimizer(gpt, Optimizer.Settings.PYTORCH), B);
    }

    /**
     * Times the evaluation's forward passes at the default eval_iters: {@code max(iters, 3)} passes
     * each way after one untimed pass (which builds the forward-only graph).
     */
    private static EvalTiming timeEvaluation(Gpt gpt, GptConfig cfg, int B, BatchSource source, Rng rng, int iters) {
        int rows = B * cfg.blockSize(), k = Trainer.evalBatchesPerPass(Preset.EVAL_ITERS, rows);
        int[] x = new int[k * rows], y = new int[k * rows];
        for (int j = 0; j < k; j++) {
            int[] bx = new int[rows], by = new int[rows];
            source.batch(rng, B, cfg.blockSize(), bx, by);
            System.arraycopy(bx, 0, x, j * rows, rows);
            System.arraycopy(by, 0, y, j * rows, rows);
        }
        int passes = Math.max(iters, 3);
        double[] ms = new double[2];
        int[] perPass = {1, k};
        for (int w = 0; w < 2; w++) {
            int batches = perPass[w];
            int[] px = Arrays.copyOf(x, batches * rows), py = Arrays.copyOf(y, batches * rows);
            gpt.batchLosses(px, py, batches, rows);
            long t0 = System.nanoTime();
            for (int i = 0; i < passes; i++) {
                gpt.batchLosses(px, py, batches, rows);
            }
            ms[w] = (System.nanoTime() - t0) / 1e6 / passes / batches;
        }
        return new EvalTiming(ms[0], ms[1], k);
    }

    /** The median of {@code sorted} (ascending). */
    static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
