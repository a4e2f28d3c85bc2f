package org.gptjvm.tornado;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBlock;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.GptException;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.KernelProfile;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.ParamBlocks;
import org.gptjvm.engine.Program;
import org.gptjvm.engine.device.DeviceDiagnostics;
import org.gptjvm.engine.device.LaunchInfo;
import uk.ac.manchester.tornado.api.common.TornadoDevice;

import java.util.List;

/**
 * The engine on a TornadoVM device: each kernel of {@link Backend} is an op's launch, made by the op's
 * own file, which holds its kernels, its grid and its cost ({@link LinearOp}, {@link AttentionOp},
 * {@link LayerNormOp}, {@link EmbeddingOp}, {@link LossOp}, {@link AdamWOp}, {@link GradNormOp},
 * {@link ElementwiseOp}; the products are {@link Gemm}'s, the row sums {@link Reductions}'). The
 * buffers are {@link DeviceArena}'s, the programs {@link TaskGraphPlan}'s task graphs, with the
 * second passes of long sums merged where they may wait ({@link DeferredSums}).
 */
public final class TornadoBackend implements Backend, DeviceDiagnostics {
    private final TornadoDevice device;
    private final DeviceArena arena = new DeviceArena();
    private final TaskGraphPlan plan;
    private final OpContext ctx;

    public TornadoBackend(TornadoDevice device) {
        this.device = device;
        this.ctx = new OpContext(arena, Gemm.kStep(device.getTornadoVMBackend()), Gemm.masksIndices(device.getTornadoVMBackend()));
        this.plan = new TaskGraphPlan(device, arena);
        DeviceLimits.check(device);
        CudaGraphs.wanted(); // a bad setting fails here, before any work
    }

    @Override
    public String name() {
        return "tornado";
    }

    @Override
    public String device() {
        return "tornado backend, " + TornadoDevices.describe(device) + "; " + CudaGraphs.describe(device, plan.profiling())
                + (ctx.products == null ? "" : "; Linear products on " + ctx.products + " (cuBLAS " + CuBlas.version() + ")");
    }

    @Override
    public List<String> productLibraries() {
        return CuBlas.offered(device);
    }

    /** cuBLAS (fp32 or TF32) on TornadoVM's CUDA backend, loaded here so that one that cannot load says so now. */
    @Override
    public void useProductLibrary(String library) {
        if (library != null) {
            if (!productLibraries().contains(library)) {
                throw new GptException("--gemm " + library + ": " + (productLibraries().isEmpty()
                        ? "cuBLAS runs on TornadoVM's CUDA backend only, and this device is on its "
                        + device.getTornadoVMBackend() + " backend (gpt devices lists them)"
                        : "this device offers " + String.join(", ", productLibraries())));
            }
            CuBlas.version();
        }
        ctx.products = library;
    }

    // ---------------------------------------------------------------- buffers and programs

    /**
     * The device's memory as its driver reports it, and no more than one allocation may take: the
     * arena is one array (see {@link DeviceArena}).
     */
    @Override
    public long deviceMemory() {
        long global = device.getMaxGlobalMemory(), oneAllocation = device.getMaxAllocMemory();
        long limit = Long.MAX_VALUE;
        if (global > 0) {
            limit = global;
        }
        if (oneAllocation > 0) {
            limit = Math.min(limit, oneAllocation);
        }
        return limit;
    }

    /** The device kernels index dropout's masks from the seed buffer's first row, as the host backends. */
    @Override
    public boolean masksFromFirstRow() {
        return true;
    }

    @Override
    public FloatBuf allocFloat(String name, int size) {
        return arena.alloc(name, size);
    }

