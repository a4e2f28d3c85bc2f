package org.gptjvm.engine;

import java.util.List;

/**
 * The engine seen by the model: it owns every buffer and hands out kernel launches over them.
 *
 * <p>Each op comes as a forward/backward pair over flat float buffers, in the spirit of llm.c.
 * Backward kernels <em>accumulate</em> into the parameters' gradients ({@code +=}), so the model zeroes
 * them once per step and micro-batches add up, and into most input gradients, so that the residual
 * stream's gradient can simply be summed into. The Linear layers and attention <em>write</em> their
 * input gradients ({@code =}), as llm.c's CUDA version does: each such buffer has one writer, and
 * zeroing it only to add to it would be a pass over it for nothing. The model
 * records launches into a {@link Program} once and runs it every step, so a device backend can keep
 * everything resident: per step the host writes the batch and a few scalars and reads one float, the
 * loss.
 */
public interface Backend extends AutoCloseable {

    /** Short name as used on the command line ({@code reference}, {@code cpu}, ...). */
    String name();

    /** A human-readable description of where the kernels run (for benchmarks and logs). */
    default String device() {
        return name() + " backend";
    }

    /**
     * The most GFLOP/s this backend's arithmetic reaches on this machine, measured (multiply-adds at
     * full rate, no memory traffic), or NaN where it has no such measurement. Benchmarks set a step's
     * GFLOP/s beside it. It may take a fraction of a second the first time.
     */
    default double peakGflops() {
        return Double.NaN;
    }

    FloatBuf allocFloat(String name, int size);

    /**
     * Buffers of {@code sizes} allocated as one block (see {@link FloatBlock}): a backend with one
     * memory lays them end to end, so that {@link #zero}, {@link #sumOfSquares} and {@link #adamw}
     * over the block, or a run of its parts, touch one range.
     */
    FloatBlock allocBlock(String name, List<String> partNames, int[] sizes);

    /**
     * Bytes the backend holds for this model: every buffer allocated so far, plus its own scratch
     * (packed panels, per-thread work space, transposed weights): the figure {@code gpt bench} reports.
     */
    long allocatedBytes();

    IntBuf allocInt(String name, int size);

    /**
     * Declares that the host writes {@code buf} before (nearly) every run, like the step's AdamW
     * scalars. A device backend then sends it with each run instead of keeping it resident, where a
     * host write is a slow path. Int buffers (token ids, targets, seeds) are always host inputs.
     */
    default void hostInput(FloatBuf buf) {
    }

    void write(FloatBuf dst, float[] src);

    void write(IntBuf dst, int[] src);

    /** Copies {@code len} floats starting at {@code offset} of {@code src} into {@code dst[0..len)}. */
    void read(FloatBuf src, int offset, float[] dst, int len);

    default void read(FloatBuf src, float[] dst) {
        read(src, 0, dst, src.size());
    }

    /**
     * Hands the floats of {@code block} to {@code change} in host memory, part by part or as one run,
     * and keeps what it leaves there as the block's values: how a data-parallel run all-reduces its
     * gradients across processes. A backend whose buffers are host memory hands its own (no copy); one
     * with a device's memory stages the block's range alone through the host, down and back up.
     */
    default void changeOnHost(FloatBlock block, java.util.function.Consumer<java.lang.foreign.MemorySegment> change) {
        for (FloatBuf part : block.parts()) {
            float[] a = new float[part.size()];
            read(part, a);
            change.accept(java.lang.foreign.MemorySegment.ofArray(a));
            write(part, a);
        }
    }

    /**
     * The bytes of buffers a backend with its own memory (a device's) can hold in all, for checking
     * a model against before it is allocated; {@link Long#MAX_VALUE} where that memory is the JVM's
     * (the heap's limit applies) or unknown.
     */
    default long deviceMemory() {
        return Long.MAX_VALUE;
    }

