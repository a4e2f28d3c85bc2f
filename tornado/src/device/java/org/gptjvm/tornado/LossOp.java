package org.gptjvm.tornado;

import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.device.LaunchInfo;
import org.gptjvm.tornado.DeviceLaunch.Task;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.List;

import static org.gptjvm.tornado.Grids.dims;
import static org.gptjvm.tornado.OpContext.o;
import static org.gptjvm.tornado.OpContext.spans;
import static org.gptjvm.tornado.Reductions.PASS;
import static org.gptjvm.tornado.Reductions.WG;
import static org.gptjvm.tornado.Reductions.rowAt;

/**
 * The softmax cross-entropy: one work-group of {@link Reductions#WG} per row of V logits (the row's max
 * and sum are {@link Reductions}), the mean over all rows in one work-group summing in double, and the
 * gradient one work-item per logit.
 */
final class LossOp {
    private LossOp() {
    }

    public static void crossEntropyForward(KernelContext kc, FloatArray mem, int losses, int probs, int logits,
                                           IntArray targets, int V) {
        int n = kc.groupIdx, tid = kc.localIdx, x = logits + n * V, px = probs + n * V;
        float[] red = kc.allocateFloatLocalArray(WG);
        float mx = -3.4e38f;
        for (int v = tid; v < V; v += WG) {
            mx = TornadoMath.max(mx, mem.get(x + v));
        }
        float rowMax = Reductions.max(kc, red, mx);
        float s = 0f;
        for (int v = tid; v < V; v += WG) {
            float e = TornadoMath.exp(mem.get(x + v) - rowMax);
            mem.set(px + v, e);
            s += e;
        }
        float sum = Reductions.sum(kc, red, s);
        for (int v = tid; v < V; v += WG) {
            mem.set(px + v, mem.get(px + v) / sum);
        }
        if (tid == 0) {
            mem.set(losses + n, TornadoMath.log(sum) - (mem.get(x + targets.get(n)) - rowMax));
        }
    }

    /** One work-group: loss[0] = the mean of N losses, each work-item summing its share in double (four a pass), then a tree. */
    public static void meanLoss(KernelContext kc, FloatArray mem, int loss, int losses, int N) {
        int tid = kc.localIdx;
        double[] red = kc.allocateDoubleLocalArray(WG);
        double s = 0;
        for (int n = tid; n < N; n += PASS) {
            double v0 = rowAt(mem, losses, n, N), v1 = rowAt(mem, losses, n + WG, N);
            double v2 = rowAt(mem, losses, n + 2 * WG, N), v3 = rowAt(mem, losses, n + 3 * WG, N);
            s += v0;
            s += v1;
            s += v2;
            s += v3;
        }
        double total = Reductions.sum(kc, red, s);
        if (tid == 0) {
            mem.set(loss, (float) (total / N));
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

    static DeviceLaunch forward(OpContext ctx, FloatBuf losses, FloatBuf probs, FloatBuf logits, IntBuf targets, int N,
                                int V) {
        int l = o(losses), p = o(probs), x = o(logits);
        IntArray t = OpContext.ints(targets);
        return new DeviceLaunch("crossentropy_forward", List.of(new Task((g, id, mem, args) -> g.task(id,
                LossOp::crossEntropyForward, ctx.kc, mem, l, p, x, t, V), Grids.groups(N, WG), new LaunchInfo(
                "crossentropy_forward", dims((long) N * WG, 1, 1), dims(WG, 1, 1), 4.0 * N * V, 4.0 * N * V,
                4.0 * N * V + 4.0 * N, 4L * WG))), List.of(t), spans(logits), spans(losses, probs));
    }

    static DeviceLaunch mean(OpContext ctx, FloatBuf loss, FloatBuf losses, int N) {
        int l = o(loss), ls = o(losses);
        return new DeviceLaunch("mean_loss", List.of(new Task((g, id, mem, args) -> g.task(id, LossOp::meanLoss, ctx.kc, mem,
                l, ls, N), Grids.groups(1, WG), new LaunchInfo("mean_loss", dims(WG, 1, 1), dims(WG, 1, 1), N, 4.0 * N, 4,
                8L * WG))), List.of(), spans(losses), spans(loss));
    }

    static DeviceLaunch backward(OpContext ctx, FloatBuf dlogits, FloatBuf probs, IntBuf targets, int N, int V) {
        int d = o(dlogits), p = o(probs);
        IntArray t = OpContext.ints(targets);
        return new DeviceLaunch("crossentropy_backward", List.of(new Task((g, id, mem, args) -> g.task(id,
                LossOp::crossEntropyBackward, mem, d, p, t, N, V), null, Grids.perElement("crossentropy_backward",
                dims(N, V, 1), 3.0 * N * V, 8.0 * N * V, 4.0 * N * V))), List.of(t), spans(probs, dlogits), spans(dlogits));
    }
}
