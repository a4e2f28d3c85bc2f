package org.gptjvm.tornado;

import org.gptjvm.engine.DropoutMask;
import org.gptjvm.engine.device.LaunchInfo;
import org.gptjvm.tornado.DeviceLaunch.Task;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.enums.TornadoVMBackendType;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.List;

/**
 * The one tiled matrix product behind every product of a training step, the Linear layers'
 * ({@link LinearOp}: {@code inp @ W^T + b}, {@code dout @ W}, {@code dout^T @ inp}) and attention's per
 * (batch, head) ({@link AttentionOp}: {@code Q K^T}, {@code P V} and their gradients): the kernel, the
 * description of one call ({@link Call}) and the task that launches calls, with its grid and cost.
 *
 * <pre>
 *   C(i, j) = [res(i, j) +] [dropout] ([relu] (alpha * sum_k A(i, k) B(k, j) [+ bias(j)]))   (= or +=)
 *   with a gate: C(i, j) [+]= that only where gate(i, j) > 0 (gate: a ReLU's output, in C's layout; the
 *   product is the gradient of the ReLU's output, C that of its input)
 * </pre>
 *
 * A work-group of {@link #THREADS} x {@link #THREADS} work-items computes one {@link #TILE} x
 * {@link #TILE} tile of C, each work-item the {@link #R} x {@link #R} block of adjacent rows and
 * columns at (R ly, R lx) in registers, with TK-deep slices of A and B staged in local memory (rows of
 * {@link #PITCH} floats, see {@link #LOCAL_BYTES}), so every element read from global memory serves
 * TILE products and a work-item's R values of A (of B) for one k are one 16-byte local read. Every
 * element's k runs in order, whoever computes it and whichever tile: no atomics, and results repeat
 * run to run. Larger tiles where a launch's products fill them and make enough work-groups
 * ({@link #tile}): 128 x 128 ({@link #gemmWide}) and, for products with many rows and a narrow C,
 * 128 x 64 ({@link #gemm} with its {@code tall} argument 1).
 *
 * <p>A work-item reads its part of the next slice from global memory into registers right after
 * staging the current one, and multiplies the current one meanwhile: the reads' latency overlaps the
 * multiply-adds instead of stalling the work-group at the barrier. Its part is 4 neighbours of each
 * operand along that operand's unit stride ({@link #runAcross}), read unconditionally from one address
 * ({@link #runAt}), edges by clamped addresses, so that a slice's reads are issued together: a read
 * inside a bounds branch, its value stored to local memory right after, makes a work-item wait for its
 * reads one at a time. Only whole slices are staged: where a work-group's k range is not a multiple of
 * the slice depth (K, a split of K or a triangle's edge; of a training step's products, lm_head's
 * input gradient, K the vocabulary), the first slice starts before its first k and has zeros there
 * ({@link #firstK}), so that the loop stages every slice as it reads it, with no compare and select
 * per value. The launch says (constant
 * arguments, which TornadoVM compiles in) which stride of each operand is 1, so each launch's staging
 * is compiled for its layouts. An operand through dropout (a Linear layer's gradient, attention's
 * weights) is masked once before the products read it (ElementwiseOp.maskedCopy, the attention
 * softmax and its backward), not as each tile stages it: the hash would be a third of a slice's instructions.
 *
 * <p>Operands are addressed through strides, so one kernel serves every layout: A(i,k) =
 * mem[a + i*sai + k*sak], B(k,j) = mem[b + k*sbk + j*sbj], C(i,j) = mem[c + i*ldc + j]. The
 * third grid dimension z is a batch, (b, h) = (z / NH, z % NH) with its own strides per operand,
 * or, with a K slice length, a split of K: slice z sums k in [z*slice, (z+1)*slice) into its own
 * copy of C, and a second pass ({@link DeferredSums}) adds the copies in order (long-K products: the
 * weight gradients sum over every row of the batch). The ints come from one shared array,
 * {@code args[at..]}: see the constants below.
 *
 * <p>One launch may hold several independent calls (a Linear layer's input and weight gradients;
 * attention's dK and dV), their argument rows one after another, each but the last with MORE
 * set: the grid's x is the tile columns (as many as the widest call has), its y the calls' tile rows
 * one after another, each call's for z = 0, then z = 1, and so on. One launch instead of two or three:
 * fewer launches to dispatch, and the calls' tiles fill the device together.
 */
public final class Gemm {
    /** C tile edge, k slice depth, work-items per tile edge, outputs per work-item edge. */
    static final int TILE = 64, TK = 16, THREADS = 16, R = TILE / THREADS;
    /**
     * Row pitch of a staged slice in local memory: one k's TILE values and 4 floats of padding, a
     * multiple of 4 so that a work-item's 4 neighbouring values of a k are one 16-byte read (LDS.128).
     * Where the operand's unit stride is along k, a warp stores 8 rows of 4 runs of 4 k (see
     * {@link #runAcross}): with this pitch a store of the warp falls in 2 ways of each bank (unpadded,
     * TILE floats apart, 8).
     */
    static final int PITCH = TILE + 4;
    /**
     * Where a staged slice starts in its local array: 4 floats in, so that the address of a work-item's
     * first value of the first k is, like every other, its slot plus a constant. At 0 Graal folds that
     * address into one shift, and NVIDIA's assembler, not seeing it equal to the 16-byte read's,
     * reads the value a second time alone (PTX route: two 4-byte shared loads more a slice).
     */
    static final int LEAD = 4;
    /**
     * The wide tiles ({@link #gemmWide}): C tile edge, k slice depth, outputs per work-item edge. Each
     * work-item's 8 x 8 outputs are a block of 8 adjacent rows by 8 adjacent columns, so that the 8
     * values of A (and of B) it reads for one k are neighbours in local memory, 32-byte aligned: NVIDIA's
     * assembler makes two 16-byte reads of them (LDS.128), 4 reads for 64 multiply-adds, where the
     * 64-wide kernel takes 2 for 16. Every element read from global memory serves WIDE products.
     */
    static final int WIDE = 128, WIDE_TK = 8, WIDE_R = WIDE / THREADS;
    /** A wide slice's row pitch: a multiple of 4 (16-byte rows), and 4 more than the tile (see {@link #PITCH}). */
    static final int WIDE_PITCH = WIDE + 4;
    static final int WIDE_LOCAL_BYTES = 2 * (LEAD + WIDE_TK * WIDE_PITCH) * 4;
    /**
     * Local memory of one work-group of {@link #gemm}, in bytes, the most of any product kernel: A's
     * slice as wide as a tall tile's (128 rows, {@link #WIDE_PITCH}; a 64-wide tile uses the first
     * {@link #PITCH} of each row), B's as wide as 64 columns.
     */
    static final int LOCAL_BYTES = (2 * LEAD + TK * (WIDE_PITCH + PITCH)) * 4;
    /**
     * The tall tiles ({@link #gemm}, tall): {@link #WIDE} rows by {@link #TILE} columns, for products with
     * many rows and a narrow C (attention's per head, 64 wide; lm_head's, as wide as the vocabulary).
     * A tile code, not an edge: {@link #rows} and {@link #cols} give its edges.
     */
    static final int TALL = 1;

    /** The row edge of a tile ({@link #TILE}, {@link #WIDE} or {@link #TALL}). */
    static int rows(int tile) {
        return tile == TALL ? WIDE : tile;
    }

    /** The column edge of a tile. */
    static int cols(int tile) {
        return tile == TALL ? TILE : tile;
    }
    /**
     * The k of a slice a wide tile multiplies per pass of its loop, 2 or 4, by route (the system property
     * {@code gpt.tornado.wideKStep} sets it for any, as the tests do to run both): 4 leaves nothing of the
     * loop but its multiply-adds and shared reads, within the PTX route's register cap; the CUDA route,
     * which takes no cap, holds 4 k's shared reads at once in more registers than two work-groups an SM
     * leave it (DeviceLimits.REGISTERS), so it takes 2, as does OpenCL, whose cap no flag sets.
     */
    static int kStep(TornadoVMBackendType route) {
        int step = Integer.getInteger("gpt.tornado.wideKStep", route == TornadoVMBackendType.PTX ? 4 : 2);
        if (step != 2 && step != 4) {
            throw new IllegalArgumentException("gpt.tornado.wideKStep is 2 or 4, not " + step);
        }
        return step;
    }

    /**
     * The mask ANDed into the index of each staged run ({@link #runAt}) on the routes that gain from it:
     * {@code 2^b - 1} for the fewest bits b that hold every index of an arena of {@code floats}, which
     * changes no index and tells Graal it is not negative. TornadoVM's PTX route then widens a read's
     * index to a 64-bit address by zero extension, which NVIDIA's assembler makes in one instruction fewer
     * than the sign extension of any other int (below 2^30 floats, 4 GiB: above it, an index of the mask
     * plus a run's offset could pass 2^31 and the sign extension stays). Elsewhere -1, which Graal folds
     * away: NVRTC (the CUDA route) already adds an index to a base in two instructions and an AND would
     * cost one. The system property {@code gpt.tornado.indexMask} (true or false) sets it for any route,
     * as the tests do to run the masked kernels on OpenCL.
     */
    static boolean masksIndices(TornadoVMBackendType route) {
        String p = System.getProperty("gpt.tornado.indexMask");
        if (p != null && !p.equals("true") && !p.equals("false")) {
            throw new IllegalArgumentException("gpt.tornado.indexMask is true or false, not " + p);
        }
        return p == null ? route == TornadoVMBackendType.PTX : p.equals("true");
    }

