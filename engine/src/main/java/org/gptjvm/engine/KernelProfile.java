package org.gptjvm.engine;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Time spent per kernel, summed over every run of the programs a backend compiled after
 * {@link Backend#profile} was handed this object. One caller at a time, like a backend's programs.
 */
public final class KernelProfile {

    /** One kernel's total: wall time in nanoseconds and the number of launches that took it. */
    public record Entry(String kernel, long nanos, long launches) {
    }

    private final Map<String, long[]> byKernel = new LinkedHashMap<>();
    private final Map<String, long[]> stages = new LinkedHashMap<>();
    private final Map<String, long[]> firstRuns = new LinkedHashMap<>();

    /** The accumulator of one kernel: [nanos, launches]; a launch keeps it so that timing allocates nothing. */
    public long[] slot(String kernel) {
        return byKernel.computeIfAbsent(kernel, k -> new long[2]);
    }

    /** Every kernel seen, the most time first. */
    public List<Entry> entries() {
        List<Entry> out = new ArrayList<>();
        byKernel.forEach((k, v) -> out.add(new Entry(k, v[0], v[1])));
        out.sort(Comparator.comparingLong(Entry::nanos).reversed());
        return out;
    }

    /**
     * The accumulator of a named measurement besides the kernels' own times, [nanos, count]: how a
     * backend's runs of its programs add up on the host clock, and what its runtime says of them
     * (the kernels, dispatching them, transfers), so the kernels' sum can be set against the step.
     */
    public long[] stage(String name) {
        return stages.computeIfAbsent(name, k -> new long[2]);
    }

    /** Every stage measured, in the order first seen; {@code launches} holds its count. */
    public List<Entry> stages() {
        return entries(stages);
    }

    /**
     * The accumulator of a measurement of programs' first runs, [nanos, count]: a device backend
     * compiles a program then, so these are not a step's time (compiling, by whom).
     */
    public long[] firstRun(String name) {
        return firstRuns.computeIfAbsent(name, k -> new long[2]);
    }

    public List<Entry> firstRuns() {
        return entries(firstRuns);
    }

    private static List<Entry> entries(Map<String, long[]> m) {
        List<Entry> out = new ArrayList<>();
        m.forEach((k, v) -> out.add(new Entry(k, v[0], v[1])));
        return out;
    }

    public long totalNanos() {
        return byKernel.values().stream().mapToLong(v -> v[0]).sum();
    }
}
