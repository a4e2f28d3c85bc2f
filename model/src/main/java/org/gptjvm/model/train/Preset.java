package org.gptjvm.model.train;

import org.gptjvm.model.GptConfig;

/**
 * The setups in one table: the model's shape and the training settings that go with it.
 * {@code small} is the model the lecture's gpt.py trains on a laptop; {@code lecture} is the video's
 * 10.79 M-parameter model; {@code nanogpt} is nanoGPT's {@code train_shakespeare_char} recipe on the
 * lecture's model (nanoGPT's own model differs: GELU, tied embeddings; we keep the lecture's).
 * {@code gpt train}, {@code eval} and {@code bench} all read them here.
 */
public enum Preset {
    //      block  embd  heads  layers  dropout  batch  lr     eval interval  recipe
    small(  32,    64,   4,     4,      0.0f,    16,    1e-3,  100,           Recipe.LECTURE),
    lecture(256,   384,  6,     6,      0.2f,    64,    3e-4,  500,           Recipe.LECTURE),
    nanogpt(256,   384,  6,     6,      0.2f,    64,    1e-3,  250,           Recipe.NANOGPT);

    /** Training iterations, batches per split in an evaluation, and the seed: the same for all. */
    public static final int ITERS = 5000, EVAL_ITERS = 200;
    public static final long SEED = 1337;

    public final int blockSize, nEmbd, nHead, nLayer;
    public final float dropout;
    public final int batchSize;
    public final double lr;
    public final int evalInterval;
    public final Recipe recipe;

    Preset(int blockSize, int nEmbd, int nHead, int nLayer, float dropout, int batchSize, double lr, int evalInterval,
           Recipe recipe) {
        this.blockSize = blockSize;
        this.nEmbd = nEmbd;
        this.nHead = nHead;
        this.nLayer = nLayer;
        this.dropout = dropout;
        this.batchSize = batchSize;
        this.lr = lr;
        this.evalInterval = evalInterval;
        this.recipe = recipe;
    }

    /** The model for a vocabulary of {@code vocabSize} characters. */
    public GptConfig config(int vocabSize) {
        return new GptConfig(GptConfig.GPT, vocabSize, blockSize, nEmbd, nHead, nLayer, dropout);
    }

    /** The training settings, all defaults. */
    public TrainOptions trainOptions() {
        return new TrainOptions(batchSize, lr, ITERS, evalInterval, EVAL_ITERS, SEED, recipe);
    }
}
