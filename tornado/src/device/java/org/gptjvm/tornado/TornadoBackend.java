package org.gptjvm.tornado;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.KernelProfile;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.LaunchInfo;
import org.gptjvm.engine.Program;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import org.gptjvm.tornado.TaskGraphPlan.TLaunch;
import org.gptjvm.tornado.TaskGraphPlan.Task;

/**
 * The engine on a TornadoVM device: each kernel of {@link Backend} bound to its task(s). The
 * products run on {@link GemmKernels} (tiled, local memory), the rows on work-group kernels with
 * tree reductions ({@link LayerNormKernels}, {@link AttentionKernels}, {@link LossKernels}), long
 * sums on two-pass reductions ({@link ReduceKernels}); what touches each element once stays one
 * work-item per element. The buffers and their transfers are {@link DeviceArena}'s, the programs'
 * TaskGraphs {@link TaskGraphPlan}'s.
 */
public final class TornadoBackend implements Backend {
    /**
     * Work-groups a long product or sum is spread over at least (split K, row chunks): a few per
     * streaming multiprocessor of a large GPU, so that none idles while another works.
     */
    private static final int SPREAD = 512;

    private final TornadoDevice device;
    private final DeviceArena arena = new DeviceArena();
    private final TaskGraphPlan plan;
    private final KernelContext kc = new StableKernelContext();
    /** The seed of products without dropout: every array a task names must be on the device. */
    private final IntArray noSeed = new IntArray(2);
    /** The backend's own scratch ranges by name, each as large as the largest launch needs. */
    private final Map<String, FloatBuf> scratch = new HashMap<>();
    /** Second passes of sums that may wait and merge with later ones, with their jobs ({@link DeferredSums}). */
    private final Map<Task, List<int[]>> deferrable = new IdentityHashMap<>();
    /** Tasks that add into a parameter's gradient themselves (a weight gradient without split K). */
    private final Map<Task, List<DeferredSums.Span>> direct = new IdentityHashMap<>();
    /** Which GEMM tiles products run on (see {@link GemmCall#tiles}). */
    private final String tiles = GemmCall.tiles();

    public TornadoBackend(TornadoDevice device) {
        this.device = device;
        this.plan = new TaskGraphPlan(device, arena);
        DeviceLimits.check(device);
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
        return plan.add(name, DeferredSums.merged(AdamWStep.merged(launches, this::adamwLaunch), deferrable, direct,
                jobs -> sumParts("backward_sums", jobs)));
    }

    @Override
    public void profile(KernelProfile into) {
        plan.profile(into);
    }

    @Override
    public void close() {
        plan.close();
    }

    /**
     * A range of the arena for one launch's partial sums alone, never shared: their second pass may
     * wait for later launches ({@link DeferredSums}).
     */
    private int partials(String name, long size) {
        return DeviceArena.offset(allocFloat(name, (int) Math.max(1, size)));
    }

    /** A second pass of sums that may wait ({@link DeferredSums}). */
    private Task deferredSums(String kernel, List<int[]> jobs) {
        Task t = sumParts(kernel, jobs);
        deferrable.put(t, List.copyOf(jobs));
        return t;
    }

    /** A range of the arena that only this backend's kernels use, grown to the largest size asked for. */
    private int scratch(String name, long size) {
        FloatBuf b = scratch.get(name);
        if (b == null || b.size() < size) {
            b = allocFloat(name, (int) Math.max(1, size));
            scratch.put(name, b);
        }
        return DeviceArena.offset(b);
    }

    // ---------------------------------------------------------------- how tasks are made

    private static int o(FloatBuf b) {
        return DeviceArena.offset(b);
    }

    private static IntArray i(IntBuf b) {
        return DeviceArena.ints(b);
    }

    private static long[] dims(long x, long y, long z) {
        return new long[]{x, y, z};
    }

    /** A one-work-item-per-element task over n (or n x m) elements: TornadoVM picks the work-group. */
    private static Task simple(TaskGraphPlan.TaskAdder adder, LaunchInfo info) {
        return new Task(adder, null, info);
    }

    private static LaunchInfo info(String kernel, long[] global, double flops, double read, double written) {
        return new LaunchInfo(kernel, global, dims(0, 0, 0), flops, read, written, 0);
    }

