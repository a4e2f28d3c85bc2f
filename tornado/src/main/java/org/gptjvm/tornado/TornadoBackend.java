package org.gptjvm.tornado;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.GptException;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.Program;
import uk.ac.manchester.tornado.api.DataRange;
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
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The engine on a TornadoVM device. Every float buffer is a range of one device array, the arena
 * {@code mem} (as llm.c keeps all parameters in one block), and every {@link Program} the model
 * records becomes TaskGraphs in one execution plan:
 *
 * <ul>
 * <li>The arena (parameters, gradients, AdamW moments, activations) is uploaded once and then stays
 * on the device: every graph consumes it from the graph that ran before it and persists it for the
 * next one (TornadoVM hands device buffers from the last executed graph to the next), so any
 * program can follow any other and nothing is copied per op or per step.</li>
 * <li>Host inputs (token ids, targets, seeds: every {@link IntBuf}, and AdamW's step scalars, see
 * {@link #hostInput}) are small arrays of their own, sent with each run of a graph that reads them.</li>
 * <li>{@link #read} copies one range of the arena back: the loss every step, a row of logits when
 * sampling, everything only for a checkpoint. A host write into the arena after it is on the device
 * (initialisation, loading a checkpoint) copies the arena back first and re-uploads it before the
 * next run: a slow path that training never takes.</li>
 * </ul>
 *
 * A program recorded after the plan exists (the sampling graphs after training) rebuilds the plan
 * the same way. A program is cut into graphs small enough for TornadoVM's per-graph task buffer.
 */
public final class TornadoBackend implements Backend {

    /** A float buffer: a range of the arena, or (a host input) an array of its own. */
    static final class TFloat implements FloatBuf {
        final String name;
        final int offset, size;
        FloatArray own;

        TFloat(String name, int offset, int size) {
            this.name = name;
            this.offset = offset;
            this.size = size;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public int size() {
            return size;
        }
    }

    record TInt(String name, IntArray a) implements IntBuf {
        @Override
        public int size() {
            return a.getSize();
        }
    }

    /** Adds one task to a graph under the given id; runs when the plan is built, so offsets are final. */
    interface TaskAdder {
        void add(TaskGraph g, String id);
    }

    /** One or more tasks and the host-input arrays they read. */
    record TLaunch(String kernel, List<TaskAdder> tasks, List<Object> inputs) implements Launch {
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

    /** TornadoVM records a graph's tasks in a fixed 8 KiB buffer (15 + 5 bytes per argument per task). */
    private static final int GRAPH_TASK_BYTES = 6000;
    /** Largest arena: FloatArray indices are ints. */
    private static final long MAX_ARENA = Integer.MAX_VALUE - 1024;

    private final TornadoDevice device;
    private final List<TProgram> programs = new ArrayList<>();
    private FloatArray mem = new FloatArray(1024);
    private long used;
    private TornadoExecutionPlan plan;
    private TornadoExecutionResult last;
    /** Whether the arena's device copy must be (re)sent before the next run. */
    private boolean uploadNeeded = true;
    private int graphCounter;

    public TornadoBackend(TornadoDevice device) {
        this.device = device;
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
        if (used + size > MAX_ARENA) {
            throw new GptException("tornado backend: the model needs more than " + MAX_ARENA / (1 << 28)
                    + " GiB of buffers, more than one TornadoVM array holds");
        }
        TFloat b = new TFloat(name, (int) used, size);
        used += size;
        return b;
    }

    @Override
    public IntBuf allocInt(String name, int size) {
        return new TInt(name, new IntArray(Math.max(1, size)));
    }

    @Override
    public void hostInput(FloatBuf buf) {
        TFloat b = (TFloat) buf;
        if (b.own == null) {
            structureChanged();
            b.own = new FloatArray(Math.max(1, b.size));
            if (mem.getSize() >= b.offset + b.size) { // keep what was written so far
                MemorySegment.copy(mem.getSegment(), 4L * b.offset, b.own.getSegment(), 0, 4L * b.size);
            }
        }
    }

    @Override
    public long allocatedBytes() {
        return 4 * used;
    }

    /** The host arena, grown to hold every buffer allocated so far (growing means a new plan). */
    private FloatArray arena() {
        if (mem.getSize() < used) {
            pullAll();
            closePlan();
            FloatArray bigger = new FloatArray((int) Math.min(MAX_ARENA, Math.max(used, mem.getSize() * 3L / 2)));
            MemorySegment.copy(mem.getSegment(), 0, bigger.getSegment(), 0, 4L * mem.getSize());
            mem = bigger;
        }
        return mem;
    }

    @Override
    public void write(FloatBuf dst, float[] src) {
        TFloat b = (TFloat) dst;
        check(b.name, b.size, src.length);
        if (b.own != null) {
            MemorySegment.copy(src, 0, b.own.getSegment(), ValueLayout.JAVA_FLOAT, 0, src.length);
            return;
        }
        FloatArray a = arena();
        if (last != null && !uploadNeeded) {
            pullAll(); // the device holds the current values of everything else in the arena
            uploadNeeded = true;
        }
        MemorySegment.copy(src, 0, a.getSegment(), ValueLayout.JAVA_FLOAT, 4L * b.offset, src.length);
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
        TFloat b = (TFloat) src;
        if (b.own != null) {
            MemorySegment.copy(b.own.getSegment(), ValueLayout.JAVA_FLOAT, 4L * offset, dst, 0, len);
            return;
        }
        FloatArray a = arena();
        if (len > 0 && last != null && !uploadNeeded) {
            last.transferToHost(new DataRange(a).withOffset(b.offset + offset).withSize(len));
        }
        MemorySegment.copy(a.getSegment(), ValueLayout.JAVA_FLOAT, 4L * (b.offset + offset), dst, 0, len);
    }

    /** Copies the arena back, so the host copy is current. */
    private void pullAll() {
        if (last != null && !uploadNeeded) {
            last.transferToHost(mem);
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
        FloatArray a = arena();
        if (plan == null) {
            buildPlan(a);
        }
        if (uploadNeeded) {
            last = plan.withGraph(0).execute();
            uploadNeeded = false;
        }
        for (int g : p.graphs) {
            last = plan.withGraph(g).execute();
        }
    }

    private void buildPlan(FloatArray a) {
        List<ImmutableTaskGraph> graphs = new ArrayList<>();
        TaskGraph upload = new TaskGraph("upload" + (graphCounter++))
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, a)
                .task("touch", TornadoKernels::touch, a)
                .persistOnDevice(a);
        graphs.add(upload.snapshot());
        for (TProgram p : programs) {
            p.graphs.clear();
            List<List<TaskAdder>> chunks = new ArrayList<>();
            List<Set<Object>> chunkInputs = new ArrayList<>();
            int bytes = 0;
            for (TLaunch l : p.launches) {
                int cost = l.tasks().size() * (15 + 5 * 12);
                if (chunks.isEmpty() || bytes + cost > GRAPH_TASK_BYTES) {
                    chunks.add(new ArrayList<>());
                    chunkInputs.add(new LinkedHashSet<>());
                    bytes = 0;
                }
                bytes += cost;
                int at = chunks.size() - 1;
                for (TaskAdder t : l.tasks()) {
                    String kernel = l.kernel();
                    chunks.get(at).add((g, id) -> t.add(g, kernel + "_" + id));
                }
                chunkInputs.get(at).addAll(l.inputs());
            }
            for (int c = 0; c < chunks.size(); c++) {
                TaskGraph g = new TaskGraph(p.name + (graphCounter++));
                g.consumeFromDevice(a);
                if (!chunkInputs.get(c).isEmpty()) {
                    g.transferToDevice(DataTransferMode.EVERY_EXECUTION, chunkInputs.get(c).toArray());
                }
                int t = 0;
                for (TaskAdder adder : chunks.get(c)) {
                    adder.add(g, String.valueOf(t++));
                }
                g.persistOnDevice(a);
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

    /** The arena offset of a buffer (-1 for none, where a kernel's flag says it is absent). */
    private static int o(FloatBuf b) {
        if (b == null) {
            return -1;
        }
        TFloat t = (TFloat) b;
        if (t.own != null) {
            throw new GptException("tornado backend: host input " + t.name + " used as a device buffer");
        }
        return t.offset;
    }

    private static IntArray i(IntBuf b) {
        return ((TInt) b).a();
    }

    private static TLaunch launch(String kernel, TaskAdder task, Object... inputs) {
        return new TLaunch(kernel, List.of(task), List.of(inputs));
    }

    @Override
    public Launch zero(List<FloatBuf> bufs) {
        List<TaskAdder> tasks = new ArrayList<>();
        for (FloatBuf b : bufs) {
            int x = o(b), n = b.size();
            tasks.add((g, id) -> g.task(id, TornadoKernels::zero, mem, x, n));
        }
        return new TLaunch("zero", tasks, List.of());
    }

    @Override
    public Launch encoderForward(FloatBuf out, IntBuf idx, FloatBuf wte, FloatBuf wpe, int B, int T, int C) {
        int ou = o(out), e = o(wte), p = wpe == null ? 0 : o(wpe), hasPos = wpe == null ? 0 : 1;
        IntArray ix = i(idx);
        return launch("encoder_forward",
                (g, id) -> g.task(id, TornadoKernels::encoderForward, mem, ou, ix, e, p, B * T, T, C, hasPos), ix);
    }

    @Override
    public Launch encoderBackward(FloatBuf dwte, FloatBuf dwpe, FloatBuf dout, IntBuf idx, int B, int T, int C) {
        int de = o(dwte), d = o(dout);
        IntArray ix = i(idx);
        List<TaskAdder> tasks = new ArrayList<>();
        tasks.add((g, id) -> g.task(id, TornadoKernels::encoderBackwardWte, mem, de, d, ix, B * T, C));
        if (dwpe != null) {
            int dp = o(dwpe);
            tasks.add((g, id) -> g.task(id, TornadoKernels::encoderBackwardWpe, mem, dp, d, B, T, C));
        }
        return new TLaunch("encoder_backward", tasks, List.of(ix));
    }

    @Override
    public Launch layerNormForward(FloatBuf out, FloatBuf mean, FloatBuf rstd, FloatBuf inp, FloatBuf weight,
                                   FloatBuf bias, int N, int C) {
        int ou = o(out), m = o(mean), r = o(rstd), x = o(inp), w = o(weight), b = o(bias);
        return launch("layernorm_forward",
                (g, id) -> g.task(id, TornadoKernels::layerNormForward, mem, ou, m, r, x, w, b, N, C));
    }

    @Override
    public Launch layerNormBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                                    FloatBuf weight, FloatBuf mean, FloatBuf rstd, int N, int C) {
        int dx = o(dinp), dw = o(dweight), db = o(dbias), d = o(dout), x = o(inp), w = o(weight);
        int m = o(mean), r = o(rstd);
        return new TLaunch("layernorm_backward", List.of(
                (g, id) -> g.task(id, TornadoKernels::layerNormBackwardInput, mem, dx, d, x, w, m, r, N, C),
                (g, id) -> g.task(id, TornadoKernels::layerNormBackwardParams, mem, dw, db, d, x, m, r, N, C)),
                List.of());
    }

    @Override
    public Launch matmulForward(FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C, int OC) {
        int ou = o(out), x = o(inp), w = o(weight), b = bias == null ? 0 : o(bias), hasBias = bias == null ? 0 : 1;
        return launch("matmul_forward",
                (g, id) -> g.task(id, TornadoKernels::matmulForward, mem, ou, x, w, b, N, C, OC, hasBias));
    }

    @Override
    public Launch matmulBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                                 FloatBuf weight, int N, int C, int OC) {
        int dw = o(dweight), d = o(dout), x = o(inp), w = o(weight);
        List<TaskAdder> tasks = new ArrayList<>();
        if (dinp != null) {
            int dx = o(dinp);
            tasks.add((g, id) -> g.task(id, TornadoKernels::matmulBackwardInput, mem, dx, d, w, N, C, OC));
        }
        tasks.add((g, id) -> g.task(id, TornadoKernels::matmulBackwardWeight, mem, dw, d, x, N, C, OC));
        if (dbias != null) {
            int db = o(dbias);
            tasks.add((g, id) -> g.task(id, TornadoKernels::matmulBackwardBias, mem, db, d, N, OC));
        }
        return new TLaunch("matmul_backward", tasks, List.of());
    }

    @Override
    public Launch attentionForward(FloatBuf out, FloatBuf att, FloatBuf qkv, IntBuf seed, float dropout, int salt,
                                   int B, int T, int C, int NH) {
        int ou = o(out), a = o(att), x = o(qkv);
        IntArray s = i(seed);
        return launch("attention_forward",
                (g, id) -> g.task(id, TornadoKernels::attentionForward, mem, ou, a, x, s, dropout, salt, B, T, C, NH), s);
    }

    /** The (B,NH,T,T) gradient of the attention scores, one range shared by every layer's backward pass. */
    private final java.util.Map<Integer, FloatBuf> attGradScratch = new java.util.HashMap<>();

    @Override
    public Launch attentionBackward(FloatBuf dqkv, FloatBuf scratch, FloatBuf dout, FloatBuf qkv, FloatBuf att,
                                    IntBuf seed, float dropout, int salt, int B, int T, int C, int NH) {
        int dx = o(dqkv), d = o(dout), x = o(qkv), a = o(att);
        IntArray s = i(seed);
        int datt = o(attGradScratch.computeIfAbsent(B * NH * T * T, n -> allocFloat("attention_grad_scratch", n)));
        return new TLaunch("attention_backward", List.of(
                (g, id) -> g.task(id, TornadoKernels::attentionBackwardScores, mem, datt, d, x, s, dropout, salt, B, T, C, NH),
                (g, id) -> g.task(id, TornadoKernels::attentionBackwardSoftmax, mem, datt, a, B, T, C, NH),
                (g, id) -> g.task(id, TornadoKernels::attentionBackwardQuery, mem, dx, datt, x, B, T, C, NH),
                (g, id) -> g.task(id, TornadoKernels::attentionBackwardKey, mem, dx, datt, x, B, T, C, NH),
                (g, id) -> g.task(id, TornadoKernels::attentionBackwardValue, mem, dx, a, d, s, dropout, salt, B, T, C, NH)),
                List.of(s));
    }

    @Override
    public Launch reluForward(FloatBuf out, FloatBuf inp, int n) {
        int ou = o(out), x = o(inp);
        return launch("relu_forward", (g, id) -> g.task(id, TornadoKernels::reluForward, mem, ou, x, n));
    }

    @Override
    public Launch reluBackward(FloatBuf dinp, FloatBuf out, FloatBuf dout, int n) {
        int dx = o(dinp), ou = o(out), d = o(dout);
        return launch("relu_backward", (g, id) -> g.task(id, TornadoKernels::reluBackward, mem, dx, ou, d, n));
    }

    @Override
    public Launch residualForward(FloatBuf out, FloatBuf a, FloatBuf b, int n) {
        int ou = o(out), x = o(a), y = o(b);
        return launch("residual_forward", (g, id) -> g.task(id, TornadoKernels::residualForward, mem, ou, x, y, n));
    }

    @Override
    public Launch residualBackward(FloatBuf da, FloatBuf db, FloatBuf dout, int n) {
        int x = o(da), y = o(db), d = o(dout);
        return launch("residual_backward", (g, id) -> g.task(id, TornadoKernels::residualBackward, mem, x, y, d, n));
    }

    @Override
    public Launch dropoutForward(FloatBuf out, FloatBuf inp, IntBuf seed, float p, int salt, int n) {
        int ou = o(out), x = o(inp);
        IntArray s = i(seed);
        return launch("dropout_forward", (g, id) -> g.task(id, TornadoKernels::dropoutForward, mem, ou, x, s, p, salt, n), s);
    }

    @Override
    public Launch dropoutBackward(FloatBuf dinp, FloatBuf dout, IntBuf seed, float p, int salt, int n) {
        int dx = o(dinp), d = o(dout);
        IntArray s = i(seed);
        return launch("dropout_backward", (g, id) -> g.task(id, TornadoKernels::dropoutBackward, mem, dx, d, s, p, salt, n), s);
    }

    @Override
    public Launch crossEntropyForward(FloatBuf losses, FloatBuf probs, FloatBuf logits, IntBuf targets, int N, int V) {
        int l = o(losses), p = o(probs), x = o(logits);
        IntArray t = i(targets);
        return launch("crossentropy_forward",
                (g, id) -> g.task(id, TornadoKernels::crossEntropyForward, mem, l, p, x, t, N, V), t);
    }

    @Override
    public Launch meanLoss(FloatBuf loss, FloatBuf losses, int N) {
        int l = o(loss), ls = o(losses);
        return launch("mean_loss", (g, id) -> g.task(id, TornadoKernels::meanLoss, mem, l, ls, N));
    }

    @Override
    public Launch crossEntropyBackward(FloatBuf dlogits, FloatBuf probs, IntBuf targets, int N, int V) {
        int d = o(dlogits), p = o(probs);
        IntArray t = i(targets);
        return launch("crossentropy_backward",
                (g, id) -> g.task(id, TornadoKernels::crossEntropyBackward, mem, d, p, t, N, V), t);
    }

    @Override
    public Launch adamw(FloatBuf param, FloatBuf grad, FloatBuf m, FloatBuf v, FloatBuf hyper, int n) {
        int p = o(param), gr = o(grad), mm = o(m), vv = o(v);
        hostInput(hyper);
        FloatArray h = ((TFloat) hyper).own;
        return launch("adamw", (g, id) -> g.task(id, TornadoKernels::adamw, mem, p, gr, mm, vv, h, n), h);
    }

    @Override
    public Launch embedToken(FloatBuf out, IntBuf tokPos, FloatBuf wte, FloatBuf wpe, int C) {
        int ou = o(out), e = o(wte), p = wpe == null ? 0 : o(wpe), hasPos = wpe == null ? 0 : 1;
        IntArray tp = i(tokPos);
        return launch("embed_token", (g, id) -> g.task(id, TornadoKernels::embedToken, mem, ou, tp, e, p, C, hasPos), tp);
    }

    @Override
    public Launch attentionDecode(FloatBuf out, FloatBuf scores, FloatBuf qkv, FloatBuf kCache, FloatBuf vCache,
                                  IntBuf tokPos, int T, int C, int NH) {
        int ou = o(out), s = o(scores), x = o(qkv), kc = o(kCache), vc = o(vCache);
        IntArray tp = i(tokPos);
        return launch("attention_decode",
                (g, id) -> g.task(id, TornadoKernels::attentionDecode, mem, ou, s, x, kc, vc, tp, T, C, NH), tp);
    }
}
