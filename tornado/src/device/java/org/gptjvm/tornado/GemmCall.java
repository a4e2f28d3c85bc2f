package org.gptjvm.tornado;

import org.gptjvm.engine.LaunchInfo;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid2D;

import java.util.List;

import org.gptjvm.engine.GptException;

import static org.gptjvm.tornado.GemmKernels.THREADS;
import static org.gptjvm.tornado.GemmKernels.TILE;
import static org.gptjvm.tornado.GemmKernels.WIDE_TILE;

/**
 * One call of {@link GemmKernels#gemm}, described field by field (see the kernel for the meaning):
 * the backend fills in the operands of a product, and this turns them (alone, or with the other
 * independent calls that share its launch) into the kernel's argument rows, the work-group grid
 * and what they ask of the device.
 */
final class GemmCall {
    int m, n, k;
    int a, sai, sak, b, sbk, sbj, c, ldc;
    int bias = -1, flags;
    /** The residual added to C after everything else (-1: none); it has C's layout. */
    int res = -1;
    /** A ReLU's output that gates C (-1: none): C is written only where it is positive; it has C's layout. */
    int gate = -1;
    /** Batches (z), heads per batch (z = b * nh + h), and each operand's strides per batch and head. */
    int z = 1, nh = 1, aSb, aSh, bSb, bSh, cSb, cSh;
    int kSlice, maskBase, salt, mode = GemmKernels.ALL;
    float alpha = 1f;
    /** Run on {@link GemmKernels#gemmWide}'s 128-wide tiles instead of {@link GemmKernels#gemm}'s 64-wide ones. */
    boolean wide;

    /**
     * Which tiles products get, from the system property {@value #TILES_PROPERTY}: {@code 64} (the
     * default) for every product, {@code 128} for every product, or {@code auto}: 128 for the large
     * products (both sides at least 128 and one at least 1024: a Linear layer of the lecture config
     * over its 16,384 rows), where a quarter as many work-groups still fill a GPU; 64 for the rest.
     */
    static final String TILES_PROPERTY = "gpt.tornado.gemm";

    static String tiles() {
        String t = System.getProperty(TILES_PROPERTY, "64").trim();
        if (!t.equals("64") && !t.equals("128") && !t.equals("auto")) {
            throw new GptException("-D" + TILES_PROPERTY + " must be 64, 128 or auto, got " + t);
        }
        return t;
    }

    /** Whether a product of m x n outputs runs on wide tiles under the setting {@code tiles}. */
    static boolean wide(String tiles, int m, int n) {
        return switch (tiles) {
            case "128" -> true;
            case "auto" -> Math.min(m, n) >= WIDE_TILE && Math.max(m, n) >= 1024;
            default -> false;
        };
    }

    int tile() {
        return wide ? WIDE_TILE : TILE;
    }

    /** The k slice depth of the kernel this call runs on. */
    int depth() {
        return wide ? GemmKernels.WIDE_TK : GemmKernels.TK;
    }

    int localBytes() {
        return wide ? GemmKernels.WIDE_LOCAL_BYTES : GemmKernels.LOCAL_BYTES;
    }

    /** C is m x n, each element a sum over k. */
    GemmCall shape(int m, int n, int k) {
        this.m = m;
        this.n = n;
        this.k = k;
        return this;
    }

    /** A(i, kk) = mem[a + i*si + kk*sk], plus sb per batch and sh per head. */
    GemmCall a(int a, int si, int sk, int sb, int sh) {
        this.a = a;
        this.sai = si;
        this.sak = sk;
        this.aSb = sb;
        this.aSh = sh;
        return this;
    }

    /** B(kk, j) = mem[b + kk*sk + j*sj], plus sb per batch and sh per head. */
    GemmCall b(int b, int sk, int sj, int sb, int sh) {
        this.b = b;
        this.sbk = sk;
        this.sbj = sj;
        this.bSb = sb;
        this.bSh = sh;
        return this;
    }

    /** C(i, j) = mem[c + i*ldc + j], plus sb per batch and sh per head. */
    GemmCall c(int c, int ldc, int sb, int sh) {
        this.c = c;
        this.ldc = ldc;
        this.cSb = sb;
        this.cSh = sh;
        return this;
    }

    GemmCall mode(int mode) {
        this.mode = mode;
        return this;
    }

    GemmCall flags(int flags) {
        this.flags = flags;
        return this;
    }

    /** Dropout's mask on the operand named by the flags: element indices from {@code base}, site {@code salt}. */
    GemmCall mask(int base, int salt) {
        this.maskBase = base;
        this.salt = salt;
        return this;
    }

