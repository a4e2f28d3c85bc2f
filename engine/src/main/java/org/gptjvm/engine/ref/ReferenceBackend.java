package org.gptjvm.engine.ref;

import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.ParamBlocks;
import org.gptjvm.engine.host.HostBackend;
import org.gptjvm.engine.host.WorkerPool;

import java.util.ArrayList;
import java.util.List;

/**
 * The plain-loop backend: every kernel is {@link RefKernels} over Java arrays, split over rows (or
 * channels, for reductions) across a {@link WorkerPool}. Slow but obviously right; every other
 * backend is tested against it.
 */
public class ReferenceBackend extends HostBackend {
    private final String detail;
    /** Each thread's double sums: a (b, h) block of score gradients (T x T), or one per token row. */
    private final double[][] partSums;
    /** Decoding's scores, one row of T per head. */
    private float[] decodeScores = new float[0];

    public ReferenceBackend(int threads) {
        this("reference", threads, "");
    }

    /** The reference kernels under another name, with {@code detail} for {@link #device()} (a fallback). */
    public ReferenceBackend(String name, int threads, String detail) {
        super(name, threads);
        this.detail = detail;
        this.partSums = new double[threads][0];
    }

    /** The reference kernels on a pool another backend owns (whose buffers they compute on). */
    public ReferenceBackend(WorkerPool pool) {
        super("reference", pool);
        this.detail = "";
        this.partSums = new double[pool.threads()][0];
    }

    /** Room for {@code n} double sums in every thread's part. */
    private void fitPartSums(int n) {
        for (int p = 0; p < partSums.length; p++) {
            if (partSums[p].length < n) {
                partSums[p] = new double[n];
            }
        }
    }

    @Override
    protected String detail() {
        return detail;
    }

    @Override
    protected long scratchBytes() {
        long sums = 0;
        for (double[] d : partSums) {
            sums += 8L * d.length;
        }
        return 4L * decodeScores.length + sums;
    }

    // ---------------------------------------------------------------- kernels

    @Override
    public Launch encoderForward(FloatBuf out, IntBuf idx, FloatBuf wte, FloatBuf wpe, int B, int T, int C) {
        float[] o = f(out), e = f(wte), p = f(wpe);
        int[] ix = i(idx);
        return parallel("encoder_forward", B * T, rowGrain(C), (a, b) -> RefKernels.encoderForward(o, ix, e, p, T, C, a, b));
    }

    @Override
    public Launch encoderBackward(FloatBuf dwte, FloatBuf dwpe, FloatBuf dout, IntBuf idx, int B, int T, int C) {
        float[] de = f(dwte), dp = f(dwpe), d = f(dout);
        int[] ix = i(idx);
        fitPartSums(de.length / C);
        return parallelParts("encoder_backward", C,
                (p, a, b) -> RefKernels.encoderBackward(de, dp, d, ix, B * T, T, C, partSums[p], a, b));
    }

    @Override
    public Launch layerNormForward(FloatBuf out, FloatBuf mean, FloatBuf rstd, FloatBuf inp, FloatBuf weight,
                                   FloatBuf bias, int N, int C) {
        float[] o = f(out), m = f(mean), r = f(rstd), x = f(inp), w = f(weight), bb = f(bias);
        return parallel("layernorm_forward", N, rowGrain(C), (a, b) -> RefKernels.layerNormForward(o, m, r, x, w, bb, C, a, b));
    }

