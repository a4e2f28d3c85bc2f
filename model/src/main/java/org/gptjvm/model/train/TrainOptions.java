package org.gptjvm.model.train;

import com.google.gson.JsonObject;
import org.gptjvm.engine.GptException;
import org.gptjvm.model.io.JsonNumbers;

/**
 * The training loop's settings: the lecture's hyper-parameters other than the model's shape, and
 * the {@link Recipe} that drives the optimizer (the lecture's constant-rate AdamW unless told).
 * {@code lr} is the peak learning rate; {@code batchSize} is one micro-batch's sequences.
 */
public record TrainOptions(int batchSize, double lr, int iters, int evalInterval, int evalIters, long seed,
                           Recipe recipe) {

    /**
     * The most batches per split in one evaluation: the lecture takes 200; a million batches of the
     * small model is hours of evaluating before the first step, more is a typo, not a run.
     */
    public static final int MAX_EVAL_ITERS = 1_000_000;
    /** The error for --eval-iters above {@link #MAX_EVAL_ITERS}, less the value. */
    public static final String EVAL_ITERS_BOUND = "--eval-iters must be at most " + MAX_EVAL_ITERS
            + " (batches per split in each evaluation: more would not end in any reasonable time)";

    /** The lecture's recipe. */
    public TrainOptions(int batchSize, double lr, int iters, int evalInterval, int evalIters, long seed) {
        this(batchSize, lr, iters, evalInterval, evalIters, seed, Recipe.LECTURE);
    }

    public TrainOptions validate() {
        if (batchSize <= 0) {
            throw new GptException("batch size must be positive, got " + batchSize);
        }
        if (!(lr > 0) || Double.isInfinite(lr)) {
            throw new GptException("learning rate must be positive, got " + lr);
        }
        if (iters < 0) {
            throw new GptException("iterations must not be negative, got " + iters);
        }
        if (evalInterval <= 0) {
            throw new GptException("eval interval must be positive, got " + evalInterval);
        }
        if (evalIters <= 0) {
            throw new GptException("eval iterations must be positive, got " + evalIters);
        }
        if (evalIters > MAX_EVAL_ITERS) {
            throw new GptException(EVAL_ITERS_BOUND + ", got " + evalIters);
        }
        recipe.validate();
        return this;
    }

    /** These settings with the recipe's defaults made explicit (see {@link Recipe#resolve}). */
    public TrainOptions resolved() {
        return new TrainOptions(batchSize, lr, iters, evalInterval, evalIters, seed, recipe.resolve(lr, iters));
    }

    /** The learning rate of the step taken after {@code it} steps. */
    public double learningRate(int it) {
        return recipe.schedule().learningRate(lr, it, iters);
    }

    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("batch_size", batchSize);
        o.addProperty("learning_rate", lr);
        o.addProperty("max_iters", iters);
        o.addProperty("eval_interval", evalInterval);
        o.addProperty("eval_iters", evalIters);
        o.addProperty("seed", seed);
        recipe.addTo(o);
        return o;
    }

    /** The settings saved by {@link #toJson}. */
    public static TrainOptions fromJson(JsonObject o) {
        // counts exactly as saved, in range: a damaged or hostile file names its key
        return new TrainOptions(JsonNumbers.wholeInt(o, "batch_size", 1, Integer.MAX_VALUE),
                o.get("learning_rate").getAsDouble(), JsonNumbers.wholeInt(o, "max_iters", 0, Integer.MAX_VALUE),
                JsonNumbers.wholeInt(o, "eval_interval", 1, Integer.MAX_VALUE),
                JsonNumbers.wholeInt(o, "eval_iters", 1, MAX_EVAL_ITERS), o.get("seed").getAsLong(), Recipe.fromJson(o));
    }

    /** These settings with another iteration count, evaluation interval and size (null: keep). */
    public TrainOptions with(Integer iters, Integer evalInterval, Integer evalIters) {
        return new TrainOptions(batchSize, lr, iters != null ? iters : this.iters,
                evalInterval != null ? evalInterval : this.evalInterval, evalIters != null ? evalIters : this.evalIters, seed,
                recipe);
    }
}
