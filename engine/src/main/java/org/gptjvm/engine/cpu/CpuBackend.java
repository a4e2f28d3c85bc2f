package org.gptjvm.engine.cpu;

import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.ParamBlocks;
import org.gptjvm.engine.host.HostBackend;
import org.gptjvm.engine.host.WorkerPool;
import org.gptjvm.engine.ref.ReferenceBackend;

import java.util.Arrays;

/**
 * The fast CPU backend: Vector API kernels for everything whose time grows with the model (the
 * Linear layers and attention on register-tiled {@link Gemm} products, LayerNorm, ReLU, dropout),
 * and the reference loops where a plain loop is already as fast as memory allows (embeddings,
 * residual adds, the loss, AdamW). Work is split over a fixed partition in which every output
 * element has one owner and one summation order, so results are bit-identical for any thread count.
 *
 * <p>Each thread has a {@link Workspace}, and one transposed weight matrix serves every Linear
 * layer in turn; both are sized when launches are recorded and counted in {@link #allocatedBytes}.
 */
public final class CpuBackend extends HostBackend {
    /** The kernels run as the reference's plain loops, on this backend's pool. */
    private final ReferenceBackend loops;
    private final Workspace[] workspaces;
    /** W^T of the Linear layer being run: each forward launch transposes its weights into it first. */
    private float[] weightT = new float[0];
    /** Decoding's scores, one row of T per head. */
    private float[] decodeScores = new float[0];
    /** {@link FmaPeak} on this backend's threads, once measured (0: not yet). */
    private double peak;

    public CpuBackend(int threads) {
        super("cpu", threads);
        this.loops = new ReferenceBackend(pool);
        this.workspaces = new Workspace[threads];
        Arrays.setAll(workspaces, p -> new Workspace());
    }

    @Override
    public double peakGflops() {
        if (peak == 0) {
            peak = FmaPeak.gflops(pool);
        }
        return peak;
    }

    @Override
    protected String detail() {
        return Gemm.L * 32 + "-bit vectors";
    }

    @Override
    protected long scratchBytes() {
        return 4L * (weightT.length + decodeScores.length) + Arrays.stream(workspaces).mapToLong(Workspace::bytes).sum();
    }

    private void fitPanels(int n, int K) {
        for (Workspace w : workspaces) {
            w.fitPanels(Gemm.panelFloats(n, K));
        }
    }

    // ---------------------------------------------------------------- Linear

    @Override
    public Launch matmulForward(FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C, int OC) {
        return linearForward("matmul_forward", out, inp, weight, bias, N, C, OC);
    }

    @Override
    public Launch matmulReluForward(FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C, int OC) {
        float[] o = f(out);
        return linearForward("matmul_relu_forward", out, inp, weight, bias, N, C, OC, (from, to) -> Relu.forward(o, o, from,
                to));
    }

    @Override
    public Launch matmulResidualForward(FloatBuf out, FloatBuf residual, FloatBuf inp, FloatBuf weight, FloatBuf bias,
                                        IntBuf seed, float p, int salt, int N, int C, int OC) {
        float[] o = f(out), r = f(residual);
        return linearForward("matmul_residual_forward", out, inp, weight, bias, N, C, OC, (from, to) -> {
            if (p > 0f) {
                DropoutKernels.forward(o, o, seed(seed), firstRow(seed) * OC, p, salt, from, to);
            }
            org.gptjvm.engine.ref.RefKernels.residualForward(o, r, o, from, to);
        });
    }

    /** What a Linear layer's forward does to its outputs [from, to) after the product (ReLU, dropout and residual). */
    private interface Epilogue {
        void apply(int from, int to);
    }

    /** out = inp @ W^T + bias, then {@code epilogue} (may be null) on the same rows or columns. */
    private Launch linearForward(String kernel, FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C,
                                 int OC) {
        return linearForward(kernel, out, inp, weight, bias, N, C, OC, null);
    }

