package org.gptjvm.model.train;

import org.gptjvm.model.Gpt;
import org.gptjvm.model.Rng;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.data.TextData;

/**
 * The lecture's training loop: every eval_interval iterations (and at the last) estimate_loss over
 * eval_iters batches of each split, then get_batch, forward, backward, AdamW step. With nanoGPT's
 * knobs ({@link Recipe}) a step is grad_accum micro-batches, the gradients' global norm clipped, at
 * the schedule's learning rate; the lecture's recipe does exactly what gpt.py does.
 */
public final class Trainer {

    /** What a caller sees of a run; all calls come from the training thread. */
    public interface Listener {
        default void evaluated(int step, float trainLoss, float valLoss) {
        }

        default void iteration(StepReport step) {
        }

        /** Whether the step after {@code iter} steps should measure the gradients' norm (clipping always does). */
        default boolean wantsGradNorm(int iter) {
            return false;
        }

        /** Called after each evaluation, with the state a checkpoint needs. */
        default void checkpoint(int step) {
        }
    }

    /**
     * A step taken: iterations done (this one included), the run's total, its loss (the mean over
     * micro-batches), the learning rate it used, the global L2 norm of its mean gradient before
     * clipping (NaN when not measured), and the pace so far.
     */
    public record StepReport(int iter, int total, float loss, double lr, double gradNorm, double iterationsPerSecond,
                             double elapsedSeconds) {
    }

    /**
     * {@code iterations}: steps taken by this call (fewer than asked for when stopped); the seconds
     * of the whole call, of the steps, of estimate_loss, and of the listener's work at evaluations
     * (printing, saving).
     */
    public record Result(float trainLoss, float valLoss, int iterations, double seconds, double trainSeconds,
                         double evalSeconds, double listenerSeconds) {
    }

    private final Gpt gpt;
    private final TextData data;
    private final TrainOptions options;
    private final Recipe recipe;
    /** AdamW with the recipe's settings; each step's rate comes from the recipe's schedule. */
    private final Optimizer optimizer;
    private final Rng dataRng, dropoutRng;
    /** One training micro-batch, and the batches of one evaluation pass. */
    private final int[] x, y, evalX, evalY;
    /** Evaluation batches per forward pass, and the rows (tokens) such a pass takes at most. */
    private final int evalBatches;
    static final int EVAL_ROWS = 8192;
    private int iter;
    private double lastLr, lastGradNorm = Double.NaN;
    private volatile boolean stopRequested;
    /** Seconds spent in evaluations by {@link #run} so far (read from the listener, on the training thread). */
    private double evaluationSeconds;

    public Trainer(Gpt gpt, TextData data, TrainOptions options) {
        this.gpt = gpt;
        this.data = data;
        this.options = options.validate();
        this.recipe = options.recipe();
        this.optimizer = new Optimizer(gpt, recipe.adamw());
        this.dataRng = Seeds.data(options.seed());
        this.dropoutRng = Seeds.dropout(options.seed());
        data.checkBlockSize(gpt.config.blockSize());
        gpt.config.checkBatch(options.batchSize());
        this.evalBatches = evalBatchesPerPass(options.evalIters(), options.batchSize() * gpt.config.blockSize());
        int rows = options.batchSize() * gpt.config.blockSize();
        this.x = new int[rows];
        this.y = new int[rows];
        this.evalX = new int[evalBatches * rows];
        this.evalY = new int[evalBatches * rows];
    }

    /**
     * How many evaluation batches go through one forward pass: the largest divisor of eval_iters
     * whose rows fit {@link #EVAL_ROWS} (1 when one batch already fills it, as the lecture config's).
     */
    public static int evalBatchesPerPass(int evalIters, int rowsPerBatch) {
        int k = Math.max(1, Math.min(evalIters, EVAL_ROWS / rowsPerBatch));
        while (evalIters % k != 0) {
            k--;
        }
        return k;
    }

    /** Seconds {@link #run} has spent evaluating, over all its calls. */
    public double evaluationSeconds() {
        return evaluationSeconds;
    }

    public TrainOptions options() {
        return options;
    }

    /** The run's AdamW: its state goes into a checkpoint, and comes back from one on a resume. */
    public Optimizer optimizer() {
        return optimizer;
    }

    public int iteration() {
        return iter;
    }

    /** Continues a saved run: the iteration count (= AdamW steps taken) and the generators' states. */
    public void restore(TrainState state) {
        this.iter = state.iteration();
        dataRng.setState(state.dataRng());
        dropoutRng.setState(state.dropoutRng());
    }

    /** Where the run stands, for a checkpoint. */
    public TrainState state() {
        return new TrainState(iter, options, dataRng.state(), dropoutRng.state(), data.identity());
    }

    /** Asks {@link #run} to stop after the current step (e.g. on Ctrl-C); safe from any thread. */
    public void requestStop() {
        stopRequested = true;
    }

    public boolean stopped() {
        return stopRequested;
    }

    /** estimate_loss at the current iteration: train and val mean losses, without dropout. */
    public float[] estimateLosses() {
        Rng rng = Seeds.evaluation(options.seed(), iter);
        return new float[]{estimateLoss(TextData.Split.TRAIN, rng), estimateLoss(TextData.Split.VAL, rng)};
    }

