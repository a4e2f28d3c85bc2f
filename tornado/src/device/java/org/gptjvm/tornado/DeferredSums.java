package org.gptjvm.tornado;

import org.gptjvm.engine.device.LaunchInfo;
import org.gptjvm.tornado.DeviceLaunch.Span;
import org.gptjvm.tornado.DeviceLaunch.SumJob;
import org.gptjvm.tornado.DeviceLaunch.Task;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.ArrayList;
import java.util.List;

/**
 * The second passes of long sums, and where they run. A Linear layer's weight and bias gradients and
 * a LayerNorm's weight and bias gradients are summed in two passes: partial sums into the layer's
 * own scratch, then {@link #sumParts} adds them, in order, into the parameter's gradient. Nothing in
 * a backward pass reads a parameter's gradient, so the second passes of a whole backward can wait and
 * run as one launch: one launch instead of one per layer. Each job still sums its parts in their
 * order, so the bits do not change.
 *
 * <p>The waiting jobs run, as one launch, before any launch that reads or writes what one of them
 * writes (a parameter's gradient: zeroing it, its norm, AdamW, another launch adding into it) or
 * writes what one of them reads (its partial sums: the same launch run again), and at the end of the
 * program. Every launch declares the ranges it reads and writes ({@link DeviceLaunch}), so the rule
 * needs no list of kernels.
 */
final class DeferredSums {
    private DeferredSums() {
    }

    /**
     * The second pass of column sums and split-K slices, for several of them in one launch: job q of
     * {@code args[at]} jobs is the quadruple {@code args[at + 1 + 4q ..] = n, parts, base, out}, and adds
     * {@code out[e] += part 0 + part 1 + ... + part parts-1}, part z being {@code mem[base + z*n + e]},
     * for e below n. One work-item per output element, the jobs' elements one after another; each sum
     * runs in part order, so the result does not depend on which launch it shares.
     */
    public static void sumParts(KernelContext kc, FloatArray mem, IntArray args, int at) {
        int e = kc.globalIdx;
        int jobs = args.get(at);
        int q = 0, n = args.get(at + 1);
        while (q < jobs - 1 && e >= n) {
            e -= n;
            q++;
            n = args.get(at + 1 + 4 * q);
        }
        if (e < n) {
            int parts = args.get(at + 2 + 4 * q), base = args.get(at + 3 + 4 * q), out = args.get(at + 4 + 4 * q);
            float s = Reductions.stridedSum(mem, base + e, n, parts);
            mem.set(out + e, mem.get(out + e) + s);
        }
    }

    /** A task that runs {@code jobs} in one launch of {@link #sumParts}. */
    static Task task(OpContext ctx, String kernel, List<SumJob> jobs) {
        int[] table = new int[1 + 4 * jobs.size()];
        table[0] = jobs.size();
        long elements = 0;
        double flops = 0, read = 0;
        for (int q = 0; q < jobs.size(); q++) {
            SumJob j = jobs.get(q);
            table[1 + 4 * q] = j.n();
            table[2 + 4 * q] = j.parts();
            table[3 + 4 * q] = j.base();
            table[4 + 4 * q] = j.out();
            elements += j.n();
            flops += (double) j.parts() * j.n();
            read += 4.0 * (j.parts() + 1) * j.n();
        }
        int at = ctx.args(table);
        return new Task((g, id, mem, args) -> g.task(id, DeferredSums::sumParts, ctx.kc, mem, args, at),
                Grids.cover(elements, 128), new LaunchInfo(kernel, Grids.dims(Grids.roundUp(elements, 128), 1, 1),
                Grids.dims(128, 1, 1), flops, read, 4.0 * elements, 0));
    }

    /** A task of second passes that may wait for later launches and merge with theirs. */
    static Task waiting(OpContext ctx, String kernel, List<SumJob> jobs) {
        Task t = task(ctx, kernel, jobs);
        return new Task(t.adder(), t.grid(), t.info(), List.copyOf(jobs));
    }

    /**
     * The launches with every waiting task taken out and its jobs run, merged, in a launch of
     * {@link #task} where they must have run (see the class comment).
     */
    static List<DeviceLaunch> merged(OpContext ctx, List<DeviceLaunch> launches) {
        List<DeviceLaunch> out = new ArrayList<>();
        List<SumJob> pending = new ArrayList<>();
        for (DeviceLaunch l : launches) {
            List<Span> outputs = pending.stream().map(SumJob::writes).toList();
            List<Span> inputs = pending.stream().map(SumJob::reads).toList();
            if (Span.meet(l.reads(), outputs) || Span.meet(l.writes(), outputs) || Span.meet(l.writes(), inputs)) {
                flush(ctx, pending, out);
            }
            List<Task> kept = new ArrayList<>();
            for (Task t : l.tasks()) {
                if (t.jobs().isEmpty()) {
                    kept.add(t);
                } else {
                    pending.addAll(t.jobs());
                }
            }
            if (!kept.isEmpty()) {
                out.add(l.with(kept));
            }
        }
        flush(ctx, pending, out);
        return out;
    }

    /** The pending jobs as one launch, if any; then nothing waits. */
    private static void flush(OpContext ctx, List<SumJob> pending, List<DeviceLaunch> out) {
        if (!pending.isEmpty()) {
            List<Span> reads = pending.stream().map(SumJob::reads).toList();
            List<Span> writes = pending.stream().map(SumJob::writes).toList();
            out.add(new DeviceLaunch("backward_sums", List.of(task(ctx, "backward_sums", List.copyOf(pending))), List.of(),
                    reads, writes));
            pending.clear();
        }
    }
}
