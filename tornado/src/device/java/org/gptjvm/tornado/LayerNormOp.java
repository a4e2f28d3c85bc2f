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
import static org.gptjvm.tornado.Reductions.PASS;
import static org.gptjvm.tornado.Reductions.WG;
import static org.gptjvm.tornado.Reductions.putAt;
import static org.gptjvm.tornado.Reductions.rowAt;

/**
 * LayerNorm (eps 1e-5, biased variance) with one work-group of {@link Reductions#WG} work-items per
 * row: each work-item takes every WG-th element of the row, four a pass ({@link Reductions#PASS}), and
 * the row's sums are {@link Reductions} in a fixed order. The weight and bias gradients are column
 * sums over all rows, in two fixed-order passes: partial sums of row chunks (in the same launch as the
 * input gradient), then the chunks in order ({@link DeferredSums}).
 */
final class LayerNormOp {
    private LayerNormOp() {
    }

    public static void forward(KernelContext kc, FloatArray mem, int out, int mean, int rstd, int inp, int w, int b, int C) {
        int row = kc.groupIdx, tid = kc.localIdx, x = inp + row * C, y = out + row * C;
        float[] red = kc.allocateFloatLocalArray(WG);
        float s = 0f;
        for (int c = tid; c < C; c += PASS) {
            float v0 = rowAt(mem, x, c, C), v1 = rowAt(mem, x, c + WG, C);
            float v2 = rowAt(mem, x, c + 2 * WG, C), v3 = rowAt(mem, x, c + 3 * WG, C);
            s += v0;
            s += v1;
            s += v2;
            s += v3;
        }
        float m = Reductions.sum(kc, red, s) / C;
        float sq = 0f;
        for (int c = tid; c < C; c += PASS) {
            float d0 = centred(mem, x, c, C, m), d1 = centred(mem, x, c + WG, C, m);
            float d2 = centred(mem, x, c + 2 * WG, C, m), d3 = centred(mem, x, c + 3 * WG, C, m);
            sq += d0 * d0;
            sq += d1 * d1;
            sq += d2 * d2;
            sq += d3 * d3;
        }
        float r = 1f / TornadoMath.sqrt(Reductions.sum(kc, red, sq) / C + 1e-5f);
        for (int c = tid; c < C; c += PASS) {
            float y0 = normed(mem, x, w, b, c, C, m, r), y1 = normed(mem, x, w, b, c + WG, C, m, r);
            float y2 = normed(mem, x, w, b, c + 2 * WG, C, m, r), y3 = normed(mem, x, w, b, c + 3 * WG, C, m, r);
            putAt(mem, y, c, C, y0);
            putAt(mem, y, c + WG, C, y1);
            putAt(mem, y, c + 2 * WG, C, y2);
            putAt(mem, y, c + 3 * WG, C, y3);
        }
        if (tid == 0) {
            mem.set(mean + row, m);
            mem.set(rstd + row, r);
        }
    }

    /** x[c] - m for column c of a row of C, 0 past its end ({@link Reductions#rowAt}). */
    private static float centred(FloatArray mem, int x, int c, int C, float m) {
        float d = mem.get(x + Math.min(c, C - 1)) - m;
        return c < C ? d : 0f;
    }

