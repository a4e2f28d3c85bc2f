package org.gptjvm.tornado;

import org.gptjvm.engine.KernelProfile;
import uk.ac.manchester.tornado.api.TornadoProfilerResult;

import java.util.Map;

/**
 * Per-kernel device time from TornadoVM's profiler: a graph's profiler log holds, per run and per
 * task ("graph.task"), its kernel time in nanoseconds ({@link ProfileLog}). Each task's time in the
 * last run goes to its kernel in the profile.
 * Beside them, each graph run's time on the host clock and TornadoVM's own totals for it, as the
 * backend's stages (DeviceDiagnostics): if the kernels add up to much less than the graph runs, the
 * step goes elsewhere.
 */
final class KernelTimes {
    private KernelTimes() {
    }

    /**
     * Adds the kernel times of a graph's last run to {@code into}, by {@code kernelOfTask}: {@code log}
     * is the graph's profiler log, which holds every run so far (see {@link ProfileLog}).
     */
    static void add(KernelProfile into, String log, Map<String, String> kernelOfTask) {
        for (Map.Entry<String, Long> task : ProfileLog.lastRunKernelNanos(log).entrySet()) {
            String kernel = kernelOfTask.get(task.getKey());
            if (kernel != null) {
                long[] slot = into.slot(kernel);
                slot[0] += task.getValue();
                slot[1]++;
            }
        }
    }

    static final String GRAPH_WALL = "graph runs (host clock)", TOTAL = "TornadoVM: graph total",
            KERNELS = "TornadoVM: kernels", DISPATCH = "TornadoVM: kernel dispatch", TRANSFERS = "TornadoVM: data transfers";

    /** One graph run ({@code wallNanos} on the host clock around it, and TornadoVM's totals) into the stages. */
    static void addStages(Map<String, long[]> stages, long wallNanos, TornadoProfilerResult r) {
        add(stages, GRAPH_WALL, wallNanos);
        add(stages, TOTAL, r.getTotalTime());
        add(stages, KERNELS, r.getDeviceKernelTime());
        add(stages, DISPATCH, r.getKernelDispatchTime());
        add(stages, TRANSFERS, r.getDataTransfersTime());
    }

    static final String FIRST_RUNS = "first runs (host clock)", COMPILE_TORNADO = "first runs: TornadoVM compiling",
            COMPILE_DRIVER = "first runs: driver compiling";

    /** A graph's first run, which compiles its kernels: its time, and how much of it each compiler took. */
    static void addCompile(Map<String, long[]> firstRuns, long wallNanos, TornadoProfilerResult r) {
        add(firstRuns, FIRST_RUNS, wallNanos);
        add(firstRuns, COMPILE_TORNADO, r.getTornadoCompilerTime());
        add(firstRuns, COMPILE_DRIVER, r.getDriverInstallTime());
    }

    /** [nanos, count] of a named measurement. */
    private static void add(Map<String, long[]> into, String name, long nanos) {
        long[] s = into.computeIfAbsent(name, k -> new long[2]);
        s[0] += Math.max(0, nanos); // TornadoVM reports -1 for what it did not measure
        s[1]++;
    }
}