    /** The index mask of {@link #masksIndices} for an arena of {@code mem}'s size, or -1 where the route takes none. */
    static int indexMask(boolean masks, FloatArray mem) {
        return masks ? indexMask(mem.getSize()) : -1;
    }

    /** {@code 2^b - 1} for the fewest bits b (at most 31) that hold the indices 0 .. floats - 1. */
    static int indexMask(long floats) {
        long mask = 1;
        while (mask < floats - 1 && mask < Integer.MAX_VALUE) {
            mask = mask << 1 | 1;
        }
        return (int) Math.min(mask, Integer.MAX_VALUE);
    }

    /**
     * How far past an operand's last element a wide tile may read (see {@link #runAt}): a run across
     * the tile from its last row (up to WIDE - 1 floats), or along k past its last k (up to 15). The
     * arena keeps this much slack after its last buffer.
     */
    static final int OVERRUN = WIDE + 4;

    // args[at + ...]
    static final int M = 0, N = 1, K = 2, A = 3, SAI = 4, SAK = 5, B = 6, SBK = 7, SBJ = 8, C = 9, LDC = 10,
            BIAS = 11, FLAGS = 12, NH = 13, A_SB = 14, A_SH = 15, B_SB = 16, B_SH = 17, C_SB = 18, C_SH = 19,
            K_SLICE = 20, SALT = 21, MODE = 22, RES = 23, ZS = 24, GATE = 25, MORE = 26, SIZE = 27;
    // FLAGS bits: C +=; ReLU on C; dropout on C's elements (element index = address - the launch's mask
    // base, see SEED_MASK_BASE)
    /**
     * A launch's seed array ({@link OpContext#maskSeed}): the dropout seed's low and high words, then the
     * launch's mask base: the address whose element index is 0, less this process's first row of the
     * combined batch times the indices per row, so that a process of a data-parallel run draws the
     * masks one process on the combined batch would (see DropoutMask). It is derived from the seed
     * buffer at every host write, rather than read from the argument table and the seed buffer in the
     * kernel: one more array read in the wide kernel is more than TornadoVM 5.2 compiles ("Non-final
     * objects introduced via scope are not supported").
     */
    static final int SEED_MASK_BASE = 2;
    static final int ACCUMULATE = 1, RELU = 2, DROP_C = 8;
    // MODE: which part of a causal (lower-triangular) product is computed
    /** Every tile, every k. */
    static final int ALL = 0;
    /** C is lower-triangular (scores): tiles wholly above the diagonal are skipped. */
    static final int LOWER = 1;
    /** A is lower-triangular (A(i,k) = 0 for k > i): k stops after the tile's last row. */
    static final int K_UP_TO_ROW = 2;
    /** A is upper-triangular (A(i,k) = 0 for k < i): k starts at the tile's first row. */
    static final int K_FROM_ROW = 3;


    private Gemm() {
    }

    /**
     * One call of {@link #gemm}, described field by field (see the kernel for the meaning): a launcher
     * fills in the operands of a product, and this turns them (alone, or with the other independent
     * calls that share its launch) into the kernel's argument rows, the work-group grid and what they
     * ask of the device.
     */
    static final class Call {
        int m, n, k;
        int a, sai, sak, b, sbk, sbj, c, ldc;
        int bias = -1, flags;
        /** The residual added to C after everything else (-1: none); it has C's layout. */
        int res = -1;
        /** A ReLU's output that gates C (-1: none): C is written only where it is positive; it has C's layout. */
        int gate = -1;
        /** Batches (z), heads per batch (z = b * nh + h), and each operand's strides per batch and head. */
        int z = 1, nh = 1, aSb, aSh, bSb, bSh, cSb, cSh;
        int kSlice, maskBase, maskRow, salt, mode = ALL;
        /** Whether it has a dropout mask ({@link #mask}). */
        boolean masked;
        float alpha = 1f;
        /** Its K will be split into as many slices as fill the device (a weight gradient's): see {@link #tile}. */
        boolean fillsDevice;

        /** C is m x n, each element a sum over k. */
        Call shape(int m, int n, int k) {
            this.m = m;
            this.n = n;
            this.k = k;
            return this;
        }

        /** A(i, kk) = mem[a + i*si + kk*sk], plus sb per batch and sh per head. */
        Call a(int a, int si, int sk, int sb, int sh) {
            this.a = a;
            this.sai = si;
            this.sak = sk;
            this.aSb = sb;
            this.aSh = sh;
            return this;
        }

        /** B(kk, j) = mem[b + kk*sk + j*sj], plus sb per batch and sh per head. */
        Call b(int b, int sk, int sj, int sb, int sh) {
            this.b = b;
            this.sbk = sk;
            this.sbj = sj;
            this.bSb = sb;
            this.bSh = sh;
            return this;
        }

        /** C(i, j) = mem[c + i*ldc + j], plus sb per batch and sh per head. */
        Call c(int c, int ldc, int sb, int sh) {
            this.c = c;
            this.ldc = ldc;
            this.cSb = sb;
            this.cSh = sh;
            return this;
        }

        /** Over (batch, head) of attention: z = b * NH + h. */
        Call heads(int B, int NH) {
            this.z = B * NH;
            this.nh = NH;
            return this;
        }

        Call mode(int mode) {
            this.mode = mode;
            return this;
        }

        Call flags(int flags) {
            this.flags = flags;
            return this;
        }

        /**
         * Dropout's mask on the operand named by the flags: element indices from {@code base}, site
         * {@code salt}; {@code perRow}: the mask indices of one row of the batch (the seed's first row
         * times this is where this process's batch begins in the combined one).
         */
        Call mask(int base, int perRow, int salt) {
            this.maskBase = base;
            this.maskRow = perRow;
            this.salt = salt;
            this.masked = true;
            return this;
        }

        /** Tiles of edge {@code tile} along an extent of C. */
        int groups(int extent, int tile) {
            return (extent + tile - 1) / tile;
        }

        /** Whether C fills wide tiles: at least {@link #WIDE} in both directions. */
        boolean wide() {
            return m >= WIDE && n >= WIDE;
        }

        /** The share of the product a triangular mode computes (about half of a square one). */
        private double share() {
            return mode == ALL ? 1.0 : 0.5;
        }

        /** This call's row of the argument table; {@code more}: another call follows in the launch. */
        int[] args(boolean more) {
            if ((flags & ACCUMULATE) != 0 && ((flags & DROP_C) != 0 || res >= 0)) {
                // the epilogue writes the sum, then applies dropout and the residual to what it wrote
                throw new IllegalStateException("a product cannot both accumulate into C and add dropout or a residual to it");
            }
            int[] r = new int[SIZE];
            r[M] = m;
            r[N] = n;
            r[K] = k;
            r[A] = a;
            r[SAI] = sai;
            r[SAK] = sak;
            r[B] = b;
            r[SBK] = sbk;
            r[SBJ] = sbj;
            r[C] = c;
            r[LDC] = ldc;
            r[BIAS] = bias;
            r[FLAGS] = flags;
            r[NH] = nh;
            r[A_SB] = aSb;
            r[A_SH] = aSh;
            r[B_SB] = bSb;
            r[B_SH] = bSh;
            r[C_SB] = cSb;
            r[C_SH] = cSh;
            r[K_SLICE] = kSlice;
            r[SALT] = salt;
            r[MODE] = mode;
            r[RES] = res;
            r[ZS] = z;
            r[GATE] = gate;
            r[MORE] = more ? 1 : 0;
            return r;
        }
    }

    /**
     * The fewest work-groups a launch of wide tiles may have: about two per SM of a large GPU (132 SMs),
     * so that wide tiles never leave most of it idle where the 64-wide ones would fill it. The system
     * property {@code gpt.tornado.wideMinGroups} sets another (the tests set 1, to run the wide kernel on
     * small shapes).
     */
    static final int WIDE_MIN_GROUPS = Integer.getInteger("gpt.tornado.wideMinGroups", Grids.SPREAD / 2);

    /**
     * The tile of a launch: {@link #WIDE} where every call's C fills wide tiles and the launch has at
     * least {@link #WIDE_MIN_GROUPS} of them (a call whose K is split counts as full: it is split until the
     * device is); else {@link #TALL} where every call has more rows than a 64-row tile (from 65 to 128 rows
     * one tall tile computes as many rows as two 64-row ones, with fewer shared loads per multiply-add:
     * lm_head's weight gradient, as many rows as the vocabulary) and the launch has at least
     * {@link #WIDE_MIN_GROUPS} of them; else {@link #TILE}.
     */
    static int tile(List<Call> calls) {
        if (calls.stream().allMatch(Call::wide) && groups(calls, WIDE) >= WIDE_MIN_GROUPS) {
            return WIDE;
        }
        if (calls.stream().allMatch(c -> c.m > TILE) && groups(calls, TALL) >= WIDE_MIN_GROUPS) {
            return TALL;
        }
        return TILE;
    }

    /** The work-groups of a launch of {@code tile}s over the calls, a call whose K is split counting as full. */
    private static long groups(List<Call> calls, int tile) {
        long groups = 0;
        for (Call c : calls) {
            groups += c.fillsDevice ? Grids.SPREAD : (long) c.groups(c.m, rows(tile)) * c.groups(c.n, cols(tile)) * c.z;
        }
        return groups;
    }

