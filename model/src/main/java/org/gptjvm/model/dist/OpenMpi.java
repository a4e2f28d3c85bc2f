package org.gptjvm.model.dist;

import org.gptjvm.engine.GptException;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Open MPI's C library ({@code libmpi.so.40}, Debian's {@code libopenmpi3}), called through Java's
 * foreign-function API: no Java bindings (Debian ships no mpi.jar, and Open MPI 6 drops them), no
 * JNI, no copies. Open MPI's handles are the addresses of its exported objects
 * ({@code ompi_mpi_comm_world}, {@code ompi_mpi_float}, {@code ompi_mpi_op_sum}, ...); MPI_IN_PLACE is
 * {@code (void *) 1}. Errors are MPI's default, fatal to the whole job. Every collective runs under a
 * watchdog ({@link Watchdog}): a job whose processes stop answering ends instead of hanging.
 */
final class OpenMpi implements Collective {
    private static final String LIBRARY = "libmpi.so.40";

    private final Linker linker = Linker.nativeLinker();
    private final SymbolLookup lib;
    private final MemorySegment world, floatType, doubleType, longType, sum;
    private final MethodHandle allreduce, allgather, finalizeCall;
    private final int rank, size;
    private final Watchdog watchdog;
    private double floatSeconds;
    private boolean closed;

    private OpenMpi(SymbolLookup lib, int expected) {
        this.lib = lib;
        world = symbol("ompi_mpi_comm_world");
        floatType = symbol("ompi_mpi_float");
        doubleType = symbol("ompi_mpi_double");
        longType = symbol("ompi_mpi_long");
        sum = symbol("ompi_mpi_op_sum");
        // critical: heap float[] (a host backend's buffers) go to MPI in place, as off-heap memory does
        allreduce = linker.downcallHandle(symbol("MPI_Allreduce"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS),
                Linker.Option.critical(true));
        allgather = handle("MPI_Allgather", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT,
                ADDRESS, ADDRESS));
        finalizeCall = handle("MPI_Finalize", FunctionDescriptor.of(JAVA_INT));
        MethodHandle init = handle("MPI_Init", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        MethodHandle commRank = handle("MPI_Comm_rank", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        MethodHandle commSize = handle("MPI_Comm_size", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        try (Arena a = Arena.ofConfined()) {
            check("MPI_Init", (int) init.invokeExact(MemorySegment.NULL, MemorySegment.NULL));
            MemorySegment out = a.allocate(JAVA_INT);
            check("MPI_Comm_rank", (int) commRank.invokeExact(world, out));
            rank = out.get(JAVA_INT, 0);
            check("MPI_Comm_size", (int) commSize.invokeExact(world, out));
            size = out.get(JAVA_INT, 0);
        } catch (GptException e) {
            throw e;
        } catch (Throwable t) {
            throw new GptException("MPI could not start: " + t);
        }
        if (size != expected) {
            throw new GptException("the launcher said " + expected + " processes, MPI says " + size);
        }
        watchdog = new Watchdog(rank);
    }

    /** MPI for a job of {@code expected} processes; a one-line error when Open MPI's library is missing. */
    static OpenMpi start(int expected) {
        SymbolLookup lib;
        try {
            lib = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
        } catch (IllegalArgumentException e) {
            throw new GptException("this process is one of " + expected + " (started by mpirun or srun), and Open MPI's "
                    + LIBRARY + " is not here: install Open MPI 4 (apt-get install openmpi-bin)");
        }
        return new OpenMpi(lib, expected);
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public void sumFloats(MemorySegment floats) {
        long n = floats.byteSize() / Float.BYTES;
        long t0 = System.nanoTime();
        // MPI counts are ints: a block of more than 2^31 - 1 floats goes in pieces
        for (long at = 0; at < n; at += Integer.MAX_VALUE) {
            int count = (int) Math.min(Integer.MAX_VALUE, n - at);
            MemorySegment piece = floats.asSlice(at * Float.BYTES, (long) count * Float.BYTES);
            watchdog.enter("all-reduce of " + count + " floats");
            try {
                check("MPI_Allreduce", (int) allreduce.invokeExact(inPlace(), piece, count, floatType, sum, world));
            } catch (GptException e) {
                throw e;
            } catch (Throwable t) {
                throw new GptException("MPI_Allreduce failed: " + t);
            } finally {
                watchdog.leave();
            }
        }
        floatSeconds += (System.nanoTime() - t0) / 1e9;
    }

    @Override
    public void sumDoubles(double[] values) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocateFrom(ValueLayout.JAVA_DOUBLE, values);
            watchdog.enter("all-reduce of " + values.length + " numbers");
            try {
                check("MPI_Allreduce", (int) allreduce.invokeExact(inPlace(), m, values.length, doubleType, sum, world));
            } finally {
                watchdog.leave();
            }
            MemorySegment.copy(m, ValueLayout.JAVA_DOUBLE, 0, values, 0, values.length);
        } catch (GptException e) {
            throw e;
        } catch (Throwable t) {
            throw new GptException("MPI_Allreduce failed: " + t);
        }
    }

    @Override
    public long[] gather(long value) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment mine = a.allocateFrom(ValueLayout.JAVA_LONG, value);
            MemorySegment all = a.allocate(ValueLayout.JAVA_LONG, size);
            watchdog.enter("all-gather");
            try {
                check("MPI_Allgather", (int) allgather.invokeExact(mine, 1, longType, all, 1, longType, world));
            } finally {
                watchdog.leave();
            }
            return all.toArray(ValueLayout.JAVA_LONG);
        } catch (GptException e) {
            throw e;
        } catch (Throwable t) {
            throw new GptException("MPI_Allgather failed: " + t);
        }
    }

    @Override
    public double floatSumSeconds() {
        return floatSeconds;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            watchdog.close();
            try {
                check("MPI_Finalize", (int) finalizeCall.invokeExact());
            } catch (GptException e) {
                throw e;
            } catch (Throwable t) {
                throw new GptException("MPI_Finalize failed: " + t);
            }
        }
    }

    private static MemorySegment inPlace() {
        return MemorySegment.ofAddress(1L); // Open MPI's MPI_IN_PLACE
    }

    private MemorySegment symbol(String name) {
        return lib.find(name).orElseThrow(() -> new GptException(LIBRARY + " lacks " + name + ": gpt needs Open MPI 4 or 5"));
    }

    private MethodHandle handle(String name, FunctionDescriptor d) {
        return linker.downcallHandle(symbol(name), d);
    }

    private static void check(String call, int rc) {
        if (rc != 0) {
            throw new GptException(call + " returned error " + rc);
        }
    }
}
