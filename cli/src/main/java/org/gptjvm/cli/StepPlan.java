package org.gptjvm.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import org.gptjvm.engine.Backend;
import org.gptjvm.engine.KernelProfile;
import org.gptjvm.engine.Program;
import org.gptjvm.engine.device.DeviceDiagnostics;
import org.gptjvm.engine.device.LaunchInfo;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The launches of one training step as a device backend makes them ({@code gpt bench --plan}):
 * every launch with its work sizes, FLOPs, bytes and local memory, then the same per kernel (with
 * the measured time when a profile is given), then the two checks that say whether a GPU is kept
 * busy: every launch that carries more than {@link #SHARE} of the step's FLOPs or bytes has at least
 * {@link #MIN_WORK_ITEMS} work-items (a large GPU keeps over 200,000 resident), and every launch
 * doing at least {@link #INTENSE} FLOPs per byte it moves (the products) works from local memory.
 */
final class StepPlan {
    static final double SHARE = 0.01;
    static final long MIN_WORK_ITEMS = 32_768;
    static final double INTENSE = 2.0;

    /** A launch of the step, and the program it belongs to. */
    record Row(String program, LaunchInfo info) {
    }

    /**
     * What was measured over {@code steps} steps: each kernel's time, and the device's stages and
     * first runs ({@link DeviceDiagnostics#stages}, {@link DeviceDiagnostics#firstRuns}).
     */
    record Measured(KernelProfile kernels, List<KernelProfile.Entry> stages, List<KernelProfile.Entry> firstRuns,
                    int steps) {
        static Measured of(KernelProfile kernels, Backend backend, int steps) {
            if (backend instanceof DeviceDiagnostics d) {
                return new Measured(kernels, d.stages(), d.firstRuns(), steps);
            }
            return new Measured(kernels, List.of(), List.of(), steps);
        }
    }

    /** The launches of {@code programs}, in order, as {@code device} makes them. */
    static StepPlan of(DeviceDiagnostics device, List<Program> programs, long bufferBytes) {
        List<Row> rows = new ArrayList<>();
        for (Program p : programs) {
            device.plan(p).forEach(l -> rows.add(new Row(p.name(), l)));
        }
        return new StepPlan(rows, bufferBytes);
    }

    /** One kernel's launches summed: count, FLOPs, bytes, fewest work-items of a launch. */
    private static final class Total {
        long launches, minItems = Long.MAX_VALUE;
        double flops, bytes;
    }

    private final List<Row> rows;
    private final double flops, bytes;
    /** What the backend holds for the model: every buffer the step's launches use, and its scratch. */
    private final long bufferBytes;

    StepPlan(List<Row> rows, long bufferBytes) {
        this.rows = rows;
        this.bufferBytes = bufferBytes;
        this.flops = rows.stream().mapToDouble(r -> r.info.flops()).sum();
        this.bytes = rows.stream().mapToDouble(r -> r.info.bytesRead() + r.info.bytesWritten()).sum();
    }

    boolean isEmpty() {
        return rows.isEmpty();
    }

    private boolean large(LaunchInfo l) {
        return l.flops() > SHARE * flops || l.bytesRead() + l.bytesWritten() > SHARE * bytes;
    }

    private static boolean intense(LaunchInfo l) {
        return l.flops() >= INTENSE * (l.bytesRead() + l.bytesWritten());
    }

    /** Launches that hold back a GPU: too few work-items for their share, or a product without local tiles. */
    List<String> problems() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            LaunchInfo l = rows.get(i).info;
            if (l.library()) {
                continue; // its launches are the library's
            }
            if (large(l) && l.workItems() < MIN_WORK_ITEMS) {
                out.add(String.format(Locale.ROOT, "#%d %s: %d work-items for %.1f%% of the FLOPs, %.1f%% of the bytes", i,
                        l.kernel(), l.workItems(), 100 * l.flops() / flops,
                        100 * (l.bytesRead() + l.bytesWritten()) / bytes));
            }
            if (intense(l) && l.localBytes() == 0) {
                out.add(String.format(Locale.ROOT, "#%d %s: %.0f FLOPs per byte from global memory, no local tiles", i,
                        l.kernel(), l.flops() / (l.bytesRead() + l.bytesWritten())));
            }
        }
        return out;
    }

    private static String dims(long[] d) {
        if (d[0] == 0) {
            return "auto";
        }
        return d[2] > 1 ? d[0] + "x" + d[1] + "x" + d[2] : d[1] > 1 ? d[0] + "x" + d[1] : Long.toString(d[0]);
    }

    /**
     * Prints the plan. {@code modelFlops}: the step's FLOPs by the model's count, for comparison;
     * {@code measured}: what was measured over steps, or null.
     */
    void print(PrintStream out, double modelFlops, Measured measured) {
        KernelProfile profile = measured == null ? null : measured.kernels();
        int steps = measured == null ? 0 : measured.steps();
        out.printf(Locale.ROOT, "%4s  %-30s %-16s %-9s %11s %9s %9s %9s %6s %6s %6s%n", "#", "kernel", "global", "local",
                "work-items", "GFLOP", "MB read", "MB writ.", "lKiB", "%flop", "%byte");
        String program = null;
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            if (!r.program.equals(program)) {
                program = r.program;
                out.println("  program " + program + ":");
            }
            LaunchInfo l = r.info;
            String flag = !l.library() && ((large(l) && l.workItems() < MIN_WORK_ITEMS) || (intense(l) && l.localBytes() == 0))
                    ? " !" : "";
            out.printf(Locale.ROOT, "%4d  %-30s %-16s %-9s %11d %9.3f %9.2f %9.2f %6.1f %6.2f %6.2f%s%n", i, l.kernel(),
                    l.library() ? "library" : dims(l.global()), l.library() ? "library" : dims(l.local()), l.workItems(), l.flops() / 1e9, l.bytesRead() / 1e6,
                    l.bytesWritten() / 1e6, l.localBytes() / 1024.0, 100 * l.flops() / flops,
                    100 * (l.bytesRead() + l.bytesWritten()) / bytes, flag);
        }
        out.printf(Locale.ROOT, "%d launches, %.2f GFLOP (the model's count: %.2f), %.1f MB moved at least; "
                + "%.1f MiB of buffers on the device%n", rows.size(), flops / 1e9, modelFlops / 1e9, bytes / 1e6,
                bufferBytes / 1048576.0);

        out.println("per kernel:");
        Map<String, Total> byKernel = byKernel();
        long nanos = profile == null ? 0 : profile.totalNanos();
        Map<String, KernelProfile.Entry> times = new LinkedHashMap<>();
        if (profile != null) {
            profile.entries().forEach(e -> times.put(e.kernel(), e));
        }
        out.printf(Locale.ROOT, "      %-30s %8s %12s %7s %7s%s%n", "kernel", "launches", "min w-items", "%flop", "%byte",
                profile == null ? "" : String.format("%12s %7s", "ms/step", "%time"));
        byKernel.forEach((k, t) -> {
            String time = "";
            if (profile != null) {
                KernelProfile.Entry e = times.get(k);
                time = e == null ? String.format("%12s %7s", "-", "-") : String.format(Locale.ROOT, "%12.3f %6.1f%%",
                        e.nanos() / 1e6 / steps, 100.0 * e.nanos() / Math.max(1, nanos));
            }
            out.printf(Locale.ROOT, "      %-30s %8d %12d %6.2f%% %6.2f%%%s%n", k, t.launches, t.minItems, 100 * t.flops / flops,
                    100 * t.bytes / bytes, time);
        });
        printStages(out, measured);
        List<String> problems = problems();
        out.printf("every launch over %.0f%% of the FLOPs or bytes has at least %d work-items, and every launch doing "
                + "%.0f or more FLOPs per byte works from local memory: %s%n", SHARE * 100, MIN_WORK_ITEMS, INTENSE,
                problems.isEmpty() ? "yes" : "no");
        long calls = rows.stream().filter(r -> r.info.library()).count();
        if (calls > 0) {
            out.printf("  (%d calls into a library aside: their launches are the library's own)%n", calls);
        }
        problems.forEach(p -> out.println("  " + p));
    }

    /**
     * The device's stages (its graph runs on the host clock, and what its runtime says they were made
     * of), per step. They leave out each graph's first run, which compiles it, so they cover the steps
     * after the first: {@code steps - 1}.
     */
    static void printStages(PrintStream out, Measured m) {
        if (m == null || m.stages().isEmpty() || m.steps() < 2) {
            return;
        }
        int steps = m.steps();
        out.printf("where the step goes, over steps 2-%d (each graph's first run compiles it):%n", steps);
        for (KernelProfile.Entry e : m.stages()) {
            out.printf(Locale.ROOT, "      %-34s %10.3f ms/step %8.1f runs/step%n", e.kernel(),
                    e.nanos() / 1e6 / (steps - 1), e.launches() / (double) (steps - 1));
        }
        for (KernelProfile.Entry e : m.firstRuns()) {
            out.printf(Locale.ROOT, "      %-34s %10.3f s in all, %d graphs%n", e.kernel(), e.nanos() / 1e9, e.launches());
        }
    }

    static JsonObject stagesJson(Measured m) {
        JsonObject o = new JsonObject();
        if (m != null && m.steps() >= 2) {
            m.stages().forEach(e -> o.addProperty(e.kernel(), e.nanos() / 1e6 / (m.steps() - 1)));
            m.firstRuns().forEach(e -> o.addProperty(e.kernel(), e.nanos() / 1e6)); // ms in all
        }
        return o;
    }

    private Map<String, Total> byKernel() {
        Map<String, Total> byKernel = new LinkedHashMap<>();
        for (Row r : rows) {
            Total t = byKernel.computeIfAbsent(r.info.kernel(), k -> new Total());
            t.launches++;
            t.flops += r.info.flops();
            t.bytes += r.info.bytesRead() + r.info.bytesWritten();
            t.minItems = Math.min(t.minItems, r.info.workItems());
        }
        List<Map.Entry<String, Total>> sorted = new ArrayList<>(byKernel.entrySet());
        sorted.sort((a, b) -> Double.compare(b.getValue().flops + b.getValue().bytes, a.getValue().flops + a.getValue().bytes));
        Map<String, Total> out = new LinkedHashMap<>();
        sorted.forEach(e -> out.put(e.getKey(), e.getValue()));
        return out;
    }

    JsonObject toJson(Measured measured) {
        JsonObject o = new JsonObject();
        JsonArray launches = new JsonArray();
        for (Row r : rows) {
            LaunchInfo l = r.info;
            JsonObject j = new JsonObject();
            j.addProperty("program", r.program);
            j.addProperty("kernel", l.kernel());
            j.add("global", array(l.global()));
            j.add("local", array(l.local()));
            j.addProperty("work_items", l.workItems());
            j.addProperty("flops", l.flops());
            j.addProperty("bytes_read", l.bytesRead());
            j.addProperty("bytes_written", l.bytesWritten());
            j.addProperty("local_bytes", l.localBytes());
            launches.add(j);
        }
        o.add("launches", launches);
        o.addProperty("flops", flops);
        o.addProperty("bytes", bytes);
        o.addProperty("buffer_bytes", bufferBytes);
        JsonArray problems = new JsonArray();
        problems().forEach(problems::add);
        o.add("problems", problems);
        if (measured != null) {
            JsonObject times = new JsonObject();
            measured.kernels().entries().forEach(e -> times.addProperty(e.kernel(), e.nanos() / 1e6 / measured.steps()));
            o.add("ms_per_step_by_kernel", times);
            o.add("ms_per_step_by_stage", stagesJson(measured));
        }
        return o;
    }

    private static JsonArray array(long[] a) {
        JsonArray j = new JsonArray();
        for (long v : a) {
            j.add(v);
        }
        return j;
    }
}
