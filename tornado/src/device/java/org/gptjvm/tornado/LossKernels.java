package org.gptjvm.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * The softmax cross-entropy: one work-group of {@link #WG} per row of V logits (tree reductions
 * for the row's max and sum), the mean over all rows in one work-group summing in double, and the
 * gradient one work-item per logit.
 */
public final class LossKernels {
    /** Work-items per row of logits, and for the mean. */
    public static final int WG = 128;

    private LossKernels() {
    }

    public static void crossEntropyForward(KernelContext kc, FloatArray mem, int losses, int probs, int logits,
                                           IntArray targets, int V) {
        int n = kc.groupIdx, tid = kc.localIdx, x = logits + n * V, px = probs + n * V;
        float[] red = kc.allocateFloatLocalArray(WG);
        float mx = -3.4e38f;
        for (int v = tid; v < V; v += WG) {
            mx = TornadoMath.max(mx, mem.get(x + v));
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
        for (int v = tid; v < V; v += WG) {
            float e = TornadoMath.exp(mem.get(x + v) - rowMax);
            mem.set(px + v, e);
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
        float sum = red[0];
        for (int v = tid; v < V; v += WG) {
            mem.set(px + v, mem.get(px + v) / sum);
        }
        if (tid == 0) {
            mem.set(losses + n, TornadoMath.log(sum) - (mem.get(x + targets.get(n)) - rowMax));
        }
    }

    /** One work-group: loss[0] = the mean of N losses, each work-item summing its share in double, then a tree. */
    public static void meanLoss(KernelContext kc, FloatArray mem, int loss, int losses, int N) {
        int tid = kc.localIdx;
        double[] red = kc.allocateDoubleLocalArray(WG);
        double s = 0;
        for (int n = tid; n < N; n += WG) {
            s += mem.get(losses + n);
        }
        red[tid] = s;
        for (int half = WG / 2; half > 0; half /= 2) {
            kc.localBarrier();
            if (tid < half) {
                red[tid] += red[tid + half];
            }
        }
        kc.localBarrier();
        if (tid == 0) {
            mem.set(loss, (float) (red[0] / N));
        }
    }

    /** dlogits += (probs - onehot(targets)) / N. */
    public static void crossEntropyBackward(FloatArray mem, int dlogits, int probs, IntArray targets, int N, int V) {
        for (@Parallel int n = 0; n < N; n++) {
            for (@Parallel int v = 0; v < V; v++) {
                float indicator = v == targets.get(n) ? 1f : 0f;
                int i = n * V + v;
                mem.set(dlogits + i, mem.get(dlogits + i) + (mem.get(probs + i) - indicator) / N);
            }
        }
    }
}