    /**
     * One launch's task for independent calls (none reads what another writes), sharing the launch's
     * alpha (the first call's) and dropout probability {@code p} (a call without a DROP flag ignores
     * it): the calls' argument rows one after another in the table, the kernel for their tiles
     * ({@link #tile}), the grid, and the cost.
     */
    static Task task(OpContext ctx, String kernel, List<Call> calls, IntArray seed, float p) {
        Call masked = null; // the launch has one mask base (its seed array's): every masked call must share it
        for (Call c : calls) {
            if ((c.flags & DROP_C) != 0) {
                if (masked != null && (masked.maskBase != c.maskBase || masked.maskRow != c.maskRow)) {
                    throw new IllegalStateException(kernel + ": the masked calls of one launch must share their mask base");
                }
                masked = c;
            }
        }
        for (Call c : calls) {
            if ((c.sak != 1 && c.sai != 1) || (c.sbj != 1 && c.sbk != 1)) { // the kernels stage runs of 4 neighbours (runAcross)
                throw new IllegalStateException(kernel + ": each operand of a product needs a unit stride along k or across");
            }
        }
        int[] all = new int[calls.size() * SIZE];
        for (int q = 0; q < calls.size(); q++) {
            System.arraycopy(calls.get(q).args(q < calls.size() - 1), 0, all, q * SIZE, SIZE);
        }
        int at = ctx.args(all);
        float alpha = calls.getFirst().alpha;
        int tile = tile(calls);
        int aAlong = along(calls, c -> c.sak == 1), bAlong = along(calls, c -> c.sbj != 1);
        int tall = tile == TALL ? 1 : 0;
        return new Task(tile == WIDE ? (g, id, mem, args) -> g.task(id, Gemm::gemmWide, ctx.kc, mem, args, at, seed, p, alpha,
                aAlong, bAlong, ctx.wideKStep, indexMask(ctx.maskIndices, mem))
                : (g, id, mem, args) -> g.task(id, Gemm::gemm, ctx.kc, mem, args, at, seed, p, alpha, aAlong, bAlong,
                tall, indexMask(ctx.maskIndices, mem)),
                grid(calls, tile),
                info(kernel, calls, tile));
    }

    /**
     * Whether every call of a launch stages an operand along k (1: {@code alongK} holds for all, 0: for
     * none), or -1 where they differ: a kernel argument, which TornadoVM compiles in as a constant, so
     * that the staging's layout is settled when the kernel is compiled, not in its loop.
     */
    static int along(List<Call> calls, java.util.function.Predicate<Call> alongK) {
        boolean all = calls.stream().allMatch(alongK), none = calls.stream().noneMatch(alongK);
        return all ? 1 : none ? 0 : -1;
    }

    /** The work-groups of the calls of a launch: x the most tile columns of any call, y every call's tile rows times its z. */
    static long[] gridGroups(List<Call> calls, int tile) {
        long x = calls.stream().mapToLong(c -> c.groups(c.n, cols(tile))).max().orElse(1);
        long y = calls.stream().mapToLong(c -> (long) c.groups(c.m, rows(tile)) * c.z).sum();
        return new long[]{x, y};
    }

    /** Work-groups of THREADS x THREADS over the calls' tiles (see the class comment for their order). */
    static WorkerGrid grid(List<Call> calls, int tile) {
        long[] g = gridGroups(calls, tile);
        WorkerGrid2D grid = new WorkerGrid2D((int) (g[0] * THREADS), (int) (g[1] * THREADS));
        grid.setLocalWork(THREADS, THREADS, 1);
        return grid;
    }

    /** What the calls of one launch ask of the device, together: the products' FLOPs, each operand read once, C written. */
    static LaunchInfo info(String kernel, List<Call> calls, int tile) {
        long[] groups = gridGroups(calls, tile);
        double flops = 0, read = 0, written = 0;
        for (Call c : calls) {
            double zs = c.kSlice > 0 ? 1 : c.z; // split K: the slices share one product
            flops += 2.0 * c.m * c.n * c.k * zs * c.share();
            read += 4.0 * zs * c.share() * ((double) c.m * c.k + (double) c.k * c.n) + ((c.flags & ACCUMULATE) != 0
                    ? 4.0 * c.m * c.n * zs : 0) + (c.res >= 0 ? 4.0 * c.m * c.n * zs : 0)
                    + (c.gate >= 0 ? 4.0 * c.m * c.n * zs : 0);
            written += 4.0 * c.m * c.n * (c.kSlice > 0 ? c.z : zs);
        }
        return new LaunchInfo(kernel, new long[]{groups[0] * THREADS, groups[1] * THREADS, 1},
                new long[]{THREADS, THREADS, 1}, flops, read, written, tile == WIDE ? WIDE_LOCAL_BYTES : LOCAL_BYTES);
    }

