package org.gptjvm.tornado;

import org.gptjvm.engine.GptException;
import org.gptjvm.engine.KernelProfile;
import org.gptjvm.engine.Program;
import org.gptjvm.engine.device.LaunchInfo;
import org.gptjvm.tornado.DeviceLaunch.Task;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.enums.TornadoVMBackendType;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every {@link Program} the model records, as TaskGraphs in one TornadoVM execution plan. Graph 0
 * uploads the arena and the kernels' integer arguments; every other graph consumes both from the
 * graph that ran before and persists them for the next (TornadoVM hands device buffers from the last
 * executed graph to the next), so any program can follow any other and nothing is copied per op or
 * per step. Tasks written with a KernelContext run on the work-group shape their {@link Task}
 * gives, through one GridScheduler. A program is cut into graphs small enough for TornadoVM's
 * per-graph task buffer, run in order. A program recorded after the plan was built (the sampling
 * graphs after training) rebuilds it: the arena is copied back first, then uploaded into the new plan.
 * On TornadoVM's PTX and CUDA drivers each graph is captured as a CUDA graph on its first run and
 * replayed with one launch after that ({@link CudaGraphs}); the host then writes the step's inputs and
 * reads the loss, and the device replays the rest.
 */
final class TaskGraphPlan {

    /** TornadoVM records a graph's tasks in a fixed 8 KiB buffer (15 + 5 bytes per argument per task). */
    private static final int GRAPH_TASK_BYTES = 6000;

    private final class TProgram implements Program {
        final String name;
        final List<DeviceLaunch> launches;
        /** This program's graphs in the plan, run in order, and the task ids of each. */
        final List<Integer> graphs = new ArrayList<>();

        TProgram(String name, List<DeviceLaunch> launches) {
            this.name = name;
            this.launches = launches;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public void run() {
            execute(this);
        }

        List<LaunchInfo> plan() {
            List<LaunchInfo> out = new ArrayList<>();
            launches.forEach(l -> l.tasks().forEach(t -> out.add(t.info())));
            return out;
        }
    }

    private final TornadoDevice device;
    private final DeviceArena arena;
    /** Whether the plan being built captures its graphs ({@link CudaGraphs#capture}). */
    private boolean capturing;
    private final List<TProgram> programs = new ArrayList<>();
    private TornadoExecutionPlan plan;
    /** The arrays the plan was built over (growing the arena or the arguments makes new ones). */
    private FloatArray planned;
    private IntArray plannedArgs;
    private int graphCounter;
    private KernelProfile profile;
    /** While profiling: the graphs' runs on the host clock and TornadoVM's account of them; first runs apart. */
    private final Map<String, long[]> stages = new LinkedHashMap<>(), firstRuns = new LinkedHashMap<>();
    /** The graphs of this plan that have run once (and so compiled their kernels). */
    private final Set<Integer> compiled = new java.util.HashSet<>();
    /** "graph.task" to the kernel name of its {@link LaunchInfo}, for the profile. */
    private final Map<String, String> kernelOfTask = new java.util.HashMap<>();

    /**
     * Names an array in a task, so TornadoVM moves it; computes nothing. One array per task: a task
     * that touches two arrays this way leaves TornadoVM handing the wrong buffers to the next graph.
     */
    public static void touch(FloatArray mem) {
        if (mem.getSize() < 0) {
            mem.set(0, 0f);
        }
    }

    /** {@link #touch(FloatArray)} for the argument table. */
    public static void touchInts(IntArray args) {
        if (args.getSize() < 0) {
            args.set(0, 0);
        }
    }

    TaskGraphPlan(TornadoDevice device, DeviceArena arena) {
        this.device = device;
        this.arena = arena;
    }

    Program add(String name, List<DeviceLaunch> launches) {
        invalidate();
        TProgram p = new TProgram(name, launches);
        programs.add(p);
        return p;
    }

    void profile(KernelProfile into) {
        invalidate();
        this.profile = into;
    }

    /** The launches of one of this plan's programs. */
    static List<LaunchInfo> plan(Program p) {
        return ((TProgram) p).plan();
    }

    List<KernelProfile.Entry> stages() {
        return entries(stages);
    }

    List<KernelProfile.Entry> firstRuns() {
        return entries(firstRuns);
    }

    private static List<KernelProfile.Entry> entries(Map<String, long[]> m) {
        List<KernelProfile.Entry> out = new ArrayList<>();
        m.forEach((k, v) -> out.add(new KernelProfile.Entry(k, v[0], v[1])));
        return out;
    }

    /** The graphs must be built anew (a program or a host input was added): the arena comes back first. */
    void invalidate() {
        if (plan != null) {
            arena.pullAll();
            close();
        }
    }