    /**
     * Whether dropout's masks start from the seed buffer's first row ({@link DropoutMask#FIRST_ROW}),
     * as a process of a data-parallel run with dropout needs.
     */
    default boolean masksFromFirstRow() {
        return true;
    }

    /**
     * Libraries this backend can compute the Linear layers' matrix products with instead of its own
     * kernels, by name: a vendor's library as the ceiling {@code gpt bench --products} times beside the
     * backend's own, and what {@code --gemm} trains with. Empty where it has none here.
     */
    default List<String> productLibraries() {
        return List.of();
    }

    /**
     * Launches made after this call compute the Linear layers' products with {@code library} (one of
     * {@link #productLibraries()}), or with the backend's own kernels ({@code null}); everything else
     * is unchanged. A library that cannot run here is a {@link GptException} that says why.
     */
    default void useProductLibrary(String library) {
        if (library != null) {
            throw new GptException("the " + name() + " backend computes the products with its own kernels only, not "
                    + library);
        }
    }

    /** Turns recorded launches into something that runs them in order. */
    Program compile(String name, List<Launch> launches);

    /**
     * Programs compiled after this call add the time of each of their launches to {@code into}
     * ({@code gpt bench --profile}). A backend that cannot time single launches leaves it empty.
     */
    default void profile(KernelProfile into) {
    }

    @Override
    void close();

    // ---------------------------------------------------------------- kernels

    /** Sets every element of the block to zero. */
    Launch zero(FloatBlock block);

    /**
     * {@code out[0]} = the sum of the squares of every element of the block (the gradients' global
     * norm, squared, for clipping), summed in an order fixed by the block alone, so the result is the
     * same for any thread count and from run to run.
     */
    Launch sumOfSquares(FloatBuf out, FloatBlock block);

    /** out[b,t,:] = wte[idx[b,t],:] + wpe[t,:]; {@code wpe} may be null (the bigram model). */
    Launch encoderForward(FloatBuf out, IntBuf idx, FloatBuf wte, FloatBuf wpe, int B, int T, int C);

    Launch encoderBackward(FloatBuf dwte, FloatBuf dwpe, FloatBuf dout, IntBuf idx, int B, int T, int C);

    /** LayerNorm over the last dimension (eps 1e-5, biased variance, as PyTorch). */
    Launch layerNormForward(FloatBuf out, FloatBuf mean, FloatBuf rstd, FloatBuf inp, FloatBuf weight,
                            FloatBuf bias, int N, int C);

