package org.gptjvm.tornado;

import org.gptjvm.engine.AdamW;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.ParamBlocks;
import org.gptjvm.tornado.DeviceLaunch.Span;
import org.gptjvm.tornado.DeviceLaunch.Task;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

import java.util.List;

import static org.gptjvm.tornado.Grids.dims;

/**
 * torch.optim.AdamW over a run of the parameter blocks, one work-item per element: the parameters,
 * gradients and moments lie in four blocks of the same parts, so a run of parts is one range of each
 * and one task, as llm.c updates its one parameter block.
 */
final class AdamWOp {
    private AdamWOp() {
    }

    /** As RefKernels.adamw; hyper holds the engine's AdamW scalars, written by the host each step. */
    public static void adamw(FloatArray mem, int p, int g, int m, int v, FloatArray hyper, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float decay = hyper.get(AdamW.DECAY), oneMinusBeta1 = hyper.get(AdamW.ONE_MINUS_BETA1);
            float beta2 = hyper.get(AdamW.BETA2), oneMinusBeta2 = hyper.get(AdamW.ONE_MINUS_BETA2);
            float stepSize = hyper.get(AdamW.STEP_SIZE), bc2Sqrt = hyper.get(AdamW.BC2_SQRT), eps = hyper.get(AdamW.EPS);
            float grad = mem.get(g + i) * hyper.get(AdamW.GRAD_SCALE);
            float mi = mem.get(m + i) + (grad - mem.get(m + i)) * oneMinusBeta1;
            float vi = mem.get(v + i) * beta2 + oneMinusBeta2 * grad * grad;
            float denom = TornadoMath.sqrt(vi) / bc2Sqrt + eps;
            mem.set(p + i, mem.get(p + i) * decay - stepSize * (mi / denom));
            mem.set(m + i, mi);
            mem.set(v + i, vi);
        }
    }

    /** Parameters [from, to) of the blocks; {@code hyper} is a host input (the backend makes it one). */
    static DeviceLaunch launch(ParamBlocks blocks, int from, int to, FloatBuf hyperBuf) {
        Span p = DeviceArena.span(blocks.values(), from, to), g = DeviceArena.span(blocks.grads(), from, to);
        Span m = DeviceArena.span(blocks.m(), from, to), v = DeviceArena.span(blocks.v(), from, to);
        int pp = (int) p.at(), gg = (int) g.at(), mm = (int) m.at(), vv = (int) v.at(), n = (int) p.n();
        FloatArray h = DeviceArena.own(hyperBuf);
        return new DeviceLaunch("adamw", List.of(new Task((gr, id, mem, args) -> gr.task(id, AdamWOp::adamw, mem, pp, gg, mm,
                vv, h, n), null, Grids.perElement("adamw", dims(n, 1, 1), 12.0 * n, 16.0 * n, 12.0 * n))), List.of(h),
                List.of(p, g, m, v), List.of(p, m, v));
    }
}
