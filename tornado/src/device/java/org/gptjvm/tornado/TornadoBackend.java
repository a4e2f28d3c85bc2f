package org.gptjvm.tornado;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.Program;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The engine on a TornadoVM device: each kernel of {@link Backend} bound to its
 * {@link TornadoKernels} task(s) over the arena. The buffers and their transfers are
 * {@link DeviceArena}'s, the programs' TaskGraphs {@link TaskGraphPlan}'s.
 */
public final class TornadoBackend implements Backend {
    private final TornadoDevice device;
    private final DeviceArena arena = new DeviceArena();
    private final TaskGraphPlan plan;
    /** The backend's own scratch ranges by name, each as large as the largest launch needs. */
    private final Map<String, FloatBuf> scratch = new HashMap<>();

    public TornadoBackend(TornadoDevice device) {
        this.device = device;
        this.plan = new TaskGraphPlan(device, arena);
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

    // ---------------------------------------------------------------- buffers and programs

    @Override
    public FloatBuf allocFloat(String name, int size) {
        return arena.alloc(name, size);
    }

    @Override
    public IntBuf allocInt(String name, int size) {
        return arena.allocInt(name, size);
    }

    @Override
    public void hostInput(FloatBuf buf) {
        if (DeviceArena.own(buf) == null) {
            plan.invalidate(); // the graphs change, and the buffer's current value comes back first
            arena.makeHostInput((DeviceArena.Range) buf);
        }
    }

    @Override
    public long allocatedBytes() {
        return arena.bytes();
    }

    @Override
    public void write(FloatBuf dst, float[] src) {
        arena.write(dst, src);
    }

    @Override
    public void write(IntBuf dst, int[] src) {
        arena.write(dst, src);
    }

    @Override
    public void read(FloatBuf src, int offset, float[] dst, int len) {
        arena.read(src, offset, dst, len);
    }

    @Override
    public Program compile(String name, List<Launch> launches) {
        return plan.add(name, launches);
    }

    @Override
    public void close() {
        plan.close();
    }

    /** A range of the arena that only this backend's kernels use, grown to the largest size asked for. */
    private FloatBuf scratch(String name, int size) {
        FloatBuf b = scratch.get(name);
        if (b == null || b.size() < size) {
            b = allocFloat(name, size);
            scratch.put(name, b);
        }
        return b;
    }

    // ---------------------------------------------------------------- kernels

    private static int o(FloatBuf b) {
        return DeviceArena.offset(b);
    }

    private static IntArray i(IntBuf b) {
        return DeviceArena.ints(b);
    }

    private static Launch launch(String kernel, TaskGraphPlan.TaskAdder task, Object... inputs) {
        return new TaskGraphPlan.TLaunch(kernel, List.of(task), List.of(inputs));
    }

    @Override
    public Launch zero(List<FloatBuf> bufs) {
        List<TaskGraphPlan.TaskAdder> tasks = new ArrayList<>();
        for (FloatBuf b : bufs) {
            int x = o(b), n = b.size();
            tasks.add((g, id, mem) -> g.task(id, TornadoKernels::zero, mem, x, n));
        }
        return new TaskGraphPlan.TLaunch("zero", tasks, List.of());
    }

    @Override
    public Launch encoderForward(FloatBuf out, IntBuf idx, FloatBuf wte, FloatBuf wpe, int B, int T, int C) {
        int ou = o(out), e = o(wte), p = wpe == null ? 0 : o(wpe), hasPos = wpe == null ? 0 : 1;
        IntArray ix = i(idx);
        return launch("encoder_forward",
                (g, id, mem) -> g.task(id, TornadoKernels::encoderForward, mem, ou, ix, e, p, B * T, T, C, hasPos), ix);
    }

    @Override
    public Launch encoderBackward(FloatBuf dwte, FloatBuf dwpe, FloatBuf dout, IntBuf idx, int B, int T, int C) {
        int de = o(dwte), d = o(dout);
        IntArray ix = i(idx);
        List<TaskGraphPlan.TaskAdder> tasks = new ArrayList<>();
        tasks.add((g, id, mem) -> g.task(id, TornadoKernels::encoderBackwardWte, mem, de, d, ix, B * T, C));
        if (dwpe != null) {
            int dp = o(dwpe);
            tasks.add((g, id, mem) -> g.task(id, TornadoKernels::encoderBackwardWpe, mem, dp, d, B, T, C));
        }
        return new TaskGraphPlan.TLaunch("encoder_backward", tasks, List.of(ix));
    }

    @Override
    public Launch layerNormForward(FloatBuf out, FloatBuf mean, FloatBuf rstd, FloatBuf inp, FloatBuf weight,
                                   FloatBuf bias, int N, int C) {
        int ou = o(out), m = o(mean), r = o(rstd), x = o(inp), w = o(weight), b = o(bias);
        return launch("layernorm_forward",
                (g, id, mem) -> g.task(id, TornadoKernels::layerNormForward, mem, ou, m, r, x, w, b, N, C));
    }

    @Override
    public Launch layerNormBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                                    FloatBuf weight, FloatBuf mean, FloatBuf rstd, int N, int C) {
        int dx = o(dinp), dw = o(dweight), db = o(dbias), d = o(dout), x = o(inp), w = o(weight);
        int m = o(mean), r = o(rstd);
        return new TaskGraphPlan.TLaunch("layernorm_backward", List.of(
                (g, id, mem) -> g.task(id, TornadoKernels::layerNormBackwardInput, mem, dx, d, x, w, m, r, N, C),
                (g, id, mem) -> g.task(id, TornadoKernels::layerNormBackwardParams, mem, dw, db, d, x, m, r, N, C)),
                List.of());
    }

