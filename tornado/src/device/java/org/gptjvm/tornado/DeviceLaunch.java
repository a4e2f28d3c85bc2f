package org.gptjvm.tornado;

import org.gptjvm.engine.Launch;
import org.gptjvm.engine.device.LaunchInfo;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.List;

/**
 * One launch of the Backend contract as the tornado backend records it: its tasks, the host-input
 * arrays they read, and the ranges of the arena it reads and writes (its own scratch included), which
 * is what decides where the second passes of long sums may wait ({@link DeferredSums}).
 */
record DeviceLaunch(String kernel, List<Task> tasks, List<Object> inputs, List<Span> reads, List<Span> writes)
        implements Launch {

    /** Adds one task to a graph under the given id, over the arena and the argument table. */
    interface TaskAdder {
        void add(TaskGraph g, String id, FloatArray mem, IntArray args);
    }

    /**
     * One task: how to add it, its work-group grid (null: TornadoVM's own for a {@code @Parallel}
     * loop), what it asks of the device, and, for a second pass of sums that may wait for later
     * launches, its jobs (else empty).
     */
    record Task(TaskAdder adder, WorkerGrid grid, LaunchInfo info, List<SumJob> jobs) {
        Task(TaskAdder adder, WorkerGrid grid, LaunchInfo info) {
            this(adder, grid, info, List.of());
        }
    }

    /**
     * A second pass of a long sum ({@link DeferredSums#sumParts}): adds {@code parts} partials of
     * {@code n} floats from {@code base}, in order, into {@code n} floats at {@code out}.
     */
    record SumJob(int n, int parts, int base, int out) {
        Span reads() {
            return new Span(base, (long) parts * n);
        }

        Span writes() {
            return new Span(out, n);
        }
    }

    /** n floats of the arena from {@code at}. */
    record Span(long at, long n) {
        boolean meets(Span o) {
            return at < o.at + o.n && o.at < at + n;
        }

        static boolean meet(List<Span> a, List<Span> b) {
            return a.stream().anyMatch(x -> b.stream().anyMatch(x::meets));
        }
    }

    DeviceLaunch {
        tasks = List.copyOf(tasks);
        inputs = List.copyOf(inputs);
        reads = List.copyOf(reads);
        writes = List.copyOf(writes);
    }

    /** This launch with other tasks (a part of it). */
    DeviceLaunch with(List<Task> someTasks) {
        return new DeviceLaunch(kernel, someTasks, inputs, reads, writes);
    }
}
