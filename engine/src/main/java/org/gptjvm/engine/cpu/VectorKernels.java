package org.gptjvm.engine.cpu;

import org.gptjvm.engine.DropoutMask;

import java.util.Arrays;

/**
 * The cpu backend's heavy kernels, all built on {@link Gemm}: the Linear layers forward and backward,
 * and attention per (batch, head) as small matrix products (scores = Q K^T, out = att V and their
 * gradients). Same math as {@link org.gptjvm.engine.RefKernels}, float accumulation with FMA.
 */
final class VectorKernels {
    /** Causal products are done in row blocks of this many so the masked upper triangle is mostly skipped. */
    private static final int RB = 32;

    private VectorKernels() {
    }

    /** Rows [from,to): out = inp @ W^T + bias, with W^T given as wt (C x OC). */
    static void matmulForward(float[] out, float[] inp, float[] wt, float[] bias, int C, int OC, int from, int to) {
        Gemm.broadcastRows(out, bias, from, to, OC);
        Gemm.gemm(from, to, OC, C, inp, 0, C, 1, wt, 0, OC, out, 0, OC);
    }

    /** Rows [from,to) of N: dinp += dout @ W. */
    static void matmulBackwardInput(float[] dinp, float[] dout, float[] w, int C, int OC, int from, int to) {
        Gemm.gemm(from, to, C, OC, dout, 0, OC, 1, w, 0, C, dinp, 0, C);
    }

    /** Output channels [from,to): dW += dout^T @ inp, dbias += column sums of dout. */
    static void matmulBackwardWeight(float[] dw, float[] dbias, float[] dout, float[] inp, int N, int C, int OC,
                                     int from, int to) {
        Gemm.gemm(from, to, C, N, dout, 0, 1, OC, inp, 0, C, dw, 0, C);
        if (dbias != null) {
            for (int o = from; o < to; o++) {
                float s = 0f;
                for (int n = 0; n < N; n++) {
                    s += dout[n * OC + o];
                }
                dbias[o] += s;
            }
        }
    }

    /** Per-thread scratch for attention: K^T or V^T, a T x T gradient block, a T x T dropped block. */
    static final class AttentionScratch {
        final float[] transposed, grad, dropped;

        AttentionScratch(int T, int hs) {
            transposed = new float[hs * T];
            grad = new float[T * T];
            dropped = new float[T * T];
        }
    }

    /** One head's keys or values (T rows of hs, row stride C3, starting at off) as an hs x T matrix. */
    private static void transposeHead(float[] qkv, int off, int T, int hs, int C3, float[] dst) {
        for (int t2 = 0; t2 < T; t2++) {
            for (int i = 0; i < hs; i++) {
                dst[i * T + t2] = qkv[off + t2 * C3 + i];
            }
        }
    }

    /** The (b,h) block of attention weights after dropout, in the thread's scratch. */
    private static float[] dropped(float[] att, int a, int T, long seed, int salt, float dropout, AttentionScratch s) {
        for (int i = 0; i < T * T; i++) {
            s.dropped[i] = att[a + i] * DropoutMask.scale(seed, salt, a + i, dropout);
        }
        return s.dropped;
    }

    static void attentionForward(float[] out, float[] att, float[] qkv, long seed, float dropout, int salt,
                                 int T, int C, int NH, AttentionScratch s, int from, int to) {
        int hs = C / NH;
        float scale = (float) (1.0 / Math.sqrt(hs));
        int C3 = 3 * C;
        for (int bh = from; bh < to; bh++) {
            int b = bh / NH, h = bh % NH;
            int q = b * T * C3 + h * hs, k = q + C, v = q + 2 * C;
            int a = bh * T * T;
            transposeHead(qkv, k, T, hs, C3, s.transposed);
            Arrays.fill(att, a, a + T * T, 0f);
            for (int r0 = 0; r0 < T; r0 += RB) {
                int r1 = Math.min(T, r0 + RB);
                Gemm.gemm(r0, r1, r1, hs, qkv, q, C3, 1, s.transposed, 0, T, att, a, T);
            }
            for (int t = 0; t < T; t++) {
                int row = a + t * T;
                float max = Float.NEGATIVE_INFINITY;
                for (int t2 = 0; t2 <= t; t2++) {
                    att[row + t2] *= scale;
                    max = Math.max(max, att[row + t2]);
                }
                float sum = 0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    float e = (float) Math.exp(att[row + t2] - max);
                    att[row + t2] = e;
                    sum += e;
                }
                float inv = 1f / sum;
                for (int t2 = 0; t2 <= t; t2++) {
                    att[row + t2] *= inv;
                }
                Arrays.fill(att, row + t + 1, row + T, 0f);
            }
            float[] w = dropout > 0f ? dropped(att, a, T, seed, salt, dropout, s) : att;
            int wOff = dropout > 0f ? 0 : a;
            int o = b * T * C + h * hs;
            for (int t = 0; t < T; t++) {
                Arrays.fill(out, o + t * C, o + t * C + hs, 0f);
            }
            for (int r0 = 0; r0 < T; r0 += RB) {
                int r1 = Math.min(T, r0 + RB);
                Gemm.gemm(r0, r1, hs, r1, w, wOff, T, 1, qkv, v, C3, out, o, C);
            }
        }
    }

    static void attentionBackward(float[] dqkv, float[] dout, float[] qkv, float[] att, long seed, float dropout,
                                  int salt, int T, int C, int NH, AttentionScratch s, int from, int to) {
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
                Gemm.gemm(r0, r1, r1, hs, dout, o, C, 1, s.transposed, 0, T, g, 0, T);
            }
            // dV += dropout(att)^T @ dout
            float[] w = dropout > 0f ? dropped(att, a, T, seed, salt, dropout, s) : att;
            int wOff = dropout > 0f ? 0 : a;
            Gemm.gemm(0, T, hs, T, w, wOff, 1, T, dout, o, C, dqkv, v, C3);
            // through dropout and softmax: dpre = att * (g - sum(att * g)) * scale, kept in g
            for (int t = 0; t < T; t++) {
                int row = t * T;
                float dot = 0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    if (dropout > 0f) {
                        g[row + t2] *= DropoutMask.scale(seed, salt, a + row + t2, dropout);
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
                Gemm.gemm(r0, r1, hs, r1, g, 0, T, 1, qkv, k, C3, dqkv, q, C3);
            }
            Gemm.gemm(0, T, hs, T, g, 0, 1, T, qkv, q, C3, dqkv, k, C3);
        }
    }
}
