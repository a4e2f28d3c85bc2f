package org.gptjvm.tornado;

import org.gptjvm.engine.DropoutMask;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.device.LaunchInfo;
import org.gptjvm.tornado.DeviceLaunch.Span;
import org.gptjvm.tornado.DeviceLaunch.Task;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.ArrayList;
import java.util.List;

import static org.gptjvm.tornado.OpContext.o;
import static org.gptjvm.tornado.OpContext.spans;
import static org.gptjvm.tornado.Reductions.PASS;
import static org.gptjvm.tornado.Reductions.WG;
import static org.gptjvm.tornado.Reductions.putAt;
import static org.gptjvm.tornado.Reductions.rowAt;

/**
 * Causal multi-head self-attention. Its products (scores = Q K^T * scale, out = dropout(att) V, and
 * their gradients) are {@link Gemm} calls over (batch, head); its row work is here: forward, the
 * softmax of each causal row of scores, in place; backward, through the softmax, dS = att * (dA -
 * sum(att * dA)) * scale, with dA = dropout'(dout V^T). One work-group of {@link Reductions#WG} per
 * row of T ({@link Reductions}); the row's upper part is written as zeros, which the triangular
 * products rely on: all of it in {@code att}, the caller's, and in the backend's own scratch rows
 * ({@code dropout(att)}, dS) only as far as a product reads them ({@link #zeroEnd}). Decoding one token
 * against a KV cache is one work-item per head.
 */
final class AttentionOp {
    private AttentionOp() {
    }

    /**
     * One past the last column of causal row t (of T) that a product reads: the triangular products
     * ({@link Gemm#K_UP_TO_ROW}, {@link Gemm#K_FROM_ROW}) stop k at, or start it from, the edge of a tile
     * of rows, at most {@link Gemm#WIDE} rows, every edge a multiple of the smaller ones, so a row is read
     * to the end of its tile of WIDE rows and no further. The scratch rows are zeroed past t only to there.
     */
    static int zeroEnd(int t, int T) {
        return Math.min(T, (t / Gemm.WIDE + 1) * Gemm.WIDE);
    }

    /** The mean of {@link #zeroEnd} over the rows of T: the floats a scratch row holds, on average, for the plan's bytes. */
    static double zeroedWidth(int T) {
        double sum = 0;
        for (int t = 0; t < T; t++) {
            sum += zeroEnd(t, T);
        }
        return sum / T;
    }

    /**
     * Row (b, h, t) of {@code att} (B*NH*T rows of T): softmax over 0..t, zero after; with dropout (p &gt;
     * 0), the row through dropout's mask into {@code dropped} too (mask index row * T + k from this
     * process's first sequence, as {@link #softmaxBackward}), which {@code P V} reads.
     */
    public static void softmax(KernelContext kc, FloatArray mem, int att, int T, int dropped, IntArray seed, float p, int salt,
                               int perRow) {
        int row = kc.groupIdx, tid = kc.localIdx, t = row % T, a = att + row * T, dr = dropped + row * T;
        float[] red = kc.allocateFloatLocalArray(WG);
        float mx = -3.4e38f;
        for (int k = tid; k <= t; k += PASS) {
            float v0 = scoreAt(mem, a, k, t), v1 = scoreAt(mem, a, k + WG, t);
            float v2 = scoreAt(mem, a, k + 2 * WG, t), v3 = scoreAt(mem, a, k + 3 * WG, t);
            mx = TornadoMath.max(mx, v0);
            mx = TornadoMath.max(mx, v1);
            mx = TornadoMath.max(mx, v2);
            mx = TornadoMath.max(mx, v3);
        }
        float rowMax = Reductions.max(kc, red, mx);
        float s = 0f;
        for (int k = tid; k <= t; k += PASS) {
            float e0 = expAt(mem, a, k, t, rowMax), e1 = expAt(mem, a, k + WG, t, rowMax);
            float e2 = expAt(mem, a, k + 2 * WG, t, rowMax), e3 = expAt(mem, a, k + 3 * WG, t, rowMax);
            putAt(mem, a, k, t + 1, e0);
            putAt(mem, a, k + WG, t + 1, e1);
            putAt(mem, a, k + 2 * WG, t + 1, e2);
            putAt(mem, a, k + 3 * WG, t + 1, e3);
            s += e0;
            s += e1;
            s += e2;
            s += e3;
        }
        float inv = 1f / Reductions.sum(kc, red, s);
        long seedValue = DropoutMask.seed(seed.get(0), seed.get(1));
        int base = row * T + seed.get(DropoutMask.FIRST_ROW) * perRow;
        int end = zeroEnd(t, T);
        for (int k = tid; k < T; k += PASS) {
            float v0 = rowAt(mem, a, k, t + 1) * inv, v1 = rowAt(mem, a, k + WG, t + 1) * inv;
            float v2 = rowAt(mem, a, k + 2 * WG, t + 1) * inv, v3 = rowAt(mem, a, k + 3 * WG, t + 1) * inv;
            putWeight(mem, a, dr, k, T, end, v0, seedValue, salt, base, p);
            putWeight(mem, a, dr, k + WG, T, end, v1, seedValue, salt, base, p);
            putWeight(mem, a, dr, k + 2 * WG, T, end, v2, seedValue, salt, base, p);
            putWeight(mem, a, dr, k + 3 * WG, T, end, v3, seedValue, salt, base, p);
        }
    }