    /**
     * The 64-wide tiles ({@link #TILE}: 64 x 64, each work-item the 4 x 4 block at rows 4 ly.., columns
     * 4 lx..) and, with {@code tall} 1, the tall ones ({@link #TALL}: 128 x 64, each work-item the 8 x 4
     * block at rows 8 ly.., columns 4 lx..), from {@link #TK}-deep slices, the next slice read into
     * registers while this one is multiplied. A tall tile stages A as two 64-row halves, each as a 64-wide
     * tile stages its A (a run of 4 per work-item, {@link #runAcross}); per k a work-item reads 8
     * neighbouring values of A and 4 of B (three 16-byte reads) for 32 multiply-adds, where a 64-wide
     * tile reads two for 16. {@code tall} is a constant argument like the layouts: TornadoVM compiles
     * each launch's kernel with the other tile's code left out. {@link #tile} gives tall tiles to
     * launches whose every C has more than 64 rows and does not fill wide tiles: attention's products
     * per head, lm_head's forward and weight gradient.
     */
    public static void gemm(KernelContext kc, FloatArray mem, IntArray args, int at, IntArray seed, float p, float alpha,
                            int aAlong, int bAlong, int tall, int mask) {
        int lx = kc.localIdx, ly = kc.localIdy;
        int rows = TILE << tall, rowsPerItem = R << tall, aPitch = PITCH + tall * TILE;
        // the launch's rows of work-groups: each call's tile rows for z = 0, then for z = 1, ..., call after call
        int gy = kc.groupIdy;
        int tilesI = (args.get(at + M) + rows - 1) / rows;
        while (gy >= tilesI * args.get(at + ZS) && args.get(at + MORE) != 0) {
            gy -= tilesI * args.get(at + ZS);
            at += SIZE;
            tilesI = (args.get(at + M) + rows - 1) / rows;
        }
        int m = args.get(at + M), n = args.get(at + N);
        int z = gy / tilesI;
        int tileI = (gy - z * tilesI) * rows, tileJ = kc.groupIdx * TILE;
        int sai = args.get(at + SAI), sak = args.get(at + SAK), sbk = args.get(at + SBK), sbj = args.get(at + SBJ);
        int flags = args.get(at + FLAGS);
        int a = operand(args, at, A, A_SB, A_SH, z), b = operand(args, at, B, B_SB, B_SH, z);
        int c = operand(args, at, C, C_SB, C_SH, z);
        int maskBase = seed.get(SEED_MASK_BASE), salt = args.get(at + SALT);
        long seedValue = DropoutMask.seed(seed.get(0), seed.get(1));
        int kBegin = firstK(args, at, z, tileI), kEnd = endK(args, at, z, tileI, rows);
        boolean skip = tileJ >= n || aboveDiagonal(args, at, tileI, tileJ, rows);

        float[] as = kc.allocateFloatLocalArray(LEAD + TK * WIDE_PITCH);
        float[] bs = kc.allocateFloatLocalArray(LEAD + TK * PITCH);
        // The sums and the next slice's values are scalars, not private arrays: TornadoVM's PTX backend
        // keeps a private array in local (off-chip) memory, with a load and a store around every
        // multiply-add, where an OpenCL compiler unrolls the loops and keeps it in registers.
        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f, c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f, c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;
        float c40 = 0f, c41 = 0f, c42 = 0f, c43 = 0f, c50 = 0f, c51 = 0f, c52 = 0f, c53 = 0f;
        float c60 = 0f, c61 = 0f, c62 = 0f, c63 = 0f, c70 = 0f, c71 = 0f, c72 = 0f, c73 = 0f;
        int tid = ly * THREADS + lx;
        boolean aAlongK = aAlong < 0 ? sak == 1 : aAlong == 1, bAlongK = bAlong < 0 ? sbj != 1 : bAlong == 1;
        // this work-item's run of 4 values of each operand's slice, as gemmWide stages (see runAcross);
        // a tall tile's second run of A, TILE rows on
        int aI = runAcross(tid, aAlongK, 2, 4), aK = runAlong(tid, aAlongK, 2, 4);
        int bJ = runAcross(tid, bAlongK, 2, 4), bK = runAlong(tid, bAlongK, 2, 4);
        int aLine = runLine(a, tileI + aI, aK, m, sai, aAlongK), bLine = runLine(b, tileJ + bJ, bK, n, sbj, bAlongK);
        int aLine2 = runLine(a, tileI + TILE + aI, aK, m, sai, aAlongK);
        int k0 = skip ? kEnd : kBegin, kFirst = firstK(k0, kEnd, TK);
        float nA0 = fromK0(mem.get(firstAt(aLine, kFirst, aK, 0, k0, kEnd, sak, aAlongK, mask)), kFirst + aK, 0, k0, aAlongK);
        float nA1 = fromK0(mem.get(firstAt(aLine, kFirst, aK, 1, k0, kEnd, sak, aAlongK, mask)), kFirst + aK, 1, k0, aAlongK);
        float nA2 = fromK0(mem.get(firstAt(aLine, kFirst, aK, 2, k0, kEnd, sak, aAlongK, mask)), kFirst + aK, 2, k0, aAlongK);
        float nA3 = fromK0(mem.get(firstAt(aLine, kFirst, aK, 3, k0, kEnd, sak, aAlongK, mask)), kFirst + aK, 3, k0, aAlongK);
        float nA4 = 0f, nA5 = 0f, nA6 = 0f, nA7 = 0f;
        if (tall == 1) {
            nA4 = fromK0(mem.get(firstAt(aLine2, kFirst, aK, 0, k0, kEnd, sak, aAlongK, mask)), kFirst + aK, 0, k0, aAlongK);
            nA5 = fromK0(mem.get(firstAt(aLine2, kFirst, aK, 1, k0, kEnd, sak, aAlongK, mask)), kFirst + aK, 1, k0, aAlongK);
            nA6 = fromK0(mem.get(firstAt(aLine2, kFirst, aK, 2, k0, kEnd, sak, aAlongK, mask)), kFirst + aK, 2, k0, aAlongK);
            nA7 = fromK0(mem.get(firstAt(aLine2, kFirst, aK, 3, k0, kEnd, sak, aAlongK, mask)), kFirst + aK, 3, k0, aAlongK);
        }
        float nB0 = fromK0(mem.get(firstAt(bLine, kFirst, bK, 0, k0, kEnd, sbk, bAlongK, mask)), kFirst + bK, 0, k0, bAlongK);
        float nB1 = fromK0(mem.get(firstAt(bLine, kFirst, bK, 1, k0, kEnd, sbk, bAlongK, mask)), kFirst + bK, 1, k0, bAlongK);
        float nB2 = fromK0(mem.get(firstAt(bLine, kFirst, bK, 2, k0, kEnd, sbk, bAlongK, mask)), kFirst + bK, 2, k0, bAlongK);
        float nB3 = fromK0(mem.get(firstAt(bLine, kFirst, bK, 3, k0, kEnd, sbk, bAlongK, mask)), kFirst + bK, 3, k0, bAlongK);
        int ra0 = LEAD + ly * rowsPerItem, rb0 = LEAD + lx * R;
        for (int ks = kFirst; ks < kEnd; ks += TK) {
            as[LEAD + runSlot(tid, aAlongK, 0, 2, 4, aPitch)] = nA0;
            as[LEAD + runSlot(tid, aAlongK, 1, 2, 4, aPitch)] = nA1;
            as[LEAD + runSlot(tid, aAlongK, 2, 2, 4, aPitch)] = nA2;
            as[LEAD + runSlot(tid, aAlongK, 3, 2, 4, aPitch)] = nA3;
            if (tall == 1) {
                as[LEAD + runSlot(tid, aAlongK, 0, 2, 4, aPitch) + TILE] = nA4;
                as[LEAD + runSlot(tid, aAlongK, 1, 2, 4, aPitch) + TILE] = nA5;
                as[LEAD + runSlot(tid, aAlongK, 2, 2, 4, aPitch) + TILE] = nA6;
                as[LEAD + runSlot(tid, aAlongK, 3, 2, 4, aPitch) + TILE] = nA7;
            }
            bs[LEAD + runSlot(tid, bAlongK, 0, 2, 4, PITCH)] = nB0;
            bs[LEAD + runSlot(tid, bAlongK, 1, 2, 4, PITCH)] = nB1;
            bs[LEAD + runSlot(tid, bAlongK, 2, 2, 4, PITCH)] = nB2;
            bs[LEAD + runSlot(tid, bAlongK, 3, 2, 4, PITCH)] = nB3;
            kc.localBarrier();
            int k1 = ks + TK; // the next slice's values; past kEnd, read and never staged
            int aAt = runAt(aLine, k1, aK, kEnd, sak, aAlongK, mask), bAt = runAt(bLine, k1, bK, kEnd, sbk, bAlongK, mask);
            nA0 = mem.get(aAt + 0);
            nA1 = mem.get(aAt + 1);
            nA2 = mem.get(aAt + 2);
            nA3 = mem.get(aAt + 3);
            if (tall == 1) {
                int aAt2 = runAt(aLine2, k1, aK, kEnd, sak, aAlongK, mask);
                nA4 = mem.get(aAt2 + 0);
                nA5 = mem.get(aAt2 + 1);
                nA6 = mem.get(aAt2 + 2);
                nA7 = mem.get(aAt2 + 3);
            }
            nB0 = mem.get(bAt + 0);
            nB1 = mem.get(bAt + 1);
            nB2 = mem.get(bAt + 2);
            nB3 = mem.get(bAt + 3);
            // k in fours: Graal unrolls the inner loop (a loop of all TK at once is too large for it)
            for (int kq = 0; kq < TK; kq += 4) {
                for (int kk = kq; kk < kq + 4; kk++) {
                    int ra = kk * aPitch + ra0, rb = kk * PITCH + rb0;
                    float a0 = as[ra], a1 = as[ra + 1], a2 = as[ra + 2], a3 = as[ra + 3];
                    float b0 = bs[rb], b1 = bs[rb + 1], b2 = bs[rb + 2], b3 = bs[rb + 3];
                    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
                    if (tall == 1) {
                        float a4 = as[ra + 4], a5 = as[ra + 5], a6 = as[ra + 6], a7 = as[ra + 7];
                        c40 += a4 * b0; c41 += a4 * b1; c42 += a4 * b2; c43 += a4 * b3;
                        c50 += a5 * b0; c51 += a5 * b1; c52 += a5 * b2; c53 += a5 * b3;
                        c60 += a6 * b0; c61 += a6 * b1; c62 += a6 * b2; c63 += a6 * b3;
                        c70 += a7 * b0; c71 += a7 * b1; c72 += a7 * b2; c73 += a7 * b3;
                    }
                }
            }
            kc.localBarrier();
        }
        if (!skip) {
            int i = tileI + ly * rowsPerItem, j = tileJ + lx * R, gate = gateOf(args, at, c);
            int ldc = args.get(at + LDC), bias = args.get(at + BIAS), res = args.get(at + RES);
            float b0 = biasAt(mem, bias, j, n), b1 = biasAt(mem, bias, j + 1, n);
            float b2 = biasAt(mem, bias, j + 2, n), b3 = biasAt(mem, bias, j + 3, n);
            storeRow(mem, c, ldc, i, j, 1, m, n, flags, bias, b0, b1, b2, b3, gate, alpha, c00, c01, c02, c03);
            storeRow(mem, c, ldc, i + 1, j, 1, m, n, flags, bias, b0, b1, b2, b3, gate, alpha, c10, c11, c12, c13);
            storeRow(mem, c, ldc, i + 2, j, 1, m, n, flags, bias, b0, b1, b2, b3, gate, alpha, c20, c21, c22, c23);
            storeRow(mem, c, ldc, i + 3, j, 1, m, n, flags, bias, b0, b1, b2, b3, gate, alpha, c30, c31, c32, c33);
            if (tall == 1) {
                storeRow(mem, c, ldc, i + 4, j, 1, m, n, flags, bias, b0, b1, b2, b3, gate, alpha, c40, c41, c42, c43);
                storeRow(mem, c, ldc, i + 5, j, 1, m, n, flags, bias, b0, b1, b2, b3, gate, alpha, c50, c51, c52, c53);
                storeRow(mem, c, ldc, i + 6, j, 1, m, n, flags, bias, b0, b1, b2, b3, gate, alpha, c60, c61, c62, c63);
                storeRow(mem, c, ldc, i + 7, j, 1, m, n, flags, bias, b0, b1, b2, b3, gate, alpha, c70, c71, c72, c73);
            }
            for (int r = 0; r < rowsPerItem; r++) {
                finishRow(mem, c, ldc, i + r, j, 1, m, n, flags, res, seedValue, salt, maskBase, p);
            }
        }
    }

