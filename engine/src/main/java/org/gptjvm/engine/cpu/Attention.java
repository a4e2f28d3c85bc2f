package org.gptjvm.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.util.Arrays;

import static org.gptjvm.engine.cpu.Gemm.L;
import static org.gptjvm.engine.cpu.Gemm.S;

/**
 * Causal self-attention per (batch, head): scores = Q K^T, a causal softmax, out = dropout(att) V,
 * and backward the products' gradients. Long rows run as small matrix products on {@link Gemm} in
 * row blocks of {@link #RB}, so the masked upper triangle is mostly skipped; rows up to
 * {@link #COLUMNS_MAX_T} long run by columns, L queries at a time. Every score and
 * output is one FMA chain in a fixed order and every softmax sums in one order, so both paths and
 * decoding one token against the KV cache give the same bits.
 */
final class Attention {
    /** Causal products are done in row blocks of this many so the masked upper triangle is mostly skipped. */
    private static final int RB = 32;
    /** Up to this T attention runs by columns ({@link AttentionByColumns}); longer rows amortise a per-row reduction. */
    static final int COLUMNS_MAX_T = 64;

    private Attention() {
    }

    /** One head's keys or values (T rows of hs, row stride C3, starting at off) as an hs x T matrix. */
    private static void transposeHead(float[] qkv, int off, int T, int hs, int C3, float[] dst) {
        for (int t2 = 0; t2 < T; t2++) {
            for (int i = 0; i < hs; i++) {
                dst[i * T + t2] = qkv[off + t2 * C3 + i];
            }
        }
    }

    /**
     * The (b,h) block of attention weights after dropout, in the thread's scratch, and the mask's
     * factors in {@code s.mask} for the backward pass. Only the causal triangle is hashed: above
     * it the weights are 0 whatever the mask.
     */
    private static float[] dropped(float[] att, int a, int T, long seed, int base, int salt, float dropout,
                                   Workspace s) {
        for (int t = 0; t < T; t++) {
            int row = t * T;
            DropoutKernels.scales(s.mask, row, t + 1, seed, salt, base + a + row, dropout);
            for (int t2 = 0; t2 <= t; t2++) {
                s.dropped[row + t2] = att[a + row + t2] * s.mask[row + t2];
            }
            Arrays.fill(s.dropped, row + t + 1, row + T, 0f);
        }
        return s.dropped;
    }

    /** Pairs [from, to) of B*NH, one (batch, head) each: att (B,NH,T,T) and out (B,T,C) from qkv (B,T,3C). */
    static void forward(float[] out, float[] att, float[] qkv, long seed, int base, float dropout, int salt, int T, int C,
                        int NH, Workspace s, int from, int to) {
        forward(out, att, qkv, seed, base, dropout, salt, T, C, NH, s, from, to, T <= COLUMNS_MAX_T);
    }

    /** {@link #forward}, by columns or by rows as asked (the same bits either way). */
    static void forward(float[] out, float[] att, float[] qkv, long seed, int base, float dropout, int salt, int T, int C,
                        int NH, Workspace s, int from, int to, boolean byColumns) {
        int hs = C / NH;
        float scale = (float) (1.0 / Math.sqrt(hs));
        int C3 = 3 * C;
        for (int bh = from; bh < to; bh++) {
            int b = bh / NH, h = bh % NH;
            int q = b * T * C3 + h * hs, k = q + C, v = q + 2 * C;
            int a = bh * T * T;
            int o = b * T * C + h * hs;
            // without dropout, the columns' path also does out = att V while it holds att by columns
            boolean outDone = byColumns && dropout == 0f;
            if (byColumns) {
                AttentionByColumns.forward(att, a, qkv, q, k, T, hs, C3, scale, s, outDone ? out : null, o, v, C);
            } else {
                softmaxByRows(att, a, qkv, q, k, T, hs, C3, scale, s);
            }
            if (outDone) {
                continue;
            }
            float[] w = dropout > 0f ? dropped(att, a, T, seed, base, salt, dropout, s) : att;
            int wOff = dropout > 0f ? 0 : a;
            for (int t = 0; t < T; t++) {
                Arrays.fill(out, o + t * C, o + t * C + hs, 0f);
            }
            for (int r0 = 0; r0 < T; r0 += RB) {
                int r1 = Math.min(T, r0 + RB);
                Gemm.gemm(r0, r1, hs, r1, w, wOff, T, 1, qkv, v, C3, out, o, C, s.panels);
            }
        }
    }

