package org.gptjvm.model.dist;

import java.lang.foreign.MemorySegment;

/**
 * The processes of one training job and what they do together: sum float blocks and a few doubles
 * across all of them (all-reduce), and gather one long from each. One process alone ({@link #single})
 * does nothing and needs no library; several are started by {@code mpirun} or Slurm's {@code srun}
 * and talk through MPI ({@link OpenMpi}). Calls are made from one thread, in the same order on every
 * process.
 */
public interface Collective extends AutoCloseable {

    /** This process's number, 0..size-1; rank 0 prints and writes. */
    int rank();

    int size();

    default boolean leader() {
        return rank() == 0;
    }

    /** Sums {@code floats} (float32, in host memory, heap or not) element-wise across all processes, in place. */
    void sumFloats(MemorySegment floats);

    /** Sums {@code values} element-wise across all processes, in place. */
    void sumDoubles(double[] values);

    /** Every process's {@code value}, by rank. */
    long[] gather(long value);

    /** Seconds spent in {@link #sumFloats}, over the run (for the all-reduce's share of a step). */
    double floatSumSeconds();

    @Override
    void close();

    /** The job this process belongs to: from the launcher's environment, else a job of one. */
    static Collective fromEnvironment() {
        int size = Launchers.worldSize(System.getenv());
        return size > 1 ? OpenMpi.start(size) : single();
    }

    /**
     * The command that starts a job of {@code processes} as this one was started (srun inside a Slurm
     * step, else mpirun), for a command gpt prints, such as how to resume.
     */
    static String launchCommand(int processes) {
        return Launchers.command(System.getenv(), processes);
    }

    /** A job of one process: every operation leaves its values as they are. */
    static Collective single() {
        return new Collective() {
            @Override
            public int rank() {
                return 0;
            }

            @Override
            public int size() {
                return 1;
            }

            @Override
            public void sumFloats(MemorySegment floats) {
            }

            @Override
            public void sumDoubles(double[] values) {
            }

            @Override
            public long[] gather(long value) {
                return new long[]{value};
            }

            @Override
            public double floatSumSeconds() {
                return 0;
            }

            @Override
            public void close() {
            }
        };
    }
}
