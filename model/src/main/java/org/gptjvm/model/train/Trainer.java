package org.gptjvm.model.train;

import org.gptjvm.model.Gpt;
import org.gptjvm.model.Rng;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.data.TextData;
import org.gptjvm.model.dist.Collective;

/**
 * The lecture's training loop: every eval_interval iterations (and at the last) estimate_loss over
 * eval_iters batches of each split, then get_batch, forward, backward, AdamW step. With nanoGPT's
 * knobs ({@link Recipe}) a step is grad_accum micro-batches, the gradients' global norm clipped, at
 * the schedule's learning rate; the lecture's recipe does exactly what gpt.py does.
 *
 * <p>In a data-parallel job ({@link Collective} of N processes) it is the same run as one process
 * with N times the batch: every process draws the combined batch from the same generator and takes
 * its share of the rows (and draws their dropout masks), the gradients are summed across processes
 * before the norm, clipping and AdamW take their mean, and evaluation splits each batch the same way
 * and sums the losses. Everything that decides the course of the run (the loss, a stop) is agreed
 * through the same collective calls, so every process takes the same steps and holds the same weights,
 * which is checked at every evaluation.
 */
public final class Trainer {

    /** What a caller sees of a run; all calls come from the training thread. */
    public interface Listener {
        /** An evaluation (estimate_loss on both splits) begins at {@code step}. */
        default void evaluating(int step) {
        }

        /** Of the evaluation under way, {@code done} batches of {@code total} (both splits) are through. */
        default void evaluationProgress(int done, int total) {
        }

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
     * clipping (NaN when not measured), the pace of the steps so far (evaluations and the listener's
     * work at them not counted), and the seconds since the call began.
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
    /** The job's processes (one: a plain run), and the combined batch every one of them draws. */
    private final Collective world;
    private final int[] allX, allY;
    /** A stop every process agreed on (data-parallel); one process alone stops on its own request. */
    private boolean agreedStop;
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
        this(gpt, data, options, Collective.single());
    }

    public Trainer(Gpt gpt, TextData data, TrainOptions options, Collective world) {
        this.gpt = gpt;
        this.world = world;
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
        if (world.size() > 1 && gpt.config.dropout() > 0 && !gpt.backend.masksFromFirstRow()) {
            throw new org.gptjvm.engine.GptException("the " + gpt.backend.name() + " backend cannot yet draw dropout's "
                    + "masks for one process of several: train with --dropout 0, or on the cpu backend");
        }
        int all = world.size() > 1 ? world.size() * rows : 0;
        this.allX = new int[all];
        this.allY = new int[all];
        gpt.firstRow(world.rank() * rows);
    }

    /**
     * This process's share of a batch of {@code split} drawn from {@code rng}, into x and y from
     * element {@code at}: the whole batch in one process; in N, rows rank*B.. of the N*B drawn.
     */
    private void draw(TextData.Split split, Rng rng, int[] x, int[] y, int at) {
        int B = options.batchSize(), T = gpt.config.blockSize(), n = world.size();
        if (n == 1) {
            data.batch(split, rng, B, T, x, y, at);
            return;
        }
        data.batch(split, rng, n * B, T, allX, allY, 0);
        System.arraycopy(allX, world.rank() * B * T, x, at, B * T);
        System.arraycopy(allY, world.rank() * B * T, y, at, B * T);
    }

    /** The job this trainer is part of. */
    public Collective world() {
        return world;
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
        return new TrainState(iter, options, dataRng.state(), dropoutRng.state(), data.identity(), world.size());
    }

    /** Asks {@link #run} to stop after the current step (e.g. on Ctrl-C); safe from any thread. */
    public void requestStop() {
        stopRequested = true;
    }

    public boolean stopped() {
        return halting();
    }

    /** Whether the run stops: on its own request in one process, on an agreed one in several. */
    private boolean halting() {
        return world.size() == 1 ? stopRequested : agreedStop;
    }

    /** estimate_loss at the current iteration: train and val mean losses, without dropout. */
    public float[] estimateLosses() {
        Rng rng = Seeds.evaluation(options.seed(), iter);
        if (world.size() == 1) {
            return new float[]{estimateLoss(TextData.Split.TRAIN, rng), estimateLoss(TextData.Split.VAL, rng)};
        }
        // each process's sums of its shares' batch means; a batch's mean is the mean of its shares'
        double[] sums = {lossSum(TextData.Split.TRAIN, rng), lossSum(TextData.Split.VAL, rng), stopRequested ? 1 : 0};
        world.sumDoubles(sums);
        agreedStop |= sums[2] > 0;
        double n = (double) world.size() * options.evalIters();
        return new float[]{(float) (sums[0] / n), (float) (sums[1] / n)};
    }