    /**
     * att's (b,h) block = causal softmax(Q K^T * scale) a row at a time: the scores as row blocks
     * of a product with K^T, then {@link #softmaxRow} on each row.
     */
    private static void softmaxByRows(float[] att, int a, float[] qkv, int q, int k, int T, int hs, int C3,
                                      float scale, Workspace s) {
        transposeHead(qkv, k, T, hs, C3, s.transposed);
        Arrays.fill(att, a, a + T * T, 0f);
        for (int r0 = 0; r0 < T; r0 += RB) {
            int r1 = Math.min(T, r0 + RB);
            Gemm.gemm(r0, r1, r1, hs, qkv, q, C3, 1, s.transposed, 0, T, att, a, T, s.panels);
        }
        for (int t = 0; t < T; t++) {
            int row = a + t * T;
            softmaxRow(att, row, t + 1, scale);
            Arrays.fill(att, row + t + 1, row + T, 0f);
        }
    }

    /** Pairs [from, to) of B*NH: writes into dqkv the gradients of Q, K and V given att and dout. */
    static void backward(float[] dqkv, float[] dout, float[] qkv, float[] att, long seed, int base, float dropout, int salt,
                         int T, int C, int NH, Workspace s, int from, int to) {
        backward(dqkv, dout, qkv, att, seed, base, dropout, salt, T, C, NH, s, from, to, T <= COLUMNS_MAX_T);
    }