    /** A 1-D KernelContext grid of {@code groups} work-groups of {@code wg}. */
    private static WorkerGrid groups(long groups, int wg) {
        WorkerGrid1D g = new WorkerGrid1D((int) (groups * wg));
        g.setLocalWork(wg, 1, 1);
        return g;
    }

    /** A 1-D KernelContext grid covering {@code n} work-items in groups of {@code wg}. */
    private static WorkerGrid cover(long n, int wg) {
        return groups((n + wg - 1) / wg, wg);
    }

    private Task gemm(String kernel, GemmCall call, IntArray seed, float p) {
        return gemm(kernel, List.of(call), seed, p);
    }

    /**
     * One launch of independent products (none reads what another writes), on the tiles the setting
     * gives the first; {@link #products} groups calls whose tiles agree. The calls share the launch's
     * alpha and dropout probability: a call without a DROP flag ignores the latter.
     */
    private Task gemm(String kernel, List<GemmCall> calls, IntArray seed, float p) {
        boolean wide = GemmCall.wide(tiles, calls.getFirst().m, calls.getFirst().n);
        calls.forEach(c -> c.wide = wide);
        int at = arena.args(GemmCall.args(calls));
        float alpha = calls.getFirst().alpha;
        if (wide) {
            return new Task((g, id, mem, args) -> g.task(id, GemmKernels::gemmWide, kc, mem, args, at, seed, p, alpha),
                    GemmCall.grid(calls), GemmCall.info(kernel, calls));
        }
        return new Task((g, id, mem, args) -> g.task(id, GemmKernels::gemm, kc, mem, args, at, seed, p, alpha),
                GemmCall.grid(calls), GemmCall.info(kernel, calls));
    }

    /**
     * Independent products as few launches as their tiles allow: one, or (where the tile setting
     * gives them different tiles) one per product.
     */
    private List<Task> products(String kernel, List<GemmCall> calls, IntArray seed, float p) {
        boolean first = GemmCall.wide(tiles, calls.getFirst().m, calls.getFirst().n);
        if (calls.stream().allMatch(c -> GemmCall.wide(tiles, c.m, c.n) == first)) {
            return List.of(gemm(kernel, calls, seed, p));
        }
        return calls.stream().map(c -> gemm(kernel, c, seed, p)).toList();
    }

    private static TLaunch launch(String kernel, List<Task> tasks, Object... inputs) {
        return new TLaunch(kernel, tasks, List.of(inputs));
    }

    // ---------------------------------------------------------------- kernels

    @Override
    public Launch zero(List<FloatBuf> bufs) {
        // neighbouring buffers are one range (the gradients are one block: one task zeroes them all)
        List<long[]> ranges = ranges(bufs);
        List<Task> tasks = new ArrayList<>();
        for (long[] r : ranges) {
            int x = (int) r[0], n = (int) r[1];
            tasks.add(simple((g, id, mem, args) -> g.task(id, ElementwiseKernels::zero, mem, x, n),
                    info("zero", dims(n, 1, 1), 0, 0, 4.0 * n)));
        }
        return new TLaunch("zero", tasks, List.of());
    }

    /** Work-items of {@link ReduceKernels#squaresPartial} per range at most: each sums every W-th element. */
    private static final int SQUARES_SPREAD = 16384;

    @Override
    public Launch sumOfSquares(FloatBuf out, List<FloatBuf> bufs) {
        List<long[]> ranges = ranges(bufs);
        long partials = ranges.stream().mapToLong(r -> Math.min(r[1], SQUARES_SPREAD)).sum();
        int partial = scratch("sum_of_squares.partial", partials);
        List<Task> tasks = new ArrayList<>();
        int at = partial;
        for (long[] r : ranges) {
            int x = (int) r[0], n = (int) r[1], W = Math.min(n, SQUARES_SPREAD), into = at;
            tasks.add(new Task((g, id, mem, args) -> g.task(id, ReduceKernels::squaresPartial, kc, mem, into, x, n, W),
                    cover(W, 128), new LaunchInfo("sum_of_squares", dims(roundUp(W, 128), 1, 1), dims(128, 1, 1), 2.0 * n,
                    4.0 * n, 4.0 * W, 0)));
            at += W;
        }
        int ou = o(out), count = (int) partials;
        tasks.add(new Task((g, id, mem, args) -> g.task(id, ReduceKernels::squaresTotal, kc, mem, ou, partial, count),
                groups(1, 1), new LaunchInfo("sum_of_squares_total", dims(1, 1, 1), dims(1, 1, 1), count, 4.0 * count, 4.0,
                0)));
        return new TLaunch("sum_of_squares", tasks, List.of());
    }

