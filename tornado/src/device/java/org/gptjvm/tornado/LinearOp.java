package org.gptjvm.tornado;

import org.gptjvm.engine.DropoutMask;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.device.LaunchInfo;
import org.gptjvm.tornado.DeviceLaunch.Span;
import org.gptjvm.tornado.DeviceLaunch.SumJob;
import org.gptjvm.tornado.DeviceLaunch.Task;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.ArrayList;
import java.util.List;

import static org.gptjvm.tornado.OpContext.o;
import static org.gptjvm.tornado.OpContext.spans;

/**
 * A Linear layer (PyTorch's layout: out(N,OC) = inp(N,C) @ W(OC,C)^T + bias): the forward with its
 * ReLU, or with its dropout and the residual add, as one {@link Gemm} launch each; the backward, the
 * input and the weight gradients as one launch, the weight gradient's long sum over the batch split
 * along k into slices that fill the device and then added in order, and the bias gradient's column
 * sums in two passes ({@link #columnPartial}, then {@link DeferredSums}).
 */
final class LinearOp {
    private LinearOp() {
    }

    /** partial[chunk][j] = sum of x(n, j) for n in the chunk's rows; x(n, j) = mem[x + n*cols + j]. */
    public static void columnPartial(KernelContext kc, FloatArray mem, int partial, int x, int N, int cols, int rows) {
        int e = kc.globalIdx;
        int chunks = (N + rows - 1) / rows;
        if (e < chunks * cols) {
            int chunk = e / cols, j = e - chunk * cols;
            int first = chunk * rows;
            float s = Reductions.stridedSum(mem, x + first * cols + j, cols, Math.min(N, first + rows) - first);
            mem.set(partial + chunk * cols + j, s);
        }
    }

    /**
     * {@link #columnPartial} of x through dropout's mask, writing the masked values into {@code dst}
     * (x's layout) on the way, as {@link ElementwiseOp#maskedCopy} writes them (element
     * first * cols + e): the masked copy that a Linear layer's backward products read, and its bias
     * gradient's first pass, in one pass over dout.
     */
    public static void maskedColumnPartial(KernelContext kc, FloatArray mem, int partial, int x, int N, int cols, int rows,
                                           int dst, IntArray seed, float p, int salt) {
        int e = kc.globalIdx;
        int chunks = (N + rows - 1) / rows;
        long seedValue = DropoutMask.seed(seed.get(0), seed.get(1));
        int base = seed.get(DropoutMask.FIRST_ROW) * cols;
        if (e < chunks * cols) {
            int chunk = e / cols, j = e - chunk * cols;
            float s = 0f;
            int n = chunk * rows, end = Math.min(N, (chunk + 1) * rows);
            for (; n + 4 <= end; n += 4) { // four reads issued together (the PTX route unrolls no loop), added in order
                int at = n * cols + j;
                float v0 = mem.get(x + at), v1 = mem.get(x + at + cols);
                float v2 = mem.get(x + at + 2 * cols), v3 = mem.get(x + at + 3 * cols);
                v0 *= DropoutMask.scale(seedValue, salt, base + at, p);
                v1 *= DropoutMask.scale(seedValue, salt, base + at + cols, p);
                v2 *= DropoutMask.scale(seedValue, salt, base + at + 2 * cols, p);
                v3 *= DropoutMask.scale(seedValue, salt, base + at + 3 * cols, p);
                mem.set(dst + at, v0);
                mem.set(dst + at + cols, v1);
                mem.set(dst + at + 2 * cols, v2);
                mem.set(dst + at + 3 * cols, v3);
                s += v0;
                s += v1;
                s += v2;
                s += v3;
            }
            for (; n < end; n++) {
                int at = n * cols + j;
                float v = mem.get(x + at) * DropoutMask.scale(seedValue, salt, base + at, p);
                mem.set(dst + at, v);
                s += v;
            }
            mem.set(partial + chunk * cols + j, s);
        }
    }

    /** out(N,OC) = inp(N,C) @ W(OC,C)^T + bias, then the epilogue {@code flags} ask for: A = inp row-major, B(k,j) = W[j][k]. */
    private static Gemm.Call forwardCall(FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C, int OC,
                                         int flags) {
        Gemm.Call g = new Gemm.Call().shape(N, OC, C).a(o(inp), C, 1, 0, 0).b(o(weight), 1, C, 0, 0).c(o(out), OC, 0, 0)
                .flags(flags);
        g.bias = bias == null ? -1 : o(bias);
        return g;
    }

