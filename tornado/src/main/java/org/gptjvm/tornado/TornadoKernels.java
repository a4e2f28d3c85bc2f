package org.gptjvm.tornado;

import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * The engine's kernels as TornadoVM compiles them: the reference loops ({@code RefKernels}) over
 * TornadoVM arrays, with the loop that can run in parallel marked {@link Parallel}. Every output
 * element is owned by one work-item and sums run in a fixed order inside it, so a device needs no
 * atomics, any shape works (no power-of-two work-group assumptions) and results are reproducible.
 * Sizes are plain int parameters: TornadoVM specialises each task on them.
 *
 * <p>Where the reference loop carries a dependence across the parallel dimension (attention's
 * backward pass sums over query positions into each key and value), it is split into several
 * kernels, each one parallel over the elements it writes.
 */
public final class TornadoKernels {
    private TornadoKernels() {
    }

    // ------------------------------------------------------------------ utilities

    public static void zero(FloatArray a, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            a.set(i, 0f);
        }
    }

    /** Names arrays in a task so TornadoVM moves them; computes nothing. */
    public static void touch(FloatArray a, FloatArray b, FloatArray c, FloatArray d, FloatArray e, FloatArray f,
                             FloatArray g, FloatArray h) {
        if (a.getSize() < 0) {
            a.set(0, b.get(0) + c.get(0) + d.get(0) + e.get(0) + f.get(0) + g.get(0) + h.get(0));
        }
    }

    /** The dropout factor of element {@code index}: DropoutMask.scale, spelled out for the device. */
    static float dropScale(int seedLo, int seedHi, int salt, int index, float p) {
        long seed = (((long) seedHi) << 32) | (seedLo & 0xffffffffL);
        long z = seed + 0x9E3779B97F4A7C15L * ((((long) salt) << 32) ^ (index & 0xffffffffL) ^ 0x632BE59BD9B4E019L);
        // x >>> k written as (x >> k) & mask: the same bits in Java, and right on a device whose
        // compiled code shifts signed longs arithmetically
        z = (z ^ ((z >> 30) & 0x3FFFFFFFFL)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ ((z >> 27) & 0x1FFFFFFFFFL)) * 0x94D049BB133111EBL;
        z = z ^ ((z >> 31) & 0x1FFFFFFFFL);
        float u = (int) ((z >> 40) & 0xFFFFFFL) * 0x1.0p-24f;
        return u >= p ? 1.0f / (1.0f - p) : 0.0f;
    }

    // ------------------------------------------------------------------ encoder

    public static void encoderForward(FloatArray out, IntArray idx, FloatArray wte, FloatArray wpe, int BT, int T,
                                      int C, int hasPos) {
        for (@Parallel int bt = 0; bt < BT; bt++) {
            for (@Parallel int c = 0; c < C; c++) {
                float pos = hasPos == 1 ? wpe.get((bt % T) * C + c) : 0f;
                out.set(bt * C + c, wte.get(idx.get(bt) * C + c) + pos);
            }
        }
    }

    /** Channels in parallel; rows in order, so repeated tokens add up deterministically. */
    public static void encoderBackwardWte(FloatArray dwte, FloatArray dout, IntArray idx, int BT, int C) {
        for (@Parallel int c = 0; c < C; c++) {
            for (int bt = 0; bt < BT; bt++) {
                int r = idx.get(bt) * C + c;
                dwte.set(r, dwte.get(r) + dout.get(bt * C + c));
            }
        }
    }

    public static void encoderBackwardWpe(FloatArray dwpe, FloatArray dout, int B, int T, int C) {
        for (@Parallel int t = 0; t < T; t++) {
            for (@Parallel int c = 0; c < C; c++) {
                float s = dwpe.get(t * C + c);
                for (int b = 0; b < B; b++) {
                    s += dout.get((b * T + t) * C + c);
                }
                dwpe.set(t * C + c, s);
            }
        }
    }

    public static void embedToken(FloatArray out, IntArray tokPos, FloatArray wte, FloatArray wpe, int C, int hasPos) {
        for (@Parallel int c = 0; c < C; c++) {
            int tok = tokPos.get(0);
            float pos = hasPos == 1 ? wpe.get(tokPos.get(1) * C + c) : 0f;
            out.set(c, wte.get(tok * C + c) + pos);
        }
    }

    // ------------------------------------------------------------------ layernorm

    public static void layerNormForward(FloatArray out, FloatArray mean, FloatArray rstd, FloatArray inp,
                                        FloatArray w, FloatArray b, int N, int C) {
        for (@Parallel int n = 0; n < N; n++) {
            int x = n * C;
            float sum = 0f;
            for (int c = 0; c < C; c++) {
                sum += inp.get(x + c);
            }
            float m = sum / C;
            float sq = 0f;
            for (int c = 0; c < C; c++) {
                float d = inp.get(x + c) - m;
                sq += d * d;
            }
            float s = 1f / TornadoMath.sqrt(sq / C + 1e-5f);
            for (int c = 0; c < C; c++) {
                out.set(x + c, (inp.get(x + c) - m) * s * w.get(c) + b.get(c));
            }
            mean.set(n, m);
            rstd.set(n, s);
        }
    }

    public static void layerNormBackwardInput(FloatArray dinp, FloatArray dout, FloatArray inp, FloatArray w,
                                              FloatArray mean, FloatArray rstd, int N, int C) {
        for (@Parallel int n = 0; n < N; n++) {
            int x = n * C;
            float m = mean.get(n), s = rstd.get(n);
            float sumDnorm = 0f, sumDnormNorm = 0f;
            for (int c = 0; c < C; c++) {
                float norm = (inp.get(x + c) - m) * s;
                float dnorm = w.get(c) * dout.get(x + c);
                sumDnorm += dnorm;
                sumDnormNorm += dnorm * norm;
            }
            float dnormMean = sumDnorm / C, dnormNormMean = sumDnormNorm / C;
            for (int c = 0; c < C; c++) {
                float norm = (inp.get(x + c) - m) * s;
                float dnorm = w.get(c) * dout.get(x + c);
                dinp.set(x + c, dinp.get(x + c) + (dnorm - dnormMean - norm * dnormNormMean) * s);
            }
        }
    }

    public static void layerNormBackwardParams(FloatArray dw, FloatArray db, FloatArray dout, FloatArray inp,
                                               FloatArray mean, FloatArray rstd, int N, int C) {
        for (@Parallel int c = 0; c < C; c++) {
            float sw = 0f, sb = 0f;
            for (int n = 0; n < N; n++) {
                float d = dout.get(n * C + c);
                sw += d * ((inp.get(n * C + c) - mean.get(n)) * rstd.get(n));
                sb += d;
            }
            dw.set(c, dw.get(c) + sw);
            db.set(c, db.get(c) + sb);
        }
    }

    // ------------------------------------------------------------------ matmul

    /** out(N,OC) = inp(N,C) @ w(OC,C)^T (+ bias when hasBias is 1). */
    public static void matmulForward(FloatArray out, FloatArray inp, FloatArray w, FloatArray bias, int N, int C,
                                     int OC, int hasBias) {
        for (@Parallel int n = 0; n < N; n++) {
            for (@Parallel int o = 0; o < OC; o++) {
                float s = hasBias == 1 ? bias.get(o) : 0f;
                for (int c = 0; c < C; c++) {
                    s += inp.get(n * C + c) * w.get(o * C + c);
                }
                out.set(n * OC + o, s);
            }
        }
    }

    /** dinp(N,C) += dout(N,OC) @ w(OC,C). */
    public static void matmulBackwardInput(FloatArray dinp, FloatArray dout, FloatArray w, int N, int C, int OC) {
        for (@Parallel int n = 0; n < N; n++) {
            for (@Parallel int c = 0; c < C; c++) {
                float s = 0f;
                for (int o = 0; o < OC; o++) {
                    s += dout.get(n * OC + o) * w.get(o * C + c);
                }
                dinp.set(n * C + c, dinp.get(n * C + c) + s);
            }
        }
    }

    /** dw(OC,C) += dout^T @ inp: each element sums over all N rows in order. */
    public static void matmulBackwardWeight(FloatArray dw, FloatArray dout, FloatArray inp, int N, int C, int OC) {
        for (@Parallel int o = 0; o < OC; o++) {
            for (@Parallel int c = 0; c < C; c++) {
                float s = 0f;
                for (int n = 0; n < N; n++) {
                    s += dout.get(n * OC + o) * inp.get(n * C + c);
                }
                dw.set(o * C + c, dw.get(o * C + c) + s);
            }
        }
    }

    public static void matmulBackwardBias(FloatArray dbias, FloatArray dout, int N, int OC) {
        for (@Parallel int o = 0; o < OC; o++) {
            float s = 0f;
            for (int n = 0; n < N; n++) {
                s += dout.get(n * OC + o);
            }
            dbias.set(o, dbias.get(o) + s);
        }
    }

    // ------------------------------------------------------------------ attention

    /** One work-item per (batch, head, query position): scores, softmax, dropout, weighted values. */
    public static void attentionForward(FloatArray out, FloatArray att, FloatArray qkv, IntArray seed, float p,
                                        int salt, int B, int T, int C, int NH) {
        for (@Parallel int row = 0; row < B * NH * T; row++) {
            int hs = C / NH;
            float scale = 1f / TornadoMath.sqrt((float) hs);
            int t = row % T;
            int h = (row / T) % NH;
            int b = row / (T * NH);
            int q = (b * T + t) * 3 * C + h * hs;
            int a = row * T;
            float max = -3.4e38f;
            for (int t2 = 0; t2 <= t; t2++) {
                int k = (b * T + t2) * 3 * C + C + h * hs;
                float d = 0f;
                for (int i = 0; i < hs; i++) {
                    d += qkv.get(q + i) * qkv.get(k + i);
                }
                d = d * scale;
                att.set(a + t2, d);
                max = TornadoMath.max(max, d);
            }
            float sum = 0f;
            for (int t2 = 0; t2 <= t; t2++) {
                float e = TornadoMath.exp(att.get(a + t2) - max);
                att.set(a + t2, e);
                sum += e;
            }
            float inv = 1f / sum;
            for (int t2 = 0; t2 < T; t2++) {
                att.set(a + t2, t2 <= t ? att.get(a + t2) * inv : 0f);
            }
            int o = (b * T + t) * C + h * hs;
            for (int i = 0; i < hs; i++) {
                float s = 0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    float wgt = att.get(a + t2);
                    if (p > 0f) {
                        wgt = wgt * dropScale(seed.get(0), seed.get(1), salt, a + t2, p);
                    }
                    s += wgt * qkv.get((b * T + t2) * 3 * C + 2 * C + h * hs + i);
                }
                out.set(o + i, s);
            }
        }
    }

    /** Backward 1/5: datt[b,h,t,t2] = mask * (dout[b,t,h,:] . v[b,t2,h,:]) for t2 <= t, else 0. */
    public static void attentionBackwardScores(FloatArray datt, FloatArray dout, FloatArray qkv, IntArray seed,
                                               float p, int salt, int B, int T, int C, int NH) {
        for (@Parallel int row = 0; row < B * NH * T; row++) {
            for (@Parallel int t2 = 0; t2 < T; t2++) {
                int hs = C / NH;
                int t = row % T;
                int h = (row / T) % NH;
                int b = row / (T * NH);
                float g = 0f;
                if (t2 <= t) {
                    int o = (b * T + t) * C + h * hs;
                    int v = (b * T + t2) * 3 * C + 2 * C + h * hs;
                    for (int i = 0; i < hs; i++) {
                        g += dout.get(o + i) * qkv.get(v + i);
                    }
                    if (p > 0f) {
                        g = g * dropScale(seed.get(0), seed.get(1), salt, row * T + t2, p);
                    }
                }
                datt.set(row * T + t2, g);
            }
        }
    }

    /** Backward 2/5: through the softmax, in place: dpre = att * (datt - sum(att * datt)) * hs^-0.5. */
    public static void attentionBackwardSoftmax(FloatArray datt, FloatArray att, int B, int T, int C, int NH) {
        for (@Parallel int row = 0; row < B * NH * T; row++) {
            float scale = 1f / TornadoMath.sqrt((float) (C / NH));
            int t = row % T;
            int a = row * T;
            float dot = 0f;
            for (int t2 = 0; t2 <= t; t2++) {
                dot += att.get(a + t2) * datt.get(a + t2);
            }
            for (int t2 = 0; t2 <= t; t2++) {
                datt.set(a + t2, att.get(a + t2) * (datt.get(a + t2) - dot) * scale);
            }
        }
    }

    /** Backward 3/5: dq[b,t,h,i] += sum over t2 <= t of dpre[b,h,t,t2] * k[b,t2,h,i]. */
    public static void attentionBackwardQuery(FloatArray dqkv, FloatArray dpre, FloatArray qkv, int B, int T, int C,
                                              int NH) {
        for (@Parallel int bt = 0; bt < B * T; bt++) {
            for (@Parallel int c = 0; c < C; c++) {
                int hs = C / NH;
                int b = bt / T, t = bt % T, h = c / hs;
                int a = ((b * NH + h) * T + t) * T;
                float s = 0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    s += dpre.get(a + t2) * qkv.get((b * T + t2) * 3 * C + C + c);
                }
                int q = bt * 3 * C + c;
                dqkv.set(q, dqkv.get(q) + s);
            }
        }
    }

    /** Backward 4/5: dk[b,t2,h,i] += sum over t >= t2 of dpre[b,h,t,t2] * q[b,t,h,i]. */
    public static void attentionBackwardKey(FloatArray dqkv, FloatArray dpre, FloatArray qkv, int B, int T, int C,
                                            int NH) {
        for (@Parallel int bt = 0; bt < B * T; bt++) {
            for (@Parallel int c = 0; c < C; c++) {
                int hs = C / NH;
                int b = bt / T, t2 = bt % T, h = c / hs;
                int a = (b * NH + h) * T * T;
                float s = 0f;
                for (int t = t2; t < T; t++) {
                    s += dpre.get(a + t * T + t2) * qkv.get((b * T + t) * 3 * C + c);
                }
                int k = bt * 3 * C + C + c;
                dqkv.set(k, dqkv.get(k) + s);
            }
        }
    }

    /** Backward 5/5: dv[b,t2,h,i] += sum over t >= t2 of dropout(att)[b,h,t,t2] * dout[b,t,h,i]. */
    public static void attentionBackwardValue(FloatArray dqkv, FloatArray att, FloatArray dout, IntArray seed, float p,
                                              int salt, int B, int T, int C, int NH) {
        for (@Parallel int bt = 0; bt < B * T; bt++) {
            for (@Parallel int c = 0; c < C; c++) {
                int hs = C / NH;
                int b = bt / T, t2 = bt % T, h = c / hs;
                int a = (b * NH + h) * T * T;
                float s = 0f;
                for (int t = t2; t < T; t++) {
                    float wgt = att.get(a + t * T + t2);
                    if (p > 0f) {
                        wgt = wgt * dropScale(seed.get(0), seed.get(1), salt, a + t * T + t2, p);
                    }
                    s += wgt * dout.get((b * T + t) * C + c);
                }
                int v = bt * 3 * C + 2 * C + c;
                dqkv.set(v, dqkv.get(v) + s);
            }
        }
    }

    /** One new token against the KV cache, one work-item per head (see Backend.attentionDecode). */
    public static void attentionDecode(FloatArray out, FloatArray scores, FloatArray qkv, FloatArray kCache,
                                       FloatArray vCache, IntArray tokPos, int T, int C, int NH) {
        for (@Parallel int h = 0; h < NH; h++) {
            int hs = C / NH;
            float scale = 1f / TornadoMath.sqrt((float) hs);
            int t = tokPos.get(1);
            int q = h * hs;
            for (int i = 0; i < hs; i++) {
                kCache.set(t * C + q + i, qkv.get(C + q + i));
                vCache.set(t * C + q + i, qkv.get(2 * C + q + i));
            }
            int a = h * T;
            float max = -3.4e38f;
            for (int t2 = 0; t2 <= t; t2++) {
                float d = 0f;
                for (int i = 0; i < hs; i++) {
                    d += qkv.get(q + i) * kCache.get(t2 * C + q + i);
                }
                d = d * scale;
                scores.set(a + t2, d);
                max = TornadoMath.max(max, d);
            }
            float sum = 0f;
            for (int t2 = 0; t2 <= t; t2++) {
                float e = TornadoMath.exp(scores.get(a + t2) - max);
                scores.set(a + t2, e);
                sum += e;
            }
            float inv = 1f / sum;
            for (int i = 0; i < hs; i++) {
                float s = 0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    s += scores.get(a + t2) * inv * vCache.get(t2 * C + q + i);
                }
                out.set(q + i, s);
            }
        }
    }

    // ------------------------------------------------------------------ elementwise

    public static void reluForward(FloatArray out, FloatArray inp, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float x = inp.get(i);
            out.set(i, x > 0f ? x : 0f);
        }
    }

    public static void reluBackward(FloatArray dinp, FloatArray out, FloatArray dout, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            if (out.get(i) > 0f) {
                dinp.set(i, dinp.get(i) + dout.get(i));
            }
        }
    }

    public static void residualForward(FloatArray out, FloatArray a, FloatArray b, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            out.set(i, a.get(i) + b.get(i));
        }
    }

    /** x += b: the residual connection written in place (x is both input and output). */
    public static void addInPlace(FloatArray x, FloatArray b, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            x.set(i, x.get(i) + b.get(i));
        }
    }

    public static void residualBackward(FloatArray da, FloatArray db, FloatArray dout, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float d = dout.get(i);
            da.set(i, da.get(i) + d);
            db.set(i, db.get(i) + d);
        }
    }

    public static void dropoutForward(FloatArray out, FloatArray inp, IntArray seed, float p, int salt, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            out.set(i, inp.get(i) * dropScale(seed.get(0), seed.get(1), salt, i, p));
        }
    }

    public static void dropoutInPlace(FloatArray x, IntArray seed, float p, int salt, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            x.set(i, x.get(i) * dropScale(seed.get(0), seed.get(1), salt, i, p));
        }
    }

    public static void dropoutBackward(FloatArray dinp, FloatArray dout, IntArray seed, float p, int salt, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            dinp.set(i, dinp.get(i) + dout.get(i) * dropScale(seed.get(0), seed.get(1), salt, i, p));
        }
    }

    // ------------------------------------------------------------------ loss

    public static void crossEntropyForward(FloatArray losses, FloatArray probs, FloatArray logits, IntArray targets,
                                           int N, int V) {
        for (@Parallel int n = 0; n < N; n++) {
            int x = n * V;
            float max = -3.4e38f;
            for (int v = 0; v < V; v++) {
                max = TornadoMath.max(max, logits.get(x + v));
            }
            float sum = 0f;
            for (int v = 0; v < V; v++) {
                float e = TornadoMath.exp(logits.get(x + v) - max);
                probs.set(x + v, e);
                sum += e;
            }
            float inv = 1f / sum;
            for (int v = 0; v < V; v++) {
                probs.set(x + v, probs.get(x + v) * inv);
            }
            losses.set(n, TornadoMath.log(sum) - (logits.get(x + targets.get(n)) - max));
        }
    }

    /** A single work-item: the mean of N losses, summed in order. */
    public static void meanLoss(FloatArray loss, FloatArray losses, int N) {
        float sum = 0f;
        for (int n = 0; n < N; n++) {
            sum += losses.get(n);
        }
        loss.set(0, sum / N);
    }

    public static void crossEntropyBackward(FloatArray dlogits, FloatArray probs, IntArray targets, int N, int V) {
        for (@Parallel int n = 0; n < N; n++) {
            for (@Parallel int v = 0; v < V; v++) {
                float indicator = v == targets.get(n) ? 1f : 0f;
                int i = n * V + v;
                dlogits.set(i, dlogits.get(i) + (probs.get(i) - indicator) / N);
            }
        }
    }

    // ------------------------------------------------------------------ optimizer

    /** torch.optim.AdamW, as RefKernels.adamw; hyper is the engine's AdamW layout, written per step. */
    public static void adamw(FloatArray p, FloatArray g, FloatArray m, FloatArray v, FloatArray hyper, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float lr = hyper.get(0), beta1 = hyper.get(1), beta2 = hyper.get(2), eps = hyper.get(3);
            float wd = hyper.get(4), stepSize = hyper.get(5), bc2Sqrt = hyper.get(6);
            float grad = g.get(i);
            float mi = m.get(i) + (grad - m.get(i)) * (1f - beta1);
            float vi = v.get(i) * beta2 + (1f - beta2) * grad * grad;
            float denom = TornadoMath.sqrt(vi) / bc2Sqrt + eps;
            p.set(i, p.get(i) * (1f - lr * wd) - stepSize * (mi / denom));
            m.set(i, mi);
            v.set(i, vi);
        }
    }
}