    /** The buffers as ranges of the arena, neighbours joined: {offset, length} each. */
    private static List<long[]> ranges(List<FloatBuf> bufs) {
        List<long[]> ranges = new ArrayList<>();
        for (FloatBuf b : bufs) {
            long[] last = ranges.isEmpty() ? null : ranges.getLast();
            if (last != null && last[0] + last[1] == o(b)) {
                last[1] += b.size();
            } else {
                ranges.add(new long[]{o(b), b.size()});
            }
        }
        return ranges;
    }

    @Override
    public Launch encoderForward(FloatBuf out, IntBuf idx, FloatBuf wte, FloatBuf wpe, int B, int T, int C) {
        int ou = o(out), e = o(wte), p = wpe == null ? 0 : o(wpe), hasPos = wpe == null ? 0 : 1;
        IntArray ix = i(idx);
        return launch("encoder_forward", List.of(simple(
                (g, id, mem, args) -> g.task(id, EmbeddingKernels::encoderForward, mem, ou, ix, e, p, B * T, T, C, hasPos),
                info("encoder_forward", dims((long) B * T, C, 1), (double) B * T * C, 4.0 * B * T * C * (1 + hasPos),
                        4.0 * B * T * C))), ix);
    }

    @Override
    public Launch encoderBackward(FloatBuf dwte, FloatBuf dwpe, FloatBuf dout, IntBuf idx, int B, int T, int C) {
        int de = o(dwte), d = o(dout), V = dwte.size() / C, BT = B * T;
        // the batch grouped by token, from the host's token ids at every write: no work-item walks the batch
        IntArray byToken = arena.derive(idx, V + 1 + BT, (ids, into) -> groupByToken(ids, V, into));
        List<Task> tasks = new ArrayList<>();
        tasks.add(simple((g, id, mem, args) -> g.task(id, EmbeddingKernels::encoderBackwardWte, mem, de, d, byToken, V, C),
                info("encoder_backward_wte", dims(V, C, 1), (double) BT * C, 4.0 * BT * C + 4.0 * V * C, 4.0 * V * C)));
        if (dwpe != null) {
            int dp = o(dwpe);
            tasks.add(simple((g, id, mem, args) -> g.task(id, EmbeddingKernels::encoderBackwardWpe, mem, dp, d, B, T, C),
                    info("encoder_backward_wpe", dims(T, C, 1), (double) BT * C, 4.0 * BT * C, 4.0 * T * C)));
        }
        return new TLaunch("encoder_backward", tasks, List.of(byToken));
    }

    /** into = V + 1 offsets, then the rows of each token in increasing order (a counting sort). */
    static void groupByToken(int[] ids, int V, IntArray into) {
        int[] start = new int[V + 1];
        for (int id : ids) {
            start[id + 1]++;
        }
        for (int v = 0; v < V; v++) {
            start[v + 1] += start[v];
        }
        for (int v = 0; v <= V; v++) {
            into.set(v, start[v]);
        }
        for (int bt = 0; bt < ids.length; bt++) {
            into.set(V + 1 + start[ids[bt]]++, bt);
        }
    }

    @Override
    public Launch layerNormForward(FloatBuf out, FloatBuf mean, FloatBuf rstd, FloatBuf inp, FloatBuf weight,
                                   FloatBuf bias, int N, int C) {
        int ou = o(out), m = o(mean), r = o(rstd), x = o(inp), w = o(weight), b = o(bias);
        int wg = LayerNormKernels.WG;
        return launch("layernorm_forward", List.of(new Task(
                (g, id, mem, args) -> g.task(id, LayerNormKernels::forward, kc, mem, ou, m, r, x, w, b, C),
                groups(N, wg), new LaunchInfo("layernorm_forward", dims((long) N * wg, 1, 1), dims(wg, 1, 1), 8.0 * N * C,
                4.0 * N * C + 8.0 * C, 4.0 * N * C + 8.0 * N, 4L * wg))));
    }

