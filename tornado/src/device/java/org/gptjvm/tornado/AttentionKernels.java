package org.gptjvm.tornado;

import org.gptjvm.engine.DropoutMask;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Causal self-attention's row work; its products (scores = Q K^T * scale, out = dropout(att) V,
 * and the gradients) are {@link GemmKernels} over (batch, head). Forward: the softmax of each causal
 * row of scores, in place. Backward: through the softmax, dS = att * (dA - sum(att * dA)) * scale,
 * with dA = dropout'(dout V^T). One work-group of {@link #WG} per row of T, tree reductions in a
 * fixed order; the row's upper part is written as zeros, which the triangular products rely on.
 */
public final class AttentionKernels {
    /** Work-items per row. */
    public static final int WG = 128;

    private AttentionKernels() {
    }

    /** Row (b, h, t) of {@code att} (B*NH*T rows of T): softmax over 0..t, zero after. */
    public static void softmax(KernelContext kc, FloatArray mem, int att, int T) {
        int row = kc.groupIdx, tid = kc.localIdx, t = row % T, a = att + row * T;
        float[] red = kc.allocateFloatLocalArray(WG);
        float mx = -3.4e38f;
        for (int k = tid; k <= t; k += WG) {
            mx = TornadoMath.max(mx, mem.get(a + k));
        }
        red[tid] = mx;
        for (int half = WG / 2; half > 0; half /= 2) {
            kc.localBarrier();
            if (tid < half) {
                red[tid] = TornadoMath.max(red[tid], red[tid + half]);
            }
        }
        kc.localBarrier();
        float rowMax = red[0];
        kc.localBarrier();
        float s = 0f;
        for (int k = tid; k <= t; k += WG) {
            float e = TornadoMath.exp(mem.get(a + k) - rowMax);
            mem.set(a + k, e);
            s += e;
        }
        red[tid] = s;
        for (int half = WG / 2; half > 0; half /= 2) {
            kc.localBarrier();
            if (tid < half) {
                red[tid] += red[tid + half];
            }
        }
        kc.localBarrier();
        float inv = 1f / red[0];
        for (int k = tid; k < T; k += WG) {
            mem.set(a + k, k <= t ? mem.get(a + k) * inv : 0f);
        }
    }

    /** Row (b, h, t) of {@code grad} (holding dout V^T), in place: dS of the scores. */
    public static void softmaxBackward(KernelContext kc, FloatArray mem, int grad, int att, IntArray seed, float p, int salt,
                                       int T, float scale) {
        int row = kc.groupIdx, tid = kc.localIdx, t = row % T, g = grad + row * T, a = att + row * T;
        long seedValue = DropoutMask.seed(seed.get(0), seed.get(1));
        float[] red = kc.allocateFloatLocalArray(WG);
        float dot = 0f;
        for (int k = tid; k <= t; k += WG) {
            float d = mem.get(g + k);
            if (p > 0f) {
                d = d * DropoutMask.scale(seedValue, salt, row * T + k, p);
                mem.set(g + k, d);
            }
            dot += mem.get(a + k) * d;
        }
        red[tid] = dot;
        for (int half = WG / 2; half > 0; half /= 2) {
            kc.localBarrier();
            if (tid < half) {
                red[tid] += red[tid + half];
            }
        }
        kc.localBarrier();
        float total = red[0];
        for (int k = tid; k < T; k += WG) {
            mem.set(g + k, k <= t ? mem.get(a + k) * (mem.get(g + k) - total) * scale : 0f);
        }
    }

    /** One new token against the KV cache, one work-item per head (see Backend.attentionDecode). */
    public static void decode(FloatArray mem, int out, int scores, int qkv, int kCache, int vCache, IntArray tokPos, int T,
                              int C, int NH) {
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
}