    Launch layerNormBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                             FloatBuf weight, FloatBuf mean, FloatBuf rstd, int N, int C);

    /** out(N,OC) = inp(N,C) @ weight(OC,C)^T + bias(OC); {@code bias} may be null. PyTorch Linear layout. */
    Launch matmulForward(FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C, int OC);

    /**
     * out = relu(inp @ weight^T + bias): the feed-forward's first Linear layer and its ReLU in one
     * launch, the same values as {@link #matmulForward} with max(0, x) applied to each output.
     */
    Launch matmulReluForward(FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C, int OC);

    /**
     * out = residual + dropout(inp @ weight^T + bias): a residual branch's last Linear layer, its
     * inverted dropout over the N*OC outputs (element i kept, times 1/(1-p), where
     * {@link DropoutMask#uniform}(seed, salt, i) >= p; p = 0: none, and {@code seed} may be null) and
     * the residual add in one launch. {@code out} is neither {@code residual} nor {@code inp}.
     */
    Launch matmulResidualForward(FloatBuf out, FloatBuf residual, FloatBuf inp, FloatBuf weight, FloatBuf bias,
                                 IntBuf seed, float p, int salt, int N, int C, int OC);

    /**
     * The gradients of {@link #matmulForward}: writes dinp = dout @ weight (may be null: not wanted),
     * accumulates dweight += dout^T @ inp and dbias += dout's column sums (may be null).
     */
    Launch matmulBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                          FloatBuf weight, int N, int C, int OC);

    /**
     * {@link #matmulBackward} of the Linear layer of {@link #matmulResidualForward}: {@code dout} is
     * the gradient after the dropout, so the layer's own output gradient is dout through the same
     * mask (seed, p, salt; p = 0: none), the same values as matmulBackward from dout times the mask's
     * factors.
     *
     * <p>With {@code reluInput}, {@code inp} is the output of a ReLU ({@link #matmulReluForward}: the
     * feed-forward's second Linear layer reads the first one's) and {@code dinp} is the gradient of the
     * ReLU's input instead of its output: the layer's input gradient where inp > 0, 0 elsewhere.
     */
    Launch matmulDropoutBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, IntBuf seed, float p,
                                 int salt, FloatBuf inp, boolean reluInput, FloatBuf weight, int N, int C, int OC);

    /**
     * Causal multi-head self-attention. {@code qkv} is (B,T,3C) holding query, key, value, each (B,T,C)
     * with head h in channels [h*hs, (h+1)*hs). Scores are scaled by hs^-0.5, masked, softmaxed into
     * {@code att} (B,NH,T,T), dropped out with probability {@code dropout} (mask from {@code seed},
     * {@code salt}), and applied to the values: out (B,T,C) is the heads concatenated.
     */
    Launch attentionForward(FloatBuf out, FloatBuf att, FloatBuf qkv, IntBuf seed, float dropout, int salt,
                            int B, int T, int C, int NH);

    /** Writes dqkv, the gradient of {@link #attentionForward}'s qkv, given its {@code att}; any scratch is the backend's own. */
    Launch attentionBackward(FloatBuf dqkv, FloatBuf dout, FloatBuf qkv, FloatBuf att, IntBuf seed, float dropout,
                             int salt, int B, int T, int C, int NH);

    /** Row-wise softmax of logits (N,V) into probs, and losses[n] = -log probs[n, targets[n]]. */
    Launch crossEntropyForward(FloatBuf losses, FloatBuf probs, FloatBuf logits, IntBuf targets, int N, int V);

    /** loss[0] = mean of losses[0..N). */
    Launch meanLoss(FloatBuf loss, FloatBuf losses, int N);

    /** dlogits += (probs - onehot(targets)) / N: the gradient of the mean loss. */
    Launch crossEntropyBackward(FloatBuf dlogits, FloatBuf probs, IntBuf targets, int N, int V);

    /**
     * One AdamW update of parameters [from, to) of the blocks, exactly as torch.optim.AdamW.
     * {@code hyper} holds the update's scalars in {@link AdamW}'s layout, written by the host each step
     * (a {@link #hostInput}).
     */
    Launch adamw(ParamBlocks params, int from, int to, FloatBuf hyper);

    // ------------------------------------------------ decoding one token with a KV cache (sampling)

    /**
     * out(C) = wte[token] + wpe[pos] with {@code tokPos = [token, pos]} written by the host per token;
     * {@code wpe} may be null (the bigram model). The same sums as {@link #encoderForward}.
     */
    Launch embedToken(FloatBuf out, IntBuf tokPos, FloatBuf wte, FloatBuf wpe, int C);

    /**
     * Attention of one new token at position p = {@code tokPos[1]} against a KV cache: its key and
     * value (channels C..3C of {@code qkv}) are stored in row p of {@code kCache} and {@code vCache}
     * (T x C each), then out(C) = softmax(q K^T hs^-0.5) V over rows 0..p, per head. No dropout.
     * Implementations use the same arithmetic, in the same
     * order, as row p of their {@link #attentionForward}, so sampling with the cache gives the same
     * logits, bit for bit, as recomputing the whole context.
     */
    Launch attentionDecode(FloatBuf out, FloatBuf qkv, FloatBuf kCache, FloatBuf vCache, IntBuf tokPos, int T,
                           int C, int NH);
}
