package org.gptjvm.engine.cpu;

import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.ReferenceBackend;
import org.gptjvm.engine.WorkerPool;

import java.util.Arrays;
import java.util.List;

/**
 * The fast CPU backend: the reference backend with the compute-bound kernels (Linear layers and
 * attention) replaced by register-tiled Vector API products. Work is split over a fixed partition
 * in which every output element has one owner and one summation order, so results are bit-identical
 * for any thread count. Without the Vector API module it runs the reference kernels and says so.
 */
public final class CpuBackend extends ReferenceBackend {
    private static volatile boolean warned;

    private final boolean vector;
    private final VectorKernels.AttentionScratch[] attentionScratch;
    private int scratchT = -1, scratchHs = -1;

    public CpuBackend(int threads) {
        super(threads);
        this.vector = vectorApiPresent();
        if (!vector && !warned) {
            warned = true;
            System.err.println("gpt: note: the Vector API is not enabled (run java with --add-modules "
                    + "jdk.incubator.vector); the cpu backend runs its scalar path");
        }
        this.attentionScratch = new VectorKernels.AttentionScratch[threads];
    }

    /** Whether jdk.incubator.vector is in the boot layer (java --add-modules jdk.incubator.vector). */
    public static boolean vectorApiPresent() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String device() {
        return "cpu backend, " + threads() + " thread(s), " + (vector ? Gemm.S.length() * 32 + "-bit vectors"
                : "scalar (no Vector API)");
    }

    @Override
    public Launch matmulForward(FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C, int OC) {
        if (!vector) {
            return super.matmulForward(out, inp, weight, bias, N, C, OC);
        }
        float[] o = f(out), x = f(inp), w = f(weight), bb = f(bias);
        if (N < VectorKernels.FEW_ROWS) {
            // decoding one token: a matrix-vector product straight off W, split over output channels
            WorkerPool.RangeTask cols = (a, b) -> VectorKernels.matmulForwardFewRows(o, x, w, bb, N, C, OC, a, b);
            return parallel("matmul_forward", OC, 64, cols);
        }
        float[] wt = new float[C * OC]; // W^T, refreshed every launch: the weights change every step
        int[] map = Gemm.transposeMap(C);
        // the transpose is a tenth of a small layer's time: split it too, in whole vectors of rows
        int blocks = (OC + Gemm.L - 1) / Gemm.L;
        WorkerPool.RangeTask transpose = (a, b) -> Gemm.transposeRows(w, wt, OC, C, map, a * Gemm.L,
                Math.min(OC, b * Gemm.L));
        WorkerPool.RangeTask rows = (a, b) -> VectorKernels.matmulForward(o, x, wt, bb, C, OC, a, b);
        return launch("matmul_forward", () -> {
            pool.parallelFor(blocks, transpose);
            pool.parallelFor(N, rows);
        });
    }