    private Launch linearForward(String kernel, FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C,
                                 int OC, Epilogue epilogue) {
        float[] o = f(out), x = f(inp), w = f(weight), bb = f(bias);
        if (N < Linear.FEW_ROWS) {
            // decoding one token: a matrix-vector product straight off W, split over output channels
            WorkerPool.RangeTask cols = (a, b) -> {
                Linear.forwardFewRows(o, x, w, bb, N, C, OC, a, b);
                for (int n = 0; epilogue != null && n < N; n++) {
                    epilogue.apply(n * OC + a, n * OC + b);
                }
            };
            return parallel(kernel, OC, 64, cols);
        }
        if (weightT.length < C * OC) {
            weightT = new float[C * OC];
        }
        fitPanels(OC, C);
        int[] map = Gemm.transposeMap(C);
        // the transpose is a sizeable part of a small layer's time: split it too, in whole vectors of rows
        int blocks = (OC + Gemm.L - 1) / Gemm.L;
        WorkerPool.RangeTask transpose = (a, b) -> Gemm.transposeRows(w, weightT, OC, C, map, a * Gemm.L,
                Math.min(OC, b * Gemm.L));
        WorkerPool.PartTask rows = (p, a, b) -> {
            Linear.forward(o, x, weightT, bb, C, OC, a, b, workspaces[p].panels);
            if (epilogue != null) {
                epilogue.apply(a * OC, b * OC);
            }
        };
        return launch(kernel, () -> {
            pool.parallelFor(blocks, transpose);
            pool.parallelForParts(N, rows);
        });
    }