    /**
     * {@link #gemm} with wide tiles: a work-group of THREADS x THREADS computes a {@link #WIDE} x
     * {@link #WIDE} tile of C, each work-item the 8 x 8 block at rows 8 ly.., columns 8 lx.. of it, from
     * {@link #WIDE_TK}-deep slices, the next slice read into registers while this one is multiplied; the
     * same calls, arguments, k order (so each element is the same sum, bit for bit, where both split K
     * alike) and epilogue as {@link #gemm}, a row's 8 columns in two runs of 4. {@link #tile} gives it
     * launches whose every C is at least WIDE x WIDE.
     *
     * <p>Per k a work-item reads 8 neighbouring values of A and 8 of B (two 16-byte reads each, see
     * {@link #WIDE}) for 64 multiply-adds, {@code kStep} k (2 or 4, see {@link #kStep}) per pass of the
     * loop, their local offsets constants from the pass's first. It stages its slice share as 4
     * neighbours along each operand's unit stride ({@link #runAcross}): one address per operand, the
     * edges handled by clamping addresses, not by a select per value, and the first slice zeroed
     * before the first k where the k range is not whole slices ({@link #firstK}).
     *
     * <p>Written this way because TornadoVM 5.2 refuses other ways ("Non-final objects introduced via
     * scope are not supported", in its task specialisation): a FloatArray read in a helper method where
     * its index was computed before the loop, the local slots computed once before the loop, the
     * epilogue's arguments read again after it, double-buffered local slices. And Graal, which TornadoVM
     * compiles with, inlines at most 1000 calls into one method (its MethodInlineBailoutLimit, a JVM
     * flag only); past that TornadoVM fails on the first call left ("Unable to build sketch for method:
     * get"). This kernel, every layout's code in one method until TornadoVM compiles in the constant
     * arguments, is close to it: a second run of A per work-item (8 x 8 outputs on 128 x 64 tiles) passed it.
     */
    public static void gemmWide(KernelContext kc, FloatArray mem, IntArray args, int at, IntArray seed, float p, float alpha,
                                int aAlong, int bAlong, int kStep, int mask) {
        int lx = kc.localIdx, ly = kc.localIdy;
        int gy = kc.groupIdy;
        int tilesI = (args.get(at + M) + WIDE - 1) / WIDE;
        while (gy >= tilesI * args.get(at + ZS) && args.get(at + MORE) != 0) {
            gy -= tilesI * args.get(at + ZS);
            at += SIZE;
            tilesI = (args.get(at + M) + WIDE - 1) / WIDE;
        }
        int m = args.get(at + M), n = args.get(at + N);
        int z = gy / tilesI;
        int tileI = (gy - z * tilesI) * WIDE, tileJ = kc.groupIdx * WIDE;
        int sai = args.get(at + SAI), sak = args.get(at + SAK), sbk = args.get(at + SBK), sbj = args.get(at + SBJ);
        int flags = args.get(at + FLAGS);
        int a = operand(args, at, A, A_SB, A_SH, z), b = operand(args, at, B, B_SB, B_SH, z);
        int c = operand(args, at, C, C_SB, C_SH, z);
        int maskBase = seed.get(SEED_MASK_BASE), salt = args.get(at + SALT);
        long seedValue = DropoutMask.seed(seed.get(0), seed.get(1));
        int kBegin = firstK(args, at, z, tileI), kEnd = endK(args, at, z, tileI, WIDE);
        boolean skip = tileJ >= n || aboveDiagonal(args, at, tileI, tileJ, WIDE);

        float[] as = kc.allocateFloatLocalArray(LEAD + WIDE_TK * WIDE_PITCH);
        float[] bs = kc.allocateFloatLocalArray(LEAD + WIDE_TK * WIDE_PITCH);
        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f, c04 = 0f, c05 = 0f, c06 = 0f, c07 = 0f;
        float c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f, c14 = 0f, c15 = 0f, c16 = 0f, c17 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f, c24 = 0f, c25 = 0f, c26 = 0f, c27 = 0f;
        float c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f, c34 = 0f, c35 = 0f, c36 = 0f, c37 = 0f;
        float c40 = 0f, c41 = 0f, c42 = 0f, c43 = 0f, c44 = 0f, c45 = 0f, c46 = 0f, c47 = 0f;
        float c50 = 0f, c51 = 0f, c52 = 0f, c53 = 0f, c54 = 0f, c55 = 0f, c56 = 0f, c57 = 0f;
        float c60 = 0f, c61 = 0f, c62 = 0f, c63 = 0f, c64 = 0f, c65 = 0f, c66 = 0f, c67 = 0f;
        float c70 = 0f, c71 = 0f, c72 = 0f, c73 = 0f, c74 = 0f, c75 = 0f, c76 = 0f, c77 = 0f;
        int tid = ly * THREADS + lx;
        boolean aAlongK = aAlong < 0 ? sak == 1 : aAlong == 1, bAlongK = bAlong < 0 ? sbj != 1 : bAlong == 1;
        // this work-item's run of 4 values of each operand's slice (see runAcross): where it starts
        // across the tile and along k, and where the operand's line it lies on starts
        int aI = runAcross(tid, aAlongK, 1, 5), aK = runAlong(tid, aAlongK, 1, 5);
        int bJ = runAcross(tid, bAlongK, 1, 5), bK = runAlong(tid, bAlongK, 1, 5);
        int aLine = runLine(a, tileI + aI, aK, m, sai, aAlongK), bLine = runLine(b, tileJ + bJ, bK, n, sbj, bAlongK);
        int k0 = skip ? kEnd : kBegin, kFirst = firstK(k0, kEnd, WIDE_TK);
        float nA0 = fromK0(mem.get(firstAt(aLine, kFirst, aK, 0, k0, kEnd, sak, aAlongK, mask)), kFirst + aK, 0, k0, aAlongK);
        float nA1 = fromK0(mem.get(firstAt(aLine, kFirst, aK, 1, k0, kEnd, sak, aAlongK, mask)), kFirst + aK, 1, k0, aAlongK);
        float nA2 = fromK0(mem.get(firstAt(aLine, kFirst, aK, 2, k0, kEnd, sak, aAlongK, mask)), kFirst + aK, 2, k0, aAlongK);
        float nA3 = fromK0(mem.get(firstAt(aLine, kFirst, aK, 3, k0, kEnd, sak, aAlongK, mask)), kFirst + aK, 3, k0, aAlongK);
        float nB0 = fromK0(mem.get(firstAt(bLine, kFirst, bK, 0, k0, kEnd, sbk, bAlongK, mask)), kFirst + bK, 0, k0, bAlongK);
        float nB1 = fromK0(mem.get(firstAt(bLine, kFirst, bK, 1, k0, kEnd, sbk, bAlongK, mask)), kFirst + bK, 1, k0, bAlongK);
        float nB2 = fromK0(mem.get(firstAt(bLine, kFirst, bK, 2, k0, kEnd, sbk, bAlongK, mask)), kFirst + bK, 2, k0, bAlongK);
        float nB3 = fromK0(mem.get(firstAt(bLine, kFirst, bK, 3, k0, kEnd, sbk, bAlongK, mask)), kFirst + bK, 3, k0, bAlongK);
        int ra0 = LEAD + ly * WIDE_R, rb0 = LEAD + lx * WIDE_R;
        for (int ks = kFirst; ks < kEnd; ks += WIDE_TK) {
            as[LEAD + runSlot(tid, aAlongK, 0, 1, 5, WIDE_PITCH)] = nA0;
            as[LEAD + runSlot(tid, aAlongK, 1, 1, 5, WIDE_PITCH)] = nA1;
            as[LEAD + runSlot(tid, aAlongK, 2, 1, 5, WIDE_PITCH)] = nA2;
            as[LEAD + runSlot(tid, aAlongK, 3, 1, 5, WIDE_PITCH)] = nA3;
            bs[LEAD + runSlot(tid, bAlongK, 0, 1, 5, WIDE_PITCH)] = nB0;
            bs[LEAD + runSlot(tid, bAlongK, 1, 1, 5, WIDE_PITCH)] = nB1;
            bs[LEAD + runSlot(tid, bAlongK, 2, 1, 5, WIDE_PITCH)] = nB2;
            bs[LEAD + runSlot(tid, bAlongK, 3, 1, 5, WIDE_PITCH)] = nB3;
            kc.localBarrier();
            int k1 = ks + WIDE_TK;
            int aAt = runAt(aLine, k1, aK, kEnd, sak, aAlongK, mask), bAt = runAt(bLine, k1, bK, kEnd, sbk, bAlongK, mask);
            nA0 = mem.get(aAt + 0);
            nA1 = mem.get(aAt + 1);
            nA2 = mem.get(aAt + 2);
            nA3 = mem.get(aAt + 3);
            nB0 = mem.get(bAt + 0);
            nB1 = mem.get(bAt + 1);
            nB2 = mem.get(bAt + 2);
            nB3 = mem.get(bAt + 3);
            for (int row = 0; row < WIDE_TK * WIDE_PITCH; row += kStep * WIDE_PITCH) {
                int ra = row + ra0, rb = row + rb0;
                float a0 = as[ra], a1 = as[ra + 1], a2 = as[ra + 2], a3 = as[ra + 3];
                float a4 = as[ra + 4], a5 = as[ra + 5], a6 = as[ra + 6], a7 = as[ra + 7];
                float b0 = bs[rb], b1 = bs[rb + 1], b2 = bs[rb + 2], b3 = bs[rb + 3];
                float b4 = bs[rb + 4], b5 = bs[rb + 5], b6 = bs[rb + 6], b7 = bs[rb + 7];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3; c04 += a0 * b4; c05 += a0 * b5; c06 += a0 * b6; c07 += a0 * b7;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3; c14 += a1 * b4; c15 += a1 * b5; c16 += a1 * b6; c17 += a1 * b7;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3; c24 += a2 * b4; c25 += a2 * b5; c26 += a2 * b6; c27 += a2 * b7;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3; c34 += a3 * b4; c35 += a3 * b5; c36 += a3 * b6; c37 += a3 * b7;
                c40 += a4 * b0; c41 += a4 * b1; c42 += a4 * b2; c43 += a4 * b3; c44 += a4 * b4; c45 += a4 * b5; c46 += a4 * b6; c47 += a4 * b7;
                c50 += a5 * b0; c51 += a5 * b1; c52 += a5 * b2; c53 += a5 * b3; c54 += a5 * b4; c55 += a5 * b5; c56 += a5 * b6; c57 += a5 * b7;
                c60 += a6 * b0; c61 += a6 * b1; c62 += a6 * b2; c63 += a6 * b3; c64 += a6 * b4; c65 += a6 * b5; c66 += a6 * b6; c67 += a6 * b7;
                c70 += a7 * b0; c71 += a7 * b1; c72 += a7 * b2; c73 += a7 * b3; c74 += a7 * b4; c75 += a7 * b5; c76 += a7 * b6; c77 += a7 * b7;
                float a0_1 = as[WIDE_PITCH + ra], a1_1 = as[WIDE_PITCH + ra + 1], a2_1 = as[WIDE_PITCH + ra + 2], a3_1 = as[WIDE_PITCH + ra + 3];
                float a4_1 = as[WIDE_PITCH + ra + 4], a5_1 = as[WIDE_PITCH + ra + 5], a6_1 = as[WIDE_PITCH + ra + 6], a7_1 = as[WIDE_PITCH + ra + 7];
                float b0_1 = bs[WIDE_PITCH + rb], b1_1 = bs[WIDE_PITCH + rb + 1], b2_1 = bs[WIDE_PITCH + rb + 2], b3_1 = bs[WIDE_PITCH + rb + 3];
                float b4_1 = bs[WIDE_PITCH + rb + 4], b5_1 = bs[WIDE_PITCH + rb + 5], b6_1 = bs[WIDE_PITCH + rb + 6], b7_1 = bs[WIDE_PITCH + rb + 7];
                c00 += a0_1 * b0_1; c01 += a0_1 * b1_1; c02 += a0_1 * b2_1; c03 += a0_1 * b3_1; c04 += a0_1 * b4_1; c05 += a0_1 * b5_1; c06 += a0_1 * b6_1; c07 += a0_1 * b7_1;
                c10 += a1_1 * b0_1; c11 += a1_1 * b1_1; c12 += a1_1 * b2_1; c13 += a1_1 * b3_1; c14 += a1_1 * b4_1; c15 += a1_1 * b5_1; c16 += a1_1 * b6_1; c17 += a1_1 * b7_1;
                c20 += a2_1 * b0_1; c21 += a2_1 * b1_1; c22 += a2_1 * b2_1; c23 += a2_1 * b3_1; c24 += a2_1 * b4_1; c25 += a2_1 * b5_1; c26 += a2_1 * b6_1; c27 += a2_1 * b7_1;
                c30 += a3_1 * b0_1; c31 += a3_1 * b1_1; c32 += a3_1 * b2_1; c33 += a3_1 * b3_1; c34 += a3_1 * b4_1; c35 += a3_1 * b5_1; c36 += a3_1 * b6_1; c37 += a3_1 * b7_1;
                c40 += a4_1 * b0_1; c41 += a4_1 * b1_1; c42 += a4_1 * b2_1; c43 += a4_1 * b3_1; c44 += a4_1 * b4_1; c45 += a4_1 * b5_1; c46 += a4_1 * b6_1; c47 += a4_1 * b7_1;
                c50 += a5_1 * b0_1; c51 += a5_1 * b1_1; c52 += a5_1 * b2_1; c53 += a5_1 * b3_1; c54 += a5_1 * b4_1; c55 += a5_1 * b5_1; c56 += a5_1 * b6_1; c57 += a5_1 * b7_1;
                c60 += a6_1 * b0_1; c61 += a6_1 * b1_1; c62 += a6_1 * b2_1; c63 += a6_1 * b3_1; c64 += a6_1 * b4_1; c65 += a6_1 * b5_1; c66 += a6_1 * b6_1; c67 += a6_1 * b7_1;
                c70 += a7_1 * b0_1; c71 += a7_1 * b1_1; c72 += a7_1 * b2_1; c73 += a7_1 * b3_1; c74 += a7_1 * b4_1; c75 += a7_1 * b5_1; c76 += a7_1 * b6_1; c77 += a7_1 * b7_1;
                if (kStep == 4) {
                    float a0_2 = as[2 * WIDE_PITCH + ra], a1_2 = as[2 * WIDE_PITCH + ra + 1], a2_2 = as[2 * WIDE_PITCH + ra + 2], a3_2 = as[2 * WIDE_PITCH + ra + 3];
                    float a4_2 = as[2 * WIDE_PITCH + ra + 4], a5_2 = as[2 * WIDE_PITCH + ra + 5], a6_2 = as[2 * WIDE_PITCH + ra + 6], a7_2 = as[2 * WIDE_PITCH + ra + 7];
                    float b0_2 = bs[2 * WIDE_PITCH + rb], b1_2 = bs[2 * WIDE_PITCH + rb + 1], b2_2 = bs[2 * WIDE_PITCH + rb + 2], b3_2 = bs[2 * WIDE_PITCH + rb + 3];
                    float b4_2 = bs[2 * WIDE_PITCH + rb + 4], b5_2 = bs[2 * WIDE_PITCH + rb + 5], b6_2 = bs[2 * WIDE_PITCH + rb + 6], b7_2 = bs[2 * WIDE_PITCH + rb + 7];
                    c00 += a0_2 * b0_2; c01 += a0_2 * b1_2; c02 += a0_2 * b2_2; c03 += a0_2 * b3_2; c04 += a0_2 * b4_2; c05 += a0_2 * b5_2; c06 += a0_2 * b6_2; c07 += a0_2 * b7_2;
                    c10 += a1_2 * b0_2; c11 += a1_2 * b1_2; c12 += a1_2 * b2_2; c13 += a1_2 * b3_2; c14 += a1_2 * b4_2; c15 += a1_2 * b5_2; c16 += a1_2 * b6_2; c17 += a1_2 * b7_2;
                    c20 += a2_2 * b0_2; c21 += a2_2 * b1_2; c22 += a2_2 * b2_2; c23 += a2_2 * b3_2; c24 += a2_2 * b4_2; c25 += a2_2 * b5_2; c26 += a2_2 * b6_2; c27 += a2_2 * b7_2;
                    c30 += a3_2 * b0_2; c31 += a3_2 * b1_2; c32 += a3_2 * b2_2; c33 += a3_2 * b3_2; c34 += a3_2 * b4_2; c35 += a3_2 * b5_2; c36 += a3_2 * b6_2; c37 += a3_2 * b7_2;
                    c40 += a4_2 * b0_2; c41 += a4_2 * b1_2; c42 += a4_2 * b2_2; c43 += a4_2 * b3_2; c44 += a4_2 * b4_2; c45 += a4_2 * b5_2; c46 += a4_2 * b6_2; c47 += a4_2 * b7_2;
                    c50 += a5_2 * b0_2; c51 += a5_2 * b1_2; c52 += a5_2 * b2_2; c53 += a5_2 * b3_2; c54 += a5_2 * b4_2; c55 += a5_2 * b5_2; c56 += a5_2 * b6_2; c57 += a5_2 * b7_2;
                    c60 += a6_2 * b0_2; c61 += a6_2 * b1_2; c62 += a6_2 * b2_2; c63 += a6_2 * b3_2; c64 += a6_2 * b4_2; c65 += a6_2 * b5_2; c66 += a6_2 * b6_2; c67 += a6_2 * b7_2;
                    c70 += a7_2 * b0_2; c71 += a7_2 * b1_2; c72 += a7_2 * b2_2; c73 += a7_2 * b3_2; c74 += a7_2 * b4_2; c75 += a7_2 * b5_2; c76 += a7_2 * b6_2; c77 += a7_2 * b7_2;
                    float a0_3 = as[3 * WIDE_PITCH + ra], a1_3 = as[3 * WIDE_PITCH + ra + 1], a2_3 = as[3 * WIDE_PITCH + ra + 2], a3_3 = as[3 * WIDE_PITCH + ra + 3];
                    float a4_3 = as[3 * WIDE_PITCH + ra + 4], a5_3 = as[3 * WIDE_PITCH + ra + 5], a6_3 = as[3 * WIDE_PITCH + ra + 6], a7_3 = as[3 * WIDE_PITCH + ra + 7];
                    float b0_3 = bs[3 * WIDE_PITCH + rb], b1_3 = bs[3 * WIDE_PITCH + rb + 1], b2_3 = bs[3 * WIDE_PITCH + rb + 2], b3_3 = bs[3 * WIDE_PITCH + rb + 3];
                    float b4_3 = bs[3 * WIDE_PITCH + rb + 4], b5_3 = bs[3 * WIDE_PITCH + rb + 5], b6_3 = bs[3 * WIDE_PITCH + rb + 6], b7_3 = bs[3 * WIDE_PITCH + rb + 7];
                    c00 += a0_3 * b0_3; c01 += a0_3 * b1_3; c02 += a0_3 * b2_3; c03 += a0_3 * b3_3; c04 += a0_3 * b4_3; c05 += a0_3 * b5_3; c06 += a0_3 * b6_3; c07 += a0_3 * b7_3;
                    c10 += a1_3 * b0_3; c11 += a1_3 * b1_3; c12 += a1_3 * b2_3; c13 += a1_3 * b3_3; c14 += a1_3 * b4_3; c15 += a1_3 * b5_3; c16 += a1_3 * b6_3; c17 += a1_3 * b7_3;
                    c20 += a2_3 * b0_3; c21 += a2_3 * b1_3; c22 += a2_3 * b2_3; c23 += a2_3 * b3_3; c24 += a2_3 * b4_3; c25 += a2_3 * b5_3; c26 += a2_3 * b6_3; c27 += a2_3 * b7_3;
                    c30 += a3_3 * b0_3; c31 += a3_3 * b1_3; c32 += a3_3 * b2_3; c33 += a3_3 * b3_3; c34 += a3_3 * b4_3; c35 += a3_3 * b5_3; c36 += a3_3 * b6_3; c37 += a3_3 * b7_3;
                    c40 += a4_3 * b0_3; c41 += a4_3 * b1_3; c42 += a4_3 * b2_3; c43 += a4_3 * b3_3; c44 += a4_3 * b4_3; c45 += a4_3 * b5_3; c46 += a4_3 * b6_3; c47 += a4_3 * b7_3;
                    c50 += a5_3 * b0_3; c51 += a5_3 * b1_3; c52 += a5_3 * b2_3; c53 += a5_3 * b3_3; c54 += a5_3 * b4_3; c55 += a5_3 * b5_3; c56 += a5_3 * b6_3; c57 += a5_3 * b7_3;
                    c60 += a6_3 * b0_3; c61 += a6_3 * b1_3; c62 += a6_3 * b2_3; c63 += a6_3 * b3_3; c64 += a6_3 * b4_3; c65 += a6_3 * b5_3; c66 += a6_3 * b6_3; c67 += a6_3 * b7_3;
                    c70 += a7_3 * b0_3; c71 += a7_3 * b1_3; c72 += a7_3 * b2_3; c73 += a7_3 * b3_3; c74 += a7_3 * b4_3; c75 += a7_3 * b5_3; c76 += a7_3 * b6_3; c77 += a7_3 * b7_3;
                }
            }
            kc.localBarrier();
        }
        if (!skip) {
            int i = tileI + ly * WIDE_R, j = tileJ + lx * WIDE_R, gate = gateOf(args, at, c);
            int ldc = args.get(at + LDC), bias = args.get(at + BIAS), res = args.get(at + RES);
            float b0 = biasAt(mem, bias, j, n), b1 = biasAt(mem, bias, j + 1, n);
            float b2 = biasAt(mem, bias, j + 2, n), b3 = biasAt(mem, bias, j + 3, n);
            float b4 = biasAt(mem, bias, j + 4, n), b5 = biasAt(mem, bias, j + 5, n);
            float b6 = biasAt(mem, bias, j + 6, n), b7 = biasAt(mem, bias, j + 7, n);
            storeRow(mem, c, ldc, i + 0, j, 1, m, n, flags, bias, b0, b1, b2, b3, gate, alpha, c00, c01, c02, c03);
            storeRow(mem, c, ldc, i + 0, j + 4, 1, m, n, flags, bias, b4, b5, b6, b7, gate, alpha, c04, c05, c06, c07);
            storeRow(mem, c, ldc, i + 1, j, 1, m, n, flags, bias, b0, b1, b2, b3, gate, alpha, c10, c11, c12, c13);
            storeRow(mem, c, ldc, i + 1, j + 4, 1, m, n, flags, bias, b4, b5, b6, b7, gate, alpha, c14, c15, c16, c17);
            storeRow(mem, c, ldc, i + 2, j, 1, m, n, flags, bias, b0, b1, b2, b3, gate, alpha, c20, c21, c22, c23);
            storeRow(mem, c, ldc, i + 2, j + 4, 1, m, n, flags, bias, b4, b5, b6, b7, gate, alpha, c24, c25, c26, c27);
            storeRow(mem, c, ldc, i + 3, j, 1, m, n, flags, bias, b0, b1, b2, b3, gate, alpha, c30, c31, c32, c33);
            storeRow(mem, c, ldc, i + 3, j + 4, 1, m, n, flags, bias, b4, b5, b6, b7, gate, alpha, c34, c35, c36, c37);
            storeRow(mem, c, ldc, i + 4, j, 1, m, n, flags, bias, b0, b1, b2, b3, gate, alpha, c40, c41, c42, c43);
            storeRow(mem, c, ldc, i + 4, j + 4, 1, m, n, flags, bias, b4, b5, b6, b7, gate, alpha, c44, c45, c46, c47);
            storeRow(mem, c, ldc, i + 5, j, 1, m, n, flags, bias, b0, b1, b2, b3, gate, alpha, c50, c51, c52, c53);
            storeRow(mem, c, ldc, i + 5, j + 4, 1, m, n, flags, bias, b4, b5, b6, b7, gate, alpha, c54, c55, c56, c57);
            storeRow(mem, c, ldc, i + 6, j, 1, m, n, flags, bias, b0, b1, b2, b3, gate, alpha, c60, c61, c62, c63);
            storeRow(mem, c, ldc, i + 6, j + 4, 1, m, n, flags, bias, b4, b5, b6, b7, gate, alpha, c64, c65, c66, c67);
            storeRow(mem, c, ldc, i + 7, j, 1, m, n, flags, bias, b0, b1, b2, b3, gate, alpha, c70, c71, c72, c73);
            storeRow(mem, c, ldc, i + 7, j + 4, 1, m, n, flags, bias, b4, b5, b6, b7, gate, alpha, c74, c75, c76, c77);
            for (int r = 0; r < WIDE_R; r++) {
                finishRow(mem, c, ldc, i + r, j, 1, m, n, flags, res, seedValue, salt, maskBase, p);
                finishRow(mem, c, ldc, i + r, j + 4, 1, m, n, flags, res, seedValue, salt, maskBase, p);
            }
        }
    }

