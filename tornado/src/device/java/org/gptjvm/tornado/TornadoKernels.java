package org.gptjvm.tornado;

import org.gptjvm.engine.AdamW;
import org.gptjvm.engine.DropoutMask;
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
 * <p>Every float buffer lives in one device array, {@code mem}, and is passed as its offset there.
 * One array keeps the TaskGraphs small (TornadoVM's graph holds ~1000 nodes) and lets a kernel
 * read and write the same array (TornadoVM's graph compiler does not terminate when a task names
 * one array twice). Only host inputs (AdamW's step scalars) and int buffers are arrays of their own.
 *
 * <p>Where the reference loop carries a dependence across the parallel dimension (attention's
 * backward pass sums over query positions into each key and value), it is split into several
 * kernels, each one parallel over the elements it writes.
 */
public final class TornadoKernels {
    private TornadoKernels() {
    }

    // ------------------------------------------------------------------ utilities

    public static void zero(FloatArray mem, int a, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            mem.set(a + i, 0f);
        }
    }

    /** Names arrays in a task so TornadoVM moves them; computes nothing. */
    public static void touch(FloatArray mem) {
        if (mem.getSize() < 0) {
            mem.set(0, 0f);
        }
    }

    /** The dropout factor of element {@code index}: the engine's DropoutMask, so masks match the host backends. */
    static float dropScale(int seedLo, int seedHi, int salt, int index, float p) {
        return DropoutMask.scale(DropoutMask.seed(seedLo, seedHi), salt, index, p);
    }

    // ------------------------------------------------------------------ encoder

    public static void encoderForward(FloatArray mem, int out, IntArray idx, int wte, int wpe, int BT, int T, int C, int hasPos) {
        for (@Parallel int bt = 0; bt < BT; bt++) {
            for (@Parallel int c = 0; c < C; c++) {
                float pos = hasPos == 1 ? mem.get(wpe + (bt % T) * C + c) : 0f;
                mem.set(out + bt * C + c, mem.get(wte + idx.get(bt) * C + c) + pos);
            }
        }
    }

    /** Channels in parallel; rows in order, so repeated tokens add up deterministically. */
    public static void encoderBackwardWte(FloatArray mem, int dwte, int dout, IntArray idx, int BT, int C) {
        for (@Parallel int c = 0; c < C; c++) {
            for (int bt = 0; bt < BT; bt++) {
                int r = idx.get(bt) * C + c;
                mem.set(dwte + r, mem.get(dwte + r) + mem.get(dout + bt * C + c));
            }
        }
    }

    public static void encoderBackwardWpe(FloatArray mem, int dwpe, int dout, int B, int T, int C) {
        for (@Parallel int t = 0; t < T; t++) {
            for (@Parallel int c = 0; c < C; c++) {
                float s = mem.get(dwpe + t * C + c);
                for (int b = 0; b < B; b++) {
                    s += mem.get(dout + (b * T + t) * C + c);
                }
                mem.set(dwpe + t * C + c, s);
            }
        }
    }

    public static void embedToken(FloatArray mem, int out, IntArray tokPos, int wte, int wpe, int C, int hasPos) {
        for (@Parallel int c = 0; c < C; c++) {
            int tok = tokPos.get(0);
            float pos = hasPos == 1 ? mem.get(wpe + tokPos.get(1) * C + c) : 0f;
            mem.set(out + c, mem.get(wte + tok * C + c) + pos);
        }
    }

    // ------------------------------------------------------------------ layernorm

    public static void layerNormForward(FloatArray mem, int out, int mean, int rstd, int inp, int w, int b, int N, int C) {
        for (@Parallel int n = 0; n < N; n++) {
            int x = n * C;
            float sum = 0f;
            for (int c = 0; c < C; c++) {
                sum += mem.get(inp + x + c);
            }
            float m = sum / C;
            float sq = 0f;
            for (int c = 0; c < C; c++) {
                float d = mem.get(inp + x + c) - m;
                sq += d * d;
            }
            float s = 1f / TornadoMath.sqrt(sq / C + 1e-5f);
            for (int c = 0; c < C; c++) {
                mem.set(out + x + c, (mem.get(inp + x + c) - m) * s * mem.get(w + c) + mem.get(b + c));
            }
            mem.set(mean + n, m);
            mem.set(rstd + n, s);
        }
    }

    public static void layerNormBackwardInput(FloatArray mem, int dinp, int dout, int inp, int w, int mean, int rstd, int N, int C) {
        for (@Parallel int n = 0; n < N; n++) {
            int x = n * C;
            float m = mem.get(mean + n), s = mem.get(rstd + n);
            float sumDnorm = 0f, sumDnormNorm = 0f;
            for (int c = 0; c < C; c++) {
                float norm = (mem.get(inp + x + c) - m) * s;
                float dnorm = mem.get(w + c) * mem.get(dout + x + c);
                sumDnorm += dnorm;
                sumDnormNorm += dnorm * norm;
            }
            float dnormMean = sumDnorm / C, dnormNormMean = sumDnormNorm / C;
            for (int c = 0; c < C; c++) {
                float norm = (mem.get(inp + x + c) - m) * s;
                float dnorm = mem.get(w + c) * mem.get(dout + x + c);
                mem.set(dinp + x + c, mem.get(dinp + x + c) + (dnorm - dnormMean - norm * dnormNormMean) * s);
            }
        }
    }

    public static void layerNormBackwardParams(FloatArray mem, int dw, int db, int dout, int inp, int mean, int rstd, int N, int C) {
        for (@Parallel int c = 0; c < C; c++) {
            float sw = 0f, sb = 0f;
            for (int n = 0; n < N; n++) {
                float d = mem.get(dout + n * C + c);
                sw += d * ((mem.get(inp + n * C + c) - mem.get(mean + n)) * mem.get(rstd + n));
                sb += d;
            }
            mem.set(dw + c, mem.get(dw + c) + sw);
            mem.set(db + c, mem.get(db + c) + sb);
        }
    }

    // ------------------------------------------------------------------ matmul

    /** out(N,OC) = inp(N,C) @ w(OC,C)^T (+ bias when hasBias is 1). */
    public static void matmulForward(FloatArray mem, int out, int inp, int w, int bias, int N, int C, int OC, int hasBias) {
        for (@Parallel int n = 0; n < N; n++) {
            for (@Parallel int o = 0; o < OC; o++) {
                float s = hasBias == 1 ? mem.get(bias + o) : 0f;
                for (int c = 0; c < C; c++) {
                    s += mem.get(inp + n * C + c) * mem.get(w + o * C + c);
                }
                mem.set(out + n * OC + o, s);
            }
        }
    }

    /** dinp(N,C) += dout(N,OC) @ w(OC,C). */
    public static void matmulBackwardInput(FloatArray mem, int dinp, int dout, int w, int N, int C, int OC) {
        for (@Parallel int n = 0; n < N; n++) {
            for (@Parallel int c = 0; c < C; c++) {
                float s = 0f;
                for (int o = 0; o < OC; o++) {
                    s += mem.get(dout + n * OC + o) * mem.get(w + o * C + c);
                }
                mem.set(dinp + n * C + c, mem.get(dinp + n * C + c) + s);
            }
        }
    }

    /** dw(OC,C) += dout^T @ inp: each element sums over all N rows in order. */
    public static void matmulBackwardWeight(FloatArray mem, int dw, int dout, int inp, int N, int C, int OC) {
        for (@Parallel int o = 0; o < OC; o++) {
            for (@Parallel int c = 0; c < C; c++) {
                float s = 0f;
                for (int n = 0; n < N; n++) {
                    s += mem.get(dout + n * OC + o) * mem.get(inp + n * C + c);
                }
                mem.set(dw + o * C + c, mem.get(dw + o * C + c) + s);
            }
        }
    }

    public static void matmulBackwardBias(FloatArray mem, int dbias, int dout, int N, int OC) {
        for (@Parallel int o = 0; o < OC; o++) {
            float s = 0f;
            for (int n = 0; n < N; n++) {
                s += mem.get(dout + n * OC + o);
            }
            mem.set(dbias + o, mem.get(dbias + o) + s);
        }
    }

    // ------------------------------------------------------------------ attention

    /** One work-item per (batch, head, query position): scores, softmax, dropout, weighted values. */
    public static void attentionForward(FloatArray mem, int out, int att, int qkv, IntArray seed, float p, int salt, int B, int T, int C, int NH) {
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
                    d += mem.get(qkv + q + i) * mem.get(qkv + k + i);
                }
                d = d * scale;
                mem.set(att + a + t2, d);
                max = TornadoMath.max(max, d);
            }
            float sum = 0f;
            for (int t2 = 0; t2 <= t; t2++) {
                float e = TornadoMath.exp(mem.get(att + a + t2) - max);
                mem.set(att + a + t2, e);
                sum += e;
            }
            float inv = 1f / sum;
            for (int t2 = 0; t2 < T; t2++) {
                mem.set(att + a + t2, t2 <= t ? mem.get(att + a + t2) * inv : 0f);
            }
            int o = (b * T + t) * C + h * hs;
            for (int i = 0; i < hs; i++) {
                float s = 0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    float wgt = mem.get(att + a + t2);
                    if (p > 0f) {
                        wgt = wgt * dropScale(seed.get(0), seed.get(1), salt, a + t2, p);
                    }
                    s += wgt * mem.get(qkv + (b * T + t2) * 3 * C + 2 * C + h * hs + i);
                }
                mem.set(out + o + i, s);
            }
        }
    }

    /** Backward 1/5: datt[b,h,t,t2] = mask * (dout[b,t,h,:] . v[b,t2,h,:]) for t2 <= t, else 0. */
    public static void attentionBackwardScores(FloatArray mem, int datt, int dout, int qkv, IntArray seed, float p, int salt, int B, int T, int C, int NH) {
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
                        g += mem.get(dout + o + i) * mem.get(qkv + v + i);
                    }
                    if (p > 0f) {
                        g = g * dropScale(seed.get(0), seed.get(1), salt, row * T + t2, p);
                    }
                }
                mem.set(datt + row * T + t2, g);
            }
        }
    }

    /** Backward 2/5: through the softmax, in place: dpre = att * (datt - sum(att * datt)) * hs^-0.5. */
    public static void attentionBackwardSoftmax(FloatArray mem, int datt, int att, int B, int T, int C, int NH) {
        for (@Parallel int row = 0; row < B * NH * T; row++) {
            float scale = 1f / TornadoMath.sqrt((float) (C / NH));
            int t = row % T;
            int a = row * T;
            float dot = 0f;
            for (int t2 = 0; t2 <= t; t2++) {
                dot += mem.get(att + a + t2) * mem.get(datt + a + t2);
            }
            for (int t2 = 0; t2 <= t; t2++) {
                mem.set(datt + a + t2, mem.get(att + a + t2) * (mem.get(datt + a + t2) - dot) * scale);
            }
        }
    }

    /** Backward 3/5: dq[b,t,h,i] += sum over t2 <= t of dpre[b,h,t,t2] * k[b,t2,h,i]. */
    public static void attentionBackwardQuery(FloatArray mem, int dqkv, int dpre, int qkv, int B, int T, int C, int NH) {
        for (@Parallel int bt = 0; bt < B * T; bt++) {
            for (@Parallel int c = 0; c < C; c++) {
                int hs = C / NH;
                int b = bt / T, t = bt % T, h = c / hs;
                int a = ((b * NH + h) * T + t) * T;
                float s = 0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    s += mem.get(dpre + a + t2) * mem.get(qkv + (b * T + t2) * 3 * C + C + c);
                }
                int q = bt * 3 * C + c;
                mem.set(dqkv + q, mem.get(dqkv + q) + s);
            }
        }
    }

    /** Backward 4/5: dk[b,t2,h,i] += sum over t >= t2 of dpre[b,h,t,t2] * q[b,t,h,i]. */
    public static void attentionBackwardKey(FloatArray mem, int dqkv, int dpre, int qkv, int B, int T, int C, int NH) {
        for (@Parallel int bt = 0; bt < B * T; bt++) {
            for (@Parallel int c = 0; c < C; c++) {
                int hs = C / NH;
                int b = bt / T, t2 = bt % T, h = c / hs;
                int a = (b * NH + h) * T * T;
                float s = 0f;
                for (int t = t2; t < T; t++) {
                    s += mem.get(dpre + a + t * T + t2) * mem.get(qkv + (b * T + t) * 3 * C + c);
                }
                int k = bt * 3 * C + C + c;
                mem.set(dqkv + k, mem.get(dqkv + k) + s);
            }
        }
    }

    /** Backward 5/5: dv[b,t2,h,i] += sum over t >= t2 of dropout(att)[b,h,t,t2] * dout[b,t,h,i]. */
    public static void attentionBackwardValue(FloatArray mem, int dqkv, int att, int dout, IntArray seed, float p, int salt, int B, int T, int C, int NH) {
        for (@Parallel int bt = 0; bt < B * T; bt++) {
            for (@Parallel int c = 0; c < C; c++) {
                int hs = C / NH;
                int b = bt / T, t2 = bt % T, h = c / hs;
                int a = (b * NH + h) * T * T;
                float s = 0f;
                for (int t = t2; t < T; t++) {
                    float wgt = mem.get(att + a + t * T + t2);
                    if (p > 0f) {
                        wgt = wgt * dropScale(seed.get(0), seed.get(1), salt, a + t * T + t2, p);
                    }
                    s += wgt * mem.get(dout + (b * T + t) * C + c);
                }
                int v = bt * 3 * C + 2 * C + c;
                mem.set(dqkv + v, mem.get(dqkv + v) + s);
            }
        }
    }

    /** One new token against the KV cache, one work-item per head (see Backend.attentionDecode). */
    public static void attentionDecode(FloatArray mem, int out, int scores, int qkv, int kCache, int vCache, IntArray tokPos, int T, int C, int NH) {
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

    // ------------------------------------------------------------------ elementwise

    public static void reluForward(FloatArray mem, int out, int inp, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float x = mem.get(inp + i);
            mem.set(out + i, x > 0f ? x : 0f);
        }
    }

    public static void reluBackward(FloatArray mem, int dinp, int out, int dout, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            if (mem.get(out + i) > 0f) {
                mem.set(dinp + i, mem.get(dinp + i) + mem.get(dout + i));
            }
        }
    }

    public static void residualForward(FloatArray mem, int out, int a, int b, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            mem.set(out + i, mem.get(a + i) + mem.get(b + i));
        }
    }

    public static void residualBackward(FloatArray mem, int da, int db, int dout, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float d = mem.get(dout + i);
            mem.set(da + i, mem.get(da + i) + d);
            mem.set(db + i, mem.get(db + i) + d);
        }
    }

    public static void dropoutForward(FloatArray mem, int out, int inp, IntArray seed, float p, int salt, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            mem.set(out + i, mem.get(inp + i) * dropScale(seed.get(0), seed.get(1), salt, i, p));
        }
    }

    public static void dropoutBackward(FloatArray mem, int dinp, int dout, IntArray seed, float p, int salt, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            mem.set(dinp + i, mem.get(dinp + i) + mem.get(dout + i) * dropScale(seed.get(0), seed.get(1), salt, i, p));
        }
    }

    // ------------------------------------------------------------------ loss

    public static void crossEntropyForward(FloatArray mem, int losses, int probs, int logits, IntArray targets, int N, int V) {
        for (@Parallel int n = 0; n < N; n++) {
            int x = n * V;
            float max = -3.4e38f;
            for (int v = 0; v < V; v++) {
                max = TornadoMath.max(max, mem.get(logits + x + v));
            }
            double sum = 0;
            for (int v = 0; v < V; v++) {
                float e = TornadoMath.exp(mem.get(logits + x + v) - max);
                mem.set(probs + x + v, e);
                sum += e;
            }
            float inv = (float) (1.0 / sum);
            for (int v = 0; v < V; v++) {
                mem.set(probs + x + v, mem.get(probs + x + v) * inv);
            }
            mem.set(losses + n, (float) TornadoMath.log(sum) - (mem.get(logits + x + targets.get(n)) - max));
        }
    }

    /** A single work-item: the mean of N losses, summed in order in double (the loss the run reports). */
    public static void meanLoss(FloatArray mem, int loss, int losses, int N) {
        double sum = 0;
        for (int n = 0; n < N; n++) {
            sum += mem.get(losses + n);
        }
        mem.set(loss + 0, (float) (sum / N));
    }

    public static void crossEntropyBackward(FloatArray mem, int dlogits, int probs, IntArray targets, int N, int V) {
        for (@Parallel int n = 0; n < N; n++) {
            for (@Parallel int v = 0; v < V; v++) {
                float indicator = v == targets.get(n) ? 1f : 0f;
                int i = n * V + v;
                mem.set(dlogits + i, mem.get(dlogits + i) + (mem.get(probs + i) - indicator) / N);
            }
        }
    }

    // ------------------------------------------------------------------ optimizer

    /** torch.optim.AdamW, as RefKernels.adamw; hyper holds the engine's AdamW scalars, written per step. */
    public static void adamw(FloatArray mem, int p, int g, int m, int v, FloatArray hyper, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float decay = hyper.get(AdamW.DECAY), oneMinusBeta1 = hyper.get(AdamW.ONE_MINUS_BETA1);
            float beta2 = hyper.get(AdamW.BETA2), oneMinusBeta2 = hyper.get(AdamW.ONE_MINUS_BETA2);
            float stepSize = hyper.get(AdamW.STEP_SIZE), bc2Sqrt = hyper.get(AdamW.BC2_SQRT), eps = hyper.get(AdamW.EPS);
            float grad = mem.get(g + i);
            float mi = mem.get(m + i) + (grad - mem.get(m + i)) * oneMinusBeta1;
            float vi = mem.get(v + i) * beta2 + oneMinusBeta2 * grad * grad;
            float denom = TornadoMath.sqrt(vi) / bc2Sqrt + eps;
            mem.set(p + i, mem.get(p + i) * decay - stepSize * (mi / denom));
            mem.set(m + i, mi);
            mem.set(v + i, vi);
        }
    }
}
