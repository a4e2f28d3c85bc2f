package org.gptjvm.bench;

import org.gptjvm.model.dist.Collective;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The gradients' all-reduce as a data-parallel gpt run makes it ({@link Collective#sumFloats}, Open MPI
 * through Java's foreign-function API), timed like bench/mpi/allreduce.c times the same call from C:
 * COUNT floats (default: the lecture model's 10,788,929 gradients), off-heap (the tornado backend's
 * staging) and in a heap array (the host backends' buffers, in place), ITERS calls each after one
 * warm-up. Run by bench/mpi/compare.sh under mpirun.
 */
public final class AllReduceBench {
    private AllReduceBench() {
    }

    public static void main(String[] args) {
        long count = args.length > 0 ? Long.parseLong(args[0]) : 10_788_929L;
        int iters = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        try (Collective world = Collective.fromEnvironment(); Arena arena = Arena.ofConfined()) {
            MemorySegment off = arena.allocate(ValueLayout.JAVA_FLOAT, count);
            float[] heap = new float[(int) count];
            report(world, "Java, off-heap", time(world, off, iters), count);
            report(world, "Java, heap array", time(world, MemorySegment.ofArray(heap), iters), count);
        }
    }

    private static double[] time(Collective world, MemorySegment g, int iters) {
        double[] ms = new double[iters];
        long n = g.byteSize() / Float.BYTES;
        float want = world.size() * (world.size() + 1) / 2f;
        for (int i = 0; i <= iters; i++) {
            g.fill((byte) 0);
            for (long j = 0; j < n; j++) {
                g.setAtIndex(ValueLayout.JAVA_FLOAT, j, world.rank() + 1);
            }
            world.sumDoubles(new double[1]); // lines the processes up, as MPI_Barrier in the C program
            long t0 = System.nanoTime();
            world.sumFloats(g);
            if (i > 0) {
                ms[i - 1] = (System.nanoTime() - t0) / 1e6;
            }
        }
        for (long j = 0; j < n; j++) {
            if (g.getAtIndex(ValueLayout.JAVA_FLOAT, j) != want) {
                throw new IllegalStateException("wrong sum at " + j);
            }
        }
        Arrays.sort(ms);
        return ms;
    }

    private static void report(Collective world, String what, double[] ms, long count) {
        if (world.leader()) {
            System.out.printf("%s: %d processes, %d floats: median %.2f ms, min %.2f ms%n", what, world.size(), count,
                    ms[ms.length / 2], ms[0]);
        }
    }
}