    /**
     * Where a work-item's run of 4 values of a slice starts across the tile, for a slice of 4 &lt;&lt;
     * runsLog k and a tile of 4 &lt;&lt; acrossLog: along k (the operand's unit stride), the runs of a row
     * lie side by side, rows tid &gt;&gt; runsLog; across it, runs of 4 side by side cover the tile at one k,
     * k = tid &gt;&gt; acrossLog. A warp reads whole 32-byte sectors (wide slice: 16 rows of 32 bytes, or
     * 512 contiguous bytes). One address per run and operand, its values at +0..3.
     */
    private static int runAcross(int tid, boolean alongK, int runsLog, int acrossLog) {
        return alongK ? tid >> runsLog : (tid & (1 << acrossLog) - 1) << 2;
    }

    /** The local slot of value q of a work-item's run, rows of {@code pitch} floats per k. */
    private static int runSlot(int tid, boolean alongK, int q, int runsLog, int acrossLog, int pitch) {
        return runAlong(tid, alongK, runsLog, acrossLog) * pitch + runAcross(tid, alongK, runsLog, acrossLog)
                + q * (alongK ? pitch : 1);
    }

    /** The k within the slice where a work-item's run starts (see {@link #runAcross}). */
    private static int runAlong(int tid, boolean alongK, int runsLog, int acrossLog) {
        return alongK ? (tid & (1 << runsLog) - 1) << 2 : tid >> acrossLog;
    }