    @Override
    public FloatBlock allocBlock(String name, List<String> partNames, int[] sizes) {
        return arena.allocBlock(name, partNames, sizes);
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

    /** Blocks changed on the host, each with its staging array and the program that copies it in. */
    private final java.util.Map<FloatBlock, Staging> staging = new java.util.IdentityHashMap<>();

    private record Staging(uk.ac.manchester.tornado.api.types.arrays.FloatArray host, Program copyIn) {
    }

    /**
     * The block's range alone goes through the host: down (one transfer of its range), changed in a
     * staging array, and up with a copy kernel, while the rest of the arena stays on the device (a
     * write through the arena would bring all of it back and send all of it again). Where the host
     * holds the current values (before the first run), it is changed in place.
     */
    @Override
    public void changeOnHost(FloatBlock block, java.util.function.Consumer<java.lang.foreign.MemorySegment> change) {
        DeviceLaunch.Span span = DeviceArena.span(block);
        if (!arena.deviceHolds()) {
            change.accept(arena.pull(span));
            return;
        }
        Staging st = staging.get(block);
        if (st == null) {
            var host = new uk.ac.manchester.tornado.api.types.arrays.FloatArray((int) Math.max(1, span.n()));
            st = new Staging(host, compile("copy_in " + block.name(), List.of(ElementwiseOp.copyInLaunch(block, host))));
            staging.put(block, st);
        }
        java.lang.foreign.MemorySegment range = arena.pull(span); // after compile: a new plan keeps the device copy
        java.lang.foreign.MemorySegment host = st.host().getSegment().asSlice(0, range.byteSize());
        host.copyFrom(range);
        change.accept(host);
        st.copyIn().run();
    }

    @Override
    public Program compile(String name, List<Launch> launches) {
        return plan.add(name, DeferredSums.merged(ctx, launches.stream().map(l -> (DeviceLaunch) l).toList()));
    }

    @Override
    public void profile(KernelProfile into) {
        plan.profile(into);
    }

    @Override
    public List<LaunchInfo> plan(Program program) {
        return TaskGraphPlan.plan(program);
    }

    @Override
    public List<KernelProfile.Entry> stages() {
        return plan.stages();
    }

    @Override
    public List<KernelProfile.Entry> firstRuns() {
        return plan.firstRuns();
    }

    @Override
    public void close() {
        plan.close();
    }

    // ---------------------------------------------------------------- kernels: each an op's launch

    @Override
    public Launch zero(FloatBlock block) {
        return ElementwiseOp.zeroLaunch(block);
    }

    @Override
    public Launch sumOfSquares(FloatBuf out, FloatBlock block) {
        return GradNormOp.launch(ctx, out, block);
    }

    @Override
    public Launch encoderForward(FloatBuf out, IntBuf idx, FloatBuf wte, FloatBuf wpe, int B, int T, int C) {
        return EmbeddingOp.forward(ctx, out, idx, wte, wpe, B, T, C);
    }

    @Override
    public Launch encoderBackward(FloatBuf dwte, FloatBuf dwpe, FloatBuf dout, IntBuf idx, int B, int T, int C) {
        return EmbeddingOp.backward(ctx, dwte, dwpe, dout, idx, B, T, C);
    }

    @Override
    public Launch layerNormForward(FloatBuf out, FloatBuf mean, FloatBuf rstd, FloatBuf inp, FloatBuf weight,
                                   FloatBuf bias, int N, int C) {
        return LayerNormOp.forwardLaunch(ctx, out, mean, rstd, inp, weight, bias, N, C);
    }

    @Override
    public Launch layerNormBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                                    FloatBuf weight, FloatBuf mean, FloatBuf rstd, int N, int C) {
        return LayerNormOp.backwardLaunch(ctx, dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
    }

    @Override
    public Launch matmulForward(FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C, int OC) {
        return LinearOp.forward(ctx, "matmul_forward", out, inp, weight, bias, N, C, OC, false);
    }

    @Override
    public Launch matmulReluForward(FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C, int OC) {
        return LinearOp.forward(ctx, "matmul_relu_forward", out, inp, weight, bias, N, C, OC, true);
    }

    @Override
    public Launch matmulResidualForward(FloatBuf out, FloatBuf residual, FloatBuf inp, FloatBuf weight, FloatBuf bias,
                                        IntBuf seed, float p, int salt, int N, int C, int OC) {
        return LinearOp.residualForward(ctx, out, residual, inp, weight, bias, seed, p, salt, N, C, OC);
    }

    @Override
    public Launch matmulBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                                 FloatBuf weight, int N, int C, int OC) {
        return LinearOp.backward(ctx, "matmul_backward", dinp, dweight, dbias, dout, null, 0f, 0, inp, false, weight, N, C,
                OC);
    }

    @Override
    public Launch matmulDropoutBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, IntBuf seed,
                                        float p, int salt, FloatBuf inp, boolean reluInput, FloatBuf weight, int N, int C,
                                        int OC) {
        return LinearOp.backward(ctx, "matmul_dropout_backward", dinp, dweight, dbias, dout, seed, p, salt, inp, reluInput,
                weight, N, C, OC);
    }

    @Override
    public Launch attentionForward(FloatBuf out, FloatBuf att, FloatBuf qkv, IntBuf seed, float dropout, int salt,
                                   int B, int T, int C, int NH) {
        return AttentionOp.forward(ctx, out, att, qkv, seed, dropout, salt, B, T, C, NH);
    }

    @Override
    public Launch attentionBackward(FloatBuf dqkv, FloatBuf dout, FloatBuf qkv, FloatBuf att, IntBuf seed,
                                    float dropout, int salt, int B, int T, int C, int NH) {
        return AttentionOp.backward(ctx, dqkv, dout, qkv, att, seed, dropout, salt, B, T, C, NH);
    }

    @Override
    public Launch crossEntropyForward(FloatBuf losses, FloatBuf probs, FloatBuf logits, IntBuf targets, int N, int V) {
        return LossOp.forward(ctx, losses, probs, logits, targets, N, V);
    }

    @Override
    public Launch meanLoss(FloatBuf loss, FloatBuf losses, int N) {
        return LossOp.mean(ctx, loss, losses, N);
    }

    @Override
    public Launch crossEntropyBackward(FloatBuf dlogits, FloatBuf probs, IntBuf targets, int N, int V) {
        return LossOp.backward(ctx, dlogits, probs, targets, N, V);
    }

    @Override
    public Launch adamw(ParamBlocks params, int from, int to, FloatBuf hyper) {
        hostInput(hyper);
        return AdamWOp.launch(params, from, to, hyper);
    }

    @Override
    public Launch embedToken(FloatBuf out, IntBuf tokPos, FloatBuf wte, FloatBuf wpe, int C) {
        return EmbeddingOp.token(ctx, out, tokPos, wte, wpe, C);
    }

    @Override
    public Launch attentionDecode(FloatBuf out, FloatBuf qkv, FloatBuf kCache, FloatBuf vCache, IntBuf tokPos, int T,
                                  int C, int NH) {
        return AttentionOp.decode(ctx, out, qkv, kCache, vCache, tokPos, T, C, NH);
    }
}