    @Override
    public Launch matmulBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                                 FloatBuf weight, int N, int C, int OC) {
        if (!vector) {
            return super.matmulBackward(dinp, dweight, dbias, dout, inp, weight, N, C, OC);
        }
        float[] dx = f(dinp), dw = f(dweight), db = f(dbias), d = f(dout), x = f(inp), w = f(weight);
        WorkerPool.RangeTask input = (a, b) -> VectorKernels.matmulBackwardInput(dx, d, w, C, OC, a, b);
        WorkerPool.RangeTask params = (a, b) -> VectorKernels.matmulBackwardWeight(dw, db, d, x, N, C, OC, a, b);
        return launch("matmul_backward", () -> {
            if (dx != null) {
                pool.parallelFor(N, input);
            }
            pool.parallelFor(OC, params);
        });
    }

    /**
     * Zeroing the gradients and each layer's gradient scratch writes 7 MiB per small-config step; one
     * thread's stores take 4% of the step. The buffers are laid end to end and the range split.
     */
    @Override
    public Launch zero(List<FloatBuf> bufs) {
        float[][] arrays = bufs.stream().map(ReferenceBackend::f).toArray(float[][]::new);
        long[] starts = new long[arrays.length + 1];
        for (int i = 0; i < arrays.length; i++) {
            starts[i + 1] = starts[i] + arrays[i].length;
        }
        if (starts[arrays.length] > Integer.MAX_VALUE) {
            return super.zero(bufs);
        }
        int total = (int) starts[arrays.length];
        WorkerPool.RangeTask task = (a, b) -> {
            for (int i = 0; i < arrays.length; i++) {
                int from = (int) Math.max(a, starts[i]), to = (int) Math.min(b, starts[i + 1]);
                if (from < to) {
                    Arrays.fill(arrays[i], from - (int) starts[i], to - (int) starts[i], 0f);
                }
            }
        };
        return parallel("zero", total, ELEMENTWISE_GRAIN, task);
    }

    private VectorKernels.AttentionScratch[] scratch(int T, int hs) {
        // one set per thread, shared by all attention launches (they never run at the same time)
        if (T > scratchT || hs > scratchHs) {
            scratchT = Math.max(T, scratchT);
            scratchHs = Math.max(hs, scratchHs);
            for (int i = 0; i < attentionScratch.length; i++) {
                attentionScratch[i] = new VectorKernels.AttentionScratch(scratchT, scratchHs);
            }
        }
        return attentionScratch;
    }

    @Override
    public Launch attentionForward(FloatBuf out, FloatBuf att, FloatBuf qkv, IntBuf seed, float dropout, int salt,
                                   int B, int T, int C, int NH) {
        if (!vector) {
            return super.attentionForward(out, att, qkv, seed, dropout, salt, B, T, C, NH);
        }
        float[] o = f(out), at = f(att), x = f(qkv);
        VectorKernels.AttentionScratch[] sc = scratch(T, C / NH);
        WorkerPool.PartTask task = (p, a, b) ->
                VectorKernels.attentionForward(o, at, x, seed(seed), dropout, salt, T, C, NH, sc[p], a, b);
        return launch("attention_forward", () -> pool.parallelForParts(B * NH, task));
    }

    @Override
    public Launch attentionBackward(FloatBuf dqkv, FloatBuf scratch, FloatBuf dout, FloatBuf qkv, FloatBuf att,
                                    IntBuf seed, float dropout, int salt, int B, int T, int C, int NH) {
        if (!vector) {
            return super.attentionBackward(dqkv, scratch, dout, qkv, att, seed, dropout, salt, B, T, C, NH);
        }
        float[] dx = f(dqkv), d = f(dout), x = f(qkv), at = f(att);
        VectorKernels.AttentionScratch[] sc = scratch(T, C / NH);
        WorkerPool.PartTask task = (p, a, b) ->
                VectorKernels.attentionBackward(dx, d, x, at, seed(seed), dropout, salt, T, C, NH, sc[p], a, b);
        return launch("attention_backward", () -> pool.parallelForParts(B * NH, task));
    }

    @Override
    public Launch attentionDecode(FloatBuf out, FloatBuf scores, FloatBuf qkv, FloatBuf kCache, FloatBuf vCache,
                                  IntBuf tokPos, int T, int C, int NH) {
        if (!vector) {
            return super.attentionDecode(out, scores, qkv, kCache, vCache, tokPos, T, C, NH);
        }
        float[] o = f(out), s = f(scores), x = f(qkv), kc = f(kCache), vc = f(vCache);
        WorkerPool.RangeTask task = (a, b) ->
                VectorKernels.attentionDecode(o, s, x, kc, vc, position(tokPos), T, C, NH, a, b);
        return parallel("attention_decode", NH, task);
    }

    // ReLU is a quarter of the small model's non-matmul time in the reference loops: the sign of a
    // pre-activation is a coin flip, so the branch mispredicts. Lane-wise max and masked add instead.

    @Override
    public Launch reluForward(FloatBuf out, FloatBuf inp, int n) {
        if (!vector) {
            return super.reluForward(out, inp, n);
        }
        float[] o = f(out), x = f(inp);
        return parallel("relu_forward", n, ELEMENTWISE_GRAIN, (a, b) -> VectorKernels.reluForward(o, x, a, b));
    }

    @Override
    public Launch reluBackward(FloatBuf dinp, FloatBuf out, FloatBuf dout, int n) {
        if (!vector) {
            return super.reluBackward(dinp, out, dout, n);
        }
        float[] dx = f(dinp), o = f(out), d = f(dout);
        return parallel("relu_backward", n, ELEMENTWISE_GRAIN, (a, b) -> VectorKernels.reluBackward(dx, o, d, a, b));
    }

    @Override
    public Launch dropoutForward(FloatBuf out, FloatBuf inp, IntBuf seed, float p, int salt, int n) {
        if (!vector) {
            return super.dropoutForward(out, inp, seed, p, salt, n);
        }
        float[] o = f(out), x = f(inp);
        return parallel("dropout_forward", n, ELEMENTWISE_GRAIN,
                (a, b) -> DropoutKernels.forward(o, x, seed(seed), p, salt, a, b));
    }

    @Override
    public Launch dropoutBackward(FloatBuf dinp, FloatBuf dout, IntBuf seed, float p, int salt, int n) {
        if (!vector) {
            return super.dropoutBackward(dinp, dout, seed, p, salt, n);
        }
        float[] dx = f(dinp), d = f(dout);
        return parallel("dropout_backward", n, ELEMENTWISE_GRAIN,
                (a, b) -> DropoutKernels.backward(dx, d, seed(seed), p, salt, a, b));
    }

    @Override
    public Launch layerNormForward(FloatBuf out, FloatBuf mean, FloatBuf rstd, FloatBuf inp, FloatBuf weight,
                                   FloatBuf bias, int N, int C) {
        if (!vector) {
            return super.layerNormForward(out, mean, rstd, inp, weight, bias, N, C);
        }
        float[] o = f(out), m = f(mean), r = f(rstd), x = f(inp), w = f(weight), b = f(bias);
        return parallel("layernorm_forward", N, rowGrain(C), (a, e) -> VectorKernels.layerNormForward(o, m, r, x, w, b, C, a, e));
    }

    @Override
    public Launch layerNormBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                                    FloatBuf weight, FloatBuf mean, FloatBuf rstd, int N, int C) {
        if (!vector) {
            return super.layerNormBackward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
        }
        float[] dx = f(dinp), dw = f(dweight), db = f(dbias), d = f(dout), x = f(inp), w = f(weight);
        float[] m = f(mean), r = f(rstd);
        WorkerPool.RangeTask input = (a, e) -> VectorKernels.layerNormBackwardInput(dx, d, x, w, m, r, C, a, e);
        // channel blocks of whole vectors, so the split never changes which lanes a channel's sum uses
        int blocks = (C + Gemm.L - 1) / Gemm.L;
        WorkerPool.RangeTask params = (a, e) -> VectorKernels.layerNormBackwardParams(dw, db, d, x, m, r, N, C,
                a * Gemm.L, Math.min(C, e * Gemm.L));
        return launch("layernorm_backward", () -> {
            pool.parallelFor(N, rowGrain(2 * C), input);
            pool.parallelFor(blocks, params);
        });
    }
}
