package org.gptjvm.tornado;

import org.gptjvm.tornado.TaskGraphPlan.TLaunch;
import org.gptjvm.tornado.TaskGraphPlan.Task;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The second passes of a program's long sums in as few launches as is safe. A Linear layer's weight
 * and bias gradients and a LayerNorm's weight and bias gradients are summed in two passes: partial
 * sums into the layer's own scratch, then {@link ReduceKernels#sumParts} adds them, in order, into the
 * parameter's gradient. Nothing in a backward pass reads a parameter's gradient, so the second
 * passes of a whole backward can wait and run as one launch: one launch instead of one per layer, a
 * round trip saved per layer on TornadoVM's OpenCL path, which waits for the device before every
 * launch. Each job still sums its parts in their order, so the bits do not change.
 *
 * <p>A waiting job's parts are read from scratch that only its own layer writes (the backend gives
 * each call its own), and its output is a parameter's gradient. The jobs that wait run before any
 * launch that may read or write a parameter's gradient some other way ({@link #FLUSH_BEFORE}: zeroing,
 * the gradients' norm, AdamW, the embeddings' backward), before a task that adds into one of their
 * outputs directly (a weight gradient without split K), before a job for an output one of them
 * already has, before their own launch if a program runs it again, and at the end of the program.
 */
final class DeferredSums {
    /** Launches that may touch a parameter's gradient other than through a job. */
    static final Set<String> FLUSH_BEFORE = Set.of("zero", "sum_of_squares", "adamw", "encoder_backward");

    /** n floats of the arena from {@code at}: what a job or a task writes. */
    record Span(int at, int n) {
        /** The output of job {n, parts, base, out}. */
        static Span of(int[] job) {
            return new Span(job[3], job[0]);
        }

        boolean meets(Span o) {
            return at < o.at + o.n && o.at < at + n;
        }
    }

    private DeferredSums() {
    }

    /**
     * The launches with every task of {@code deferrable} (its jobs {n, parts, base, out}) taken out and
     * its jobs run, merged, by a task of {@code sums} where they must have run. {@code direct}: tasks
     * that add into parameter gradients themselves, with what they add into.
     */
    static List<TLaunch> merged(List<TLaunch> launches, Map<Task, List<int[]>> deferrable,
                                Map<Task, List<Span>> direct, Function<List<int[]>, Task> sums) {
        List<TLaunch> out = new ArrayList<>();
        List<int[]> pending = new ArrayList<>();
        Set<TLaunch> waiting = Collections.newSetFromMap(new IdentityHashMap<>()); // whose jobs are pending
        for (TLaunch l : launches) {
            // a launch recorded once and run twice in a program writes its partial sums again
            if (FLUSH_BEFORE.contains(l.kernel()) || waiting.contains(l)) {
                flush(pending, waiting, out, sums);
            }
            List<Task> kept = new ArrayList<>();
            for (Task t : l.tasks()) {
                List<int[]> jobs = deferrable.get(t);
                List<Span> writes = jobs != null ? jobs.stream().map(Span::of).toList() : direct.getOrDefault(t, List.of());
                if (writes.stream().anyMatch(w -> pending.stream().anyMatch(p -> w.meets(Span.of(p))))) {
                    // this task's outputs are a waiting job's: the jobs run first, in the launch before it
                    if (!kept.isEmpty()) {
                        out.add(new TLaunch(l.kernel(), kept, l.inputs()));
                        kept = new ArrayList<>();
                    }
                    flush(pending, waiting, out, sums);
                }
                if (jobs != null) {
                    pending.addAll(jobs);
                    waiting.add(l);
                } else {
                    kept.add(t);
                }
            }
            if (!kept.isEmpty()) {
                out.add(new TLaunch(l.kernel(), kept, l.inputs()));
            }
        }
        flush(pending, waiting, out, sums);
        return out;
    }

    /** The pending jobs as one launch, if any; then nothing waits. */
    private static void flush(List<int[]> pending, Set<TLaunch> waiting, List<TLaunch> out,
                              Function<List<int[]>, Task> sums) {
        if (!pending.isEmpty()) {
            out.add(new TLaunch("backward_sums", List.of(sums.apply(List.copyOf(pending))), List.of()));
            pending.clear();
        }
        waiting.clear();
    }
}