    /**
     * Where the operand's line that a run lies on starts, the run at row (of A; column of B) {@code i}
     * of {@code extent}, stride {@code si} across, k {@code kIn} into the slice: along k, the row's start,
     * clamped into the operand (a row past the edge feeds only outputs that are never stored), plus
     * kIn, so that a slice adds only its first k to it (one add a run, not two); across, the run's
     * first element.
     */
    private static int runLine(int base, int i, int kIn, int extent, int si, boolean alongK) {
        return alongK ? base + Math.min(i, extent - 1) * si + kIn : base + i;
    }

    /**
     * The address of a run's first value in the slice that starts at {@code k0}, the run {@code kIn}
     * into it: its line ({@link #runLine}: along k, the row of A or column of B, clamped into the
     * operand, and kIn; across, the run's first element) plus k's offset, k clamped to the work-group's
     * last where the run lies across (the slice read after the last is never staged). Its 4 values
     * are at that address + 0..3. Past the operand's last row (across) or last k (along: the next
     * slice's read from the last one goes up to 15 floats on), a run reads up to {@link #OVERRUN}
     * floats beyond the operand, which the arena keeps as slack after its last buffer. ANDed with the
     * launch's {@code mask} ({@link #masksIndices}: every index of the arena, or -1), which changes nothing.
     */
    private static int runAt(int line, int k0, int kIn, int kEnd, int sk, boolean alongK, int mask) {
        return (alongK ? line + k0 : line + Math.min(k0 + kIn, kEnd - 1) * sk) & mask;
    }

    /**
     * Where a work-group's first slice starts: {@code k0}, its first k, less as many k as make its k
     * range, to {@code kEnd}, whole slices of {@code tk} (fewer than a slice: none where it is whole
     * already; K, a split of K or a triangle's edge that is not a multiple of the slice leaves some).
     * The first slice's values before k0 are zeros ({@link #fromK0}), so that each sum still adds its
     * k in order from the first, and no slice but the first is ever zeroed: the loop stages every slice
     * as it reads it, without a compare and select per value.
     */
    private static int firstK(int k0, int kEnd, int tk) {
        return k0 - (tk - Math.max(0, kEnd - k0) % tk) % tk;
    }

    /**
     * The address of value q of a run of the first slice (see {@link #runAt}; the slice starts at
     * {@code kFirst}, see {@link #firstK}): its k clamped to the work-group's first, {@code k0}, where it
     * lies before it (along k, value by value: the run may straddle k0), and to its last where the run
     * lies across.
     */
    private static int firstAt(int line, int kFirst, int kIn, int q, int k0, int kEnd, int sk, boolean alongK, int mask) {
        return (alongK ? line - kIn + Math.max(kFirst + kIn + q, k0) : line + Math.min(Math.max(kFirst + kIn, k0), kEnd - 1) * sk + q)
                & mask;
    }

    /**
     * Value q of a run of the first slice, {@code v}, read from {@link #firstAt}, the run at {@code k}
     * (+ q along k): 0 before the work-group's first k, {@code k0}. The read is unconditional, as every
     * staged read is, and in the kernel's body: TornadoVM 5.2 does not compile it in a helper here (see
     * {@link #gemmWide}).
     */
    private static float fromK0(float v, int k, int q, int k0, boolean alongK) {
        return (alongK ? k + q : k) < k0 ? 0f : v;
    }

    /** bias(j), or 0 without a bias; read at the last column where j is past it (never used there). */
    private static float biasAt(FloatArray mem, int bias, int j, int n) {
        return bias >= 0 ? mem.get(bias + Math.min(j, n - 1)) : 0f;
    }