    @Override
    public Launch matmulForward(FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C, int OC) {
        int ou = o(out), x = o(inp), w = o(weight), b = bias == null ? 0 : o(bias), hasBias = bias == null ? 0 : 1;
        return launch("matmul_forward",
                (g, id, mem) -> g.task(id, TornadoKernels::matmulForward, mem, ou, x, w, b, N, C, OC, hasBias));
    }

    @Override
    public Launch matmulBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                                 FloatBuf weight, int N, int C, int OC) {
        int dw = o(dweight), d = o(dout), x = o(inp), w = o(weight);
        List<TaskGraphPlan.TaskAdder> tasks = new ArrayList<>();
        if (dinp != null) {
            int dx = o(dinp);
            tasks.add((g, id, mem) -> g.task(id, TornadoKernels::matmulBackwardInput, mem, dx, d, w, N, C, OC));
        }
        tasks.add((g, id, mem) -> g.task(id, TornadoKernels::matmulBackwardWeight, mem, dw, d, x, N, C, OC));
        if (dbias != null) {
            int db = o(dbias);
            tasks.add((g, id, mem) -> g.task(id, TornadoKernels::matmulBackwardBias, mem, db, d, N, OC));
        }
        return new TaskGraphPlan.TLaunch("matmul_backward", tasks, List.of());
    }

    @Override
    public Launch attentionForward(FloatBuf out, FloatBuf att, FloatBuf qkv, IntBuf seed, float dropout, int salt,
                                   int B, int T, int C, int NH) {
        int ou = o(out), a = o(att), x = o(qkv);
        IntArray s = i(seed);
        return launch("attention_forward",
                (g, id, mem) -> g.task(id, TornadoKernels::attentionForward, mem, ou, a, x, s, dropout, salt, B, T, C, NH), s);
    }

    @Override
    public Launch attentionBackward(FloatBuf dqkv, FloatBuf dout, FloatBuf qkv, FloatBuf att, IntBuf seed,
                                    float dropout, int salt, int B, int T, int C, int NH) {
        int dx = o(dqkv), d = o(dout), x = o(qkv), a = o(att);
        IntArray s = i(seed);
        int datt = o(scratch("attention_backward.scores", B * NH * T * T));
        return new TaskGraphPlan.TLaunch("attention_backward", List.of(
                (g, id, mem) -> g.task(id, TornadoKernels::attentionBackwardScores, mem, datt, d, x, s, dropout, salt, B, T, C, NH),
                (g, id, mem) -> g.task(id, TornadoKernels::attentionBackwardSoftmax, mem, datt, a, B, T, C, NH),
                (g, id, mem) -> g.task(id, TornadoKernels::attentionBackwardQuery, mem, dx, datt, x, B, T, C, NH),
                (g, id, mem) -> g.task(id, TornadoKernels::attentionBackwardKey, mem, dx, datt, x, B, T, C, NH),
                (g, id, mem) -> g.task(id, TornadoKernels::attentionBackwardValue, mem, dx, a, d, s, dropout, salt, B, T, C, NH)),
                List.of(s));
    }

    @Override
    public Launch reluForward(FloatBuf out, FloatBuf inp, int n) {
        int ou = o(out), x = o(inp);
        return launch("relu_forward", (g, id, mem) -> g.task(id, TornadoKernels::reluForward, mem, ou, x, n));
    }

    @Override
    public Launch reluBackward(FloatBuf dinp, FloatBuf out, FloatBuf dout, int n) {
        int dx = o(dinp), ou = o(out), d = o(dout);
        return launch("relu_backward", (g, id, mem) -> g.task(id, TornadoKernels::reluBackward, mem, dx, ou, d, n));
    }

    @Override
    public Launch residualForward(FloatBuf out, FloatBuf a, FloatBuf b, int n) {
        int ou = o(out), x = o(a), y = o(b);
        return launch("residual_forward", (g, id, mem) -> g.task(id, TornadoKernels::residualForward, mem, ou, x, y, n));
    }

    @Override
    public Launch residualBackward(FloatBuf da, FloatBuf db, FloatBuf dout, int n) {
        int x = o(da), y = o(db), d = o(dout);
        return launch("residual_backward", (g, id, mem) -> g.task(id, TornadoKernels::residualBackward, mem, x, y, d, n));
    }

    @Override
    public Launch dropoutForward(FloatBuf out, FloatBuf inp, IntBuf seed, float p, int salt, int n) {
        int ou = o(out), x = o(inp);
        IntArray s = i(seed);
        return launch("dropout_forward", (g, id, mem) -> g.task(id, TornadoKernels::dropoutForward, mem, ou, x, s, p, salt, n), s);
    }

    @Override
    public Launch dropoutBackward(FloatBuf dinp, FloatBuf dout, IntBuf seed, float p, int salt, int n) {
        int dx = o(dinp), d = o(dout);
        IntArray s = i(seed);
        return launch("dropout_backward", (g, id, mem) -> g.task(id, TornadoKernels::dropoutBackward, mem, dx, d, s, p, salt, n), s);
    }

    @Override
    public Launch crossEntropyForward(FloatBuf losses, FloatBuf probs, FloatBuf logits, IntBuf targets, int N, int V) {
        int l = o(losses), p = o(probs), x = o(logits);
        IntArray t = i(targets);
        return launch("crossentropy_forward",
                (g, id, mem) -> g.task(id, TornadoKernels::crossEntropyForward, mem, l, p, x, t, N, V), t);
    }

    @Override
    public Launch meanLoss(FloatBuf loss, FloatBuf losses, int N) {
        int l = o(loss), ls = o(losses);
        return launch("mean_loss", (g, id, mem) -> g.task(id, TornadoKernels::meanLoss, mem, l, ls, N));
    }

    @Override
    public Launch crossEntropyBackward(FloatBuf dlogits, FloatBuf probs, IntBuf targets, int N, int V) {
        int d = o(dlogits), p = o(probs);
        IntArray t = i(targets);
        return launch("crossentropy_backward",
                (g, id, mem) -> g.task(id, TornadoKernels::crossEntropyBackward, mem, d, p, t, N, V), t);
    }

    @Override
    public Launch adamw(FloatBuf param, FloatBuf grad, FloatBuf m, FloatBuf v, FloatBuf hyper, int n) {
        int p = o(param), gr = o(grad), mm = o(m), vv = o(v);
        hostInput(hyper);
        FloatArray h = DeviceArena.own(hyper);
        return launch("adamw", (g, id, mem) -> g.task(id, TornadoKernels::adamw, mem, p, gr, mm, vv, h, n), h);
    }

    @Override
    public Launch embedToken(FloatBuf out, IntBuf tokPos, FloatBuf wte, FloatBuf wpe, int C) {
        int ou = o(out), e = o(wte), p = wpe == null ? 0 : o(wpe), hasPos = wpe == null ? 0 : 1;
        IntArray tp = i(tokPos);
        return launch("embed_token", (g, id, mem) -> g.task(id, TornadoKernels::embedToken, mem, ou, tp, e, p, C, hasPos), tp);
    }

    @Override
    public Launch attentionDecode(FloatBuf out, FloatBuf qkv, FloatBuf kCache, FloatBuf vCache, IntBuf tokPos, int T,
                                  int C, int NH) {
        int ou = o(out), s = o(scratch("attention_decode.scores", NH * T)), x = o(qkv), kc = o(kCache), vc = o(vCache);
        IntArray tp = i(tokPos);
        return launch("attention_decode",
                (g, id, mem) -> g.task(id, TornadoKernels::attentionDecode, mem, ou, s, x, kc, vc, tp, T, C, NH), tp);
    }
}