    @Override
    public Launch layerNormBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                                    FloatBuf weight, FloatBuf mean, FloatBuf rstd, int N, int C) {
        float[] dx = f(dinp), dw = f(dweight), db = f(dbias), d = f(dout), x = f(inp), w = f(weight);
        float[] m = f(mean), r = f(rstd);
        WorkerPool.RangeTask input = (a, b) -> RefKernels.layerNormBackwardInput(dx, d, x, w, m, r, C, a, b);
        WorkerPool.RangeTask params = (a, b) -> RefKernels.layerNormBackwardParams(dw, db, d, x, m, r, N, C, a, b);
        return launch("layernorm_backward", () -> {
            pool.parallelFor(N, rowGrain(2 * C), input);
            pool.parallelFor(C, rowGrain(2 * N), params);
        });
    }

    @Override
    public Launch matmulForward(FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C, int OC) {
        float[] o = f(out), x = f(inp), w = f(weight), bb = f(bias);
        return parallel("matmul_forward", N, (a, b) -> RefKernels.matmulForward(o, x, w, bb, C, OC, a, b));
    }

    @Override
    public Launch matmulReluForward(FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C, int OC) {
        float[] o = f(out), x = f(inp), w = f(weight), bb = f(bias);
        return parallel("matmul_relu_forward", N, (a, b) -> {
            RefKernels.matmulForward(o, x, w, bb, C, OC, a, b);
            RefKernels.reluForward(o, o, a * OC, b * OC);
        });
    }

    @Override
    public Launch matmulResidualForward(FloatBuf out, FloatBuf residual, FloatBuf inp, FloatBuf weight, FloatBuf bias,
                                        IntBuf seed, float p, int salt, int N, int C, int OC) {
        float[] o = f(out), r = f(residual), x = f(inp), w = f(weight), bb = f(bias);
        return parallel("matmul_residual_forward", N, (a, b) -> {
            RefKernels.matmulForward(o, x, w, bb, C, OC, a, b);
            if (p > 0f) {
                RefKernels.dropoutForward(o, o, seed(seed), firstRow(seed) * OC, p, salt, a * OC, b * OC);
            }
            RefKernels.residualForward(o, r, o, a * OC, b * OC);
        });
    }

    @Override
    public Launch matmulDropoutBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, IntBuf seed,
                                        float p, int salt, FloatBuf inp, boolean reluInput, FloatBuf weight, int N, int C,
                                        int OC) {
        return linearBackward("matmul_dropout_backward", dinp, dweight, dbias, dout, seed, p, salt, inp, reluInput,
                weight, N, C, OC);
    }

    @Override
    public Launch matmulBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                                 FloatBuf weight, int N, int C, int OC) {
        return linearBackward("matmul_backward", dinp, dweight, dbias, dout, null, 0f, 0, inp, false, weight, N, C, OC);
    }

    /** A Linear layer's gradients; dout through dropout's mask where p > 0 (seed: null without), dinp through a ReLU. */
    private Launch linearBackward(String kernel, FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout,
                                  IntBuf seed, float p, int salt, FloatBuf inp, boolean reluInput, FloatBuf weight,
                                  int N, int C, int OC) {
        if (p > 0f) {
            fitOutputGrad(N * OC);
        }
        float[] dx = f(dinp), dw = f(dweight), db = f(dbias), d = f(dout), x = f(inp), w = f(weight);
        float[] gate = reluInput ? x : null;
        WorkerPool.RangeTask mask = (a, b) -> {
            java.util.Arrays.fill(outputGrad(), a, b, 0f);
            RefKernels.dropoutBackward(outputGrad(), d, seed(seed), firstRow(seed) * OC, p, salt, a, b);
        };
        // the layer's output gradient: dout through the mask, or dout itself without dropout
        WorkerPool.RangeTask input = (a, b) -> RefKernels.matmulBackwardInput(dx, p > 0f ? outputGrad() : d, w, gate, C, OC,
                a, b);
        WorkerPool.RangeTask params = (a, b) -> RefKernels.matmulBackwardWeight(dw, db, p > 0f ? outputGrad() : d, x, N, C,
                OC, a, b);
        return launch(kernel, () -> {
            if (p > 0f) {
                pool.parallelFor(N * OC, ELEMENTWISE_GRAIN, mask);
            }
            if (dx != null) {
                pool.parallelFor(N, input);
            }
            pool.parallelFor(OC, params);
        });
    }

    @Override
    public Launch attentionForward(FloatBuf out, FloatBuf att, FloatBuf qkv, IntBuf seed, float dropout, int salt,
                                   int B, int T, int C, int NH) {
        float[] o = f(out), at = f(att), x = f(qkv);
        WorkerPool.RangeTask task = (a, b) ->
                RefKernels.attentionForward(o, at, x, seed(seed), attentionBase(seed, T, NH), dropout, salt, T, C, NH, a, b);
        return parallel("attention_forward", B * NH * T, task);
    }

    @Override
    public Launch attentionBackward(FloatBuf dqkv, FloatBuf dout, FloatBuf qkv, FloatBuf att, IntBuf seed,
                                    float dropout, int salt, int B, int T, int C, int NH) {
        float[] dx = f(dqkv), d = f(dout), x = f(qkv), at = f(att);
        fitPartSums(T * T);
        WorkerPool.PartTask task = (p, a, b) ->
                RefKernels.attentionBackward(dx, partSums[p], d, x, at, seed(seed), attentionBase(seed, T, NH), dropout, salt, T, C,
                        NH, a, b);
        return parallelParts("attention_backward", B * NH, task);
    }

    @Override
    public Launch crossEntropyForward(FloatBuf losses, FloatBuf probs, FloatBuf logits, IntBuf targets, int N, int V) {
        float[] l = f(losses), p = f(probs), x = f(logits);
        int[] t = i(targets);
        return parallel("crossentropy_forward", N, rowGrain(8 * V), (a, b) -> RefKernels.crossEntropyForward(l, p, x, t, V, a, b));
    }

    @Override
    public Launch meanLoss(FloatBuf loss, FloatBuf losses, int N) {
        float[] l = f(loss), ls = f(losses);
        return launch("mean_loss", () -> RefKernels.meanLoss(l, ls, N));
    }

    @Override
    public Launch crossEntropyBackward(FloatBuf dlogits, FloatBuf probs, IntBuf targets, int N, int V) {
        float[] d = f(dlogits), p = f(probs);
        int[] t = i(targets);
        return parallel("crossentropy_backward", N, rowGrain(V), (a, b) -> RefKernels.crossEntropyBackward(d, p, t, N, V, a, b));
    }

    /** AdamW on each parameter in turn, its elements split over the threads ({@link RefKernels#adamw}). */
    @Override
    public Launch adamw(ParamBlocks params, int from, int to, FloatBuf hyper) {
        float[] h = f(hyper);
        List<WorkerPool.RangeTask> parts = new java.util.ArrayList<>();
        List<Integer> sizes = new ArrayList<>();
        for (int i = from; i < to; i++) {
            float[] p = f(params.values().part(i)), g = f(params.grads().part(i));
            float[] m = f(params.m().part(i)), v = f(params.v().part(i));
            parts.add((a, b) -> RefKernels.adamw(p, g, m, v, h, a, b));
            sizes.add(p.length);
        }
        return launch("adamw", () -> {
            for (int i = 0; i < parts.size(); i++) {
                pool.parallelFor(sizes.get(i), ELEMENTWISE_GRAIN, parts.get(i));
            }
        });
    }

    @Override
    public Launch embedToken(FloatBuf out, IntBuf tokPos, FloatBuf wte, FloatBuf wpe, int C) {
        float[] o = f(out), e = f(wte), p = f(wpe);
        int[] tp = i(tokPos);
        return launch("embed_token", () -> {
            int tok = tp[0], t = tp[1];
            for (int c = 0; c < C; c++) {
                o[c] = e[tok * C + c] + (p != null ? p[t * C + c] : 0f);
            }
        });
    }

    @Override
    public Launch attentionDecode(FloatBuf out, FloatBuf qkv, FloatBuf kCache, FloatBuf vCache, IntBuf tokPos,
                                  int T, int C, int NH) {
        float[] o = f(out), x = f(qkv), kc = f(kCache), vc = f(vCache);
        if (decodeScores.length < NH * T) {
            decodeScores = new float[NH * T];
        }
        WorkerPool.RangeTask task = (a, b) ->
                RefKernels.attentionDecode(o, decodeScores, x, kc, vc, position(tokPos), T, C, NH, a, b);
        return parallel("attention_decode", NH, task);
    }
}