    /**
     * The epilogue's first half for one row i of a work-item's outputs, columns j, j + step, j + 2 step,
     * j + 3 step: C(i, j) from its sum ({@link #sum}) and its column's bias ({@code b0..b3}, which a
     * kernel reads once for all its rows, {@link #biasAt}). C's old values (for +=) and the gate's are
     * read, all four of each, before any is written, as the staging reads (see the class comment).
     */
    private static void storeRow(FloatArray mem, int c, int ldc, int i, int j, int step, int m, int n, int flags, int bias,
                                 float b0, float b1, float b2, float b3, int gate, float alpha, float s0, float s1, float s2,
                                 float s3) {
        int at = Math.min(i, m - 1) * ldc, row = c + at;
        int at0 = at + Math.min(j, n - 1), at1 = at + Math.min(j + step, n - 1);
        int at2 = at + Math.min(j + 2 * step, n - 1), at3 = at + Math.min(j + 3 * step, n - 1);
        boolean accumulate = (flags & ACCUMULATE) != 0;
        float o0 = accumulate ? mem.get(c + at0) : 0f, o1 = accumulate ? mem.get(c + at1) : 0f;
        float o2 = accumulate ? mem.get(c + at2) : 0f, o3 = accumulate ? mem.get(c + at3) : 0f;
        float g0 = gate >= 0 ? mem.get(gate + at0) : 1f, g1 = gate >= 0 ? mem.get(gate + at1) : 1f;
        float g2 = gate >= 0 ? mem.get(gate + at2) : 1f, g3 = gate >= 0 ? mem.get(gate + at3) : 1f;
        if (i < m) {
            if (j < n) {
                mem.set(row + j, sum(alpha * s0, bias, b0, flags, o0, g0));
            }
            if (j + step < n) {
                mem.set(row + j + step, sum(alpha * s1, bias, b1, flags, o1, g1));
            }
            if (j + 2 * step < n) {
                mem.set(row + j + 2 * step, sum(alpha * s2, bias, b2, flags, o2, g2));
            }
            if (j + 3 * step < n) {
                mem.set(row + j + 3 * step, sum(alpha * s3, bias, b3, flags, o3, g3));
            }
        }
    }

    /** Where operand {@code base} (A, B or C) of grid slice z starts: its offset plus z's batch and head strides. */
    private static int operand(IntArray args, int at, int base, int sb, int sh, int z) {
        int nh = args.get(at + NH), zb = z / nh;
        return args.get(at + base) + zb * args.get(at + sb) + (z - zb * nh) * args.get(at + sh);
    }

    /** Where the gate of the grid slice whose C starts at {@code c} starts (C's layout and strides); -1: none. */
    private static int gateOf(IntArray args, int at, int c) {
        int gate = args.get(at + GATE);
        return gate >= 0 ? gate + c - args.get(at + C) : -1;
    }

    /** The first k of a work-group's sum: its split-K slice's first, or its tile's first row where A is upper-triangular. */
    private static int firstK(IntArray args, int at, int z, int tileI) {
        int slice = args.get(at + K_SLICE);
        int k = slice > 0 ? z * slice : 0;
        return args.get(at + MODE) == K_FROM_ROW ? Math.max(k, tileI) : k;
    }

    /** One past a work-group's last k: its slice's end, or past its tile's last row where A is lower-triangular. */
    private static int endK(IntArray args, int at, int z, int tileI, int tile) {
        int slice = args.get(at + K_SLICE), kAll = args.get(at + K);
        int k = slice > 0 ? Math.min(kAll, z * slice + slice) : kAll;
        return args.get(at + MODE) == K_UP_TO_ROW ? Math.min(k, tileI + tile) : k;
    }

    /** Whether a tile lies wholly above the diagonal of a lower-triangular C: nothing to compute. */
    private static boolean aboveDiagonal(IntArray args, int at, int tileI, int tileJ, int tile) {
        return args.get(at + MODE) == LOWER && tileJ > tileI + tile - 1;
    }

    /**
     * The epilogue's first half: C(i,j) from its sum with the bias ({@code b}, if {@code bias >= 0})
     * and ReLU, plus {@code old} (C's value before) where the flags say +=; where the gate's value
     * ({@code gate}) is not positive, C keeps its old value (+=) or gets 0. The kernels read the bias
     * and C's old values for a row of a work-item's outputs before writing any of them, for the same
     * reason. It is kept small, and the dropout hash out of it, so that the loop over
     * a work-item's outputs unrolls and the accumulators are indexed by constants only (else they go to
     * off-chip local memory).
     */
    private static float sum(float sum, int bias, float b, int flags, float old, float gate) {
        float v = sum;
        if (bias >= 0) {
            v += b;
        }
        if ((flags & RELU) != 0) {
            v = v > 0f ? v : 0f;
        }
        boolean accumulate = (flags & ACCUMULATE) != 0;
        if (!(gate > 0f)) { // no gate reads 1
            return accumulate ? old : 0f;
        }
        return accumulate ? old + v : v;
    }

    /**
     * The epilogue's second half, where the flags ask for it: dropout on C and then the residual,
     * applied to what the first half wrote in row i, columns j, j + step, j + 2 step, j + 3 step (never
     * with +=: {@link Call} refuses the mix). The row's values of C and of the residual are read before
     * any is written, as the staging reads.
     */
    private static void finishRow(FloatArray mem, int c, int ldc, int i, int j, int step, int m, int n, int flags, int res,
                                  long seedValue, int salt, int maskBase, float p) {
        boolean drop = (flags & DROP_C) != 0;
        if (!drop && res < 0) {
            return; // nothing asked for
        }
        int row = Math.min(i, m - 1) * ldc;
        int at0 = row + Math.min(j, n - 1), at1 = row + Math.min(j + step, n - 1);
        int at2 = row + Math.min(j + 2 * step, n - 1), at3 = row + Math.min(j + 3 * step, n - 1);
        float v0 = mem.get(c + at0), v1 = mem.get(c + at1), v2 = mem.get(c + at2), v3 = mem.get(c + at3);
        float r0 = res >= 0 ? mem.get(res + at0) : 0f, r1 = res >= 0 ? mem.get(res + at1) : 0f;
        float r2 = res >= 0 ? mem.get(res + at2) : 0f, r3 = res >= 0 ? mem.get(res + at3) : 0f;
        if (i < m) {
            if (j < n) {
                mem.set(c + row + j, finish(v0, r0, drop, res, seedValue, salt, c + row + j - maskBase, p));
            }
            if (j + step < n) {
                mem.set(c + row + j + step, finish(v1, r1, drop, res, seedValue, salt, c + row + j + step - maskBase, p));
            }
            if (j + 2 * step < n) {
                mem.set(c + row + j + 2 * step, finish(v2, r2, drop, res, seedValue, salt, c + row + j + 2 * step - maskBase,
                        p));
            }
            if (j + 3 * step < n) {
                mem.set(c + row + j + 3 * step, finish(v3, r3, drop, res, seedValue, salt, c + row + j + 3 * step - maskBase,
                        p));
            }
        }
    }

    /**
     * Our epilogue over a product a library wrote into C (m x n, row-major, {@code ldc = n}): the bias,
     * ReLU and gate of {@link #storeRow}, then the dropout and residual of {@link #finishRow}, with their
     * arithmetic, one work-item per element ({@code size = m n}).
     */
    public static void epilogue(FloatArray mem, int c, int size, int n, int bias, int flags, int res, int gate,
                                IntArray seed, float p, int salt) {
        long seedValue = DropoutMask.seed(seed.get(0), seed.get(1));
        int maskBase = seed.get(SEED_MASK_BASE);
        boolean drop = (flags & DROP_C) != 0;
        for (@Parallel int e = 0; e < size; e++) {
            float b = bias >= 0 ? mem.get(bias + e % n) : 0f;
            float g = gate >= 0 ? mem.get(gate + e) : 1f;
            float r = res >= 0 ? mem.get(res + e) : 0f;
            float v = sum(mem.get(c + e), bias, b, flags, 0f, g);
            mem.set(c + e, finish(v, r, drop, res, seedValue, salt, c + e - maskBase, p));
        }
    }

    /**
     * The task of {@link #epilogue} after a library computed call {@code g}'s product (sharing the
     * launch's seed array and p), or null where the call asks for no epilogue.
     */
    static Task epilogueTask(String kernel, Call g, IntArray seed, float p) {
        boolean gated = g.gate >= 0, residual = g.res >= 0;
        if (g.bias < 0 && (g.flags & (RELU | DROP_C)) == 0 && !residual && !gated) {
            return null;
        }
        if (g.ldc != g.n || g.z != 1 || (g.flags & ACCUMULATE) != 0) {
            throw new IllegalStateException(kernel + ": an epilogue after a library takes one dense C it wrote, without +=");
        }
        int c = g.c, size = g.m * g.n, n = g.n, bias = g.bias, flags = g.flags, res = g.res, gate = g.gate, salt = g.salt;
        double el = size;
        return new Task((graph, id, mem, args) -> graph.task(id, Gemm::epilogue, mem, c, size, n, bias, flags, res, gate,
                seed, p, salt), null, Grids.perElement(kernel, Grids.dims(size, 1, 1), 2.0 * el,
                4.0 * el * (1 + (residual ? 1 : 0) + (gated ? 1 : 0)) + (bias >= 0 ? 4.0 * n : 0), 4.0 * el));
    }

    /** One output of {@link #finishRow}: v through dropout's mask (element index {@code element}), plus the residual r. */
    private static float finish(float v, float r, boolean drop, int res, long seedValue, int salt, int element, float p) {
        float out = drop ? v * DropoutMask.scale(seedValue, salt, element, p) : v;
        return res >= 0 ? r + out : out;
    }
}
