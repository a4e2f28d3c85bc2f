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

    /** One kernel's total (or another named measurement's): wall time in nanoseconds and how many made it. */
    public record Entry(String kernel, long nanos, long launches) {
    }

    private final Map<String, long[]> byKernel = new LinkedHashMap<>();

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

    public long totalNanos() {
        return byKernel.values().stream().mapToLong(v -> v[0]).sum();
    }
}