    /** {@link #backward}, by columns or by rows as asked (the same bits either way). */
    static void backward(float[] dqkv, float[] dout, float[] qkv, float[] att, long seed, int base, float dropout, int salt,
                         int T, int C, int NH, Workspace s, int from, int to, boolean byColumns) {
        int hs = C / NH;
        float scale = (float) (1.0 / Math.sqrt(hs));
        int C3 = 3 * C;
        for (int bh = from; bh < to; bh++) {
            int b = bh / NH, h = bh % NH;
            int q = b * T * C3 + h * hs, k = q + C, v = q + 2 * C;
            int a = bh * T * T;
            int o = b * T * C + h * hs;
            clearHead(dqkv, q, T, hs, C, C3); // the products below add into it
            if (byColumns) {
                float[] w = dropout > 0f ? dropped(att, a, T, seed, base, salt, dropout, s) : null;
                AttentionByColumns.backward(dqkv, dout, qkv, att, a, q, k, v, o, T, hs, C, scale, w,
                        w != null ? s.mask : null, s);
                continue;
            }
            // datt = dout @ V^T (lower triangle)
            transposeHead(qkv, v, T, hs, C3, s.transposed);
            float[] g = s.grad;
            Arrays.fill(g, 0f);
            for (int r0 = 0; r0 < T; r0 += RB) {
                int r1 = Math.min(T, r0 + RB);
                Gemm.gemm(r0, r1, r1, hs, dout, o, C, 1, s.transposed, 0, T, g, 0, T, s.panels);
            }
            // dV += dropout(att)^T @ dout
            float[] w = dropout > 0f ? dropped(att, a, T, seed, base, salt, dropout, s) : att;
            int wOff = dropout > 0f ? 0 : a;
            Gemm.gemm(0, T, hs, T, w, wOff, 1, T, dout, o, C, dqkv, v, C3, s.panels);
            // through dropout and softmax: dpre = att * (g - sum(att * g)) * scale, kept in g
            for (int t = 0; t < T; t++) {
                int row = t * T;
                float dot = 0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    if (dropout > 0f) {
                        g[row + t2] *= s.mask[row + t2]; // filled by dropped() above
                    }
                    dot += att[a + row + t2] * g[row + t2];
                }
                for (int t2 = 0; t2 <= t; t2++) {
                    g[row + t2] = att[a + row + t2] * (g[row + t2] - dot) * scale;
                }
                Arrays.fill(g, row + t + 1, row + T, 0f);
            }
            // dQ += dpre @ K ; dK += dpre^T @ Q
            for (int r0 = 0; r0 < T; r0 += RB) {
                int r1 = Math.min(T, r0 + RB);
                Gemm.gemm(r0, r1, hs, r1, g, 0, T, 1, qkv, k, C3, dqkv, q, C3, s.panels);
            }
            Gemm.gemm(0, T, hs, T, g, 0, 1, T, qkv, q, C3, dqkv, k, C3, s.panels);
        }
    }

    /** The query, key and value channels of one (b,h) in dqkv (the query's at q), all T rows, to 0. */
    private static void clearHead(float[] dqkv, int q, int T, int hs, int C, int C3) {
        for (int t = 0; t < T; t++) {
            int r = q + t * C3;
            Arrays.fill(dqkv, r, r + hs, 0f);
            Arrays.fill(dqkv, r + C, r + C + hs, 0f);
            Arrays.fill(dqkv, r + 2 * C, r + 2 * C + hs, 0f);
        }
    }

    /**
     * Heads [from,to) of one new token at position t against the KV cache: the arithmetic of
     * {@link #forward}'s row t (scores as FMA chains over the head's channels, float
     * softmax, outputs as FMA chains over positions), so cached decoding matches it bit for bit.
     */
    static void decode(float[] out, float[] scores, float[] qkv, float[] kCache, float[] vCache, int t, int T,
                       int C, int NH, int from, int to) {
        int hs = C / NH;
        float scale = (float) (1.0 / Math.sqrt(hs));
        for (int h = from; h < to; h++) {
            int q = h * hs;
            System.arraycopy(qkv, C + q, kCache, t * C + q, hs);
            System.arraycopy(qkv, 2 * C + q, vCache, t * C + q, hs);
            int a = h * T;
            for (int t2 = 0; t2 <= t; t2++) {
                int k = t2 * C + q;
                float d = 0f;
                for (int i = 0; i < hs; i++) {
                    d = Math.fma(qkv[q + i], kCache[k + i], d);
                }
                scores[a + t2] = d;
            }
            softmaxRow(scores, a, t + 1, scale);
            Arrays.fill(out, q, q + hs, 0f);
            for (int t2 = 0; t2 <= t; t2++) {
                float wt = scores[a + t2];
                int v = t2 * C + q;
                for (int i = 0; i < hs; i++) {
                    out[q + i] = Math.fma(wt, vCache[v + i], out[q + i]);
                }
            }
        }
    }

    /**
     * w[off, off+n) = softmax(w * scale), in place: the causal row of attention weights, shared by the
     * batched forward and KV-cache decoding so both give the same bits. The exp is
     * {@link VectorMath#exp}, lanes at a time; a row's last, partial vector is masked rather than
     * done in scalars, since most of the small model's rows are shorter than a vector. The sum runs
     * in lanes, then the lanes in order, so it has one order.
     */
    static void softmaxRow(float[] w, int off, int n, float scale) {
        FloatVector sv = FloatVector.broadcast(S, scale);
        FloatVector mx = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < n; i += L) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector x = FloatVector.fromArray(S, w, off + i, m).mul(sv);
            x.intoArray(w, off + i, m);
            mx = mx.lanewise(VectorOperators.MAX, x, m);
        }
        float sum = VectorMath.expSum(w, off, w, off, n, mx.reduceLanes(VectorOperators.MAX)); // max has one answer
        VectorMath.scale(w, off, n, 1f / sum);
    }
}
