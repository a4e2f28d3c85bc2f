package org.gptjvm.tornado;

import org.gptjvm.engine.device.LaunchInfo;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid;

/**
 * Launch sizes in one place: the work-group grids the ops' launchers give TornadoVM, and how long
 * sums are spread over a device.
 */
final class Grids {
    /**
     * Work-groups a long product or sum is spread over at least (split K, row chunks): a few per
     * streaming multiprocessor of a large GPU, so that none idles while another works.
     */
    static final int SPREAD = 512;

    private Grids() {
    }

    /** A 1-D grid of {@code groups} work-groups of {@code wg}. */
    static WorkerGrid groups(long groups, int wg) {
        WorkerGrid1D g = new WorkerGrid1D((int) (groups * wg));
        g.setLocalWork(wg, 1, 1);
        return g;
    }

    /** A 1-D grid covering {@code n} work-items in groups of {@code wg}. */
    static WorkerGrid cover(long n, int wg) {
        return groups((n + wg - 1) / wg, wg);
    }

    /**
     * Row chunks for a column sum over N rows of {@code cols}: enough work-items for the device, in order.
     * A kernel takes ceil(N / chunks) rows a chunk and derives the count back from that, ceil(N / rows),
     * so the count is one that survives the round trip (which ceil(N / ceil(N / x)) is, for any x).
     */
    static int chunks(int N, int cols) {
        int wanted = Math.max(1, Math.min(N, (SPREAD * 128 + cols - 1) / cols));
        int rows = (N + wanted - 1) / wanted;
        return (N + rows - 1) / rows;
    }

    static long roundUp(long n, int m) {
        return (n + m - 1) / m * m;
    }

    static long[] dims(long x, long y, long z) {
        return new long[]{x, y, z};
    }

    /**
     * What a one-work-item-per-element kernel ({@code @Parallel} loops, whose work-groups TornadoVM
     * chooses) asks of the device: its global size, FLOPs and bytes, no local memory.
     */
    static LaunchInfo perElement(String kernel, long[] global, double flops, double read, double written) {
        return new LaunchInfo(kernel, global, dims(0, 0, 0), flops, read, written, 0);
    }
}