    /**
     * Checks that every process holds the same weights (a data-parallel run: they must, bit for bit);
     * a difference stops the run with an error. Nothing to do in one process.
     */
    public void checkSameWeights() {
        if (world.size() == 1) {
            return;
        }
        long h = 1125899906842597L;
        for (org.gptjvm.engine.FloatBuf part : gpt.params.values.parts()) {
            float[] a = new float[part.size()];
            gpt.backend.read(part, a);
            for (float v : a) {
                h = 31 * h + Float.floatToRawIntBits(v);
            }
        }
        long[] all = world.gather(h);
        for (int r = 1; r < all.length; r++) {
            if (all[r] != all[0]) {
                throw new org.gptjvm.engine.GptException("the weights of process " + r + " differ from process 0's at "
                        + "iteration " + iter + ": the data-parallel run is broken, stopping");
            }
        }
    }

    /**
     * Mean loss over eval_iters random batches of a split drawn from {@code rng}, without dropout:
     * the mean of the batches' mean losses, as the lecture's estimate_loss. Several batches go
     * through one forward-only pass (rows are independent, so each batch's losses are what a pass of
     * its own gives); NaN when {@link #requestStop} cut it short.
     */
    public float estimateLoss(TextData.Split split, Rng rng) {
        double sum = lossSum(split, rng);
        return Double.isNaN(sum) ? Float.NaN : (float) (sum / options.evalIters());
    }

    /** The sum of eval_iters batch means (this process's shares); NaN when a stop in one process cut it short. */
    private double lossSum(TextData.Split split, Rng rng) {
        int rows = options.batchSize() * gpt.config.blockSize();
        double sum = 0;
        int base = split == TextData.Split.TRAIN ? 0 : options.evalIters();
        for (int k = 0; k < options.evalIters(); k += evalBatches) {
            if (stopRequested && world.size() == 1) {
                return Double.NaN;
            }
            for (int j = 0; j < evalBatches; j++) {
                draw(split, rng, evalX, evalY, j * rows);
            }
            for (float batchMean : gpt.batchLosses(evalX, evalY, evalBatches, rows)) {
                sum += batchMean;
            }
            if (listening != null) {
                listening.evaluationProgress(base + k + evalBatches, 2 * options.evalIters());
            }
        }
        return sum;
    }

    /** The listener of the {@link #run} under way (evaluation progress); null outside one. */
    private Listener listening;

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
        int accum = recipe.gradAccum(), n = world.size();
        long dataAt = dataRng.state(), dropoutAt = dropoutRng.state();
        double lossSum = 0;
        float loss = 0;
        abandoned = false;
        for (int k = 0; k < accum; k++) {
            if (k > 0 && stopRequested && n == 1) {
                // a step of many micro-batches can take minutes: a stop abandons it whole (its gradients are
                // never applied) and winds the generators back, so that a resumed run takes the same step again
                dataRng.setState(dataAt);
                dropoutRng.setState(dropoutAt);
                abandoned = true;
                return Float.NaN;
            }
            draw(TextData.Split.TRAIN, dataRng, x, y, 0);
            loss = gpt.forwardBackward(x, y, dropoutRng.nextLong(), k > 0);
            if (!Float.isFinite(loss) && n == 1) {
                throw new Diverged(iter, loss);
            }
            lossSum += loss;
        }
        if (n > 1) {
            // the gradients and the losses summed over the processes; a stop asked of any is every one's
            gpt.backend.changeOnHost(gpt.params.grads, world::sumFloats);
            double[] agree = {lossSum, stopRequested ? 1 : 0};
            world.sumDoubles(agree);
            agreedStop |= agree[1] > 0;
            loss = (float) (agree[0] / ((double) n * accum));
            if (!Float.isFinite(loss)) {
                throw new Diverged(iter, loss);
            }
        } else if (accum > 1) {
            loss = (float) (lossSum / accum);
        }
        // the gradients hold the sum of the micro-batches' (and processes') mean-loss gradients: AdamW
        // takes their mean, clipped as torch.nn.utils.clip_grad_norm_ would clip it
        double scale = 1.0 / ((double) accum * n);
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
        listening = listener;
        try {
            return runSteps(listener);
        } finally {
            listening = null;
        }
    }

    private Result runSteps(Listener listener) {
        long start = System.nanoTime();
        double evalSeconds = 0, listenerSeconds = 0;
        float train = Float.NaN, val = Float.NaN;
        int total = options.iters();
        int first = iter;
        while ((iter < total || total == 0) && !halting()) {
            if (iter % options.evalInterval() == 0 || iter == total - 1 || total == 0) {
                long e0 = System.nanoTime();
                listener.evaluating(iter);
                float[] losses = estimateLosses();
                double spent = (System.nanoTime() - e0) / 1e9;
                evalSeconds += spent;
                evaluationSeconds += spent;
                if (halting()) {
                    break; // stopped during the evaluation: it is abandoned, the caller saves
                }
                checkSameWeights();
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
            if (total == 0 || halting()) {
                break;
            }
            float loss = step(listener.wantsGradNorm(iter));
            if (abandoned) {
                break; // the caller saves the run as it stood before this step
            }
            double elapsed = (System.nanoTime() - start) / 1e9;
            listener.iteration(new StepReport(iter, total, loss, lastLr, lastGradNorm,
                    (iter - first) / Math.max(elapsed - evalSeconds - listenerSeconds, 1e-9), elapsed));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Result(train, val, iter - first, seconds, seconds - evalSeconds - listenerSeconds, evalSeconds,
                listenerSeconds);
    }
}
