package org.gptjvm.engine.ref;

import org.gptjvm.engine.AdamW;
import org.gptjvm.engine.DropoutMask;

/**
 * The kernels as the plainest loops: the readable specification every other backend is tested
 * against. Each kernel takes a half-open range [from, to) of the dimension it is split over, so the
 * reference backend can hand disjoint ranges to threads. Every output element is computed by
 * exactly one range, with a fixed summation order, so results do not depend on the thread count.
 */
public final class RefKernels {
    public static final float LN_EPS = 1e-5f;

    private RefKernels() {
    }

    // ------------------------------------------------------------------ encoder

    /** Rows [from,to) of B*T: out[bt,:] = wte[idx[bt],:] + wpe[t,:]. */
    public static void encoderForward(float[] out, int[] idx, float[] wte, float[] wpe, int T, int C,
                                      int from, int to) {
        for (int bt = from; bt < to; bt++) {
            int t = bt % T;
            int ix = idx[bt];
            for (int c = 0; c < C; c++) {
                out[bt * C + c] = wte[ix * C + c] + (wpe != null ? wpe[t * C + c] : 0f);
            }
        }
    }

    /**
     * Channels [from,to) of C: dwte[v] += the sum of dout over the rows whose token is v, and
     * dwpe[t] += the sum over the batch at position t, both in double, rows in order. {@code rowSums}
     * (the calling thread's) holds one double per token row of dwte.
     */
    public static void encoderBackward(float[] dwte, float[] dwpe, float[] dout, int[] idx, int BT, int T, int C,
                                       double[] rowSums, int from, int to) {
        int V = dwte.length / C;
        for (int c = from; c < to; c++) {
            java.util.Arrays.fill(rowSums, 0, V, 0.0);
            for (int bt = 0; bt < BT; bt++) {
                rowSums[idx[bt]] += dout[bt * C + c];
            }
            for (int v = 0; v < V; v++) {
                dwte[v * C + c] += (float) rowSums[v];
            }
            if (dwpe != null) {
                for (int t = 0; t < T; t++) {
                    double s = 0;
                    for (int bt = t; bt < BT; bt += T) {
                        s += dout[bt * C + c];
                    }
                    dwpe[t * C + c] += (float) s;
                }
            }
        }
    }

    // ------------------------------------------------------------------ layernorm

    public static void layerNormForward(float[] out, float[] mean, float[] rstd, float[] inp, float[] w, float[] b,
                                        int C, int from, int to) {
        for (int n = from; n < to; n++) {
            int x = n * C;
            double sum = 0;
            for (int c = 0; c < C; c++) {
                sum += inp[x + c];
            }
            float m = (float) (sum / C);
            double sq = 0;
            for (int c = 0; c < C; c++) {
                double d = inp[x + c] - (sum / C);
                sq += d * d;
            }
            float v = (float) (sq / C);
            float s = (float) (1.0 / Math.sqrt(v + LN_EPS));
            for (int c = 0; c < C; c++) {
                out[x + c] = (inp[x + c] - m) * s * w[c] + b[c];
            }
            mean[n] = m;
            rstd[n] = s;
        }
    }

    /** Rows [from,to): the input gradient. */
    public static void layerNormBackwardInput(float[] dinp, float[] dout, float[] inp, float[] w, float[] mean,
                                              float[] rstd, int C, int from, int to) {
        for (int n = from; n < to; n++) {
            int x = n * C;
            float m = mean[n], s = rstd[n];
            double sumDnorm = 0, sumDnormNorm = 0;
            for (int c = 0; c < C; c++) {
                float norm = (inp[x + c] - m) * s;
                float dnorm = w[c] * dout[x + c];
                sumDnorm += dnorm;
                sumDnormNorm += (double) dnorm * norm;
            }
            float dnormMean = (float) (sumDnorm / C);
            float dnormNormMean = (float) (sumDnormNorm / C);
            for (int c = 0; c < C; c++) {
                float norm = (inp[x + c] - m) * s;
                float dnorm = w[c] * dout[x + c];
                dinp[x + c] += (dnorm - dnormMean - norm * dnormNormMean) * s;
            }
        }
    }

    /** Channels [from,to): weight and bias gradients, summed over rows in order. */
    public static void layerNormBackwardParams(float[] dw, float[] db, float[] dout, float[] inp, float[] mean,
                                               float[] rstd, int N, int C, int from, int to) {
        for (int c = from; c < to; c++) {
            double sw = 0, sb = 0;
            for (int n = 0; n < N; n++) {
                float norm = (inp[n * C + c] - mean[n]) * rstd[n];
                sw += (double) dout[n * C + c] * norm;
                sb += dout[n * C + c];
            }
            dw[c] += (float) sw;
            db[c] += (float) sb;
        }
    }