    int[] args() {
        if ((flags & GemmKernels.ACCUMULATE) != 0 && ((flags & GemmKernels.DROP_C) != 0 || res >= 0)) {
            // the kernels' epilogue writes the sum, then applies dropout and the residual to what it wrote
            throw new IllegalStateException("a product cannot both accumulate into C and add dropout or a residual to it");
        }
        int[] r = new int[GemmKernels.SIZE];
        r[GemmKernels.M] = m;
        r[GemmKernels.N] = n;
        r[GemmKernels.K] = k;
        r[GemmKernels.A] = a;
        r[GemmKernels.SAI] = sai;
        r[GemmKernels.SAK] = sak;
        r[GemmKernels.B] = b;
        r[GemmKernels.SBK] = sbk;
        r[GemmKernels.SBJ] = sbj;
        r[GemmKernels.C] = c;
        r[GemmKernels.LDC] = ldc;
        r[GemmKernels.BIAS] = bias;
        r[GemmKernels.FLAGS] = flags;
        r[GemmKernels.NH] = nh;
        r[GemmKernels.A_SB] = aSb;
        r[GemmKernels.A_SH] = aSh;
        r[GemmKernels.B_SB] = bSb;
        r[GemmKernels.B_SH] = bSh;
        r[GemmKernels.C_SB] = cSb;
        r[GemmKernels.C_SH] = cSh;
        r[GemmKernels.K_SLICE] = kSlice;
        r[GemmKernels.MASK_BASE] = maskBase;
        r[GemmKernels.SALT] = salt;
        r[GemmKernels.MODE] = mode;
        r[GemmKernels.RES] = res;
        r[GemmKernels.ZS] = z;
        r[GemmKernels.GATE] = gate;
        return r;
    }

    /** The argument rows of calls that share a launch, one after another, each but the last marked MORE. */
    static int[] args(List<GemmCall> calls) {
        int[] all = new int[calls.size() * GemmKernels.SIZE];
        for (int q = 0; q < calls.size(); q++) {
            int[] r = calls.get(q).args();
            r[GemmKernels.MORE] = q < calls.size() - 1 ? 1 : 0;
            System.arraycopy(r, 0, all, q * GemmKernels.SIZE, GemmKernels.SIZE);
        }
        return all;
    }

    /** The work-groups of the calls of a launch: x the most tile columns of any call, y every call's tile rows times its z. */
    static long[] groups(List<GemmCall> calls) {
        long x = calls.stream().mapToLong(c -> c.groups(c.n)).max().orElse(1);
        long y = calls.stream().mapToLong(c -> (long) c.groups(c.m) * c.z).sum();
        return new long[]{x, y};
    }

    /** Work-groups of THREADS x THREADS over the calls' tiles (see {@link GemmKernels} for their order). */
    static WorkerGrid grid(List<GemmCall> calls) {
        long[] g = groups(calls);
        WorkerGrid2D grid = new WorkerGrid2D((int) (g[0] * THREADS), (int) (g[1] * THREADS));
        grid.setLocalWork(THREADS, THREADS, 1);
        return grid;
    }

    /** Tiles along an extent of C. */
    int groups(int extent) {
        return (extent + tile() - 1) / tile();
    }

    /** The share of the product a triangular mode computes (about half of a square one). */
    private double share() {
        return mode == GemmKernels.ALL ? 1.0 : 0.5;
    }

    /** What the calls of one launch ask of the device, together. */
    static LaunchInfo info(String kernel, List<GemmCall> calls) {
        long[] groups = groups(calls);
        double flops = 0, read = 0, written = 0;
        for (GemmCall c : calls) {
            double zs = c.kSlice > 0 ? 1 : c.z; // split K: the slices share one product
            flops += 2.0 * c.m * c.n * c.k * zs * c.share();
            read += 4.0 * zs * c.share() * ((double) c.m * c.k + (double) c.k * c.n) + ((c.flags & GemmKernels.ACCUMULATE) != 0
                    ? 4.0 * c.m * c.n * zs : 0) + (c.res >= 0 ? 4.0 * c.m * c.n * zs : 0)
                    + (c.gate >= 0 ? 4.0 * c.m * c.n * zs : 0);
            written += 4.0 * c.m * c.n * (c.kSlice > 0 ? c.z : zs);
        }
        return new LaunchInfo(kernel, new long[]{groups[0] * THREADS, groups[1] * THREADS, 1}, new long[]{THREADS, THREADS, 1}, flops,
                read, written, calls.getFirst().localBytes());
    }
}
