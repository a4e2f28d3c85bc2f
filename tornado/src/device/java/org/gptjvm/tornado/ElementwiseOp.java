package org.gptjvm.tornado;

import org.gptjvm.engine.FloatBlock;
import org.gptjvm.tornado.DeviceLaunch.Span;
import org.gptjvm.tornado.DeviceLaunch.Task;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

import java.util.List;

import static org.gptjvm.tornado.Grids.dims;

/**
 * Zeroing a block (one range of the arena: the gradients, a step's activation gradients), and copying
 * a host array into one (a block changed on the host: {@link TornadoBackend#changeOnHost}).
 */
final class ElementwiseOp {
    private ElementwiseOp() {
    }

    public static void zero(FloatArray mem, int a, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            mem.set(a + i, 0f);
        }
    }

    public static void copyIn(FloatArray mem, int a, FloatArray src, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            mem.set(a + i, src.get(i));
        }
    }

    /** The block's range := {@code src} (a host input, sent with every run). */
    static DeviceLaunch copyInLaunch(FloatBlock block, FloatArray src) {
        Span s = DeviceArena.span(block);
        int x = (int) s.at(), n = (int) s.n();
        return new DeviceLaunch("copy_in", List.of(new Task((g, id, mem, args) -> g.task(id, ElementwiseOp::copyIn, mem, x,
                src, n), null, Grids.perElement("copy_in", dims(n, 1, 1), 0, 4.0 * n, 4.0 * n))), List.of(src), List.of(),
                List.of(s));
    }

    static DeviceLaunch zeroLaunch(FloatBlock block) {
        Span s = DeviceArena.span(block);
        int x = (int) s.at(), n = (int) s.n();
        return new DeviceLaunch("zero", List.of(new Task((g, id, mem, args) -> g.task(id, ElementwiseOp::zero, mem, x, n), null,
                Grids.perElement("zero", dims(n, 1, 1), 0, 0, 4.0 * n))), List.of(), List.of(), List.of(s));
    }
}