    /** Column c's output, (x - m) * r * w + b, read at column min(c, C - 1) (written only where c < C). */
    private static float normed(FloatArray mem, int x, int w, int b, int c, int C, float m, float r) {
        int at = Math.min(c, C - 1);
        return (mem.get(x + at) - m) * r * mem.get(w + at) + mem.get(b + at);
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
            for (int c = tid; c < C; c += PASS) {
                float g0 = dnorm(mem, w, dout + x, c, C), g1 = dnorm(mem, w, dout + x, c + WG, C);
                float g2 = dnorm(mem, w, dout + x, c + 2 * WG, C), g3 = dnorm(mem, w, dout + x, c + 3 * WG, C);
                float n0 = norm(mem, inp + x, c, C, m, r), n1 = norm(mem, inp + x, c + WG, C, m, r);
                float n2 = norm(mem, inp + x, c + 2 * WG, C, m, r), n3 = norm(mem, inp + x, c + 3 * WG, C, m, r);
                a1 += g0;
                a2 += g0 * n0;
                a1 += g1;
                a2 += g1 * n1;
                a1 += g2;
                a2 += g2 * n2;
                a1 += g3;
                a2 += g3 * n3;
            }
            float dnormMean = Reductions.sum(kc, red, a1) / C, dnormNormMean = Reductions.sum(kc, red, a2) / C;
            for (int c = tid; c < C; c += PASS) {
                float d0 = dinpAt(mem, dinp + x, inp + x, w, dout + x, c, C, m, r, dnormMean, dnormNormMean);
                float d1 = dinpAt(mem, dinp + x, inp + x, w, dout + x, c + WG, C, m, r, dnormMean, dnormNormMean);
                float d2 = dinpAt(mem, dinp + x, inp + x, w, dout + x, c + 2 * WG, C, m, r, dnormMean, dnormNormMean);
                float d3 = dinpAt(mem, dinp + x, inp + x, w, dout + x, c + 3 * WG, C, m, r, dnormMean, dnormNormMean);
                putAt(mem, dinp + x, c, C, d0);
                putAt(mem, dinp + x, c + WG, C, d1);
                putAt(mem, dinp + x, c + 2 * WG, C, d2);
                putAt(mem, dinp + x, c + 3 * WG, C, d3);
            }
        } else {
            int e = (group - N) * WG + tid;
            int chunks = (N + rows - 1) / rows;
            if (e < chunks * C) {
                int chunk = e / C, c = e - chunk * C;
                float sw = 0f, sb = 0f;
                int n = chunk * rows, end = Math.min(N, (chunk + 1) * rows);
                for (; n + 4 <= end; n += 4) { // four rows' reads issued together (the PTX route unrolls no loop), added in order
                    float d0 = mem.get(dout + n * C + c), x0 = mem.get(inp + n * C + c);
                    float m0 = mem.get(mean + n), r0 = mem.get(rstd + n);
                    float d1 = mem.get(dout + (n + 1) * C + c), x1 = mem.get(inp + (n + 1) * C + c);
                    float m1 = mem.get(mean + n + 1), r1 = mem.get(rstd + n + 1);
                    float d2 = mem.get(dout + (n + 2) * C + c), x2 = mem.get(inp + (n + 2) * C + c);
                    float m2 = mem.get(mean + n + 2), r2 = mem.get(rstd + n + 2);
                    float d3 = mem.get(dout + (n + 3) * C + c), x3 = mem.get(inp + (n + 3) * C + c);
                    float m3 = mem.get(mean + n + 3), r3 = mem.get(rstd + n + 3);
                    sw += d0 * ((x0 - m0) * r0);
                    sb += d0;
                    sw += d1 * ((x1 - m1) * r1);
                    sb += d1;
                    sw += d2 * ((x2 - m2) * r2);
                    sb += d2;
                    sw += d3 * ((x3 - m3) * r3);
                    sb += d3;
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

    /** w[c] * dout[c] for column c of a row of C, 0 past its end ({@link Reductions#rowAt}). */
    private static float dnorm(FloatArray mem, int w, int dout, int c, int C) {
        int at = Math.min(c, C - 1);
        float g = mem.get(w + at) * mem.get(dout + at);
        return c < C ? g : 0f;
    }

    /** (inp[c] - m) * r, read at column min(c, C - 1). */
    private static float norm(FloatArray mem, int inp, int c, int C, float m, float r) {
        return (mem.get(inp + Math.min(c, C - 1)) - m) * r;
    }

    /** Column c's new input gradient, read at column min(c, C - 1) (written only where c < C). */
    private static float dinpAt(FloatArray mem, int dinp, int inp, int w, int dout, int c, int C, float m, float r,
                                float dnormMean, float dnormNormMean) {
        float norm = norm(mem, inp, c, C, m, r), dnorm = dnorm(mem, w, dout, c, C);
        return mem.get(dinp + Math.min(c, C - 1)) + (dnorm - dnormMean - norm * dnormNormMean) * r;
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
