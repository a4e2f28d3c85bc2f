package org.gptjvm.engine;

import java.util.Arrays;
import java.util.List;

/**
 * The plain-loop backend: {@link RefKernels} over Java arrays, split over rows (or channels, for
 * reductions) across a {@link WorkerPool}. Slow but obviously right; every other backend is tested
 * against it.
 */
public class ReferenceBackend implements Backend {

    /** A Java float array. */
    protected record HostFloat(String name, float[] a) implements FloatBuf {
        @Override
        public int size() {
            return a.length;
        }
    }

    /** A Java int array. */
    protected record HostInt(String name, int[] a) implements IntBuf {
        @Override
        public int size() {
            return a.length;
        }
    }

    /** A launch on the host: a name and the code that runs it. */
    protected record HostLaunch(String kernel, Runnable body) implements Launch {
    }

    protected final WorkerPool pool;

    public ReferenceBackend(int threads) {
        this.pool = new WorkerPool(threads);
    }

    @Override
    public String name() {
        return "reference";
    }

    @Override
    public int threads() {
        return pool.threads();
    }

    protected static float[] f(FloatBuf b) {
        return b == null ? null : ((HostFloat) b).a;
    }

    protected static int[] i(IntBuf b) {
        return ((HostInt) b).a;
    }

    /** The dropout seed: two ints written by the host each step. */
    protected static long seed(IntBuf b) {
        int[] s = i(b);
        return DropoutMask.seed(s[0], s[1]);
    }

    private long allocated;

    @Override
    public FloatBuf allocFloat(String name, int size) {
        allocated += 4L * size;
        return new HostFloat(name, new float[size]);
    }

    @Override
    public IntBuf allocInt(String name, int size) {
        allocated += 4L * size;
        return new HostInt(name, new int[size]);
    }

    @Override
    public long allocatedBytes() {
        return allocated;
    }

    @Override
    public void write(FloatBuf dst, float[] src) {
        checkSize(dst.name(), dst.size(), src.length);
        System.arraycopy(src, 0, f(dst), 0, src.length);
    }

    @Override
    public void write(IntBuf dst, int[] src) {
        checkSize(dst.name(), dst.size(), src.length);
        System.arraycopy(src, 0, i(dst), 0, src.length);
    }

    private static void checkSize(String name, int expected, int actual) {
        if (expected != actual) {
            throw new GptException("buffer " + name + " holds " + expected + " values, got " + actual);
        }
    }

    @Override
    public void read(FloatBuf src, int offset, float[] dst, int len) {
        System.arraycopy(f(src), offset, dst, 0, len);
    }

    /** Per-kernel wall time, collected when the system property gpt.profile is set (gpt bench --profile). */
    public static final java.util.Map<String, long[]> PROFILE = new java.util.concurrent.ConcurrentHashMap<>();