    @Override
    public Launch matmulBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                                 FloatBuf weight, int N, int C, int OC) {
        return linearBackward("matmul_backward", dinp, dweight, dbias, dout, null, 0f, 0, inp, false, weight, N, C, OC);
    }

    @Override
    public Launch matmulDropoutBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, IntBuf seed,
                                        float p, int salt, FloatBuf inp, boolean reluInput, FloatBuf weight, int N, int C,
                                        int OC) {
        return linearBackward("matmul_dropout_backward", dinp, dweight, dbias, dout, seed, p, salt, inp, reluInput,
                weight, N, C, OC);
    }

    /** A Linear layer's gradients; dout through dropout's mask where p > 0 (seed: null without), dinp through a ReLU. */
    private Launch linearBackward(String kernel, FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout,
                                  IntBuf seed, float p, int salt, FloatBuf inp, boolean reluInput, FloatBuf weight,
                                  int N, int C, int OC) {
        if (p > 0f) {
            fitOutputGrad(N * OC);
        }
        float[] dx = f(dinp), dw = f(dweight), db = f(dbias), d = f(dout), x = f(inp), w = f(weight);
        fitPanels(C, Math.max(OC, N));
        WorkerPool.RangeTask mask = (a, b) -> {
            java.util.Arrays.fill(outputGrad(), a, b, 0f);
            DropoutKernels.backward(outputGrad(), d, seed(seed), firstRow(seed) * OC, p, salt, a, b);
        };
        // the layer's output gradient: dout through the mask, or dout itself without dropout
        WorkerPool.PartTask input = (q, a, b) -> {
            Linear.backwardInput(dx, p > 0f ? outputGrad() : d, w, C, OC, a, b, workspaces[q].panels);
            if (reluInput) { // rows [a, b) of the ReLU's output gradient, through the ReLU in place
                Relu.gate(dx, x, a * C, b * C);
            }
        };
        WorkerPool.PartTask params = (q, a, b) ->
                Linear.backwardWeight(dw, db, p > 0f ? outputGrad() : d, x, N, C, OC, a, b, workspaces[q].panels);
        return launch(kernel, () -> {
            if (p > 0f) {
                pool.parallelFor(N * OC, ELEMENTWISE_GRAIN, mask);
            }
            if (dx != null) {
                pool.parallelForParts(N, input);
            }
            pool.parallelForParts(OC, params);
        });
    }

    // ---------------------------------------------------------------- attention

    @Override
    public Launch attentionForward(FloatBuf out, FloatBuf att, FloatBuf qkv, IntBuf seed, float dropout, int salt,
                                   int B, int T, int C, int NH) {
        float[] o = f(out), at = f(att), x = f(qkv);
        fitAttention(T, C / NH);
        WorkerPool.PartTask task = (p, a, b) ->
                Attention.forward(o, at, x, seed(seed), attentionBase(seed, T, NH), dropout, salt, T, C, NH, workspaces[p], a,
                        b);
        return parallelParts("attention_forward", B * NH, task);
    }

    @Override
    public Launch attentionBackward(FloatBuf dqkv, FloatBuf dout, FloatBuf qkv, FloatBuf att, IntBuf seed,
                                    float dropout, int salt, int B, int T, int C, int NH) {
        float[] dx = f(dqkv), d = f(dout), x = f(qkv), at = f(att);
        fitAttention(T, C / NH);
        WorkerPool.PartTask task = (p, a, b) ->
                Attention.backward(dx, d, x, at, seed(seed), attentionBase(seed, T, NH), dropout, salt, T, C, NH, workspaces[p],
                        a, b);
        return parallelParts("attention_backward", B * NH, task);
    }

    private void fitAttention(int T, int hs) {
        for (Workspace w : workspaces) {
            w.fit(T, hs);
        }
    }

    @Override
    public Launch attentionDecode(FloatBuf out, FloatBuf qkv, FloatBuf kCache, FloatBuf vCache, IntBuf tokPos,
                                  int T, int C, int NH) {
        float[] o = f(out), x = f(qkv), kc = f(kCache), vc = f(vCache);
        if (decodeScores.length < NH * T) {
            decodeScores = new float[NH * T];
        }
        WorkerPool.RangeTask task = (a, b) ->
                Attention.decode(o, decodeScores, x, kc, vc, position(tokPos), T, C, NH, a, b);
        return parallel("attention_decode", NH, task);
    }

    // ---------------------------------------------------------------- LayerNorm

    @Override
    public Launch layerNormForward(FloatBuf out, FloatBuf mean, FloatBuf rstd, FloatBuf inp, FloatBuf weight,
                                   FloatBuf bias, int N, int C) {
        float[] o = f(out), m = f(mean), r = f(rstd), x = f(inp), w = f(weight), b = f(bias);
        return parallel("layernorm_forward", N, rowGrain(C), (a, e) -> LayerNorm.forward(o, m, r, x, w, b, C, a, e));
    }

    @Override
    public Launch layerNormBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                                    FloatBuf weight, FloatBuf mean, FloatBuf rstd, int N, int C) {
        float[] dx = f(dinp), dw = f(dweight), db = f(dbias), d = f(dout), x = f(inp), w = f(weight);
        float[] m = f(mean), r = f(rstd);
        WorkerPool.RangeTask input = (a, e) -> LayerNorm.backwardInput(dx, d, x, w, m, r, C, a, e);
        // channel blocks of whole vectors, so the split never changes which lanes a channel's sum uses
        int blocks = (C + Gemm.L - 1) / Gemm.L;
        WorkerPool.RangeTask params = (a, e) -> LayerNorm.backwardParams(dw, db, d, x, m, r, N, C,
                a * Gemm.L, Math.min(C, e * Gemm.L));
        return launch("layernorm_backward", () -> {
            pool.parallelFor(N, rowGrain(2 * C), input);
            pool.parallelFor(blocks, params);
        });
    }

    // ---------------------------------------------------------------- loss

    @Override
    public Launch crossEntropyForward(FloatBuf losses, FloatBuf probs, FloatBuf logits, IntBuf targets, int N, int V) {
        float[] l = f(losses), p = f(probs), x = f(logits);
        int[] t = i(targets);
        return parallel("crossentropy_forward", N, rowGrain(8 * V), (a, b) -> Loss.crossEntropyForward(l, p, x, t, V, a, b));
    }

    // ---------------------------------------------------------------- the reference's loops

    @Override
    public Launch encoderForward(FloatBuf out, IntBuf idx, FloatBuf wte, FloatBuf wpe, int B, int T, int C) {
        return loops.encoderForward(out, idx, wte, wpe, B, T, C);
    }

    @Override
    public Launch encoderBackward(FloatBuf dwte, FloatBuf dwpe, FloatBuf dout, IntBuf idx, int B, int T, int C) {
        return loops.encoderBackward(dwte, dwpe, dout, idx, B, T, C);
    }

    @Override
    public Launch embedToken(FloatBuf out, IntBuf tokPos, FloatBuf wte, FloatBuf wpe, int C) {
        return loops.embedToken(out, tokPos, wte, wpe, C);
    }

    @Override
    public Launch meanLoss(FloatBuf loss, FloatBuf losses, int N) {
        return loops.meanLoss(loss, losses, N);
    }

    @Override
    public Launch crossEntropyBackward(FloatBuf dlogits, FloatBuf probs, IntBuf targets, int N, int V) {
        return loops.crossEntropyBackward(dlogits, probs, targets, N, V);
    }

    @Override
    public Launch adamw(ParamBlocks params, int from, int to, FloatBuf hyper) {
        return loops.adamw(params, from, to, hyper);
    }
}
