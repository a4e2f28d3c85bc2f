package org.gptjvm.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
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

    /** Below this many rows a Linear layer is a matrix-vector product (one row: decoding a token). */
    static final int FEW_ROWS = 4;

    /**
     * Output channels [from,to) for N < {@link #FEW_ROWS} rows: each element is the same FMA chain
     * as {@link Gemm} computes (from the bias, k in order), so decoding matches the batched forward
     * bit for bit; W is read row by row instead of being transposed first. Eight channels at a time
     * so eight independent chains hide the FMA latency.
     */
    static void matmulForwardFewRows(float[] out, float[] inp, float[] w, float[] bias, int N, int C, int OC,
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

    /**
     * Heads [from,to) of one new token at position t against the KV cache: the arithmetic of
     * {@link #attentionForward}'s row t (scores as FMA chains over the head's channels, float
     * softmax, outputs as FMA chains over positions), so cached decoding matches it bit for bit.
     */
    static void attentionDecode(float[] out, float[] scores, float[] qkv, float[] kCache, float[] vCache, int t,
                                int T, int C, int NH, int from, int to) {
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
            java.util.Arrays.fill(out, q, q + hs, 0f);
            for (int t2 = 0; t2 <= t; t2++) {
                float wt = scores[a + t2];
                int v = t2 * C + q;
                for (int i = 0; i < hs; i++) {
                    out[q + i] = Math.fma(wt, vCache[v + i], out[q + i]);
                }
            }
        }
    }

    /** out = max(inp, 0) on [from, to); the same values as the reference's branch (-0 and NaN give 0). */
    static void reluForward(float[] out, float[] inp, int from, int to) {
        int i = from;
        FloatVector zero = FloatVector.zero(Gemm.S);
        for (; i + Gemm.L <= to; i += Gemm.L) {
            FloatVector x = FloatVector.fromArray(Gemm.S, inp, i);
            zero.blend(x, x.compare(jdk.incubator.vector.VectorOperators.GT, 0f)).intoArray(out, i);
        }
        for (; i < to; i++) {
            out[i] = inp[i] > 0f ? inp[i] : 0f;
        }
    }

    /** dinp += dout where out > 0, on [from, to); other lanes are left untouched, as in the reference. */
    static void reluBackward(float[] dinp, float[] out, float[] dout, int from, int to) {
        int i = from;
        for (; i + Gemm.L <= to; i += Gemm.L) {
            var keep = FloatVector.fromArray(Gemm.S, out, i).compare(jdk.incubator.vector.VectorOperators.GT, 0f);
            FloatVector.fromArray(Gemm.S, dinp, i).add(FloatVector.fromArray(Gemm.S, dout, i), keep).intoArray(dinp, i);
        }
        for (; i < to; i++) {
            if (out[i] > 0f) {
                dinp[i] += dout[i];
            }
        }
    }

    /**
     * w[off, off+n) = softmax(w * scale), in place: the causal row of attention weights, shared by the
     * batched forward and KV-cache decoding so both give the same bits. Vector {@link #exp} (Math.exp
     * per element was most of the small model's attention forward); a row's last, partial vector
     * is masked rather than done in scalars, since most of the small model's rows are shorter than
     * a vector. The sum runs in lanes, then the lanes in order, so it has one order.
     */
    static void softmaxRow(float[] w, int off, int n, float scale) {
        FloatVector sv = FloatVector.broadcast(Gemm.S, scale);
        FloatVector mx = FloatVector.broadcast(Gemm.S, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < n; i += Gemm.L) {
            VectorMask<Float> m = Gemm.S.indexInRange(i, n);
            FloatVector x = FloatVector.fromArray(Gemm.S, w, off + i, m).mul(sv);
            x.intoArray(w, off + i, m);
            mx = mx.lanewise(VectorOperators.MAX, x, m);
        }
        FloatVector mv = FloatVector.broadcast(Gemm.S, mx.reduceLanes(VectorOperators.MAX)); // max has one answer
        FloatVector acc = FloatVector.zero(Gemm.S);
        for (int i = 0; i < n; i += Gemm.L) {
            VectorMask<Float> m = Gemm.S.indexInRange(i, n);
            FloatVector e = exp(FloatVector.fromArray(Gemm.S, w, off + i, m).sub(mv));
            e.intoArray(w, off + i, m);
            acc = acc.add(e, m);
        }
        FloatVector inv = FloatVector.broadcast(Gemm.S, 1f / sumLanes(acc));
        for (int i = 0; i < n; i += Gemm.L) {
            VectorMask<Float> m = Gemm.S.indexInRange(i, n);
            FloatVector.fromArray(Gemm.S, w, off + i, m).mul(inv).intoArray(w, off + i, m);
        }
    }

    // exp(x) in float as Cephes' expf computes it: x = n ln2 + r with |r| <= ln2/2, a degree-6
    // polynomial for e^r (within 2 ulp), times 2^n built in the exponent bits. Only IEEE adds,
    // multiplies, FMAs and exact conversions, which the interpreter and C2 compute alike, so the
    // result has the same bits before and after JIT compilation (Math.exp per lane would not vectorise).
    private static final float LOG2E = 1.44269504088896341f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float ROUND = 12582912f; // 1.5 * 2^23: adding it rounds to an integer
    private static final float EXP_MIN = -87.33654f; // below, e^x is under the smallest normal float: 0
    private static final float P0 = 1.9875691500E-4f, P1 = 1.3981999507E-3f, P2 = 8.3334519073E-3f,
            P3 = 4.1665795894E-2f, P4 = 1.6666665459E-1f, P5 = 5.0000001201E-1f;

    /** e^x for x <= 0 (softmax's x - max); 0 below {@link #EXP_MIN}. */
    static FloatVector exp(FloatVector x) {
        FloatVector n = x.fma(LOG2E, ROUND).sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(Gemm.S, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(Gemm.S, -LN2_LO), r);
        FloatVector p = r.fma(P0, P1).fma(r, FloatVector.broadcast(Gemm.S, P2)).fma(r, FloatVector.broadcast(Gemm.S, P3))
                .fma(r, FloatVector.broadcast(Gemm.S, P4)).fma(r, FloatVector.broadcast(Gemm.S, P5));
        FloatVector y = p.fma(r.mul(r), r).add(1f);
        FloatVector scale = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23)
                .reinterpretAsFloats();
        return y.mul(scale).blend(0f, x.compare(VectorOperators.LT, EXP_MIN));
    }

    /**
     * The lanes of {@code v} added in lane order. Not reduceLanes(ADD): its order of additions is
     * unspecified and does differ between the interpreter and C2, which made runs non-reproducible.
     */
    static float sumLanes(FloatVector v) {
        float s = 0f;
        for (int l = 0; l < Gemm.L; l++) {
            s += v.lane(l);
        }
        return s;
    }

    /**
     * LayerNorm rows [from, to) with float vector sums (lanes, then the lanes in order), as RefKernels does
     * it in double: mean, biased variance, (x - mean) * rstd * w + b. Each row has one owner.
     */
    static void layerNormForward(float[] out, float[] mean, float[] rstd, float[] inp, float[] w, float[] b, int C,
                                 int from, int to) {
        int cv = C - C % Gemm.L;
        for (int n = from; n < to; n++) {
            int x = n * C;
            FloatVector acc = FloatVector.zero(Gemm.S);
            for (int c = 0; c < cv; c += Gemm.L) {
                acc = acc.add(FloatVector.fromArray(Gemm.S, inp, x + c));
            }
            float sum = sumLanes(acc);
            for (int c = cv; c < C; c++) {
                sum += inp[x + c];
            }
            float m = sum / C;
            FloatVector mv = FloatVector.broadcast(Gemm.S, m);
            FloatVector sq = FloatVector.zero(Gemm.S);
            for (int c = 0; c < cv; c += Gemm.L) {
                FloatVector d = FloatVector.fromArray(Gemm.S, inp, x + c).sub(mv);
                sq = d.fma(d, sq);
            }
            float var = sumLanes(sq);
            for (int c = cv; c < C; c++) {
                float d = inp[x + c] - m;
                var += d * d;
            }
            float s = (float) (1.0 / Math.sqrt(var / C + org.gptjvm.engine.RefKernels.LN_EPS));
            FloatVector sv = FloatVector.broadcast(Gemm.S, s);
            for (int c = 0; c < cv; c += Gemm.L) {
                FloatVector.fromArray(Gemm.S, inp, x + c).sub(mv).mul(sv).fma(FloatVector.fromArray(Gemm.S, w, c),
                        FloatVector.fromArray(Gemm.S, b, c)).intoArray(out, x + c);
            }
            for (int c = cv; c < C; c++) {
                out[x + c] = (inp[x + c] - m) * s * w[c] + b[c];
            }
            mean[n] = m;
            rstd[n] = s;
        }
    }

    /** LayerNorm's input gradient for rows [from, to) (RefKernels.layerNormBackwardInput, vectorised). */
    static void layerNormBackwardInput(float[] dinp, float[] dout, float[] inp, float[] w, float[] mean, float[] rstd,
                                       int C, int from, int to) {
        int cv = C - C % Gemm.L;
        for (int n = from; n < to; n++) {
            int x = n * C;
            float m = mean[n], s = rstd[n];
            FloatVector mv = FloatVector.broadcast(Gemm.S, m), sv = FloatVector.broadcast(Gemm.S, s);
            FloatVector a1 = FloatVector.zero(Gemm.S), a2 = FloatVector.zero(Gemm.S);
            for (int c = 0; c < cv; c += Gemm.L) {
                FloatVector norm = FloatVector.fromArray(Gemm.S, inp, x + c).sub(mv).mul(sv);
                FloatVector dnorm = FloatVector.fromArray(Gemm.S, w, c).mul(FloatVector.fromArray(Gemm.S, dout, x + c));
                a1 = a1.add(dnorm);
                a2 = dnorm.fma(norm, a2);
            }
            float sumDnorm = sumLanes(a1);
            float sumDnormNorm = sumLanes(a2);
            for (int c = cv; c < C; c++) {
                float norm = (inp[x + c] - m) * s;
                float dnorm = w[c] * dout[x + c];
                sumDnorm += dnorm;
                sumDnormNorm += dnorm * norm;
            }
            float dnormMean = sumDnorm / C, dnormNormMean = sumDnormNorm / C;
            FloatVector dm = FloatVector.broadcast(Gemm.S, dnormMean), dnm = FloatVector.broadcast(Gemm.S, dnormNormMean);
            for (int c = 0; c < cv; c += Gemm.L) {
                FloatVector norm = FloatVector.fromArray(Gemm.S, inp, x + c).sub(mv).mul(sv);
                FloatVector dnorm = FloatVector.fromArray(Gemm.S, w, c).mul(FloatVector.fromArray(Gemm.S, dout, x + c));
                dnorm.sub(dm).sub(norm.mul(dnm)).fma(sv, FloatVector.fromArray(Gemm.S, dinp, x + c)).intoArray(dinp, x + c);
            }
            for (int c = cv; c < C; c++) {
                float norm = (inp[x + c] - m) * s;
                float dnorm = w[c] * dout[x + c];
                dinp[x + c] += (dnorm - dnormMean - norm * dnormNormMean) * s;
            }
        }
    }

    /**
     * LayerNorm's weight and bias gradients for channels [from, to): rows summed in order, a vector
     * of channels at a time (so every channel's sum has one order whatever the split).
     */
    static void layerNormBackwardParams(float[] dw, float[] db, float[] dout, float[] inp, float[] mean, float[] rstd,
                                        int N, int C, int from, int to) {
        int c = from;
        for (; c + Gemm.L <= to; c += Gemm.L) {
            FloatVector sw = FloatVector.zero(Gemm.S), sb = FloatVector.zero(Gemm.S);
            for (int n = 0; n < N; n++) {
                FloatVector d = FloatVector.fromArray(Gemm.S, dout, n * C + c);
                FloatVector norm = FloatVector.fromArray(Gemm.S, inp, n * C + c).sub(mean[n]).mul(rstd[n]);
                sw = d.fma(norm, sw);
                sb = sb.add(d);
            }
            FloatVector.fromArray(Gemm.S, dw, c).add(sw).intoArray(dw, c);
            FloatVector.fromArray(Gemm.S, db, c).add(sb).intoArray(db, c);
        }
        for (; c < to; c++) {
            float sw = 0f, sb = 0f;
            for (int n = 0; n < N; n++) {
                float d = dout[n * C + c];
                sw = Math.fma(d, (inp[n * C + c] - mean[n]) * rstd[n], sw);
                sb += d;
            }
            dw[c] += sw;
            db[c] += sb;
        }
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
            // column sums of dout, a vector of columns at a time so each row is read contiguously
            // (a column walk strides OC floats per element); each column still adds its rows in order
            int o = from;
            for (; o + Gemm.L <= to; o += Gemm.L) {
                FloatVector s = FloatVector.zero(Gemm.S);
                for (int n = 0; n < N; n++) {
                    s = s.add(FloatVector.fromArray(Gemm.S, dout, n * OC + o));
                }
                FloatVector.fromArray(Gemm.S, dbias, o).add(s).intoArray(dbias, o);
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

    /** Per-thread scratch for attention: K^T or V^T, a T x T gradient block, a T x T dropped block and its mask. */
    static final class AttentionScratch {
        final float[] transposed, grad, dropped, mask;

        AttentionScratch(int T, int hs) {
            transposed = new float[hs * T];
            grad = new float[T * T];
            dropped = new float[T * T];
            mask = new float[T * T];
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

    /**
     * The (b,h) block of attention weights after dropout, in the thread's scratch, and the mask's
     * factors in {@code s.mask} for the backward pass. Only the causal triangle is hashed: above
     * it the weights are 0 whatever the mask.
     */
    private static float[] dropped(float[] att, int a, int T, long seed, int salt, float dropout, AttentionScratch s) {
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
                softmaxRow(att, row, t + 1, scale);
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
                Gemm.gemm(r0, r1, hs, r1, g, 0, T, 1, qkv, k, C3, dqkv, q, C3);
            }
            Gemm.gemm(0, T, hs, T, g, 0, 1, T, qkv, q, C3, dqkv, k, C3);
        }
    }
}