    /** Score k of a causal row ending at t, the lowest float past t (nothing for a maximum). */
    private static float scoreAt(FloatArray mem, int a, int k, int t) {
        float v = mem.get(a + Math.min(k, t));
        return k <= t ? v : -3.4e38f;
    }

    /** exp(score k - max) of a causal row ending at t, 0 past t (read at min(k, t), see Reductions#rowAt). */
    private static float expAt(FloatArray mem, int a, int k, int t, float max) {
        float e = TornadoMath.exp(mem.get(a + Math.min(k, t)) - max);
        return k <= t ? e : 0f;
    }

    /**
     * Weight k (k &lt; T) of a row: into att, and with dropout through its mask into the dropped row too,
     * as far as the products read it (k &lt; {@code end}, {@link #zeroEnd}).
     */
    private static void putWeight(FloatArray mem, int a, int dr, int k, int T, int end, float v, long seedValue, int salt,
                                  int base, float p) {
        if (k < T) {
            mem.set(a + k, v);
            if (p > 0f && k < end) {
                mem.set(dr + k, v * DropoutMask.scale(seedValue, salt, base + k, p));
            }
        }
    }

    /**
     * Row (b, h, t) of {@code grad} (holding dout V^T), in place: dS of the scores. Dropout's mask index
     * of weight k of the row: row * T + k, from this process's first sequence of the combined batch
     * ({@code perRow}: NH * T indices per row of the batch; see DropoutMask.attentionBase). With dropout,
     * the row of dropout(att) goes into {@code dropped} again on the way (as {@link #softmax} wrote it,
     * zero past t), for dV: the mask is drawn here anyway, and att read.
     */
    public static void softmaxBackward(KernelContext kc, FloatArray mem, int grad, int att, IntArray seed, float p, int salt,
                                       int T, int perRow, float scale, int dropped) {
        int row = kc.groupIdx, tid = kc.localIdx, t = row % T, g = grad + row * T, a = att + row * T;
        int dr = dropped + row * T;
        long seedValue = DropoutMask.seed(seed.get(0), seed.get(1));
        int base = row * T + seed.get(DropoutMask.FIRST_ROW) * perRow;
        float[] red = kc.allocateFloatLocalArray(WG);
        float dot = 0f;
        for (int k = tid; k <= t; k += PASS) {
            float d0 = rowAt(mem, g, k, t + 1), d1 = rowAt(mem, g, k + WG, t + 1);
            float d2 = rowAt(mem, g, k + 2 * WG, t + 1), d3 = rowAt(mem, g, k + 3 * WG, t + 1);
            float w0 = rowAt(mem, a, k, t + 1), w1 = rowAt(mem, a, k + WG, t + 1);
            float w2 = rowAt(mem, a, k + 2 * WG, t + 1), w3 = rowAt(mem, a, k + 3 * WG, t + 1);
            if (p > 0f) {
                d0 = masked(mem, g, dr, k, t, d0, w0, seedValue, salt, base, p);
                d1 = masked(mem, g, dr, k + WG, t, d1, w1, seedValue, salt, base, p);
                d2 = masked(mem, g, dr, k + 2 * WG, t, d2, w2, seedValue, salt, base, p);
                d3 = masked(mem, g, dr, k + 3 * WG, t, d3, w3, seedValue, salt, base, p);
            }
            dot += w0 * d0;
            dot += w1 * d1;
            dot += w2 * d2;
            dot += w3 * d3;
        }
        float total = Reductions.sum(kc, red, dot);
        int end = zeroEnd(t, T); // dS and dropout(att) are this backend's scratch: written as far as the products read them
        for (int k = tid; k < end; k += PASS) {
            float v0 = scoreGrad(mem, a, g, k, t, total, scale), v1 = scoreGrad(mem, a, g, k + WG, t, total, scale);
            float v2 = scoreGrad(mem, a, g, k + 2 * WG, t, total, scale);
            float v3 = scoreGrad(mem, a, g, k + 3 * WG, t, total, scale);
            putScoreGrad(mem, g, dr, k, t, end, v0, p);
            putScoreGrad(mem, g, dr, k + WG, t, end, v1, p);
            putScoreGrad(mem, g, dr, k + 2 * WG, t, end, v2, p);
            putScoreGrad(mem, g, dr, k + 3 * WG, t, end, v3, p);
        }
    }

