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

        default void iteration(int iter, int total, float loss, double elapsedSeconds) {
        }

        /** Called after each evaluation, with the state a checkpoint needs. */
        default void checkpoint(int step) {
        }
    }

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
    }

    public int iteration() {
        return iter;
    }

    public Rng dataRng() {
        return dataRng;
    }

    public Rng dropoutRng() {
        return dropoutRng;
    }

    /** Mean loss over eval_iters random batches of a split, without dropout. */
    public float estimateLoss(TextData.Split split) {
        double sum = 0;
        for (int k = 0; k < options.evalIters(); k++) {
            data.batch(split, dataRng, options.batchSize(), gpt.config.blockSize(), x, y);
            sum += gpt.loss(x, y);
        }
        return (float) (sum / options.evalIters());
    }

    /** One step on the next training batch; returns its loss (before the update). */
    public float step() {
        data.batch(TextData.Split.TRAIN, dataRng, options.batchSize(), gpt.config.blockSize(), x, y);
        float loss = gpt.forwardBackward(x, y, dropoutRng.nextLong());
        iter++;
        gpt.update(optimizer, iter);
        return loss;
    }

    public Result run(Listener listener) {
        long start = System.nanoTime();
        double evalSeconds = 0;
        float train = Float.NaN, val = Float.NaN;
        int total = options.iters();
        while (iter < total || total == 0) {
            if (iter % options.evalInterval() == 0 || iter == total - 1 || total == 0) {
                long e0 = System.nanoTime();
                train = estimateLoss(TextData.Split.TRAIN);
                val = estimateLoss(TextData.Split.VAL);
                evalSeconds += (System.nanoTime() - e0) / 1e9;
                listener.evaluated(iter, train, val);
                listener.checkpoint(iter);
            }
            if (total == 0) {
                break;
            }
            float loss = step();
            listener.iteration(iter, total, loss, (System.nanoTime() - start) / 1e9);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Result(train, val, iter, seconds, seconds - evalSeconds, evalSeconds);
    }
}
