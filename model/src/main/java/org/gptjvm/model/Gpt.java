package org.gptjvm.model;


import org.gptjvm.engine.Backend;

/**
 * The lecture's GPT (or its bigram model) on a backend: parameters plus the graphs that train,
 * evaluate and sample it. The training graph is built for (batch_size, block_size); sampling uses a
 * graph of one sequence of block_size and the one-token {@link DecodeGraph}, sharing the
 * parameters. AdamW is the optimizer's (train.Optimizer). The backend stays its caller's: whoever
 * created it closes it.
 */
public final class Gpt {
    public final Backend backend;
    public final GptConfig config;
    public final GptParams params;
    private GptGraph batchGraph, sampleGraph, evalGraph;
    private DecodeGraph decodeGraph;
    private final float[] scalar = new float[1];
    private final int[] seedWords = new int[org.gptjvm.engine.DropoutMask.SEED_INTS];
    private float[] lastLogits, rowLosses, batchMeans;

    public Gpt(Backend backend, GptConfig config) {
        this.backend = backend;
        this.config = config.validate();
        this.params = new GptParams(backend, config);
    }

    public void initialize(long seed) {
        params.initialize(new Rng(seed));
    }

    /** The graph for batches of {@code B} sequences of block_size tokens (built on first use). */
    public GptGraph batchGraph(int B) {
        if (batchGraph == null || batchGraph.B != B) {
            batchGraph = new GptGraph(backend, params, B, config.blockSize());
        }
        return batchGraph;
    }

    /**
     * The row of the combined batch that row 0 of this process's training batches is: 0 in one
     * process, rank * B * T in a data-parallel run, so that dropout draws the masks one process on the
     * combined batch would ({@link org.gptjvm.engine.DropoutMask}).
     */
    public void firstRow(int row) {
        seedWords[org.gptjvm.engine.DropoutMask.FIRST_ROW] = row;
    }

    /** Forward and backward on one batch; the gradients are left in the params' grad buffers. */
    public float forwardBackward(int[] x, int[] y, long dropoutSeed) {
        return forwardBackward(x, y, dropoutSeed, false);
    }

    /**
     * Forward and backward on one batch; with {@code accumulate} its gradients are added to those
     * already in the grad buffers (gradient accumulation), else they replace them.
     */
    public float forwardBackward(int[] x, int[] y, long dropoutSeed, boolean accumulate) {
        GptGraph g = batchGraph(x.length / config.blockSize());
        if (!accumulate) {
            g.zeroGrads.run();
        }
        backend.write(g.idx, x);
        backend.write(g.targets, y);
        seedWords[0] = (int) dropoutSeed;
        seedWords[1] = (int) (dropoutSeed >>> 32);
        backend.write(g.dropoutSeed, seedWords);
        g.forwardBackward.run();
        backend.read(g.lossBuf, scalar);
        return scalar[0];
    }

    /**
     * The global L2 norm of the gradients in the grad buffers, over every parameter in a fixed order
     * (torch.nn.utils.clip_grad_norm_'s total norm).
     */
    public double gradNorm() {
        GptGraph g = batchGraph;
        g.gradNorm.run();
        backend.read(g.gradSquares, scalar);
        return Math.sqrt(scalar[0]);
    }

    /**
     * The mean loss of each of {@code batches} batches of {@code rows} tokens laid one after the
     * other in x and y, without dropout. Several batches go through one forward-only pass; each
     * batch's mean is formed as {@link org.gptjvm.engine.Backend#meanLoss} forms it, so the numbers
     * are those of one {@link #loss} call per batch. The array returned is reused by the next call.
     */
    public float[] batchLosses(int[] x, int[] y, int batches, int rows) {
        if (batchMeans == null || batchMeans.length != batches) {
            batchMeans = new float[batches];
        }
        float[] means = batchMeans;
        if (batches == 1) {
            means[0] = loss(x, y);
            return means;
        }
        int B = batches * rows / config.blockSize();
        if (evalGraph == null || evalGraph.B != B) {
            evalGraph = new GptGraph(backend, params, B, config.blockSize(), GptGraph.Mode.EVALUATE);
            rowLosses = new float[batches * rows];
        }
        backend.write(evalGraph.idx, x);
        backend.write(evalGraph.targets, y);
        evalGraph.loss.run();
        backend.read(evalGraph.lossesBuf, rowLosses);
        for (int b = 0; b < batches; b++) {
            double sum = 0;
            for (int n = b * rows; n < (b + 1) * rows; n++) {
                sum += rowLosses[n];
            }
            means[b] = (float) (sum / rows);
        }
        return means;
    }

    /** The mean cross-entropy of a batch, without dropout (estimate_loss). */
    public float loss(int[] x, int[] y) {
        GptGraph g = batchGraph(x.length / config.blockSize());
        backend.write(g.idx, x);
        backend.write(g.targets, y);
        g.loss.run();
        backend.read(g.lossBuf, scalar);
        return scalar[0];
    }

    /**
     * Logits for the token after {@code context} (at most block_size tokens, at least one). The
     * context is placed at positions 0..n-1 of a block_size sequence; attention is causal, so what
     * follows position n-1 cannot change its logits.
     */
    public float[] nextLogits(int[] context, int n) {
        samplingGraphs();
        int[] padded = new int[config.blockSize()];
        System.arraycopy(context, 0, padded, 0, n);
        backend.write(sampleGraph.idx, padded);
        sampleGraph.logits.run();
        backend.read(sampleGraph.logitsBuf, (n - 1) * config.vocabSize(), lastLogits, config.vocabSize());
        return lastLogits;
    }

    /** The one-token forward with a KV cache, for sampling (built on first use). */
    public DecodeGraph decoder() {
        samplingGraphs();
        return decodeGraph;
    }

    /**
     * Both sampling graphs, the windowed forward and the one-token step, made together the first time
     * either is asked for: a stream may use both, and a device backend plans the programs it has when
     * one first runs (a program made after that makes it plan everything again).
     */
    private void samplingGraphs() {
        if (decodeGraph == null) {
            sampleGraph = new GptGraph(backend, params, 1, config.blockSize());
            lastLogits = new float[config.vocabSize()];
            decodeGraph = new DecodeGraph(backend, params);
        }
    }
}
