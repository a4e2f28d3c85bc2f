package org.gptjvm.engine.cpu;

import jdk.incubator.vector.FloatVector;

import java.util.Arrays;

import static org.gptjvm.engine.cpu.Gemm.L;
import static org.gptjvm.engine.cpu.Gemm.S;

/**
 * The Linear layer, {@code out = inp @ W^T + b}, and its gradients, as {@link Gemm} products: the
 * forward over W^T (transposed once per launch by the backend), dinp = dout @ W, and
 * dW = dout^T @ inp with dbias as column sums. Decoding one token is a matrix-vector product
 * straight off W with the same FMA chains, so it matches the batched forward bit for bit.
 */
final class Linear {
    private Linear() {
    }

    /** Rows [from,to): out = inp @ W^T + bias, with W^T given as wt (C x OC). */
    static void forward(float[] out, float[] inp, float[] wt, float[] bias, int C, int OC, int from, int to,
                        float[] panels) {
        Gemm.broadcastRows(out, bias, from, to, OC);
        Gemm.gemm(from, to, OC, C, inp, 0, C, 1, wt, 0, OC, out, 0, OC, panels);
    }

    /** Below this many rows a Linear layer is a matrix-vector product (one row: decoding a token). */
    static final int FEW_ROWS = 4;

    /**
     * Output channels [from,to) for N < {@link #FEW_ROWS} rows: each element is the same FMA chain
     * as {@link Gemm} computes (from the bias, k in order), so decoding matches the batched forward
     * bit for bit; W is read row by row instead of being transposed first. Eight channels at a time
     * so eight independent chains hide the FMA latency.
     */
    static void forwardFewRows(float[] out, float[] inp, float[] w, float[] bias, int N, int C, int OC,
                               int from, int to) {
        for (int n = 0; n < N; n++) {
            int x = n * C;
            int o = from;
            for (; o + 8 <= to; o += 8) {
                int w0 = o * C;
                float s0 = b(bias, o), s1 = b(bias, o + 1), s2 = b(bias, o + 2), s3 = b(bias, o + 3);
                float s4 = b(bias, o + 4), s5 = b(bias, o + 5), s6 = b(bias, o + 6), s7 = b(bias, o + 7);
                for (int k = 0; k < C; k++) {
                    float xk = inp[x + k];
                    s0 = Math.fma(xk, w[w0 + k], s0);
                    s1 = Math.fma(xk, w[w0 + C + k], s1);
                    s2 = Math.fma(xk, w[w0 + 2 * C + k], s2);
                    s3 = Math.fma(xk, w[w0 + 3 * C + k], s3);
                    s4 = Math.fma(xk, w[w0 + 4 * C + k], s4);
                    s5 = Math.fma(xk, w[w0 + 5 * C + k], s5);
                    s6 = Math.fma(xk, w[w0 + 6 * C + k], s6);
                    s7 = Math.fma(xk, w[w0 + 7 * C + k], s7);
                }
                int r = n * OC + o;
                out[r] = s0;
                out[r + 1] = s1;
                out[r + 2] = s2;
                out[r + 3] = s3;
                out[r + 4] = s4;
                out[r + 5] = s5;
                out[r + 6] = s6;
                out[r + 7] = s7;
            }
            for (; o < to; o++) {
                float s = b(bias, o);
                for (int k = 0; k < C; k++) {
                    s = Math.fma(inp[x + k], w[o * C + k], s);
                }
                out[n * OC + o] = s;
            }
        }
    }

    private static float b(float[] bias, int o) {
        return bias == null ? 0f : bias[o];
    }

    /** Rows [from,to) of N: dinp = dout @ W (the product adds into rows cleared first). */
    static void backwardInput(float[] dinp, float[] dout, float[] w, int C, int OC, int from, int to,
                              float[] panels) {
        Arrays.fill(dinp, from * C, to * C, 0f);
        Gemm.gemm(from, to, C, OC, dout, 0, OC, 1, w, 0, C, dinp, 0, C, panels);
    }

    /** Output channels [from,to): dW += dout^T @ inp, dbias += column sums of dout. */
    static void backwardWeight(float[] dw, float[] dbias, float[] dout, float[] inp, int N, int C, int OC,
                               int from, int to, float[] panels) {
        Gemm.gemm(from, to, C, N, dout, 0, 1, OC, inp, 0, C, dw, 0, C, panels);
        if (dbias != null) {
            // column sums of dout, a vector of columns at a time so each row is read contiguously
            // (a column walk strides OC floats per element); each column still adds its rows in order
            int o = from;
            for (; o + L <= to; o += L) {
                FloatVector s = FloatVector.zero(S);
                for (int n = 0; n < N; n++) {
                    s = s.add(FloatVector.fromArray(S, dout, n * OC + o));
                }
                FloatVector.fromArray(S, dbias, o).add(s).intoArray(dbias, o);
            }
            for (; o < to; o++) {
                float s = 0f;
                for (int n = 0; n < N; n++) {
                    s += dout[n * OC + o];
                }
                dbias[o] += s;
            }
        }
    }
}