    /**
     * dA(k) through dropout's mask, written back in place, and dropout(att)(k) into the dropped row, for
     * k up to t (k past t: nothing written, and d, 0, returned as it is).
     */
    private static float masked(FloatArray mem, int g, int dr, int k, int t, float d, float w, long seedValue, int salt,
                                int base, float p) {
        float mask = DropoutMask.scale(seedValue, salt, base + k, p);
        float dm = d * mask;
        if (k <= t) {
            mem.set(g + k, dm);
            mem.set(dr + k, w * mask);
        }
        return dm;
    }

    /** dS(k) = att(k) * (dA(k) - total) * scale up to t, 0 after (read at min(k, t)). */
    private static float scoreGrad(FloatArray mem, int a, int g, int k, int t, float total, float scale) {
        int at = Math.min(k, t);
        float v = mem.get(a + at) * (mem.get(g + at) - total) * scale;
        return k <= t ? v : 0f;
    }

    /** dS(k) into the row (k &lt; end, {@link #zeroEnd}), and with dropout a zero into the dropped row past t. */
    private static void putScoreGrad(FloatArray mem, int g, int dr, int k, int t, int end, float v, float p) {
        if (k < end) {
            mem.set(g + k, v);
            if (p > 0f && k > t) {
                mem.set(dr + k, 0f);
            }
        }
    }