    // ------------------------------------------------------------------ matmul

    /** Rows [from,to) of N: out = inp @ w^T + bias. */
    public static void matmulForward(float[] out, float[] inp, float[] w, float[] bias, int C, int OC,
                                     int from, int to) {
        for (int n = from; n < to; n++) {
            for (int o = 0; o < OC; o++) {
                double val = bias != null ? bias[o] : 0.0;
                for (int c = 0; c < C; c++) {
                    val += (double) inp[n * C + c] * w[o * C + c];
                }
                out[n * OC + o] = (float) val;
            }
        }
    }

    /** Rows [from,to) of N: dinp = dout @ w, each element summed over the OC outputs in double. */
    public static void matmulBackwardInput(float[] dinp, float[] dout, float[] w, int C, int OC, int from, int to) {
        matmulBackwardInput(dinp, dout, w, null, C, OC, from, to);
    }

    /**
     * Rows [from,to) of N: dinp = dout @ w where {@code reluOut} > 0, 0 elsewhere (the input was a
     * ReLU's output and dinp is the gradient of the ReLU's input; null: everywhere).
     */
    public static void matmulBackwardInput(float[] dinp, float[] dout, float[] w, float[] reluOut, int C, int OC,
                                           int from, int to) {
        for (int n = from; n < to; n++) {
            for (int c = 0; c < C; c++) {
                if (reluOut != null && !(reluOut[n * C + c] > 0f)) {
                    dinp[n * C + c] = 0f;
                    continue;
                }
                double s = 0;
                for (int o = 0; o < OC; o++) {
                    s += (double) dout[n * OC + o] * w[o * C + c];
                }
                dinp[n * C + c] = (float) s;
            }
        }
    }

    /** Output channels [from,to) of OC: dw += dout^T @ inp, dbias += column sums of dout, over rows in order in double. */
    public static void matmulBackwardWeight(float[] dw, float[] dbias, float[] dout, float[] inp, int N, int C, int OC,
                                            int from, int to) {
        for (int o = from; o < to; o++) {
            for (int c = 0; c < C; c++) {
                double s = 0;
                for (int n = 0; n < N; n++) {
                    s += (double) dout[n * OC + o] * inp[n * C + c];
                }
                dw[o * C + c] += (float) s;
            }
            if (dbias != null) {
                double s = 0;
                for (int n = 0; n < N; n++) {
                    s += dout[n * OC + o];
                }
                dbias[o] += (float) s;
            }
        }
    }

    // ------------------------------------------------------------------ attention

    /** Rows [from,to) of B*NH*T, one (batch, head, query position) each. */
    public static void attentionForward(float[] out, float[] att, float[] qkv, long seed, int base, float dropout,
                                        int salt, int T, int C, int NH, int from, int to) {
        int hs = C / NH;
        for (int row = from; row < to; row++) {
            int t = row % T;
            int h = (row / T) % NH;
            int b = row / (T * NH);
            int keys = b * T * 3 * C + C + h * hs;
            attendRow(qkv, (b * T + t) * 3 * C + h * hs, qkv, keys, qkv, keys + C, 3 * C, t, T, hs, att, row * T,
                    seed, base, salt, dropout, out, (b * T + t) * C + h * hs);
        }
    }

    /**
     * Heads [from,to) of one new token at position t: store its key and value in row t of the caches,
     * then attend over rows 0..t with {@link #attendRow}, as {@link #attentionForward} does for row t.
     */
    public static void attentionDecode(float[] out, float[] scores, float[] qkv, float[] kCache, float[] vCache,
                                       int t, int T, int C, int NH, int from, int to) {
        int hs = C / NH;
        for (int h = from; h < to; h++) {
            int q = h * hs;
            System.arraycopy(qkv, C + q, kCache, t * C + q, hs);
            System.arraycopy(qkv, 2 * C + q, vCache, t * C + q, hs);
            attendRow(qkv, q, kCache, q, vCache, q, C, t, T, hs, scores, h * T, 0L, 0, 0, 0f, out, q);
        }
    }

