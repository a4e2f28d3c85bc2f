package org.gptjvm.tornado;

import org.gptjvm.engine.GptException;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.Program;
import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Every {@link Program} the model records, as TaskGraphs in one TornadoVM execution plan. Graph 0
 * uploads the arena; every other graph consumes it from the graph that ran before and persists it
 * for the next (TornadoVM hands device buffers from the last executed graph to the next), so any
 * program can follow any other and nothing is copied per op or per step. A program is cut into
 * graphs small enough for TornadoVM's per-graph task buffer, run in order. A program recorded after
 * the plan was built (the sampling graphs after training) rebuilds it: the arena is copied back
 * first, then uploaded into the new plan.
 */
final class TaskGraphPlan {

    /** Adds one task to a graph under the given id, over the arena array; runs when the plan is built. */
    interface TaskAdder {
        void add(TaskGraph g, String id, FloatArray mem);
    }

    /** One or more tasks and the host-input arrays they read. */
    record TLaunch(String kernel, List<TaskAdder> tasks, List<Object> inputs) implements Launch {
    }

    /** TornadoVM records a graph's tasks in a fixed 8 KiB buffer (15 + 5 bytes per argument per task). */
    private static final int GRAPH_TASK_BYTES = 6000;

    private final class TProgram implements Program {
        final String name;
        final List<TLaunch> launches;
        /** This program's graphs in the plan, run in order. */
        final List<Integer> graphs = new ArrayList<>();

        TProgram(String name, List<TLaunch> launches) {
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
    }

    private final TornadoDevice device;
    private final DeviceArena arena;
    private final List<TProgram> programs = new ArrayList<>();
    private TornadoExecutionPlan plan;
    /** The arena array the plan was built over (growing the arena makes a new one). */
    private FloatArray planned;
    private int graphCounter;

    TaskGraphPlan(TornadoDevice device, DeviceArena arena) {
        this.device = device;
        this.arena = arena;
    }

    Program add(String name, List<Launch> launches) {
        invalidate();
        TProgram p = new TProgram(name, launches.stream().map(l -> (TLaunch) l).toList());
        programs.add(p);
        return p;
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
        if (plan == null || a != planned) {
            close();
            build(a);
        }
        if (arena.uploadNeeded()) {
            arena.ran(plan.withGraph(0).execute());
        }
        for (int g : p.graphs) {
            arena.ran(plan.withGraph(g).execute());
        }
    }

    private void build(FloatArray a) {
        List<ImmutableTaskGraph> graphs = new ArrayList<>();
        TaskGraph upload = new TaskGraph("upload" + (graphCounter++))
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, a)
                .task("touch", TornadoKernels::touch, a)
                .persistOnDevice(a);
        graphs.add(upload.snapshot());
        for (TProgram p : programs) {
            p.graphs.clear();
            for (List<TLaunch> chunk : chunks(p.launches)) {
                TaskGraph g = new TaskGraph(p.name + (graphCounter++));
                g.consumeFromDevice(a);
                Set<Object> inputs = new LinkedHashSet<>();
                chunk.forEach(l -> inputs.addAll(l.inputs()));
                if (!inputs.isEmpty()) {
                    g.transferToDevice(DataTransferMode.EVERY_EXECUTION, inputs.toArray());
                }
                int t = 0;
                for (TLaunch l : chunk) {
                    for (TaskAdder adder : l.tasks()) {
                        adder.add(g, l.kernel() + "_" + t++, a);
                    }
                }
                g.persistOnDevice(a);
                p.graphs.add(graphs.size());
                graphs.add(g.snapshot());
            }
        }
        plan = new TornadoExecutionPlan(graphs.toArray(ImmutableTaskGraph[]::new));
        plan.withDevice(device);
        planned = a;
        arena.deviceDropped();
    }

    /** A program's launches in consecutive runs that fit one graph's task buffer. */
    private static List<List<TLaunch>> chunks(List<TLaunch> launches) {
        List<List<TLaunch>> chunks = new ArrayList<>();
        int bytes = 0;
        for (TLaunch l : launches) {
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
            arena.deviceDropped();
        }
    }
}