    /**
     * Mean loss over eval_iters random batches of a split drawn from {@code rng}, without dropout:
     * the mean of the batches' mean losses, as the lecture's estimate_loss. Several batches go
     * through one forward-only pass (rows are independent, so each batch's losses are what a pass of
     * its own gives); NaN when {@link #requestStop} cut it short.
     */
    public float estimateLoss(TextData.Split split, Rng rng) {
        int B = options.batchSize(), T = gpt.config.blockSize(), rows = B * T;
        double sum = 0;
        for (int k = 0; k < options.evalIters(); k += evalBatches) {
            if (stopRequested) {
                return Float.NaN;
            }
            for (int j = 0; j < evalBatches; j++) {
                data.batch(split, rng, B, T, evalX, evalY, j * rows);
            }
            for (float batchMean : gpt.batchLosses(evalX, evalY, evalBatches, rows)) {
                sum += batchMean;
            }
        }
        return (float) (sum / options.evalIters());
    }

    /**
     * One step on the next training batch (grad_accum micro-batches); returns its loss (the
     * micro-batches' mean, before the update). A loss that is not finite stops the run before the
     * update: see {@link Diverged}. A {@link #requestStop} between micro-batches abandons the step:
     * NaN, and the run stands where the step began (see {@link #abandoned}).
     */
    public float step() {
        return step(false);
    }

    /** Whether the last step was abandoned by a stop between its micro-batches. */
    private boolean abandoned;

    private float step(boolean measureNorm) {
        int B = options.batchSize(), T = gpt.config.blockSize(), accum = recipe.gradAccum();
        long dataAt = dataRng.state(), dropoutAt = dropoutRng.state();
        double lossSum = 0;
        float loss = 0;
        abandoned = false;
        for (int k = 0; k < accum; k++) {
            if (k > 0 && stopRequested) {
                // a step of many micro-batches can take minutes: a stop abandons it whole (its gradients are
                // never applied) and winds the generators back, so that a resumed run takes the same step again
                dataRng.setState(dataAt);
                dropoutRng.setState(dropoutAt);
                abandoned = true;
                return Float.NaN;
            }
            data.batch(TextData.Split.TRAIN, dataRng, B, T, x, y);
            loss = gpt.forwardBackward(x, y, dropoutRng.nextLong(), k > 0);
            if (!Float.isFinite(loss)) {
                throw new Diverged(iter, loss);
            }
            lossSum += loss;
        }
        if (accum > 1) {
            loss = (float) (lossSum / accum);
        }
        // the gradients hold the sum of the micro-batches' mean-loss gradients: AdamW takes their
        // mean, clipped as torch.nn.utils.clip_grad_norm_ would clip it
        double scale = 1.0 / accum;
        double norm = Double.NaN;
        if (recipe.gradClip() > 0 || measureNorm) {
            norm = gpt.gradNorm() * scale;
            if (!Double.isFinite(norm)) {
                throw new Diverged(iter, (float) norm);
            }
            scale *= recipe.clipCoefficient(norm);
        }
        double lr = options.learningRate(iter);
        iter++;
        optimizer.step(iter, lr, scale);
        lastLr = lr;
        lastGradNorm = norm;
        return loss;
    }

    /** The loss stopped being a finite number: the weights are no use, and nothing more is saved. */
    public static final class Diverged extends org.gptjvm.engine.GptException {
        public final int iteration;

        Diverged(int iteration, float loss) {
            super("the loss is " + loss + " at iteration " + iteration + ": training diverged (try a lower --lr)");
            this.iteration = iteration;
        }
    }

    public Result run(Listener listener) {
        long start = System.nanoTime();
        double evalSeconds = 0, listenerSeconds = 0;
        float train = Float.NaN, val = Float.NaN;
        int total = options.iters();
        int first = iter;
        while ((iter < total || total == 0) && !stopRequested) {
            if (iter % options.evalInterval() == 0 || iter == total - 1 || total == 0) {
                long e0 = System.nanoTime();
                float[] losses = estimateLosses();
                double spent = (System.nanoTime() - e0) / 1e9;
                evalSeconds += spent;
                evaluationSeconds += spent;
                if (stopRequested) {
                    break; // stopped during the evaluation: it is abandoned, the caller saves
                }
                if (!Float.isFinite(losses[0]) || !Float.isFinite(losses[1])) {
                    throw new Diverged(iter, Float.isFinite(losses[0]) ? losses[1] : losses[0]);
                }
                train = losses[0];
                val = losses[1];
                long l0 = System.nanoTime();
                listener.evaluated(iter, train, val);
                listener.checkpoint(iter);
                listenerSeconds += (System.nanoTime() - l0) / 1e9;
            }
            if (total == 0 || stopRequested) {
                break;
            }
            float loss = step(listener.wantsGradNorm(iter));
            if (abandoned) {
                break; // the caller saves the run as it stood before this step
            }
            double elapsed = (System.nanoTime() - start) / 1e9;
            listener.iteration(new StepReport(iter, total, loss, lastLr, lastGradNorm,
                    (iter - first) / Math.max(elapsed, 1e-9), elapsed));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Result(train, val, iter - first, seconds, seconds - evalSeconds - listenerSeconds, evalSeconds,
                listenerSeconds);
    }
}
