package org.gptjvm.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * Sums and maxima over a work-group of {@link #WG} work-items, the one tree reduction every row
 * kernel uses (LayerNorm, softmax, the loss): each work-item puts its value in the group's local
 * array, halves are added (or compared) pairwise in a fixed order, and every work-item gets the
 * result. TornadoVM inlines these helpers into the kernels that call them, local array included, on
 * each of its routes (OpenCL, PTX, CUDA). The array is the caller's
 * ({@code kc.allocateFloatLocalArray(WG)}): TornadoVM sizes local arrays where a kernel allocates them.
 * Each call ends with a barrier, so the array can be used again right away.
 */
final class Reductions {
    /** Work-items per row in the row kernels. */
    static final int WG = 128;
    /**
     * Columns of a row one work-item takes in a pass of the row kernels' loops: c, c + WG, c + 2 WG and
     * c + 3 WG. Its reads of a pass go out together (TornadoVM's PTX route unrolls no loop, and a read
     * waited for before the next leaves the memory idle), each from a clamped address ({@link #rowAt}),
     * so that no branch stands between them; its writes follow them. The columns' values are still
     * combined in column order, so the sums are those of one column at a time, bit for bit.
     */
    static final int PASS = 4 * WG;

    private Reductions() {
    }

    static float sum(KernelContext kc, float[] red, float v) {
        int tid = kc.localIdx;
        red[tid] = v;
        for (int half = WG / 2; half > 0; half /= 2) {
            kc.localBarrier();
            if (tid < half) {
                red[tid] += red[tid + half];
            }
        }
        kc.localBarrier();
        float total = red[0];
        kc.localBarrier();
        return total;
    }

    static double sum(KernelContext kc, double[] red, double v) {
        int tid = kc.localIdx;
        red[tid] = v;
        for (int half = WG / 2; half > 0; half /= 2) {
            kc.localBarrier();
            if (tid < half) {
                red[tid] += red[tid + half];
            }
        }
        kc.localBarrier();
        double total = red[0];
        kc.localBarrier();
        return total;
    }

    /**
     * mem[at] + mem[at + stride] + ... ({@code count} values), added in that order, one work-item's
     * sum down a column (a column's row chunk, a sum's split-K parts). It reads four values before
     * adding them: TornadoVM's PTX route unrolls no loop, and a read a work-item waits for before the
     * next leaves the device's memory idle (NVRTC unrolls it itself).
     */
    static float stridedSum(FloatArray mem, int at, int stride, int count) {
        float s = 0f;
        int i = 0;
        for (; i + 4 <= count; i += 4) {
            float v0 = mem.get(at + i * stride), v1 = mem.get(at + (i + 1) * stride);
            float v2 = mem.get(at + (i + 2) * stride), v3 = mem.get(at + (i + 3) * stride);
            s += v0;
            s += v1;
            s += v2;
            s += v3;
        }
        for (; i < count; i++) {
            s += mem.get(at + i * stride);
        }
        return s;
    }

    /**
     * mem[base + c] for column c of a row of n values, 0 past its end: read from column min(c, n - 1),
     * a real address, and the value then chosen, with no branch (see {@link #PASS}).
     */
    static float rowAt(FloatArray mem, int base, int c, int n) {
        float v = mem.get(base + Math.min(c, n - 1));
        return c < n ? v : 0f;
    }

    /** mem[base + c] = v for column c of a row of n values; nothing past its end. */
    static void putAt(FloatArray mem, int base, int c, int n, float v) {
        if (c < n) {
            mem.set(base + c, v);
        }
    }

    static float max(KernelContext kc, float[] red, float v) {
        int tid = kc.localIdx;
        red[tid] = v;
        for (int half = WG / 2; half > 0; half /= 2) {
            kc.localBarrier();
            if (tid < half) {
                red[tid] = TornadoMath.max(red[tid], red[tid + half]);
            }
        }
        kc.localBarrier();
        float m = red[0];
        kc.localBarrier();
        return m;
    }
}
