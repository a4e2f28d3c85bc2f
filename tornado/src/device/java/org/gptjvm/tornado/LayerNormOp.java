package org.gptjvm.tornado;

import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.device.LaunchInfo;
import org.gptjvm.tornado.DeviceLaunch.Span;
import org.gptjvm.tornado.DeviceLaunch.SumJob;
import org.gptjvm.tornado.DeviceLaunch.Task;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

import java.util.List;

import static org.gptjvm.tornado.OpContext.o;
import static org.gptjvm.tornado.OpContext.spans;
import static org.gptjvm.tornado.Reductions.WG;

/**
 * LayerNorm (eps 1e-5, biased variance) with one work-group of {@link Reductions#WG} work-items per
 * row: each work-item takes every WG-th element of the row, and the row's sums are {@link Reductions}
 * in a fixed order. The weight and bias gradients are column sums over all rows, in two fixed-order
 * passes: partial sums of row chunks (in the same launch as the input gradient), then the chunks in
 * order ({@link DeferredSums}).
 */
final class LayerNormOp {
    private LayerNormOp() {
    }

    public static void forward(KernelContext kc, FloatArray mem, int out, int mean, int rstd, int inp, int w, int b, int C) {
        int row = kc.groupIdx, tid = kc.localIdx, x = inp + row * C;
        float[] red = kc.allocateFloatLocalArray(WG);
        float s = 0f;
        for (int c = tid; c < C; c += WG) {
            s += mem.get(x + c);
        }
        float m = Reductions.sum(kc, red, s) / C;
        float sq = 0f;
        for (int c = tid; c < C; c += WG) {
            float d = mem.get(x + c) - m;
            sq += d * d;
        }
        float r = 1f / TornadoMath.sqrt(Reductions.sum(kc, red, sq) / C + 1e-5f);
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
     * neighbouring channels. A work-group takes one branch as a whole, so the row groups' barriers are
     * met by all of their work-items.
     */
    public static void backward(KernelContext kc, FloatArray mem, int dinp, int dout, int inp, int w, int mean, int rstd,
                                int N, int C, int partial, int rows) {
        int group = kc.groupIdx, tid = kc.localIdx;
        float[] red = kc.allocateFloatLocalArray(WG);
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
            float dnormMean = Reductions.sum(kc, red, a1) / C, dnormNormMean = Reductions.sum(kc, red, a2) / C;
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
                int n = chunk * rows, end = Math.min(N, (chunk + 1) * rows);
                for (; n + 2 <= end; n += 2) { // two rows' reads issued together (the PTX route unrolls no loop), added in order
                    float d0 = mem.get(dout + n * C + c), x0 = mem.get(inp + n * C + c);
                    float m0 = mem.get(mean + n), r0 = mem.get(rstd + n);
                    float d1 = mem.get(dout + (n + 1) * C + c), x1 = mem.get(inp + (n + 1) * C + c);
                    float m1 = mem.get(mean + n + 1), r1 = mem.get(rstd + n + 1);
                    sw += d0 * ((x0 - m0) * r0);
                    sb += d0;
                    sw += d1 * ((x1 - m1) * r1);
                    sb += d1;
                }
                for (; n < end; n++) {
                    float d = mem.get(dout + n * C + c);
                    sw += d * ((mem.get(inp + n * C + c) - mem.get(mean + n)) * mem.get(rstd + n));
                    sb += d;
                }
                mem.set(partial + chunk * C + c, sw);
                mem.set(partial + (chunks + chunk) * C + c, sb);
            }
        }
    }

    static DeviceLaunch forwardLaunch(OpContext ctx, FloatBuf out, FloatBuf mean, FloatBuf rstd, FloatBuf inp,
                                      FloatBuf weight, FloatBuf bias, int N, int C) {
        int ou = o(out), m = o(mean), r = o(rstd), x = o(inp), w = o(weight), b = o(bias);
        return new DeviceLaunch("layernorm_forward", List.of(new Task(
                (g, id, mem, args) -> g.task(id, LayerNormOp::forward, ctx.kc, mem, ou, m, r, x, w, b, C),
                Grids.groups(N, WG), new LaunchInfo("layernorm_forward", Grids.dims((long) N * WG, 1, 1),
                Grids.dims(WG, 1, 1), 8.0 * N * C, 4.0 * N * C + 8.0 * C, 4.0 * N * C + 8.0 * N, 4L * WG))), List.of(),
                spans(inp, weight, bias), spans(out, mean, rstd));
    }

    static DeviceLaunch backwardLaunch(OpContext ctx, FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout,
                                       FloatBuf inp, FloatBuf weight, FloatBuf mean, FloatBuf rstd, int N, int C) {
        int dx = o(dinp), dw = o(dweight), db = o(dbias), d = o(dout), x = o(inp), w = o(weight);
        int m = o(mean), r = o(rstd);
        int chunks = Grids.chunks(N, C), rows = (N + chunks - 1) / chunks;
        Span partials = ctx.partials("layernorm_backward.partial", 2L * chunks * C);
        int partial = (int) partials.at();
        int partialGroups = (int) ((chunks * (long) C + WG - 1) / WG);
        return new DeviceLaunch("layernorm_backward", List.of(
                new Task((g, id, mem, args) -> g.task(id, LayerNormOp::backward, ctx.kc, mem, dx, d, x, w, m, r, N, C,
                        partial, rows), Grids.groups((long) N + partialGroups, WG), new LaunchInfo("layernorm_backward",
                        Grids.dims(((long) N + partialGroups) * WG, 1, 1), Grids.dims(WG, 1, 1), 15.0 * N * C,
                        20.0 * N * C, 8.0 * N * C + 8.0 * chunks * C, 4L * WG)),
                DeferredSums.waiting(ctx, "layernorm_backward_sums", List.of(new SumJob(C, chunks, partial, dw),
                        new SumJob(C, chunks, partial + chunks * C, db)))), List.of(),
                spans(dout, inp, weight, mean, rstd, dinp, dweight, dbias), spans(List.of(partials), dinp, dweight, dbias));
    }
}
