package org.gptjvm.tornado;

import org.gptjvm.engine.DropoutMask;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Column sums over many rows (a Linear layer's bias gradient sums its output gradient over every
 * row of the batch) in two fixed-order passes, so the work spreads over the whole device and the
 * result repeats: partial sums of chunks of rows, one work-item per (chunk, column), then each
 * column's chunks in order ({@link #sumParts}, which also adds a product's split-K slices).
 */
public final class ReduceKernels {
    private ReduceKernels() {
    }

    /**
     * partial[chunk][j] = sum of x(n, j) for n in the chunk's rows; x(n, j) = mem[x + n*cols + j],
     * times its dropout mask (element n*cols + j) when p > 0: a bias gradient through dropout.
     */
    public static void columnPartial(KernelContext kc, FloatArray mem, int partial, int x, int N, int cols, int rows,
                                     IntArray seed, float p, int salt) {
        int e = kc.globalIdx;
        int chunks = (N + rows - 1) / rows;
        long seedValue = DropoutMask.seed(seed.get(0), seed.get(1));
        if (e < chunks * cols) {
            int chunk = e / cols, j = e - chunk * cols;
            float s = 0f;
            for (int n = chunk * rows; n < Math.min(N, (chunk + 1) * rows); n++) {
                float v = mem.get(x + n * cols + j);
                if (p > 0f) {
                    v = v * DropoutMask.scale(seedValue, salt, n * cols + j, p);
                }
                s += v;
            }
            mem.set(partial + chunk * cols + j, s);
        }
    }

    /**
     * The second pass of column sums, for several of them in one launch: job q of {@code args[at]}
     * jobs is the quadruple {@code args[at + 1 + 4q ..] = n, parts, base, out}, and adds
     * {@code out[e] += part 0 + part 1 + ... + part parts-1}, part z being {@code mem[base + z*n + e]},
     * for e below n. One work-item per output element, the jobs' elements one after another; each
     * sum runs in part order, so the result does not depend on which launch it shares.
     */
    public static void sumParts(KernelContext kc, FloatArray mem, IntArray args, int at) {
        int e = kc.globalIdx;
        int jobs = args.get(at);
        int q = 0, n = args.get(at + 1);
        while (q < jobs - 1 && e >= n) {
            e -= n;
            q++;
            n = args.get(at + 1 + 4 * q);
        }
        if (e < n) {
            int parts = args.get(at + 2 + 4 * q), base = args.get(at + 3 + 4 * q), out = args.get(at + 4 + 4 * q);
            float s = 0f;
            for (int z = 0; z < parts; z++) {
                s += mem.get(base + z * n + e);
            }
            mem.set(out + e, mem.get(out + e) + s);
        }
    }

    /**
     * partial[w] = sum of mem[x + i]^2 over i = w, w + W, w + 2W, ... below n: one work-item per w,
     * so neighbouring work-items read neighbouring elements; the order is fixed by n and W alone.
     */
    public static void squaresPartial(KernelContext kc, FloatArray mem, int partial, int x, int n, int W) {
        int w = kc.globalIdx;
        if (w < W) {
            float s = 0f;
            for (int i = w; i < n; i += W) {
                float v = mem.get(x + i);
                s += v * v;
            }
            mem.set(partial + w, s);
        }
    }

    /** mem[out] = the {@code count} partial sums added in order (one work-item). */
    public static void squaresTotal(KernelContext kc, FloatArray mem, int out, int partial, int count) {
        if (kc.globalIdx == 0) {
            float s = 0f;
            for (int k = 0; k < count; k++) {
                s += mem.get(partial + k);
            }
            mem.set(out, s);
        }
    }
}