    /** {@code out = inp @ W^T + bias}, with the ReLU where {@code relu}. */
    static DeviceLaunch forward(OpContext ctx, String kernel, FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias,
                                int N, int C, int OC, boolean relu) {
        IntArray seed = ctx.seed(null);
        Gemm.Call g = forwardCall(out, inp, weight, bias, N, C, OC, relu ? Gemm.RELU : 0);
        return new DeviceLaunch(kernel, product(ctx, kernel, g, seed, 0f), List.of(seed), spans(inp, weight, bias),
                spans(out));
    }

    /** {@code out = residual + dropout(inp @ W^T + bias)} (p = 0: no dropout, seed may be null). */
    static DeviceLaunch residualForward(OpContext ctx, FloatBuf out, FloatBuf residual, FloatBuf inp, FloatBuf weight,
                                        FloatBuf bias, IntBuf seedBuf, float p, int salt, int N, int C, int OC) {
        Gemm.Call g = forwardCall(out, inp, weight, bias, N, C, OC, p > 0f ? Gemm.DROP_C : 0).mask(o(out), OC, salt);
        g.res = o(residual);
        IntArray seed = ctx.maskSeed(seedBuf, g);
        String kernel = "matmul_residual_forward";
        return new DeviceLaunch(kernel, product(ctx, kernel, g, seed, p), List.of(seed), spans(residual, inp, weight, bias),
                spans(out));
    }

    /**
     * The tasks of one product and its epilogue: our kernel's launch, or, where the backend computes
     * the products with a library ({@link OpContext#products}), the library's call, then our epilogue.
     */
    private static List<Task> product(OpContext ctx, String kernel, Gemm.Call g, IntArray seed, float p) {
        if (ctx.products == null) {
            return List.of(Gemm.task(ctx, kernel, List.of(g), seed, p));
        }
        List<Task> tasks = new ArrayList<>(List.of(CuBlas.task(kernel + "_" + ctx.products, g, ctx.products)));
        Task epilogue = Gemm.epilogueTask(kernel + "_epilogue", g, seed, p);
        if (epilogue != null) {
            tasks.add(epilogue);
        }
        return tasks;
    }

    /**
     * The gradients of a Linear layer: dW += dout^T @ inp, dbias += column sums of dout (may be null),
     * dinp = dout @ W (may be null); with p > 0, dout goes through dropout's mask as it is read; with
     * {@code reluInput}, dinp through the ReLU whose output inp is, as it is written (0 where inp is not
     * positive).
     */
    static DeviceLaunch backward(OpContext ctx, String kernel, FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout,
                                 IntBuf seedBuf, float p, int salt, FloatBuf inp, boolean reluInput, FloatBuf weight, int N,
                                 int C, int OC) {
        IntArray seed = ctx.seed(seedBuf);
        List<Task> tasks = new ArrayList<>();
        List<Span> scratch = new ArrayList<>();
        List<SumJob> sums = new ArrayList<>();
        int d = o(dout);
        List<Span> reads = spans(dout, inp, weight, dweight, dbias);
        int to = -1; // dout through dropout's mask, once, into scratch: the products read the copy
        if (p > 0f) {
            Span masked = ctx.scratch("matmul_backward.masked_dout", (long) N * OC);
            scratch.add(masked);
            reads.add(masked);
            to = (int) masked.at();
        }
        if (dbias != null) { // the bias gradient's first pass, making the masked copy on the way
            tasks.add(biasTask(ctx, dbias, d, N, OC, scratch, sums, to, seed, p, salt));
        } else if (to >= 0) {
            tasks.add(ElementwiseOp.maskedCopyTask("matmul_backward_mask", to, d, N * OC, OC, seed, p, salt));
        }
        if (to >= 0) {
            d = to;
        }
        // dW(OC,C) += dout^T @ inp, K = N rows: split into slices until the device is full, then summed in order
        Gemm.Call dw = new Gemm.Call().shape(OC, C, N).a(d, 1, OC, 0, 0).b(o(inp), C, 1, 0, 0);
        dw.fillsDevice = true;
        List<Gemm.Call> products = new ArrayList<>(List.of(dw));
        if (dinp != null) { // dinp(N,C) = dout(N,OC) @ W(OC,C) [where inp > 0, else 0]
            // after dW where they share a launch: a GPU starts work-groups in about the order of their numbers, and each
            // of dW's sums a slice of thousands of rows where dinp's sum OC: the long ones start first and
            // the short ones fill the device around them, rather than the long ones starting last
            Gemm.Call input = new Gemm.Call().shape(N, C, OC).a(d, OC, 1, 0, 0).b(o(weight), C, 1, 0, 0)
                    .c(o(dinp), C, 0, 0);
            input.gate = reluInput ? o(inp) : -1;
            products.add(input);
        }
        if (ctx.products != null) { // the library's calls: dW += straight, the library splits K as it likes
            dw.c(o(dweight), C, 0, 0).flags(Gemm.ACCUMULATE);
            tasks.addAll(product(ctx, "matmul_backward_weight", dw, seed, 0f));
            if (dinp != null) {
                tasks.addAll(product(ctx, "matmul_backward_input", products.get(1), seed, 0f));
            }
            return withSums(ctx, kernel, tasks, scratch, sums, reads, dinp, dweight, dbias, seed);
        }
        int tile = Gemm.tile(products);
        int outputTiles = dw.groups(OC, Gemm.rows(tile)) * dw.groups(C, Gemm.cols(tile));
        int slices = Math.max(1, Math.min((Grids.SPREAD + outputTiles - 1) / outputTiles, N / (4 * Gemm.TK)));
        if (slices > 1) {
            int slice = (int) Grids.roundUp((N + slices - 1) / slices, Gemm.TK);
            slices = (N + slice - 1) / slice;
            Span parts = ctx.partials("matmul_backward.slices", (long) slices * OC * C);
            scratch.add(parts);
            dw.c((int) parts.at(), C, OC * C, 0);
            dw.z = slices;
            dw.kSlice = slice;
            sums.add(new SumJob(OC * C, slices, (int) parts.at(), o(dweight)));
        } else { // dW += straight from the product
            dw.c(o(dweight), C, 0, 0).flags(Gemm.ACCUMULATE);
        }
        if (tile != Gemm.TILE && products.size() > 1) {
            // wide or tall tiles: one launch each, so that each compiles for its own operands' layout (Gemm.along):
            // dW reads dout across the tile, dinp along k
            tasks.add(Gemm.task(ctx, "matmul_backward_weight", List.of(dw), seed, 0f));
            tasks.add(Gemm.task(ctx, "matmul_backward_input", products.subList(1, products.size()), seed, 0f));
        } else { // the input and weight gradients read dout, W and inp only: one launch
            tasks.add(Gemm.task(ctx, "matmul_backward_products", products, seed, 0f));
        }
        return withSums(ctx, kernel, tasks, scratch, sums, reads, dinp, dweight, dbias, seed);
    }