    private void execute(TProgram p) {
        FloatArray a = arena.array();
        IntArray args = arena.args();
        if (plan == null || a != planned || args != plannedArgs) {
            close();
            build(a, args);
        }
        if (arena.uploadNeeded()) {
            arena.ran(run(0));
        }
        boolean compiling = !compiled.containsAll(p.graphs);
        long start = System.nanoTime();
        if (compiling) { // tens of seconds on some drivers: say so, once per program
            System.err.printf("gpt: tornado: compiling the kernels of '%s' (%d launches; first run only) ...%n",
                    p.name, p.launches.stream().mapToInt(l -> l.tasks().size()).sum());
        }
        for (int g : p.graphs) {
            long t0 = System.nanoTime();
            TornadoExecutionResult result = run(g);
            long wall = System.nanoTime() - t0;
            arena.ran(result);
            boolean first = compiled.add(g); // a graph's first run compiles its kernels: not a step's time
            if (profile != null) {
                KernelTimes.add(profile, arena.lastProfile(), kernelOfTask);
                if (first) {
                    KernelTimes.addCompile(firstRuns, wall, result.getProfilerResult());
                } else {
                    KernelTimes.addStages(stages, wall, result.getProfilerResult());
                }
            }
        }
        if (compiling) {
            System.err.printf("gpt: tornado: '%s' compiled and ran in %.1f s%n", p.name, (System.nanoTime() - start) / 1e9);
        }
    }

    /** Runs graph {@code g}; a CUDA graph that cannot be captured is an error that names the way around it. */
    private TornadoExecutionResult run(int g) {
        if (!capturing || compiled.contains(g)) {
            return plan.withGraph(g).execute();
        }
        try {
            return plan.withGraph(g).execute();
        } catch (RuntimeException e) {
            throw new GptException("TornadoVM could not capture task graph " + g + " as a CUDA graph ("
                    // TornadoVM colours its messages: the terminal's escape sequences go
                    + String.valueOf(e.getMessage()).replaceAll("\u001b\\[[0-9;]*m", "").strip().lines().findFirst()
                    .orElse(e.getClass().getSimpleName()) + "): run again with " + CudaGraphs.ENV + "=off");
        }
    }

    boolean profiling() {
        return profile != null;
    }

    private void build(FloatArray a, IntArray args) {
        List<ImmutableTaskGraph> graphs = new ArrayList<>();
        GridScheduler grids = new GridScheduler();
        int gridCount = 0;
        TaskGraph upload = new TaskGraph("upload" + (graphCounter++))
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, a, args)
                .task("touch", TaskGraphPlan::touch, a)
                .task("touch_args", TaskGraphPlan::touchInts, args)
                .persistOnDevice(a, args);
        graphs.add(upload.snapshot());
        for (TProgram p : programs) {
            p.graphs.clear();
            for (List<DeviceLaunch> chunk : chunks(p.launches)) {
                String name = p.name + (graphCounter++);
                TaskGraph g = new TaskGraph(name);
                g.consumeFromDevice(a, args);
                Set<Object> inputs = new LinkedHashSet<>();
                chunk.forEach(l -> inputs.addAll(l.inputs()));
                if (!inputs.isEmpty()) {
                    g.transferToDevice(DataTransferMode.EVERY_EXECUTION, inputs.toArray());
                }
                int t = 0;
                for (DeviceLaunch l : chunk) {
                    for (Task task : l.tasks()) {
                        String id = l.kernel() + "_" + t++;
                        task.adder().add(g, id, a, args);
                        kernelOfTask.put(name + "." + id, task.info().kernel());
                        if (task.grid() != null) {
                            grids.addWorkerGrid(name + "." + id, task.grid());
                            gridCount++;
                        }
                    }
                }
                g.persistOnDevice(a, args);
                p.graphs.add(graphs.size());
                graphs.add(g.snapshot());
            }
        }
        plan = new TornadoExecutionPlan(graphs.toArray(ImmutableTaskGraph[]::new));
        plan.withDevice(device);
        plan.withCompilerFlags(TornadoVMBackendType.PTX, DeviceLimits.PTX_FLAGS);
        if (gridCount > 0) { // TornadoVM refuses a scheduler without grids
            plan.withGridScheduler(grids);
        }
        if (profile != null) {
            plan.withProfiler(uk.ac.manchester.tornado.api.enums.ProfilerMode.SILENT);
        }
        capturing = CudaGraphs.capture(device, profile != null);
        if (capturing) {
            plan.withCUDAGraph();
        }
        planned = a;
        plannedArgs = args;
        compiled.clear();
        arena.deviceDropped();
    }

    /** A program's launches in consecutive runs that fit one graph's task buffer. */
    private static List<List<DeviceLaunch>> chunks(List<DeviceLaunch> launches) {
        List<List<DeviceLaunch>> chunks = new ArrayList<>();
        int bytes = 0;
        for (DeviceLaunch l : launches) {
            int cost = l.tasks().size() * (15 + 5 * 12);
            if (chunks.isEmpty() || bytes + cost > GRAPH_TASK_BYTES) {
                chunks.add(new ArrayList<>());
                bytes = 0;
            }
            bytes += cost;
            chunks.getLast().add(l);
        }
        return chunks;
    }

    void close() {
        if (plan != null) {
            try {
                plan.close();
            } catch (Exception e) {
                throw new GptException("TornadoVM: could not release the execution plan: " + e.getMessage());
            }
            plan = null;
            planned = null;
            plannedArgs = null;
            arena.deviceDropped();
        }
    }
}
