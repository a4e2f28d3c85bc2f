package org.gptjvm.tornado;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.GptException;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.Program;
import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The engine on a TornadoVM device. Every {@link Program} the model records becomes one TaskGraph,
 * and all of them live in one execution plan, so they share device memory:
 *
 * <ul>
 * <li><b>Resident buffers</b> (parameters, gradients, AdamW moments, activations) are uploaded once
 * by an upload graph and then stay on the device. Every graph consumes all of them from the graph
 * that ran before it and persists all of them for the next one (TornadoVM hands device buffers
 * from the last executed graph to the next), so any program can follow any other.</li>
 * <li><b>Host inputs</b> (token ids, targets, seeds, AdamW's step scalars: every {@link IntBuf}, and
 * each FloatBuf passed to {@link #hostInput}) are small and go to the device with every run of a
 * graph that reads them.</li>
 * <li>Reads ({@link #read}) copy one buffer back on demand: the loss every step, logits when
 * sampling, everything only for a checkpoint. A host write to a resident buffer (initialisation,
 * loading a checkpoint) marks the device copy stale; it is re-uploaded before the next run.</li>
 * </ul>
 *
 * A program recorded after the plan exists (the sampling graph after training) rebuilds the plan:
 * resident buffers are first copied back, then uploaded into the new plan.
 */
public final class TornadoBackend implements Backend {

    record TFloat(String name, FloatArray a) implements FloatBuf {
        @Override
        public int size() {
            return a.getSize();
        }
    }

    record TInt(String name, IntArray a) implements IntBuf {
        @Override
        public int size() {
            return a.getSize();
        }
    }

    /** Adds one task to a graph under the given id. */
    interface TaskAdder {
        void add(TaskGraph g, String id);
    }

    /** One or more tasks and the arrays they name. */
    record TLaunch(String kernel, List<TaskAdder> tasks, List<Object> arrays) implements Launch {
    }

    final class TProgram implements Program {
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
    private final List<Object> resident = new ArrayList<>();
    private final Set<Object> inputs = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    private final List<TProgram> programs = new ArrayList<>();
    private final FloatArray dummy = new FloatArray(1);
    private TornadoExecutionPlan plan;
    private TornadoExecutionResult last;
    private boolean uploadNeeded = true;
    private long allocated;
    private int graphCounter;

    public TornadoBackend(TornadoDevice device) {
        this.device = device;
        resident.add(dummy);
    }

    @Override
    public String name() {
        return "tornado";
    }

    @Override
    public int threads() {
        return 1;
    }

    @Override
    public String device() {
        return "tornado backend, " + TornadoDevices.describe(device);
    }

    // ---------------------------------------------------------------- buffers

    @Override
    public FloatBuf allocFloat(String name, int size) {
        FloatArray a = new FloatArray(Math.max(1, size));
        resident.add(a);
        allocated += 4L * size;
        structureChanged();
        return new TFloat(name, a);
    }

    @Override
    public IntBuf allocInt(String name, int size) {
        IntArray a = new IntArray(Math.max(1, size));
        inputs.add(a);
        allocated += 4L * size;
        return new TInt(name, a);
    }

    @Override
    public void hostInput(FloatBuf buf) {
        FloatArray a = ((TFloat) buf).a();
        if (plan != null) {
            pullAll();
            closePlan();
        }
        resident.remove(a);
        inputs.add(a);
    }

    @Override
    public long allocatedBytes() {
        return allocated;
    }

    @Override
    public void write(FloatBuf dst, float[] src) {
        FloatArray a = ((TFloat) dst).a();
        check(dst.name(), dst.size(), src.length);
        if (!inputs.contains(a) && last != null && !uploadNeeded) {
            pullAll(); // the other resident buffers' device values must survive the re-upload
            uploadNeeded = true;
        }
        MemorySegment.copy(src, 0, a.getSegment(), ValueLayout.JAVA_FLOAT, 0, src.length);
    }

    @Override
    public void write(IntBuf dst, int[] src) {
        IntArray a = ((TInt) dst).a();
        check(dst.name(), dst.size(), src.length);
        MemorySegment.copy(src, 0, a.getSegment(), ValueLayout.JAVA_INT, 0, src.length);
    }

    private static void check(String name, int expected, int actual) {
        if (expected != actual) {
            throw new GptException("buffer " + name + " holds " + expected + " values, got " + actual);
        }
    }

    @Override
    public void read(FloatBuf src, int offset, float[] dst, int len) {
        FloatArray a = ((TFloat) src).a();
        if (last != null && !uploadNeeded && !inputs.contains(a)) {
            last.transferToHost(a);
        }
        MemorySegment.copy(a.getSegment(), ValueLayout.JAVA_FLOAT, 4L * offset, dst, 0, len);
    }

    /** Copies every resident buffer back, so the host copies are current. */
    private void pullAll() {
        if (last != null && !uploadNeeded) {
            last.transferToHost(resident.toArray());
        }
    }

    private void structureChanged() {
        if (plan != null) {
            pullAll();
            closePlan();
        }
    }

    private void closePlan() {
        if (plan != null) {
            try {
                plan.close();
            } catch (Exception e) {
                throw new GptException("TornadoVM: could not release the execution plan: " + e.getMessage());
            }
            plan = null;
            last = null;
            uploadNeeded = true;
        }
    }

    // ---------------------------------------------------------------- programs

    @Override
    public Program compile(String name, List<Launch> launches) {
        structureChanged();
        TProgram p = new TProgram(name, launches.stream().map(l -> (TLaunch) l).toList());
        programs.add(p);
        return p;
    }

    private void execute(TProgram p) {
        if (plan == null) {
            buildPlan();
        }
        if (uploadNeeded) {
            for (int g = 0; g < uploadGraphs; g++) {
                last = plan.withGraph(g).execute();
            }
            uploadNeeded = false;
        }
        for (int g : p.graphs) {
            last = plan.withGraph(g).execute();
        }
    }

    /**
     * TornadoVM records each graph's tasks in a fixed 8 KiB buffer (15 + 5 bytes per argument per
     * task), so a program is cut into graphs of at most this many bytes of tasks.
     */
    private static final int GRAPH_TASK_BYTES = 6000;
    private int uploadGraphs;

    private void buildPlan() {
        List<ImmutableTaskGraph> graphs = new ArrayList<>();
        // upload graphs: each sends a group of resident buffers, naming them in tasks of eight (the
        // last group padded with arrays of its own: TornadoVM's graph compiler does not terminate when
        // a task names one array twice), and hands on every buffer uploaded so far
        List<Object> named = new ArrayList<>(resident);
        while (named.size() % 8 != 0) {
            named.add(new FloatArray(1));
        }
        int perGraph = 8 * (GRAPH_TASK_BYTES / (15 + 5 * 8));
        for (int from = 0; from < named.size(); from += perGraph) {
            List<Object> group = named.subList(from, Math.min(named.size(), from + perGraph));
            TaskGraph upload = new TaskGraph("upload" + (graphCounter++));
            if (from > 0) {
                upload.consumeFromDevice(named.subList(0, from).toArray());
            }
            upload.transferToDevice(DataTransferMode.EVERY_EXECUTION, group.toArray());
            for (int i = 0; i < group.size(); i += 8) {
                FloatArray[] f = group.subList(i, i + 8).toArray(FloatArray[]::new);
                upload.task("touch" + i, TornadoKernels::touch, f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
            }
            upload.persistOnDevice(named.subList(0, from + group.size()).toArray());
            graphs.add(upload.snapshot());
        }
        uploadGraphs = graphs.size();
        Object[] all = named.toArray();
        for (TProgram p : programs) {
            p.graphs.clear();
            List<List<TaskAdder>> chunks = new ArrayList<>();
            List<Set<Object>> chunkInputs = new ArrayList<>();
            int bytes = 0;
            for (TLaunch l : p.launches) {
                int cost = l.tasks().size() * 15 + 5 * (l.arrays().size() + 8 * l.tasks().size());
                if (chunks.isEmpty() || bytes + cost > GRAPH_TASK_BYTES) {
                    chunks.add(new ArrayList<>());
                    chunkInputs.add(new LinkedHashSet<>());
                    bytes = 0;
                }
                bytes += cost;
                int at = chunks.size() - 1;
                for (TaskAdder a : l.tasks()) {
                    final String kernel = l.kernel();
                    chunks.get(at).add((g, id) -> a.add(g, kernel + "_" + id));
                }
                for (Object o : l.arrays()) {
                    if (inputs.contains(o)) {
                        chunkInputs.get(at).add(o);
                    }
                }
            }
            for (int c = 0; c < chunks.size(); c++) {
                TaskGraph g = new TaskGraph(p.name + (graphCounter++));
                g.consumeFromDevice(all);
                if (!chunkInputs.get(c).isEmpty()) {
                    g.transferToDevice(DataTransferMode.EVERY_EXECUTION, chunkInputs.get(c).toArray());
                }
                int t = 0;
                for (TaskAdder a : chunks.get(c)) {
                    a.add(g, String.valueOf(t++));
                }
                g.persistOnDevice(all);
                p.graphs.add(graphs.size());
                graphs.add(g.snapshot());
            }
        }
        plan = new TornadoExecutionPlan(graphs.toArray(ImmutableTaskGraph[]::new));
        plan.withDevice(device);
        uploadNeeded = true;
    }

    @Override
    public void close() {
        closePlan();
    }

    // ---------------------------------------------------------------- kernels

    private static FloatArray f(FloatBuf b) {
        return ((TFloat) b).a();
    }

    private static IntArray i(IntBuf b) {
        return ((TInt) b).a();
    }

    private static TLaunch launch(String kernel, TaskAdder task, Object... arrays) {
        return new TLaunch(kernel, List.of(task), distinct(kernel, arrays));
    }

    /**
     * TornadoVM's graph compiler loops forever on a task that names one array twice, so aliasing
     * launches get in-place kernels of their own and anything else aliasing is refused here.
     */
    private static List<Object> distinct(String kernel, Object... arrays) {
        Set<Object> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (Object a : arrays) {
            if (!seen.add(a)) {
                throw new GptException("tornado backend: " + kernel + " was given the same buffer twice");
            }
        }
        return Arrays.asList(arrays);
    }

    @Override
    public Launch zero(List<FloatBuf> bufs) {
        List<TaskAdder> tasks = new ArrayList<>();
        List<Object> arrays = new ArrayList<>();
        for (FloatBuf b : bufs) {
            FloatArray a = f(b);
            int n = b.size();
            tasks.add((g, id) -> g.task(id, TornadoKernels::zero, a, n));
            arrays.add(a);
        }
        return new TLaunch("zero", tasks, arrays);
    }

    @Override
    public Launch encoderForward(FloatBuf out, IntBuf idx, FloatBuf wte, FloatBuf wpe, int B, int T, int C) {
        FloatArray o = f(out), e = f(wte), p = wpe == null ? dummy : f(wpe);
        IntArray ix = i(idx);
        int hasPos = wpe == null ? 0 : 1;
        return launch("encoder_forward", (g, id) -> g.task(id, TornadoKernels::encoderForward, o, ix, e, p, B * T, T, C, hasPos),
                o, ix, e, p);
    }

    @Override
    public Launch encoderBackward(FloatBuf dwte, FloatBuf dwpe, FloatBuf dout, IntBuf idx, int B, int T, int C) {
        FloatArray de = f(dwte), d = f(dout);
        IntArray ix = i(idx);
        List<TaskAdder> tasks = new ArrayList<>();
        tasks.add((g, id) -> g.task(id, TornadoKernels::encoderBackwardWte, de, d, ix, B * T, C));
        List<Object> arrays = new ArrayList<>(List.of(de, d, ix));
        if (dwpe != null) {
            FloatArray dp = f(dwpe);
            tasks.add((g, id) -> g.task(id, TornadoKernels::encoderBackwardWpe, dp, d, B, T, C));
            arrays.add(dp);
        }
        return new TLaunch("encoder_backward", tasks, arrays);
    }

    @Override
    public Launch layerNormForward(FloatBuf out, FloatBuf mean, FloatBuf rstd, FloatBuf inp, FloatBuf weight,
                                   FloatBuf bias, int N, int C) {
        FloatArray o = f(out), m = f(mean), r = f(rstd), x = f(inp), w = f(weight), b = f(bias);
        return launch("layernorm_forward", (g, id) -> g.task(id, TornadoKernels::layerNormForward, o, m, r, x, w, b, N, C),
                o, m, r, x, w, b);
    }

    @Override
    public Launch layerNormBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                                    FloatBuf weight, FloatBuf mean, FloatBuf rstd, int N, int C) {
        FloatArray dx = f(dinp), dw = f(dweight), db = f(dbias), d = f(dout), x = f(inp), w = f(weight);
        FloatArray m = f(mean), r = f(rstd);
        return new TLaunch("layernorm_backward", List.of(
                (g, id) -> g.task(id, TornadoKernels::layerNormBackwardInput, dx, d, x, w, m, r, N, C),
                (g, id) -> g.task(id, TornadoKernels::layerNormBackwardParams, dw, db, d, x, m, r, N, C)),
                List.of(dx, dw, db, d, x, w, m, r));
    }

    @Override
    public Launch matmulForward(FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C, int OC) {
        FloatArray o = f(out), x = f(inp), w = f(weight), b = bias == null ? dummy : f(bias);
        int hasBias = bias == null ? 0 : 1;
        return launch("matmul_forward", (g, id) -> g.task(id, TornadoKernels::matmulForward, o, x, w, b, N, C, OC, hasBias),
                o, x, w, b);
    }

    @Override
    public Launch matmulBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                                 FloatBuf weight, int N, int C, int OC) {
        FloatArray dw = f(dweight), d = f(dout), x = f(inp), w = f(weight);
        List<TaskAdder> tasks = new ArrayList<>();
        List<Object> arrays = new ArrayList<>(List.of(dw, d, x, w));
        if (dinp != null) {
            FloatArray dx = f(dinp);
            tasks.add((g, id) -> g.task(id, TornadoKernels::matmulBackwardInput, dx, d, w, N, C, OC));
            arrays.add(dx);
        }
        tasks.add((g, id) -> g.task(id, TornadoKernels::matmulBackwardWeight, dw, d, x, N, C, OC));
        if (dbias != null) {
            FloatArray db = f(dbias);
            tasks.add((g, id) -> g.task(id, TornadoKernels::matmulBackwardBias, db, d, N, OC));
            arrays.add(db);
        }
        return new TLaunch("matmul_backward", tasks, arrays);
    }

    @Override
    public Launch attentionForward(FloatBuf out, FloatBuf att, FloatBuf qkv, IntBuf seed, float dropout, int salt,
                                   int B, int T, int C, int NH) {
        FloatArray o = f(out), a = f(att), x = f(qkv);
        IntArray s = i(seed);
        return launch("attention_forward",
                (g, id) -> g.task(id, TornadoKernels::attentionForward, o, a, x, s, dropout, salt, B, T, C, NH), o, a, x, s);
    }

    /** The (B,NH,T,T) gradient of the attention scores; one buffer shared by all layers' backward passes. */
    private final java.util.Map<Integer, FloatArray> attGradScratch = new java.util.HashMap<>();

    @Override
    public Launch attentionBackward(FloatBuf dqkv, FloatBuf scratch, FloatBuf dout, FloatBuf qkv, FloatBuf att,
                                    IntBuf seed, float dropout, int salt, int B, int T, int C, int NH) {
        FloatArray dx = f(dqkv), d = f(dout), x = f(qkv), a = f(att);
        IntArray s = i(seed);
        int size = B * NH * T * T;
        FloatArray datt = attGradScratch.computeIfAbsent(size, n -> f(allocFloat("attention_grad_scratch", n)));
        return new TLaunch("attention_backward", List.of(
                (g, id) -> g.task(id, TornadoKernels::attentionBackwardScores, datt, d, x, s, dropout, salt, B, T, C, NH),
                (g, id) -> g.task(id, TornadoKernels::attentionBackwardSoftmax, datt, a, B, T, C, NH),
                (g, id) -> g.task(id, TornadoKernels::attentionBackwardQuery, dx, datt, x, B, T, C, NH),
                (g, id) -> g.task(id, TornadoKernels::attentionBackwardKey, dx, datt, x, B, T, C, NH),
                (g, id) -> g.task(id, TornadoKernels::attentionBackwardValue, dx, a, d, s, dropout, salt, B, T, C, NH)),
                List.of(dx, d, x, a, s, datt));
    }

    @Override
    public Launch reluForward(FloatBuf out, FloatBuf inp, int n) {
        FloatArray o = f(out), x = f(inp);
        return launch("relu_forward", (g, id) -> g.task(id, TornadoKernels::reluForward, o, x, n), o, x);
    }

    @Override
    public Launch reluBackward(FloatBuf dinp, FloatBuf out, FloatBuf dout, int n) {
        FloatArray dx = f(dinp), o = f(out), d = f(dout);
        return launch("relu_backward", (g, id) -> g.task(id, TornadoKernels::reluBackward, dx, o, d, n), dx, o, d);
    }

    @Override
    public Launch residualForward(FloatBuf out, FloatBuf a, FloatBuf b, int n) {
        FloatArray o = f(out), x = f(a), y = f(b);
        if (o == x && o != y) {
            return launch("residual_forward", (g, id) -> g.task(id, TornadoKernels::addInPlace, o, y, n), o, y);
        }
        return launch("residual_forward", (g, id) -> g.task(id, TornadoKernels::residualForward, o, x, y, n), o, x, y);
    }

    @Override
    public Launch residualBackward(FloatBuf da, FloatBuf db, FloatBuf dout, int n) {
        FloatArray x = f(da), y = f(db), d = f(dout);
        return launch("residual_backward", (g, id) -> g.task(id, TornadoKernels::residualBackward, x, y, d, n), x, y, d);
    }

    @Override
    public Launch dropoutForward(FloatBuf out, FloatBuf inp, IntBuf seed, float p, int salt, int n) {
        FloatArray o = f(out), x = f(inp);
        IntArray s = i(seed);
        if (o == x) {
            return launch("dropout_forward", (g, id) -> g.task(id, TornadoKernels::dropoutInPlace, o, s, p, salt, n), o, s);
        }
        return launch("dropout_forward", (g, id) -> g.task(id, TornadoKernels::dropoutForward, o, x, s, p, salt, n), o, x, s);
    }

    @Override
    public Launch dropoutBackward(FloatBuf dinp, FloatBuf dout, IntBuf seed, float p, int salt, int n) {
        FloatArray dx = f(dinp), d = f(dout);
        IntArray s = i(seed);
        return launch("dropout_backward", (g, id) -> g.task(id, TornadoKernels::dropoutBackward, dx, d, s, p, salt, n), dx, d, s);
    }

    @Override
    public Launch crossEntropyForward(FloatBuf losses, FloatBuf probs, FloatBuf logits, IntBuf targets, int N, int V) {
        FloatArray l = f(losses), p = f(probs), x = f(logits);
        IntArray t = i(targets);
        return launch("crossentropy_forward",
                (g, id) -> g.task(id, TornadoKernels::crossEntropyForward, l, p, x, t, N, V), l, p, x, t);
    }

    @Override
    public Launch meanLoss(FloatBuf loss, FloatBuf losses, int N) {
        FloatArray l = f(loss), ls = f(losses);
        return launch("mean_loss", (g, id) -> g.task(id, TornadoKernels::meanLoss, l, ls, N), l, ls);
    }

    @Override
    public Launch crossEntropyBackward(FloatBuf dlogits, FloatBuf probs, IntBuf targets, int N, int V) {
        FloatArray d = f(dlogits), p = f(probs);
        IntArray t = i(targets);
        return launch("crossentropy_backward",
                (g, id) -> g.task(id, TornadoKernels::crossEntropyBackward, d, p, t, N, V), d, p, t);
    }

    @Override
    public Launch adamw(FloatBuf param, FloatBuf grad, FloatBuf m, FloatBuf v, FloatBuf hyper, int n) {
        FloatArray p = f(param), gr = f(grad), mm = f(m), vv = f(v), h = f(hyper);
        return launch("adamw", (g, id) -> g.task(id, TornadoKernels::adamw, p, gr, mm, vv, h, n), p, gr, mm, vv, h);
    }

    @Override
    public Launch embedToken(FloatBuf out, IntBuf tokPos, FloatBuf wte, FloatBuf wpe, int C) {
        FloatArray o = f(out), e = f(wte), p = wpe == null ? dummy : f(wpe);
        IntArray tp = i(tokPos);
        int hasPos = wpe == null ? 0 : 1;
        return launch("embed_token", (g, id) -> g.task(id, TornadoKernels::embedToken, o, tp, e, p, C, hasPos), o, tp, e, p);
    }

    @Override
    public Launch attentionDecode(FloatBuf out, FloatBuf scores, FloatBuf qkv, FloatBuf kCache, FloatBuf vCache,
                                  IntBuf tokPos, int T, int C, int NH) {
        FloatArray o = f(out), s = f(scores), x = f(qkv), kc = f(kCache), vc = f(vCache);
        IntArray tp = i(tokPos);
        return launch("attention_decode",
                (g, id) -> g.task(id, TornadoKernels::attentionDecode, o, s, x, kc, vc, tp, T, C, NH), o, s, x, kc, vc, tp);
    }
}