    @Override
    public Launch layerNormBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                                    FloatBuf weight, FloatBuf mean, FloatBuf rstd, int N, int C) {
        int dx = o(dinp), dw = o(dweight), db = o(dbias), d = o(dout), x = o(inp), w = o(weight);
        int m = o(mean), r = o(rstd);
        int wg = LayerNormKernels.WG;
        int chunks = chunks(N, C), rows = (N + chunks - 1) / chunks;
        int partial = partials("layernorm_backward.partial", 2L * chunks * C);
        int partialGroups = (int) ((chunks * (long) C + wg - 1) / wg);
        return launch("layernorm_backward", List.of(
                new Task((g, id, mem, args) -> g.task(id, LayerNormKernels::backward, kc, mem, dx, d, x, w, m, r, N, C, partial,
                        rows), groups((long) N + partialGroups, wg), new LaunchInfo("layernorm_backward",
                        dims(((long) N + partialGroups) * wg, 1, 1), dims(wg, 1, 1), 15.0 * N * C, 20.0 * N * C,
                        8.0 * N * C + 8.0 * chunks * C, 8L * wg)),
                deferredSums("layernorm_backward_sums", List.of(new int[]{C, chunks, partial, dw},
                        new int[]{C, chunks, partial + chunks * C, db}))));
    }

    /**
     * One launch of the second pass of column sums and split-K slices ({@link ReduceKernels#sumParts}):
     * each job {n, parts, base, out} adds {@code parts} partials of n elements, in order, into out.
     */
    private Task sumParts(String kernel, List<int[]> jobs) {
        int[] table = new int[1 + 4 * jobs.size()];
        table[0] = jobs.size();
        long elements = 0;
        double flops = 0, read = 0;
        for (int q = 0; q < jobs.size(); q++) {
            int[] j = jobs.get(q);
            System.arraycopy(j, 0, table, 1 + 4 * q, 4);
            elements += j[0];
            flops += (double) j[1] * j[0];
            read += 4.0 * (j[1] + 1) * j[0];
        }
        int at = arena.args(table);
        return new Task((g, id, mem, args) -> g.task(id, ReduceKernels::sumParts, kc, mem, args, at), cover(elements, 128),
                new LaunchInfo(kernel, dims(roundUp(elements, 128), 1, 1), dims(128, 1, 1), flops, read, 4.0 * elements, 0));
    }

    /** Row chunks for a column sum over N rows of {@code cols}: enough work-items for the device, in order. */
    private static int chunks(int N, int cols) {
        return Math.max(1, Math.min(N, (SPREAD * 128 + cols - 1) / cols));
    }

    private static long roundUp(long n, int m) {
        return (n + m - 1) / m * m;
    }

    @Override
    public Launch matmulForward(FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C, int OC) {
        return launch("matmul_forward", List.of(gemm("matmul_forward", linear(out, inp, weight, bias, N, C, OC, 0),
                noSeed, 0f)), noSeed);
    }

    @Override
    public Launch matmulReluForward(FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C, int OC) {
        return launch("matmul_relu_forward", List.of(gemm("matmul_relu_forward",
                linear(out, inp, weight, bias, N, C, OC, GemmKernels.RELU), noSeed, 0f)), noSeed);
    }

    @Override
    public Launch matmulResidualForward(FloatBuf out, FloatBuf residual, FloatBuf inp, FloatBuf weight, FloatBuf bias,
                                        IntBuf seed, float p, int salt, int N, int C, int OC) {
        IntArray s = i(seed);
        GemmCall g = linear(out, inp, weight, bias, N, C, OC, p > 0f ? GemmKernels.DROP_C : 0).mask(o(out), salt);
        g.res = o(residual);
        return launch("matmul_residual_forward", List.of(gemm("matmul_residual_forward", g, s, p)), s);
    }

    /** out(N,OC) = inp(N,C) @ W(OC,C)^T + bias: A = inp row-major, B(k,j) = W[j][k]. */
    private static GemmCall linear(FloatBuf out, FloatBuf inp, FloatBuf weight, FloatBuf bias, int N, int C, int OC,
                                   int flags) {
        GemmCall g = new GemmCall().shape(N, OC, C).a(o(inp), C, 1, 0, 0).b(o(weight), 1, C, 0, 0).c(o(out), OC, 0, 0)
                .flags(flags);
        g.bias = bias == null ? -1 : o(bias);
        return g;
    }

    @Override
    public Launch matmulBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, FloatBuf inp,
                                 FloatBuf weight, int N, int C, int OC) {
        return linearBackward("matmul_backward", dinp, dweight, dbias, dout, noSeed, 0f, 0, inp, false, weight, N, C,
                OC);
    }

    @Override
    public Launch matmulDropoutBackward(FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout, IntBuf seed,
                                        float p, int salt, FloatBuf inp, boolean reluInput, FloatBuf weight, int N, int C,
                                        int OC) {
        return linearBackward("matmul_dropout_backward", dinp, dweight, dbias, dout, i(seed), p, salt, inp, reluInput,
                weight, N, C, OC);
    }

    /**
     * The gradients of a Linear layer; with p > 0, {@code dout} goes through dropout's mask as it is read;
     * with {@code reluInput}, dinp through the ReLU whose output inp is, as it is written (0 where inp is
     * not positive).
     */
    private TLaunch linearBackward(String kernel, FloatBuf dinp, FloatBuf dweight, FloatBuf dbias, FloatBuf dout,
                                   IntArray seed, float p, int salt, FloatBuf inp, boolean reluInput, FloatBuf weight,
                                   int N, int C, int OC) {
        int drop = p > 0f ? GemmKernels.DROP_A : 0;
        List<Task> tasks = new ArrayList<>();
        List<GemmCall> products = new ArrayList<>();
        // dW(OC,C) += dout^T @ inp, K = N rows: split into slices until the device is full, then summed in order
        GemmCall g = new GemmCall().shape(OC, C, N).a(o(dout), 1, OC, 0, 0).b(o(inp), C, 1, 0, 0).flags(drop)
                .mask(o(dout), salt);
        products.add(g);
        g.wide = GemmCall.wide(tiles, OC, C); // as gemm() will decide: the tiles and slice depth follow
        int outputTiles = g.groups(OC) * g.groups(C);
        int slices = Math.max(1, Math.min((SPREAD + outputTiles - 1) / outputTiles, N / (4 * g.depth())));
        // the second passes: the slices of dW and the chunks of dbias, summed in order in one launch
        // (with later layers' second passes: DeferredSums)
        List<int[]> sums = new ArrayList<>();
        boolean splitK = slices > 1;
        if (splitK) {
            int slice = (int) roundUp((N + slices - 1) / slices, g.depth());
            slices = (N + slice - 1) / slice;
            int base = partials("matmul_backward.slices", (long) slices * OC * C);
            g.c(base, C, OC * C, 0);
            g.z = slices;
            g.kSlice = slice;
            sums.add(new int[]{OC * C, slices, base, o(dweight)});
        } else {
            g.c(o(dweight), C, 0, 0).flags(GemmKernels.ACCUMULATE | drop);
        }
        if (dinp != null) { // dinp(N,C) = dout(N,OC) @ W(OC,C) [where inp > 0, else 0]
            // after dW in the launch: a GPU starts work-groups in about the order of their numbers, and each
            // of dW's sums a slice of thousands of rows where dinp's sum OC: the long ones start first and
            // the short ones fill the device around them, rather than the long ones starting last
            GemmCall input = new GemmCall().shape(N, C, OC).a(o(dout), OC, 1, 0, 0).b(o(weight), C, 1, 0, 0)
                    .c(o(dinp), C, 0, 0).flags(drop).mask(o(dout), salt);
            input.gate = reluInput ? o(inp) : -1;
            products.add(input);
        }
        // the input and weight gradients read dout, W and inp only: one launch
        List<Task> productTasks = products("matmul_backward_products", products, seed, p);
        if (!splitK) { // dW += straight from the product
            productTasks.forEach(t -> direct.put(t, List.of(new DeferredSums.Span(o(dweight), OC * C))));
        }
        tasks.addAll(productTasks);
        if (dbias != null) { // dbias += the column sums of dout, in two passes
            int chunks = chunks(N, OC), rows = (N + chunks - 1) / chunks;
            int partial = partials("matmul_backward.bias_partial", (long) chunks * OC);
            int d = o(dout);
            tasks.add(new Task((gr, id, mem, args) -> gr.task(id, ReduceKernels::columnPartial, kc, mem, partial, d, N, OC,
                    rows, seed, p, salt), cover((long) chunks * OC, 128), new LaunchInfo("matmul_backward_bias",
                    dims(roundUp((long) chunks * OC, 128), 1, 1), dims(128, 1, 1), (double) N * OC, 4.0 * N * OC,
                    4.0 * chunks * OC, 0)));
            sums.add(new int[]{OC, chunks, partial, o(dbias)});
        }
        if (!sums.isEmpty()) {
            tasks.add(deferredSums("matmul_backward_sums", sums));
        }
        return new TLaunch(kernel, tasks, List.of(seed));
    }

    // ---------------------------------------------------------------- attention

    /**
     * A product over (batch, head) of attention: z = b * NH + h. {@code q}, {@code k}, {@code v} are
     * the offsets of the query, key and value of (0, 0) in qkv; a row of qkv is 3C floats.
     */
    private static GemmCall heads(int B, int T, int NH) {
        GemmCall g = new GemmCall();
        g.z = B * NH;
        g.nh = NH;
        return g;
    }

    @Override
    public Launch attentionForward(FloatBuf out, FloatBuf att, FloatBuf qkv, IntBuf seed, float dropout, int salt,
                                   int B, int T, int C, int NH) {
        int hs = C / NH, C3 = 3 * C, x = o(qkv), a = o(att), ou = o(out);
        IntArray s = i(seed);
        // scores = Q K^T * hs^-0.5, the causal triangle only
        GemmCall scores = heads(B, T, NH).shape(T, T, hs).a(x, C3, 1, T * C3, hs).b(x + C, 1, C3, T * C3, hs)
                .c(a, T, NH * T * T, T * T).mode(GemmKernels.LOWER);
        scores.alpha = 1f / (float) Math.sqrt(hs);
        int rows = B * NH * T, wg = AttentionKernels.WG;
        Task softmax = new Task((g, id, mem, args) -> g.task(id, AttentionKernels::softmax, kc, mem, a, T), groups(rows, wg),
                new LaunchInfo("attention_softmax", dims((long) rows * wg, 1, 1), dims(wg, 1, 1), 2.5 * rows * T,
                        2.0 * rows * T, 4.0 * rows * T, 4L * wg));
        // out = dropout(att) V, k up to the row
        GemmCall values = heads(B, T, NH).shape(T, hs, T).a(a, T, 1, NH * T * T, T * T).b(x + 2 * C, C3, 1, T * C3, hs)
                .c(ou, C, T * C, hs).mode(GemmKernels.K_UP_TO_ROW).flags(dropout > 0f ? GemmKernels.DROP_A : 0)
                .mask(a, salt);
        return launch("attention_forward", List.of(gemm("attention_scores", scores, s, 0f), softmax,
                gemm("attention_values", values, s, dropout)), s);
    }

    @Override
    public Launch attentionBackward(FloatBuf dqkv, FloatBuf dout, FloatBuf qkv, FloatBuf att, IntBuf seed,
                                    float dropout, int salt, int B, int T, int C, int NH) {
        int hs = C / NH, C3 = 3 * C, x = o(qkv), a = o(att), d = o(dout), dx = o(dqkv);
        IntArray s = i(seed);
        int grad = scratch("attention_backward.scores", (long) B * NH * T * T);
        // dA = dout V^T (the causal triangle), then through dropout and softmax into dS, in place
        GemmCall dp = heads(B, T, NH).shape(T, T, hs).a(d, C, 1, T * C, hs).b(x + 2 * C, 1, C3, T * C3, hs)
                .c(grad, T, NH * T * T, T * T).mode(GemmKernels.LOWER);
        int rows = B * NH * T, wg = AttentionKernels.WG;
        float scale = 1f / (float) Math.sqrt(hs);
        Task softmax = new Task((g, id, mem, args) -> g.task(id, AttentionKernels::softmaxBackward, kc, mem, grad, a, s,
                dropout, salt, T, scale), groups(rows, wg), new LaunchInfo("attention_softmax_backward",
                dims((long) rows * wg, 1, 1), dims(wg, 1, 1), 2.5 * rows * T, 4.0 * rows * T, 2.0 * rows * T, 4L * wg));
        // dQ = dS K
        GemmCall dq = heads(B, T, NH).shape(T, hs, T).a(grad, T, 1, NH * T * T, T * T).b(x + C, C3, 1, T * C3, hs)
                .c(dx, C3, T * C3, hs).mode(GemmKernels.K_UP_TO_ROW);
        // dK = dS^T Q
        GemmCall dk = heads(B, T, NH).shape(T, hs, T).a(grad, 1, T, NH * T * T, T * T).b(x, C3, 1, T * C3, hs)
                .c(dx + C, C3, T * C3, hs).mode(GemmKernels.K_FROM_ROW);
        // dV = dropout(att)^T dout
        GemmCall dv = heads(B, T, NH).shape(T, hs, T).a(a, 1, T, NH * T * T, T * T).b(d, C, 1, T * C, hs)
                .c(dx + 2 * C, C3, T * C3, hs).mode(GemmKernels.K_FROM_ROW)
                .flags(dropout > 0f ? GemmKernels.DROP_A : 0).mask(a, salt);
        // dQ, dK and dV write their own columns of dqkv from qkv, dS, att and dout: one launch
        List<Task> tasks = new ArrayList<>(List.of(gemm("attention_backward_scores", dp, s, 0f), softmax));
        tasks.addAll(products("attention_backward_qkv", List.of(dq, dk, dv), s, dropout));
        return new TLaunch("attention_backward", tasks, List.of(s));
    }

    // ---------------------------------------------------------------- elementwise, loss, optimizer

    @Override
    public Launch reluForward(FloatBuf out, FloatBuf inp, int n) {
        int ou = o(out), x = o(inp);
        return launch("relu_forward", List.of(simple((g, id, mem, args) -> g.task(id, ElementwiseKernels::reluForward, mem,
                ou, x, n), info("relu_forward", dims(n, 1, 1), n, 4.0 * n, 4.0 * n))));
    }

    @Override
    public Launch reluBackward(FloatBuf dinp, FloatBuf out, FloatBuf dout, int n) {
        int dx = o(dinp), ou = o(out), d = o(dout);
        return launch("relu_backward", List.of(simple((g, id, mem, args) -> g.task(id, ElementwiseKernels::reluBackward,
                mem, dx, ou, d, n), info("relu_backward", dims(n, 1, 1), n, 12.0 * n, 4.0 * n))));
    }

    @Override
    public Launch residualForward(FloatBuf out, FloatBuf a, FloatBuf b, int n) {
        int ou = o(out), x = o(a), y = o(b);
        return launch("residual_forward", List.of(simple((g, id, mem, args) -> g.task(id,
                ElementwiseKernels::residualForward, mem, ou, x, y, n), info("residual_forward", dims(n, 1, 1), n, 8.0 * n,
                4.0 * n))));
    }

    @Override
    public Launch residualBackward(FloatBuf da, FloatBuf db, FloatBuf dout, int n) {
        int x = o(da), y = o(db), d = o(dout);
        return launch("residual_backward", List.of(simple((g, id, mem, args) -> g.task(id,
                ElementwiseKernels::residualBackward, mem, x, y, d, n), info("residual_backward", dims(n, 1, 1), 2.0 * n,
                12.0 * n, 8.0 * n))));
    }

    @Override
    public Launch dropoutForward(FloatBuf out, FloatBuf inp, IntBuf seed, float p, int salt, int n) {
        int ou = o(out), x = o(inp);
        IntArray s = i(seed);
        return launch("dropout_forward", List.of(simple((g, id, mem, args) -> g.task(id, ElementwiseKernels::dropoutForward,
                mem, ou, x, s, p, salt, n), info("dropout_forward", dims(n, 1, 1), n, 4.0 * n, 4.0 * n))), s);
    }

    @Override
    public Launch dropoutBackward(FloatBuf dinp, FloatBuf dout, IntBuf seed, float p, int salt, int n) {
        int dx = o(dinp), d = o(dout);
        IntArray s = i(seed);
        return launch("dropout_backward", List.of(simple((g, id, mem, args) -> g.task(id,
                ElementwiseKernels::dropoutBackward, mem, dx, d, s, p, salt, n), info("dropout_backward", dims(n, 1, 1),
                2.0 * n, 8.0 * n, 4.0 * n))), s);
    }

    @Override
    public Launch crossEntropyForward(FloatBuf losses, FloatBuf probs, FloatBuf logits, IntBuf targets, int N, int V) {
        int l = o(losses), p = o(probs), x = o(logits), wg = LossKernels.WG;
        IntArray t = i(targets);
        return launch("crossentropy_forward", List.of(new Task((g, id, mem, args) -> g.task(id,
                LossKernels::crossEntropyForward, kc, mem, l, p, x, t, V), groups(N, wg), new LaunchInfo(
                "crossentropy_forward", dims((long) N * wg, 1, 1), dims(wg, 1, 1), 4.0 * N * V, 4.0 * N * V,
                4.0 * N * V + 4.0 * N, 4L * wg))), t);
    }

    @Override
    public Launch meanLoss(FloatBuf loss, FloatBuf losses, int N) {
        int l = o(loss), ls = o(losses), wg = LossKernels.WG;
        return launch("mean_loss", List.of(new Task((g, id, mem, args) -> g.task(id, LossKernels::meanLoss, kc, mem, l, ls,
                N), groups(1, wg), new LaunchInfo("mean_loss", dims(wg, 1, 1), dims(wg, 1, 1), N, 4.0 * N, 4, 8L * wg))));
    }

    @Override
    public Launch crossEntropyBackward(FloatBuf dlogits, FloatBuf probs, IntBuf targets, int N, int V) {
        int d = o(dlogits), p = o(probs);
        IntArray t = i(targets);
        return launch("crossentropy_backward", List.of(simple((g, id, mem, args) -> g.task(id,
                LossKernels::crossEntropyBackward, mem, d, p, t, N, V), info("crossentropy_backward", dims(N, V, 1),
                3.0 * N * V, 8.0 * N * V, 4.0 * N * V))), t);
    }

    @Override
    public Launch adamw(FloatBuf param, FloatBuf grad, FloatBuf m, FloatBuf v, FloatBuf hyper, int n) {
        hostInput(hyper);
        return new AdamWStep(o(param), o(grad), o(m), o(v), hyper, n);
    }

    /** One AdamW task over a run of parameters' steps (see {@link AdamWStep#merged}). */
    private TLaunch adamwLaunch(AdamWStep step) {
        int p = step.p(), gr = step.g(), m = step.m(), v = step.v(), n = step.n();
        FloatArray h = DeviceArena.own(step.hyper());
        return launch("adamw", List.of(simple((g, id, mem, args) -> g.task(id, ElementwiseKernels::adamw, mem, p, gr, m, v,
                h, n), info("adamw", dims(n, 1, 1), 12.0 * n, 16.0 * n, 12.0 * n))), h);
    }

    @Override
    public Launch embedToken(FloatBuf out, IntBuf tokPos, FloatBuf wte, FloatBuf wpe, int C) {
        int ou = o(out), e = o(wte), p = wpe == null ? 0 : o(wpe), hasPos = wpe == null ? 0 : 1;
        IntArray tp = i(tokPos);
        return launch("embed_token", List.of(simple((g, id, mem, args) -> g.task(id, EmbeddingKernels::embedToken, mem, ou,
                tp, e, p, C, hasPos), info("embed_token", dims(C, 1, 1), C, 8.0 * C, 4.0 * C))), tp);
    }

    @Override
    public Launch attentionDecode(FloatBuf out, FloatBuf qkv, FloatBuf kCache, FloatBuf vCache, IntBuf tokPos, int T,
                                  int C, int NH) {
        int ou = o(out), s = scratch("attention_decode.scores", (long) NH * T), x = o(qkv), kc2 = o(kCache), vc = o(vCache);
        IntArray tp = i(tokPos);
        return launch("attention_decode", List.of(simple((g, id, mem, args) -> g.task(id, AttentionKernels::decode, mem, ou,
                s, x, kc2, vc, tp, T, C, NH), info("attention_decode", dims(NH, 1, 1), 4.0 * T * C, 8.0 * T * C,
                4.0 * C))), tp);
    }
}
