package org.gptjvm.tornado;

import org.gptjvm.engine.FloatBlock;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.device.LaunchInfo;
import org.gptjvm.tornado.DeviceLaunch.Span;
import org.gptjvm.tornado.DeviceLaunch.Task;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

import java.util.List;

import static org.gptjvm.tornado.Grids.dims;
import static org.gptjvm.tornado.OpContext.o;
import static org.gptjvm.tornado.OpContext.spans;

/**
 * The sum of the squares of a block (the gradients' global norm, squared, for clipping) in two
 * fixed-order passes: {@link #SPREAD} partial sums, each of every SPREAD-th element, then the
 * partials added in order by one work-item. The order depends on the block's length alone.
 */
final class GradNormOp {
    /** Work-items of the first pass at most: each sums every SPREAD-th element. */
    static final int SPREAD = 16384;

    private GradNormOp() {
    }

    /**
     * partial[w] = sum of mem[x + i]^2 over i = w, w + W, w + 2W, ... below n: one work-item per w,
     * so neighbouring work-items read neighbouring elements.
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

    static DeviceLaunch launch(OpContext ctx, FloatBuf out, FloatBlock block) {
        Span range = DeviceArena.span(block);
        int x = (int) range.at(), n = (int) range.n(), W = Math.min(n, SPREAD);
        Span partials = ctx.scratch("sum_of_squares.partial", W);
        int into = (int) partials.at(), ou = o(out);
        Task first = new Task((g, id, mem, args) -> g.task(id, GradNormOp::squaresPartial, ctx.kc, mem, into, x, n, W),
                Grids.cover(W, 128), new LaunchInfo("sum_of_squares", dims(Grids.roundUp(W, 128), 1, 1), dims(128, 1, 1),
                2.0 * n, 4.0 * n, 4.0 * W, 0));
        Task total = new Task((g, id, mem, args) -> g.task(id, GradNormOp::squaresTotal, ctx.kc, mem, ou, into, W),
                Grids.groups(1, 1), new LaunchInfo("sum_of_squares_total", dims(1, 1, 1), dims(1, 1, 1), W, 4.0 * W, 4.0, 0));
        return new DeviceLaunch("sum_of_squares", List.of(first, total), List.of(), List.of(range),
                spans(List.of(partials), out));
    }
}
