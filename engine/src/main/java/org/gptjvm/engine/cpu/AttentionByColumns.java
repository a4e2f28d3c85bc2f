package org.gptjvm.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.util.Arrays;

import static org.gptjvm.engine.cpu.Gemm.L;
import static org.gptjvm.engine.cpu.Gemm.S;

/**
 * {@link Attention}'s forward for short rows (T up to {@link Attention#COLUMNS_MAX_T}), by columns:
 * a vector holds one key's scores against L consecutive queries, so the softmax's max, exps and sums
 * are lane-wise operations, where the row path needs a reduction per row that short rows cannot
 * amortise (the small model's T of 32 is two vectors). Every score and output is the same FMA
 * chain as the row path's and every row sums in the same order, so att and out get the same bits.
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
    static void softmax(float[] att, int a, float[] qkv, int q, int k, int T, int hs, int C3,
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
}
