package org.gptjvm.model;

/**
 * The lecture's training loop: every eval_interval iterations (and at the last) estimate_loss over
 * eval_iters batches of each split, then get_batch, forward, backward, AdamW step.
 */
public final class Trainer {

    /** What a caller sees of a run; all calls come from the training thread. */
    public interface Listener {
        default void evaluated(int step, float trainLoss, float valLoss) {
        }

        default void iteration(int iter, int total, float loss, double iterationsPerSecond) {
        }

        /** Called after each evaluation, with the state a checkpoint needs. */
        default void checkpoint(int step) {
        }
    }

    /** {@code iterations}: steps taken by this call (fewer than asked for when stopped). */
    public record Result(float trainLoss, float valLoss, int iterations, double seconds, double trainSeconds,
                         double evalSeconds) {
    }

    private final Gpt gpt;
    private final TextData data;
    private final TrainOptions options;
    private final Gpt.Optimizer optimizer;
    private final Rng dataRng, dropoutRng;
    private final int[] x, y;
    private int iter;
    private volatile boolean stopRequested;

    public Trainer(Gpt gpt, TextData data, TrainOptions options) {
        this.gpt = gpt;
        this.data = data;
        this.options = options.validate();
        this.optimizer = Gpt.Optimizer.pytorchDefaults(options.lr());
        this.dataRng = Seeds.data(options.seed());
        this.dropoutRng = Seeds.dropout(options.seed());
        int n = options.batchSize() * gpt.config.blockSize();
        this.x = new int[n];
        this.y = new int[n];
        data.checkBlockSize(gpt.config.blockSize());
        gpt.config.checkBatch(options.batchSize());
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
     * Mean loss over eval_iters random batches of a split drawn from {@code rng}, without dropout;
     * NaN when {@link #requestStop} cut it short.
     */
    public float estimateLoss(TextData.Split split, Rng rng) {
        double sum = 0;
        for (int k = 0; k < options.evalIters(); k++) {
            if (stopRequested) {
                return Float.NaN;
            }
            data.batch(split, rng, options.batchSize(), gpt.config.blockSize(), x, y);
            sum += gpt.loss(x, y);
        }
        return (float) (sum / options.evalIters());
    }

    /**
     * One step on the next training batch; returns its loss (before the update). A loss that is
     * not finite stops the run before the update: see {@link Diverged}.
     */
    public float step() {
        data.batch(TextData.Split.TRAIN, dataRng, options.batchSize(), gpt.config.blockSize(), x, y);
        float loss = gpt.forwardBackward(x, y, dropoutRng.nextLong());
        if (!Float.isFinite(loss)) {
            throw new Diverged(iter, loss);
        }
        iter++;
        gpt.update(optimizer, iter);
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
        double evalSeconds = 0;
        float train = Float.NaN, val = Float.NaN;
        int total = options.iters();
        int first = iter;
        while ((iter < total || total == 0) && !stopRequested) {
            if (iter % options.evalInterval() == 0 || iter == total - 1 || total == 0) {
                long e0 = System.nanoTime();
                float[] losses = estimateLosses();
                evalSeconds += (System.nanoTime() - e0) / 1e9;
                if (stopRequested) {
                    break; // stopped during the evaluation: it is abandoned, the caller saves
                }
                if (!Float.isFinite(losses[0]) || !Float.isFinite(losses[1])) {
                    throw new Diverged(iter, Float.isFinite(losses[0]) ? losses[1] : losses[0]);
                }
                train = losses[0];
                val = losses[1];
                listener.evaluated(iter, train, val);
                listener.checkpoint(iter);
            }
            if (total == 0 || stopRequested) {
                break;
            }
            float loss = step();
            double elapsed = (System.nanoTime() - start) / 1e9;
            listener.iteration(iter, total, loss, (iter - first) / Math.max(elapsed, 1e-9));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Result(train, val, iter - first, seconds, seconds - evalSeconds, evalSeconds);
    }
}
