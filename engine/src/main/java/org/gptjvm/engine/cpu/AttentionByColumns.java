package org.gptjvm.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.util.Arrays;

import static org.gptjvm.engine.cpu.Gemm.L;
import static org.gptjvm.engine.cpu.Gemm.S;

/**
 * {@link Attention} for short rows (T up to {@link Attention#COLUMNS_MAX_T}), by columns: a vector
 * holds one key's scores (or their gradients) against L consecutive queries, so the softmax's max,
 * exps and sums and its backward's sums are lane-wise operations, where the row path needs a
 * reduction per row that short rows cannot amortise (the small model's T of 32 is two vectors).
 * Every score, output and gradient is the same FMA chain as the row path's and every row sums in
 * the same order, so att, out and dqkv get the same bits.
 */
final class AttentionByColumns {
    private AttentionByColumns() {
    }

    /**
     * att's (b,h) block (offset a) = causal softmax(Q K^T * scale), L queries at a time, as
     * Attention's row path computes it: each score the FMA chain over the head's channels, each
     * row's sum the same terms in the same order as softmaxRow's (every L-th exp in one lane, then
     * the lanes in order). With {@code out} given (no dropout), also out's rows for the head
     * (offset o, values at v in qkv) = att V, from the block while it is held by columns.
     */
    static void forward(float[] att, int a, float[] qkv, int q, int k, int T, int hs, int C3,
                        float scale, Workspace s, float[] out, int o, int v, int C) {
        int tp = Workspace.padded(T);
        float[] qt = s.queries, cols = s.columns;
        transposeRows(qkv, q, C3, T, hs, tp, qt);
        FloatVector sv = FloatVector.broadcast(S, scale), one = FloatVector.broadcast(S, 1f);
        for (int t0 = 0; t0 < T; t0 += L) {
            int n = Math.min(T, t0 + L); // keys any query of the block sees
            products(cols, qt, tp, t0, n, qkv, k, C3, hs);
            FloatVector mx = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (int t2 = 0; t2 < n; t2++) {
                FloatVector x = FloatVector.fromArray(S, cols, t2 * L).mul(sv);
                x.intoArray(cols, t2 * L);
                mx = mx.lanewise(VectorOperators.MAX, x, causal(t2 - t0));
            }
            for (int t2 = 0; t2 < n; t2++) {
                FloatVector e = VectorMath.exp(FloatVector.fromArray(S, cols, t2 * L).sub(mx));
                e.blend(0f, causal(t2 - t0).not()).intoArray(cols, t2 * L);
            }
            FloatVector sum = FloatVector.zero(S);
            for (int l = 0; l < Math.min(L, n); l++) {
                FloatVector lane = FloatVector.fromArray(S, cols, l * L);
                for (int t2 = l + L; t2 < n; t2 += L) {
                    lane = lane.add(FloatVector.fromArray(S, cols, t2 * L));
                }
                sum = sum.add(lane);
            }
            FloatVector inv = one.div(sum);
            for (int t2 = 0; t2 < n; t2++) {
                FloatVector.fromArray(S, cols, t2 * L).mul(inv).intoArray(cols, t2 * L);
            }
            for (int t = t0; t < n; t++) {
                int row = a + t * T, lane = t - t0;
                for (int t2 = 0; t2 <= t; t2++) {
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
     * cols[t2] for keys t2 < n, lane l = sum over i of src(t2, i) * qt(i, t0 + l): a key's row (src
     * from off, row stride ld) against L query rows held transposed in qt (hs x tp), each the FMA
     * chain over i in order, as the row-major product computes that element.
     */
    private static void products(float[] cols, float[] qt, int tp, int t0, int n, float[] src, int off, int ld,
                                 int hs) {
        int t2 = 0;
        for (; t2 + 4 <= n; t2 += 4) { // four keys at a time: four FMA chains in flight
            FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
            for (int i = 0, k0 = off + t2 * ld; i < hs; i++) {
                FloatVector qi = FloatVector.fromArray(S, qt, i * tp + t0);
                c0 = FloatVector.broadcast(S, src[k0 + i]).fma(qi, c0);
                c1 = FloatVector.broadcast(S, src[k0 + ld + i]).fma(qi, c1);
                c2 = FloatVector.broadcast(S, src[k0 + 2 * ld + i]).fma(qi, c2);
                c3 = FloatVector.broadcast(S, src[k0 + 3 * ld + i]).fma(qi, c3);
            }
            c0.intoArray(cols, t2 * L);
            c1.intoArray(cols, (t2 + 1) * L);
            c2.intoArray(cols, (t2 + 2) * L);
            c3.intoArray(cols, (t2 + 3) * L);
        }
        for (; t2 < n; t2++) {
            FloatVector c0 = FloatVector.zero(S);
            for (int i = 0, k0 = off + t2 * ld; i < hs; i++) {
                c0 = FloatVector.broadcast(S, src[k0 + i]).fma(FloatVector.fromArray(S, qt, i * tp + t0), c0);
            }
            c0.intoArray(cols, t2 * L);
        }
    }

    /** dst (hs x tp) = the head's T rows of hs (from off, row stride ld) transposed. */
    private static void transposeRows(float[] src, int off, int ld, int T, int hs, int tp, float[] dst) {
        for (int t = 0; t < T; t++) {
            for (int i = 0; i < hs; i++) {
                dst[i * tp + t] = src[off + t * ld + i];
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

    /**
     * Accumulates into dqkv the gradients of one (b,h) (queries at q, keys at k, values at v in qkv
     * and dqkv; dout's head at o) as Attention's row path does, L queries at a time. g = dout V^T is
     * held by columns like the forward's scores, so the softmax's backward, per query
     * dpre = att * (g - sum(att * g)) * scale, runs lane-wise with each query's sum in key order.
     * dV, dK and dQ are chains over the same terms in the same order as the row path's products;
     * the causal zeros they skip add nothing (an accumulator that is not -0 stays the same).
     * {@code dropped} and {@code mask} are the weights after dropout and the mask's factors in row
     * layout (from Attention's dropped), or null without dropout.
     */
    static void backward(float[] dqkv, float[] dout, float[] qkv, float[] att, int a, int q, int k, int v, int o,
                         int T, int hs, int C, float scale, float[] dropped, float[] mask, Workspace s) {
        int C3 = 3 * C, tp = Workspace.padded(T);
        float[] doutT = s.queries, g = s.columns, attCols = s.attColumns;
        float[] maskCols = s.maskColumns, w = dropped != null ? s.droppedColumns : attCols;
        transposeRows(dout, o, C, T, hs, tp, doutT);
        FloatVector sv = FloatVector.broadcast(S, scale);
        for (int t0 = 0; t0 < T; t0 += L) {
            int n = Math.min(T, t0 + L);
            byColumns(att, a, T, t0, n, attCols);
            if (dropped != null) {
                byColumns(dropped, 0, T, t0, n, w);
                byColumns(mask, 0, T, t0, n, maskCols);
            }
            // g = dout V^T; dV += dropout(att)^T dout
            products(g, doutT, tp, t0, n, qkv, v, C3, hs);
            keyRows(dqkv, v, C3, w, dout, o, C, hs, t0, n);
            // through dropout and softmax, g becomes dpre
            FloatVector dot = FloatVector.zero(S);
            for (int t2 = 0; t2 < n; t2++) {
                FloatVector gv = FloatVector.fromArray(S, g, t2 * L);
                if (dropped != null) {
                    gv = gv.mul(FloatVector.fromArray(S, maskCols, t2 * L));
                    gv.intoArray(g, t2 * L);
                }
                dot = dot.add(FloatVector.fromArray(S, attCols, t2 * L).mul(gv));
            }
            for (int t2 = 0; t2 < n; t2++) {
                FloatVector.fromArray(S, attCols, t2 * L).mul(FloatVector.fromArray(S, g, t2 * L).sub(dot)).mul(sv)
                        .intoArray(g, t2 * L);
            }
            // dK += dpre^T Q; dQ += dpre K
            keyRows(dqkv, k, C3, g, qkv, q, C3, hs, t0, n);
            queryRows(dqkv, q, C3, g, qkv, k, C3, hs, t0, n);
        }
    }

    /**
     * cols[t2][t - t0] = src[off + t*T + t2] for the block's queries t (t0 <= t < n) and keys
     * t2 <= t: a T x T block of attention weights (or mask factors) by columns; 0 above the diagonal.
     */
    private static void byColumns(float[] src, int off, int T, int t0, int n, float[] cols) {
        Arrays.fill(cols, 0, n * L, 0f);
        for (int t = t0; t < n; t++) {
            for (int t2 = 0, lane = t - t0; t2 <= t; t2++) {
                cols[t2 * L + lane] = src[off + t * T + t2];
            }
        }
    }

    /**
     * Key rows t2 < n of dst (from dOff, row stride ld) += the block's queries t >= t2 in order of
     * cols[t2][t - t0] * src row t (from sOff, row stride lds): dV = att^T dout and dK = dpre^T Q,
     * one block's share of each element's chain over the queries. Four keys at a time share a
     * start, so the later ones of four see some zeros from above the diagonal.
     */
    private static void keyRows(float[] dst, int dOff, int ld, float[] cols, float[] src, int sOff, int lds, int hs,
                                int t0, int n) {
        for (int t2 = 0; t2 < n; ) {
            int rows = Math.min(4, n - t2), t = Math.max(t0, t2);
            chains(dst, dOff + t2 * ld, ld, rows, cols, t2 * L + t - t0, L, 1, src, sOff + t * lds, lds, n - t, hs);
            t2 += rows;
        }
    }

    /**
     * The block's query rows t of dst (from dOff, row stride ld) += the keys t2 <= t in order of
     * cols[t2][t - t0] * src row t2 (from sOff, row stride lds): dQ = dpre K, each element's whole
     * chain. Four queries at a time run to the last one's key, so the earlier ones see some zeros
     * from above the diagonal.
     */
    private static void queryRows(float[] dst, int dOff, int ld, float[] cols, float[] src, int sOff, int lds, int hs,
                                  int t0, int n) {
        for (int t = t0; t < n; ) {
            int rows = Math.min(4, n - t);
            chains(dst, dOff + t * ld, ld, rows, cols, t - t0, 1, L, src, sOff, lds, t + rows, hs);
            t += rows;
        }
    }

    /**
     * dst's rows r < rows (the first at d, row stride ld; hs channels) += sum over terms j < count,
     * in order, of cols[c + r * cr + j * cj] * src row j (the first at s, row stride lds): one FMA
     * chain per element, four rows at a time so four chains are in flight. Channels past the last
     * whole vector are the same chains in scalars.
     */
    private static void chains(float[] dst, int d, int ld, int rows, float[] cols, int c, int cr, int cj, float[] src,
                               int s, int lds, int count, int hs) {
        int hv = hs - hs % L;
        for (int i = 0; i < hv; i += L) {
            if (rows == 4) {
                FloatVector a0 = FloatVector.fromArray(S, dst, d + i), a1 = FloatVector.fromArray(S, dst, d + ld + i);
                FloatVector a2 = FloatVector.fromArray(S, dst, d + 2 * ld + i);
                FloatVector a3 = FloatVector.fromArray(S, dst, d + 3 * ld + i);
                for (int j = 0, cc = c; j < count; j++, cc += cj) {
                    FloatVector x = FloatVector.fromArray(S, src, s + j * lds + i);
                    a0 = FloatVector.broadcast(S, cols[cc]).fma(x, a0);
                    a1 = FloatVector.broadcast(S, cols[cc + cr]).fma(x, a1);
                    a2 = FloatVector.broadcast(S, cols[cc + 2 * cr]).fma(x, a2);
                    a3 = FloatVector.broadcast(S, cols[cc + 3 * cr]).fma(x, a3);
                }
                a0.intoArray(dst, d + i);
                a1.intoArray(dst, d + ld + i);
                a2.intoArray(dst, d + 2 * ld + i);
                a3.intoArray(dst, d + 3 * ld + i);
            } else {
                for (int r = 0; r < rows; r++) {
                    FloatVector a0 = FloatVector.fromArray(S, dst, d + r * ld + i);
                    for (int j = 0, cc = c + r * cr; j < count; j++, cc += cj) {
                        a0 = FloatVector.broadcast(S, cols[cc]).fma(FloatVector.fromArray(S, src, s + j * lds + i), a0);
                    }
                    a0.intoArray(dst, d + r * ld + i);
                }
            }
        }
        for (int r = 0; r < rows; r++) {
            for (int i = hv; i < hs; i++) {
                float a0 = dst[d + r * ld + i];
                for (int j = 0, cc = c + r * cr; j < count; j++, cc += cj) {
                    a0 = Math.fma(cols[cc], src[s + j * lds + i], a0);
                }
                dst[d + r * ld + i] = a0;
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
}