    /**
     * dbias += the column sums of dout (at {@code d}), in two passes: this task's row chunks, and a
     * {@link SumJob} for the deferred second pass. With {@code dst} &gt;= 0, dout goes through
     * dropout's mask on the way and the masked copy into {@code dst} ({@link #maskedColumnPartial}).
     */
    private static Task biasTask(OpContext ctx, FloatBuf dbias, int d, int N, int OC, List<Span> scratch,
                                 List<SumJob> sums, int dst, IntArray seed, float p, int salt) {
        int chunks = Grids.chunks(N, OC), rows = (N + chunks - 1) / chunks;
        Span partial = ctx.partials("matmul_backward.bias_partial", (long) chunks * OC);
        scratch.add(partial);
        int at = (int) partial.at();
        sums.add(new SumJob(OC, chunks, at, o(dbias)));
        LaunchInfo info = new LaunchInfo("matmul_backward_bias", Grids.dims(Grids.roundUp((long) chunks * OC, 128), 1, 1),
                Grids.dims(128, 1, 1), (dst >= 0 ? 2.0 : 1.0) * N * OC, 4.0 * N * OC,
                4.0 * chunks * OC + (dst >= 0 ? 4.0 * N * OC : 0), 0);
        var grid = Grids.cover((long) chunks * OC, 128);
        return dst >= 0
                ? new Task((g, id, mem, args) -> g.task(id, LinearOp::maskedColumnPartial, ctx.kc, mem, at, d, N, OC, rows,
                dst, seed, p, salt), grid, info)
                : new Task((g, id, mem, args) -> g.task(id, LinearOp::columnPartial, ctx.kc, mem, at, d, N, OC, rows),
                grid, info);
    }

    /** The rest of {@link #backward} after its products: the second passes of its sums. */
    private static DeviceLaunch withSums(OpContext ctx, String kernel, List<Task> tasks, List<Span> scratch,
                                         List<SumJob> sums, List<Span> reads, FloatBuf dinp, FloatBuf dweight,
                                         FloatBuf dbias, IntArray seed) {
        if (!sums.isEmpty()) {
            tasks.add(DeferredSums.waiting(ctx, "matmul_backward_sums", sums));
        }
        return new DeviceLaunch(kernel, tasks, List.of(seed), reads, spans(scratch, dinp, dweight, dbias));
    }
}