    /** One new token against the KV cache, one work-item per head (see Backend.attentionDecode). */
    public static void decode(FloatArray mem, int out, int scores, int qkv, int kCache, int vCache, IntArray tokPos, int T,
                              int C, int NH) {
        for (@Parallel int h = 0; h < NH; h++) {
            int hs = C / NH;
            float scale = 1f / TornadoMath.sqrt((float) hs);
            int t = tokPos.get(1);
            int q = h * hs;
            for (int i = 0; i < hs; i++) {
                mem.set(kCache + t * C + q + i, mem.get(qkv + C + q + i));
                mem.set(vCache + t * C + q + i, mem.get(qkv + 2 * C + q + i));
            }
            int a = h * T;
            float max = -3.4e38f;
            for (int t2 = 0; t2 <= t; t2++) {
                float d = 0f;
                for (int i = 0; i < hs; i++) {
                    d += mem.get(qkv + q + i) * mem.get(kCache + t2 * C + q + i);
                }
                d = d * scale;
                mem.set(scores + a + t2, d);
                max = TornadoMath.max(max, d);
            }
            float sum = 0f;
            for (int t2 = 0; t2 <= t; t2++) {
                float e = TornadoMath.exp(mem.get(scores + a + t2) - max);
                mem.set(scores + a + t2, e);
                sum += e;
            }
            float inv = 1f / sum;
            for (int i = 0; i < hs; i++) {
                float s = 0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    s += mem.get(scores + a + t2) * inv * mem.get(vCache + t2 * C + q + i);
                }
                mem.set(out + q + i, s);
            }
        }
    }

    /** A product over (batch, head) of attention. */
    private static Gemm.Call heads(int B, int NH) {
        return new Gemm.Call().heads(B, NH);
    }

    static DeviceLaunch forward(OpContext ctx, FloatBuf out, FloatBuf att, FloatBuf qkv, IntBuf seedBuf, float dropout,
                                int salt, int B, int T, int C, int NH) {
        int hs = C / NH, C3 = 3 * C, x = o(qkv), a = o(att), ou = o(out);
        IntArray s = ctx.seed(seedBuf);
        // scores = Q K^T * hs^-0.5, the causal triangle only
        Gemm.Call scores = heads(B, NH).shape(T, T, hs).a(x, C3, 1, T * C3, hs).b(x + C, 1, C3, T * C3, hs)
                .c(a, T, NH * T * T, T * T).mode(Gemm.LOWER);
        scores.alpha = 1f / (float) Math.sqrt(hs);
        int rows = B * NH * T;
        // with dropout, the softmax writes dropout(att) too, for P V: masked once, not in each tile as it is staged
        List<Span> dropped = dropout > 0f ? List.of(ctx.scratch("attention.dropped", (long) rows * T)) : List.of();
        int dr = dropped.isEmpty() ? -1 : (int) dropped.getFirst().at();
        Task softmax = new Task((g, id, mem, args) -> g.task(id, AttentionOp::softmax, ctx.kc, mem, a, T, dr, s, dropout, salt,
                NH * T), Grids.groups(rows, WG), new LaunchInfo("attention_softmax", Grids.dims((long) rows * WG, 1, 1),
                Grids.dims(WG, 1, 1), 2.5 * rows * T, 2.0 * rows * T, 4.0 * rows * (T + (dropout > 0f ? zeroedWidth(T) : 0)),
                4L * WG));
        // out = dropout(att) V, k up to the row
        Gemm.Call values = heads(B, NH).shape(T, hs, T).a(dr >= 0 ? dr : a, T, 1, NH * T * T, T * T)
                .b(x + 2 * C, C3, 1, T * C3, hs).c(ou, C, T * C, hs).mode(Gemm.K_UP_TO_ROW);
        return new DeviceLaunch("attention_forward", List.of(Gemm.task(ctx, "attention_scores", List.of(scores), s, 0f),
                softmax, Gemm.task(ctx, "attention_values", List.of(values), s, 0f)), List.of(s), spans(qkv),
                spans(dropped, att, out));
    }

    static DeviceLaunch backward(OpContext ctx, FloatBuf dqkv, FloatBuf dout, FloatBuf qkv, FloatBuf att, IntBuf seedBuf,
                                 float dropout, int salt, int B, int T, int C, int NH) {
        int hs = C / NH, C3 = 3 * C, x = o(qkv), a = o(att), d = o(dout), dx = o(dqkv);
        IntArray s = ctx.seed(seedBuf);
        Span scratch = ctx.scratch("attention_backward.scores", (long) B * NH * T * T);
        int grad = (int) scratch.at();
        // dA = dout V^T (the causal triangle), then through dropout and softmax into dS, in place
        Gemm.Call dp = heads(B, NH).shape(T, T, hs).a(d, C, 1, T * C, hs).b(x + 2 * C, 1, C3, T * C3, hs)
                .c(grad, T, NH * T * T, T * T).mode(Gemm.LOWER);
        int rows = B * NH * T;
        float scale = 1f / (float) Math.sqrt(hs);
        // with dropout, dropout(att) for dV again, into the forward's scratch (it held another layer's): written by
        // the softmax's backward, which draws the mask and reads att anyway
        List<Span> written = new ArrayList<>(List.of(scratch));
        int dropped = a;
        if (dropout > 0f) {
            Span sp = ctx.scratch("attention.dropped", (long) rows * T);
            dropped = (int) sp.at();
            written.add(sp);
        }
        int dr = dropped;
        Task softmax = new Task((g, id, mem, args) -> g.task(id, AttentionOp::softmaxBackward, ctx.kc, mem, grad, a, s,
                dropout, salt, T, NH * T, scale, dr), Grids.groups(rows, WG), new LaunchInfo("attention_softmax_backward",
                Grids.dims((long) rows * WG, 1, 1), Grids.dims(WG, 1, 1), 2.5 * rows * T, 4.0 * rows * T,
                (dropout > 0f ? 8.0 : 4.0) * rows * zeroedWidth(T), 4L * WG));
        // dQ = dS K
        Gemm.Call dq = heads(B, NH).shape(T, hs, T).a(grad, T, 1, NH * T * T, T * T).b(x + C, C3, 1, T * C3, hs)
                .c(dx, C3, T * C3, hs).mode(Gemm.K_UP_TO_ROW);
        // dK = dS^T Q
        Gemm.Call dk = heads(B, NH).shape(T, hs, T).a(grad, 1, T, NH * T * T, T * T).b(x, C3, 1, T * C3, hs)
                .c(dx + C, C3, T * C3, hs).mode(Gemm.K_FROM_ROW);
        // dV = dropout(att)^T dout
        List<Task> tasks = new ArrayList<>(List.of(Gemm.task(ctx, "attention_backward_scores", List.of(dp), s, 0f), softmax));
        Gemm.Call dv = heads(B, NH).shape(T, hs, T).a(dropped, 1, T, NH * T * T, T * T).b(d, C, 1, T * C, hs)
                .c(dx + 2 * C, C3, T * C3, hs).mode(Gemm.K_FROM_ROW);
        // dQ, dK and dV write their own columns of dqkv from qkv, dS, dropout(att) and dout: dQ reads dS along k, dK
        // and dV read dS and dropout(att) across, so dQ has a launch of its own and each compiles for its layout
        tasks.add(Gemm.task(ctx, "attention_backward_q", List.of(dq), s, 0f));
        tasks.add(Gemm.task(ctx, "attention_backward_kv", List.of(dk, dv), s, 0f));
        return new DeviceLaunch("attention_backward", tasks, List.of(s), spans(dout, qkv, att), spans(written, dqkv));
    }

    static DeviceLaunch decode(OpContext ctx, FloatBuf out, FloatBuf qkv, FloatBuf kCache, FloatBuf vCache, IntBuf tokPos,
                               int T, int C, int NH) {
        Span scores = ctx.scratch("attention_decode.scores", (long) NH * T);
        int ou = o(out), s = (int) scores.at(), x = o(qkv), kc = o(kCache), vc = o(vCache);
        IntArray tp = OpContext.ints(tokPos);
        return new DeviceLaunch("attention_decode", List.of(new Task((g, id, mem, args) -> g.task(id, AttentionOp::decode,
                mem, ou, s, x, kc, vc, tp, T, C, NH), null, new LaunchInfo("attention_decode", Grids.dims(NH, 1, 1),
                Grids.dims(0, 0, 0), 4.0 * T * C, 8.0 * T * C, 4.0 * C, 0))), List.of(tp), spans(qkv, kCache, vCache),
                spans(List.of(scores), out, kCache, vCache));
    }
}
