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
 * {@link #COLUMNS_MAX_T} long run the forward by columns, L queries at a time. Every score and
 * output is one FMA chain in a fixed order and every softmax sums in one order, so both paths and
 * decoding one token against the KV cache give the same bits.
 */
final class Attention {
    /** Causal products are done in row blocks of this many so the masked upper triangle is mostly skipped. */
    private static final int RB = 32;
    /** Up to this T the softmax runs by columns ({@link #softmaxByColumns}); longer rows amortise a per-row reduction. */
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
    private static float[] dropped(float[] att, int a, int T, long seed, int salt, float dropout, Workspace s) {
        for (int t = 0; t < T; t++) {
            int row = t * T;
            DropoutKernels.scales(s.mask, row, t + 1, seed, salt, a + row, dropout);
            for (int t2 = 0; t2 <= t; t2++) {
                s.dropped[row + t2] = att[a + row + t2] * s.mask[row + t2];
            }
            Arrays.fill(s.dropped, row + t + 1, row + T, 0f);
        }
        return s.dropped;
    }

    /** Pairs [from, to) of B*NH, one (batch, head) each: att (B,NH,T,T) and out (B,T,C) from qkv (B,T,3C). */
    static void forward(float[] out, float[] att, float[] qkv, long seed, float dropout, int salt, int T, int C,
                        int NH, Workspace s, int from, int to) {
        forward(out, att, qkv, seed, dropout, salt, T, C, NH, s, from, to, T <= COLUMNS_MAX_T);
    }

    /** {@link #forward}, with the scores' softmax by columns or by rows as asked (the same bits either way). */
    static void forward(float[] out, float[] att, float[] qkv, long seed, float dropout, int salt, int T, int C,
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
                softmaxByColumns(att, a, qkv, q, k, T, hs, C3, scale, s, outDone ? out : null, o, v, C);
            } else {
                softmaxByRows(att, a, qkv, q, k, T, hs, C3, scale, s);
            }
            if (outDone) {
                continue;
            }
            float[] w = dropout > 0f ? dropped(att, a, T, seed, salt, dropout, s) : att;
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

    /**
     * The same block as {@link #softmaxByRows}, L query rows at a time with their scores held by
     * columns: one vector is one key's scores against L consecutive queries, so the max, the exps
     * and the sums are lane-wise operations instead of a reduction per row, which short rows (the
     * small model's T of 32 is two vectors) cannot amortise. Each score is still the FMA chain over
     * the head's channels, and each row's sum adds the same terms in the same order as
     * softmaxRow's (every L-th exp in one lane, then the lanes in order), so att gets the same bits.
     */
    private static void softmaxByColumns(float[] att, int a, float[] qkv, int q, int k, int T, int hs, int C3,
                                         float scale, Workspace s, float[] out, int o, int v, int C) {
        int tp = Workspace.padded(T);
        float[] qt = s.queries, cols = s.columns;
        for (int t = 0; t < T; t++) {
            for (int i = 0; i < hs; i++) {
                qt[i * tp + t] = qkv[q + t * C3 + i];
            }
        }
        FloatVector sv = FloatVector.broadcast(S, scale), one = FloatVector.broadcast(S, 1f);
        for (int t0 = 0; t0 < T; t0 += L) {
            int n = Math.min(T, t0 + L); // keys any query of the block sees
            int t2 = 0;
            for (; t2 + 4 <= n; t2 += 4) { // four keys at a time: four FMA chains in flight
                FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
                for (int i = 0, k0 = k + t2 * C3; i < hs; i++) {
                    FloatVector qi = FloatVector.fromArray(S, qt, i * tp + t0);
                    c0 = FloatVector.broadcast(S, qkv[k0 + i]).fma(qi, c0);
                    c1 = FloatVector.broadcast(S, qkv[k0 + C3 + i]).fma(qi, c1);
                    c2 = FloatVector.broadcast(S, qkv[k0 + 2 * C3 + i]).fma(qi, c2);
                    c3 = FloatVector.broadcast(S, qkv[k0 + 3 * C3 + i]).fma(qi, c3);
                }
                c0.mul(sv).intoArray(cols, t2 * L);
                c1.mul(sv).intoArray(cols, (t2 + 1) * L);
                c2.mul(sv).intoArray(cols, (t2 + 2) * L);
                c3.mul(sv).intoArray(cols, (t2 + 3) * L);
            }
            for (; t2 < n; t2++) {
                FloatVector c0 = FloatVector.zero(S);
                for (int i = 0, k0 = k + t2 * C3; i < hs; i++) {
                    c0 = FloatVector.broadcast(S, qkv[k0 + i]).fma(FloatVector.fromArray(S, qt, i * tp + t0), c0);
                }
                c0.mul(sv).intoArray(cols, t2 * L);
            }
            FloatVector mx = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (t2 = 0; t2 < n; t2++) {
                mx = mx.lanewise(VectorOperators.MAX, FloatVector.fromArray(S, cols, t2 * L), causal(t2 - t0));
            }
            for (t2 = 0; t2 < n; t2++) {
                FloatVector e = VectorMath.exp(FloatVector.fromArray(S, cols, t2 * L).sub(mx));
                e.blend(0f, causal(t2 - t0).not()).intoArray(cols, t2 * L);
            }
            FloatVector sum = FloatVector.zero(S);
            for (int l = 0; l < Math.min(L, n); l++) {
                FloatVector lane = FloatVector.fromArray(S, cols, l * L);
                for (t2 = l + L; t2 < n; t2 += L) {
                    lane = lane.add(FloatVector.fromArray(S, cols, t2 * L));
                }
                sum = sum.add(lane);
            }
            FloatVector inv = one.div(sum);
            for (t2 = 0; t2 < n; t2++) {
                FloatVector.fromArray(S, cols, t2 * L).mul(inv).intoArray(cols, t2 * L);
            }
            for (int t = t0; t < n; t++) {
                int row = a + t * T, lane = t - t0;
                for (t2 = 0; t2 <= t; t2++) {
                    att[row + t2] = cols[t2 * L + lane];
                }
                Arrays.fill(att, row + t + 1, row + T, 0f);
            }
            if (out != null) {
                valuesByColumns(out, o, C, qkv, v, C3, hs, cols, t0, n, s.outputs);
            }
        }
    }

    /**
     * out's rows [t0, n) = att V for one block of queries whose weights are held by columns in
     * {@code cols}: channel i of all L queries is one FMA chain over the keys in order, so each
     * output is the same chain as the row-major product's (the causal zeros add nothing). Eight
     * channels at a time share each loaded column of weights.
     */
    private static void valuesByColumns(float[] out, int o, int C, float[] qkv, int v, int C3, int hs, float[] cols,
                                        int t0, int n, float[] outputs) {
        int i0 = 0;
        for (; i0 + 8 <= hs; i0 += 8) {
            FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
            for (int t2 = 0; t2 < n; t2++) {
                FloatVector p = FloatVector.fromArray(S, cols, t2 * L);
                int vr = v + t2 * C3 + i0;
                c0 = FloatVector.broadcast(S, qkv[vr]).fma(p, c0);
                c1 = FloatVector.broadcast(S, qkv[vr + 1]).fma(p, c1);
                c2 = FloatVector.broadcast(S, qkv[vr + 2]).fma(p, c2);
                c3 = FloatVector.broadcast(S, qkv[vr + 3]).fma(p, c3);
                c4 = FloatVector.broadcast(S, qkv[vr + 4]).fma(p, c4);
                c5 = FloatVector.broadcast(S, qkv[vr + 5]).fma(p, c5);
                c6 = FloatVector.broadcast(S, qkv[vr + 6]).fma(p, c6);
                c7 = FloatVector.broadcast(S, qkv[vr + 7]).fma(p, c7);
            }
            c0.intoArray(outputs, 0);
            c1.intoArray(outputs, L);
            c2.intoArray(outputs, 2 * L);
            c3.intoArray(outputs, 3 * L);
            c4.intoArray(outputs, 4 * L);
            c5.intoArray(outputs, 5 * L);
            c6.intoArray(outputs, 6 * L);
            c7.intoArray(outputs, 7 * L);
            unpack(out, o, C, i0, 8, outputs, t0, n);
        }
        for (; i0 < hs; i0++) { // channels past the last whole group of eight, one at a time
            FloatVector c0 = FloatVector.zero(S);
            for (int t2 = 0; t2 < n; t2++) {
                c0 = FloatVector.broadcast(S, qkv[v + t2 * C3 + i0]).fma(FloatVector.fromArray(S, cols, t2 * L), c0);
            }
            c0.intoArray(outputs, 0);
            unpack(out, o, C, i0, 1, outputs, t0, n);
        }
    }

    /** Rows [t0, n) of out's channels [i0, i0+w) from w vectors in outputs, lane t - t0 holding row t. */
    private static void unpack(float[] out, int o, int C, int i0, int w, float[] outputs, int t0, int n) {
        for (int t = t0; t < n; t++) {
            for (int j = 0, lane = t - t0; j < w; j++) {
                out[o + t * C + i0 + j] = outputs[j * L + lane];
            }
        }
    }

    /** Lane l holds l: {@link #causal}'s mask is a comparison with it. */
    private static final FloatVector LANE = FloatVector.fromArray(S, laneIndices(), 0);

    private static float[] laneIndices() {
        float[] l = new float[L];
        for (int i = 0; i < L; i++) {
            l[i] = i;
        }
        return l;
    }

    /** The lanes (queries t0 + l) that see key t0 + j: those with l >= j. */
    private static VectorMask<Float> causal(int j) {
        return LANE.compare(VectorOperators.GE, (float) j);
    }

    /** Pairs [from, to) of B*NH: dqkv accumulates the gradients of Q, K and V given att and dout. */
    static void backward(float[] dqkv, float[] dout, float[] qkv, float[] att, long seed, float dropout, int salt,
                         int T, int C, int NH, Workspace s, int from, int to) {
        int hs = C / NH;
        float scale = (float) (1.0 / Math.sqrt(hs));
        int C3 = 3 * C;
        for (int bh = from; bh < to; bh++) {
            int b = bh / NH, h = bh % NH;
            int q = b * T * C3 + h * hs, k = q + C, v = q + 2 * C;
            int a = bh * T * T;
            int o = b * T * C + h * hs;
            // datt = dout @ V^T (lower triangle)
            transposeHead(qkv, v, T, hs, C3, s.transposed);
            float[] g = s.grad;
            Arrays.fill(g, 0f);
            for (int r0 = 0; r0 < T; r0 += RB) {
                int r1 = Math.min(T, r0 + RB);
                Gemm.gemm(r0, r1, r1, hs, dout, o, C, 1, s.transposed, 0, T, g, 0, T, s.panels);
            }
            // dV += dropout(att)^T @ dout
            float[] w = dropout > 0f ? dropped(att, a, T, seed, salt, dropout, s) : att;
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