    /**
     * One query of causal attention: scores q.k * hs^-0.5 against keys 0..t (row stride {@code stride}),
     * softmax into w[wOff..wOff+T) with weight 0 for future positions, then out = dropout(w) @ v (the
     * mask indexed by w's position). Shared by the batched forward and the KV-cache decode, so both
     * compute the same bits.
     */
    private static void attendRow(float[] q, int qOff, float[] k, int kOff, float[] v, int vOff, int stride, int t,
                                  int T, int hs, float[] w, int wOff, long seed, int base, int salt, float dropout,
                                  float[] out, int oOff) {
        float scale = (float) (1.0 / Math.sqrt(hs));
        float max = Float.NEGATIVE_INFINITY;
        for (int t2 = 0; t2 <= t; t2++) {
            int kr = kOff + t2 * stride;
            double d = 0;
            for (int i = 0; i < hs; i++) {
                d += (double) q[qOff + i] * k[kr + i];
            }
            float dot = (float) d * scale;
            w[wOff + t2] = dot;
            if (dot > max) {
                max = dot;
            }
        }
        double sum = 0;
        for (int t2 = 0; t2 <= t; t2++) {
            float e = (float) Math.exp(w[wOff + t2] - max);
            w[wOff + t2] = e;
            sum += e;
        }
        float inv = (float) (1.0 / sum);
        for (int t2 = 0; t2 < T; t2++) {
            w[wOff + t2] = t2 <= t ? w[wOff + t2] * inv : 0f;
        }
        for (int i = 0; i < hs; i++) {
            double o = 0;
            for (int t2 = 0; t2 <= t; t2++) {
                float wt = w[wOff + t2];
                if (dropout > 0f) {
                    wt *= DropoutMask.scale(seed, salt, base + wOff + t2, dropout);
                }
                o += (double) wt * v[vOff + t2 * stride + i];
            }
            out[oOff + i] = (float) o;
        }
    }

    /**
     * Pairs [from,to) of B*NH, one (batch, head) each. The forward was S = Q K^T * scale,
     * att = softmax(S) over the causal row, P = dropout(att), out = P V. Backward, with every sum in
     * double and {@code dS} (T x T, the calling thread's) holding one pair at a time:
     * <pre>
     *   dV = P^T dout                                  (rows t >= t2)
     *   dA = (dout V^T) * mask                         gradient of att through the dropout
     *   dS = att * (dA - rowsum(att * dA)) * scale     through the softmax and the scale
     *   dQ = dS K,  dK = dS^T Q
     * </pre>
     */
    public static void attentionBackward(float[] dqkv, double[] dS, float[] dout, float[] qkv, float[] att,
                                         long seed, int base, float dropout, int salt, int T, int C, int NH, int from,
                                         int to) {
        int hs = C / NH, C3 = 3 * C;
        double scale = (float) (1.0 / Math.sqrt(hs));
        for (int bh = from; bh < to; bh++) {
            int h = bh % NH, b = bh / NH;
            int a = bh * T * T; // att's (b, h) block
            int q = b * T * C3 + h * hs, k = q + C, v = q + 2 * C, o = b * T * C + h * hs;
            // dV[t2] = sum over t >= t2 of P[t, t2] dout[t]
            for (int t2 = 0; t2 < T; t2++) {
                for (int i = 0; i < hs; i++) {
                    double s = 0;
                    for (int t = t2; t < T; t++) {
                        int at = a + t * T + t2;
                        float p = dropout > 0f ? att[at] * DropoutMask.scale(seed, salt, base + at, dropout) : att[at];
                        s += (double) p * dout[o + t * C + i];
                    }
                    dqkv[v + t2 * C3 + i] = (float) s;
                }
            }
            // dS, row by row
            for (int t = 0; t < T; t++) {
                double dot = 0;
                for (int t2 = 0; t2 <= t; t2++) {
                    double g = 0;
                    for (int i = 0; i < hs; i++) {
                        g += (double) dout[o + t * C + i] * qkv[v + t2 * C3 + i];
                    }
                    if (dropout > 0f) {
                        g *= DropoutMask.scale(seed, salt, base + a + t * T + t2, dropout);
                    }
                    dS[t * T + t2] = g;
                    dot += att[a + t * T + t2] * g;
                }
                for (int t2 = 0; t2 <= t; t2++) {
                    dS[t * T + t2] = att[a + t * T + t2] * (dS[t * T + t2] - dot) * scale;
                }
            }
            // dQ[t] = sum over t2 <= t of dS[t, t2] K[t2]; dK[t2] = sum over t >= t2 of dS[t, t2] Q[t]
            for (int t = 0; t < T; t++) {
                for (int i = 0; i < hs; i++) {
                    double sq = 0, sk = 0;
                    for (int t2 = 0; t2 <= t; t2++) {
                        sq += dS[t * T + t2] * qkv[k + t2 * C3 + i];
                    }
                    for (int t1 = t; t1 < T; t1++) {
                        sk += dS[t1 * T + t] * qkv[q + t1 * C3 + i];
                    }
                    dqkv[q + t * C3 + i] = (float) sq;
                    dqkv[k + t * C3 + i] = (float) sk;
                }
            }
        }
    }

