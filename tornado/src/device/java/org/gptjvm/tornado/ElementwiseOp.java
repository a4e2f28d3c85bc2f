package org.gptjvm.tornado;

import org.gptjvm.engine.DropoutMask;
import org.gptjvm.engine.FloatBlock;
import org.gptjvm.tornado.DeviceLaunch.Span;
import org.gptjvm.tornado.DeviceLaunch.Task;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.List;

import static org.gptjvm.tornado.Grids.dims;

/**
 * Zeroing a block (one range of the arena: the gradients, a step's activation gradients), copying
 * a host array into one (a block changed on the host: {@link TornadoBackend#changeOnHost}), and a
 * copy through dropout's mask (what a product reads through dropout, masked once before it).
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

    /**
     * dst[e] = src[e] times its dropout mask (element first * cols + e, first: the seed's first row of
     * the combined batch), for e < n: what a product reads through dropout (a Linear layer's gradient,
     * attention's weights), masked once before the products read it, rather than as their tiles stage
     * it (each tile would hash every element again: a third of a slice's instructions).
     */
    public static void maskedCopy(FloatArray mem, int dst, int src, int n, int cols, IntArray seed, float p, int salt) {
        long seedValue = DropoutMask.seed(seed.get(0), seed.get(1));
        int base = seed.get(DropoutMask.FIRST_ROW) * cols;
        for (@Parallel int e = 0; e < n; e++) {
            mem.set(dst + e, mem.get(src + e) * DropoutMask.scale(seedValue, salt, base + e, p));
        }
    }

    /** The task of {@link #maskedCopy}, named {@code kernel}. */
    static Task maskedCopyTask(String kernel, int dst, int src, int n, int cols, IntArray seed, float p, int salt) {
        return new Task((g, id, mem, args) -> g.task(id, ElementwiseOp::maskedCopy, mem, dst, src, n, cols, seed, p, salt),
                null, Grids.perElement(kernel, dims(n, 1, 1), n, 4.0 * n, 4.0 * n));
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
