package org.gptjvm.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * LayerNorm (eps 1e-5, biased variance) with one work-group of {@link #WG} work-items per row:
 * each work-item takes every WG-th element of the row, and the row's sums are local-memory tree
 * reductions in a fixed order. The weight and bias gradients are column sums over all rows, in two
 * fixed-order passes: partial sums of row chunks (in the same launch as the input gradient), then
 * the chunks in order.
 */
public final class LayerNormKernels {
    /** Work-items per row. */
    public static final int WG = 128;

    private LayerNormKernels() {
    }

    public static void forward(KernelContext kc, FloatArray mem, int out, int mean, int rstd, int inp, int w, int b, int C) {
        int row = kc.groupIdx, tid = kc.localIdx, x = inp + row * C;
        float[] sums = kc.allocateFloatLocalArray(WG);
        float s = 0f;
        for (int c = tid; c < C; c += WG) {
            s += mem.get(x + c);
        }
        sums[tid] = s;
        for (int half = WG / 2; half > 0; half /= 2) {
            kc.localBarrier();
            if (tid < half) {
                sums[tid] += sums[tid + half];
            }
        }
        kc.localBarrier();
        float m = sums[0] / C;
        kc.localBarrier();
        float sq = 0f;
        for (int c = tid; c < C; c += WG) {
            float d = mem.get(x + c) - m;
            sq += d * d;
        }
        sums[tid] = sq;
        for (int half = WG / 2; half > 0; half /= 2) {
            kc.localBarrier();
            if (tid < half) {
                sums[tid] += sums[tid + half];
            }
        }
        kc.localBarrier();
        float r = 1f / TornadoMath.sqrt(sums[0] / C + 1e-5f);
        for (int c = tid; c < C; c += WG) {
            mem.set(out + row * C + c, (mem.get(x + c) - m) * r * mem.get(w + c) + mem.get(b + c));
        }
        if (tid == 0) {
            mem.set(mean + row, m);
            mem.set(rstd + row, r);
        }
    }

    /**
     * The backward pass in one launch of N + ceil(chunks * C / WG) work-groups. Groups 0 .. N-1 each
     * take a row: dinp += (dnorm - mean(dnorm) - norm * mean(dnorm * norm)) * rstd, dnorm = w * dout.
     * The groups after them make pass 1 of the weight and bias gradients: for the rows
     * chunk*rows .. (chunk+1)*rows, per channel, dout * norm summed into partial[chunk][c] and dout
     * into partial[chunks + chunk][c], one work-item per (chunk, channel), so neighbours read
     * neighbouring channels. Pass 2 is {@link ReduceKernels#sumParts}. A work-group takes one branch
     * as a whole, so the row groups' barriers are met by all of their work-items.
     */
    public static void backward(KernelContext kc, FloatArray mem, int dinp, int dout, int inp, int w, int mean, int rstd,
                                int N, int C, int partial, int rows) {
        int group = kc.groupIdx, tid = kc.localIdx;
        float[] s1 = kc.allocateFloatLocalArray(WG);
        float[] s2 = kc.allocateFloatLocalArray(WG);
        if (group < N) {
            int row = group, x = row * C;
            float m = mem.get(mean + row), r = mem.get(rstd + row);
            float a1 = 0f, a2 = 0f;
            for (int c = tid; c < C; c += WG) {
                float norm = (mem.get(inp + x + c) - m) * r;
                float dnorm = mem.get(w + c) * mem.get(dout + x + c);
                a1 += dnorm;
                a2 += dnorm * norm;
            }
            s1[tid] = a1;
            s2[tid] = a2;
            for (int half = WG / 2; half > 0; half /= 2) {
                kc.localBarrier();
                if (tid < half) {
                    s1[tid] += s1[tid + half];
                    s2[tid] += s2[tid + half];
                }
            }
            kc.localBarrier();
            float dnormMean = s1[0] / C, dnormNormMean = s2[0] / C;
            for (int c = tid; c < C; c += WG) {
                float norm = (mem.get(inp + x + c) - m) * r;
                float dnorm = mem.get(w + c) * mem.get(dout + x + c);
                mem.set(dinp + x + c, mem.get(dinp + x + c) + (dnorm - dnormMean - norm * dnormNormMean) * r);
            }
        } else {
            int e = (group - N) * WG + tid;
            int chunks = (N + rows - 1) / rows;
            if (e < chunks * C) {
                int chunk = e / C, c = e - chunk * C;
                float sw = 0f, sb = 0f;
                for (int n = chunk * rows; n < Math.min(N, (chunk + 1) * rows); n++) {
                    float d = mem.get(dout + n * C + c);
                    sw += d * ((mem.get(inp + n * C + c) - mem.get(mean + n)) * mem.get(rstd + n));
                    sb += d;
                }
                mem.set(partial + chunk * C + c, sw);
                mem.set(partial + (chunks + chunk) * C + c, sb);
            }
        }
    }
}