    // ------------------------------------------------------------------ elementwise

    public static void reluForward(float[] out, float[] inp, int from, int to) {
        for (int i = from; i < to; i++) {
            out[i] = inp[i] > 0f ? inp[i] : 0f;
        }
    }

    public static void residualForward(float[] out, float[] a, float[] b, int from, int to) {
        for (int i = from; i < to; i++) {
            out[i] = a[i] + b[i];
        }
    }

    /** The mask of element i is that of element base + i of the combined batch (see {@link DropoutMask}). */
    public static void dropoutForward(float[] out, float[] inp, long seed, int base, float p, int salt, int from,
                                      int to) {
        for (int i = from; i < to; i++) {
            out[i] = inp[i] * DropoutMask.scale(seed, salt, base + i, p);
        }
    }

    public static void dropoutBackward(float[] dinp, float[] dout, long seed, int base, float p, int salt, int from,
                                       int to) {
        for (int i = from; i < to; i++) {
            dinp[i] += dout[i] * DropoutMask.scale(seed, salt, base + i, p);
        }
    }

    // ------------------------------------------------------------------ loss

    /** Rows [from,to) of N: softmax into probs and the negative log-likelihood of the target. */
    public static void crossEntropyForward(float[] losses, float[] probs, float[] logits, int[] targets, int V,
                                           int from, int to) {
        for (int n = from; n < to; n++) {
            int x = n * V;
            float max = Float.NEGATIVE_INFINITY;
            for (int v = 0; v < V; v++) {
                max = Math.max(max, logits[x + v]);
            }
            double sum = 0;
            for (int v = 0; v < V; v++) {
                float e = (float) Math.exp(logits[x + v] - max);
                probs[x + v] = e;
                sum += e;
            }
            for (int v = 0; v < V; v++) {
                probs[x + v] = (float) (probs[x + v] / sum);
            }
            // log-sum-exp form: exact even when the target's probability underflows
            losses[n] = (float) (Math.log(sum) - (logits[x + targets[n]] - max));
        }
    }

    public static void meanLoss(float[] loss, float[] losses, int N) {
        double sum = 0;
        for (int n = 0; n < N; n++) {
            sum += losses[n];
        }
        loss[0] = (float) (sum / N);
    }

    public static void crossEntropyBackward(float[] dlogits, float[] probs, int[] targets, int N, int V,
                                            int from, int to) {
        float inv = 1f / N;
        for (int n = from; n < to; n++) {
            for (int v = 0; v < V; v++) {
                float indicator = v == targets[n] ? 1f : 0f;
                dlogits[n * V + v] += (probs[n * V + v] - indicator) * inv;
            }
        }
    }

    // ------------------------------------------------------------------ optimizer

    /** torch.optim.AdamW (decoupled weight decay, bias correction), element range [from,to); see {@link AdamW}. */
    public static void adamw(float[] p, float[] g, float[] m, float[] v, float[] hyper, int from, int to) {
        double decay = hyper[AdamW.DECAY], oneMinusBeta1 = hyper[AdamW.ONE_MINUS_BETA1], beta2 = hyper[AdamW.BETA2];
        double oneMinusBeta2 = hyper[AdamW.ONE_MINUS_BETA2], stepSize = hyper[AdamW.STEP_SIZE];
        double bc2Sqrt = hyper[AdamW.BC2_SQRT], eps = hyper[AdamW.EPS];
        float scale = hyper[AdamW.GRAD_SCALE];
        for (int i = from; i < to; i++) {
            double grad = g[i] * scale;
            double mi = m[i] + (grad - m[i]) * oneMinusBeta1;
            double vi = v[i] * beta2 + oneMinusBeta2 * grad * grad;
            double denom = Math.sqrt(vi) / bc2Sqrt + eps;
            p[i] = (float) (p[i] * decay - stepSize * (mi / denom));
            m[i] = (float) mi;
            v[i] = (float) vi;
        }
    }
}