    @Override
    public Program compile(String name, List<Launch> launches) {
        boolean profile = Boolean.getBoolean("gpt.profile");
        Runnable[] bodies = launches.stream().map(l -> {
            HostLaunch h = (HostLaunch) l;
            if (!profile) {
                return h.body();
            }
            long[] acc = PROFILE.computeIfAbsent(h.kernel(), k -> new long[2]);
            Runnable body = h.body();
            return (Runnable) () -> {
                long t0 = System.nanoTime();
                body.run();
                acc[0] += System.nanoTime() - t0;
                acc[1]++;
            };
        }).toArray(Runnable[]::new);
        return new Program() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public void run() {
                for (Runnable r : bodies) {
                    r.run();
                }
            }
        };
    }

    @Override
    public void close() {
        pool.close();
    }

    protected Launch launch(String kernel, Runnable body) {
        return new HostLaunch(kernel, body);
    }

    /** A launch that runs {@code task} over [0, n) split across the pool. */
    protected Launch parallel(String kernel, int n, WorkerPool.RangeTask task) {
        return parallel(kernel, n, 1, task);
    }

    /** As above, with at least {@code grain} items per thread (elementwise kernels: a few thousand). */
    protected Launch parallel(String kernel, int n, int grain, WorkerPool.RangeTask task) {
        return new HostLaunch(kernel, () -> pool.parallelFor(n, grain, task));
    }

    /**
     * Elements per thread below which an elementwise kernel runs on one thread. Small enough that the
     * small model's N x C kernels split too: then every kernel cuts the rows at the same place, each
     * core keeps its half of the activations in its own cache, and the step is 4% faster than with
     * 32768 (gpt bench --config small, 3 runs each).
     */
    protected static final int ELEMENTWISE_GRAIN = 1 << 13;

    /** Rows of C floats per thread below which a row-wise kernel runs on one thread. */
    protected static int rowGrain(int rowLength) {
        return Math.max(1, ELEMENTWISE_GRAIN / 4 / Math.max(1, rowLength));
    }

    // ---------------------------------------------------------------- kernels

    @Override
    public Launch zero(List<FloatBuf> bufs) {
        float[][] arrays = bufs.stream().map(ReferenceBackend::f).toArray(float[][]::new);
        return launch("zero", () -> {
            for (float[] a : arrays) {
                Arrays.fill(a, 0f);
            }
        });
    }

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
        return parallel("encoder_backward", C, rowGrain(B * T), (a, b) -> RefKernels.encoderBackward(de, dp, d, ix, B * T, T, C, a, b));
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
    public Launch matmulBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                                 FloatBuf weight, int N, int C, int OC) {
        float[] dx = f(dinp), dw = f(dweight), db = f(dbias), d = f(dout), x = f(inp), w = f(weight);
        WorkerPool.RangeTask input = (a, b) -> RefKernels.matmulBackwardInput(dx, d, w, C, OC, a, b);
        WorkerPool.RangeTask params = (a, b) -> RefKernels.matmulBackwardWeight(dw, db, d, x, N, C, OC, a, b);
        return launch("matmul_backward", () -> {
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
                RefKernels.attentionForward(o, at, x, seed(seed), dropout, salt, T, C, NH, a, b);
        return parallel("attention_forward", B * NH * T, task);
    }

    @Override
    public Launch attentionBackward(FloatBuf dqkv, FloatBuf scratch, FloatBuf dout, FloatBuf qkv, FloatBuf att,
                                    IntBuf seed, float dropout, int salt, int B, int T, int C, int NH) {
        float[] dx = f(dqkv), s = f(scratch), d = f(dout), x = f(qkv), at = f(att);
        WorkerPool.RangeTask task = (a, b) ->
                RefKernels.attentionBackward(dx, s, d, x, at, seed(seed), dropout, salt, T, C, NH, a, b);
        return parallel("attention_backward", B * NH, task);
    }

    @Override
    public Launch reluForward(FloatBuf out, FloatBuf inp, int n) {
        float[] o = f(out), x = f(inp);
        return parallel("relu_forward", n, ELEMENTWISE_GRAIN, (a, b) -> RefKernels.reluForward(o, x, a, b));
    }

    @Override
    public Launch reluBackward(FloatBuf dinp, FloatBuf out, FloatBuf dout, int n) {
        float[] dx = f(dinp), o = f(out), d = f(dout);
        return parallel("relu_backward", n, ELEMENTWISE_GRAIN, (a, b) -> RefKernels.reluBackward(dx, o, d, a, b));
    }

    @Override
    public Launch residualForward(FloatBuf out, FloatBuf a1, FloatBuf b1, int n) {
        float[] o = f(out), x = f(a1), y = f(b1);
        return parallel("residual_forward", n, ELEMENTWISE_GRAIN, (a, b) -> RefKernels.residualForward(o, x, y, a, b));
    }

    @Override
    public Launch residualBackward(FloatBuf da, FloatBuf db, FloatBuf dout, int n) {
        float[] dx = f(da), dy = f(db), d = f(dout);
        return parallel("residual_backward", n, ELEMENTWISE_GRAIN, (a, b) -> RefKernels.residualBackward(dx, dy, d, a, b));
    }

    @Override
    public Launch dropoutForward(FloatBuf out, FloatBuf inp, IntBuf seed, float p, int salt, int n) {
        float[] o = f(out), x = f(inp);
        return parallel("dropout_forward", n, ELEMENTWISE_GRAIN, (a, b) -> RefKernels.dropoutForward(o, x, seed(seed), p, salt, a, b));
    }

    @Override
    public Launch dropoutBackward(FloatBuf dinp, FloatBuf dout, IntBuf seed, float p, int salt, int n) {
        float[] dx = f(dinp), d = f(dout);
        return parallel("dropout_backward", n, ELEMENTWISE_GRAIN, (a, b) -> RefKernels.dropoutBackward(dx, d, seed(seed), p, salt, a, b));
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

    @Override
    public Launch adamw(FloatBuf param, FloatBuf grad, FloatBuf m, FloatBuf v, FloatBuf hyper, int n) {
        float[] p = f(param), g = f(grad), mm = f(m), vv = f(v), h = f(hyper);
        return parallel("adamw", n, ELEMENTWISE_GRAIN, (a, b) -> RefKernels.adamw(p, g, mm, vv, h, a, b));
    }

    /** The position of a decode step: the second of the two ints the host writes per token. */
    protected static int position(IntBuf tokPos) {
        return i(tokPos)[1];
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
    public Launch attentionDecode(FloatBuf out, FloatBuf scores, FloatBuf qkv, FloatBuf kCache, FloatBuf vCache,
                                  IntBuf tokPos, int T, int C, int NH) {
        float[] o = f(out), s = f(scores), x = f(qkv), kc = f(kCache), vc = f(vCache);
        WorkerPool.RangeTask task = (a, b) -> RefKernels.attentionDecode(o, s, x, kc, vc, position(tokPos), T, C, NH, a, b);
        return parallel("attention_decode", NH, task);
    }
}
