package org.gptjvm.tornado;

import org.gptjvm.engine.DropoutMask;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.tornado.DeviceLaunch.Span;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What an op's launcher needs of the backend: where a buffer lies in the arena, scratch of its own or
 * shared, the kernels' table of integer arguments, the seed arrays, and the one kernel context every
 * task shares.
 */
final class OpContext {
    final DeviceArena arena;
    final KernelContext kc = new StableKernelContext();
    /** The seed of launches without dropout: every array a task names must be on the device. */
    private final IntArray noSeed = new IntArray(DropoutMask.SEED_INTS);
    /** Scratch ranges by name, each as large as the largest launch needs. */
    private final Map<String, FloatBuf> scratch = new HashMap<>();

    /** The k of a wide GEMM slice multiplied per pass of its loop ({@link Gemm#kStep}). */
    final int wideKStep;
    /**
     * The library the Linear layers' products are computed with ({@link CuBlas}'s names), or null: our
     * own {@link Gemm}. Launches take the value it has when they are made.
     */
    String products;

    /** Whether the products mask their staged reads' indices ({@link Gemm#masksIndices}). */
    final boolean maskIndices;

    OpContext(DeviceArena arena, int wideKStep, boolean maskIndices) {
        this.arena = arena;
        this.wideKStep = wideKStep;
        this.maskIndices = maskIndices;
    }

    /** The arena's offset of a buffer (-1 for none, where a kernel's flag says it is absent). */
    static int o(FloatBuf b) {
        return DeviceArena.offset(b);
    }

    static IntArray ints(IntBuf b) {
        return DeviceArena.ints(b);
    }

    /**
     * A dropout seed's array, or an unused one where there is no dropout (null). The kernels read all
     * of its {@link DropoutMask#SEED_INTS} ints (the seed, and the first row of the combined batch).
     */
    IntArray seed(IntBuf b) {
        if (b != null && b.size() < DropoutMask.SEED_INTS) {
            throw new IllegalArgumentException("a dropout seed buffer holds " + DropoutMask.SEED_INTS + " ints (seed low, "
                    + "seed high, first row), not " + b.size());
        }
        return b == null ? noSeed : DeviceArena.ints(b);
    }

    /**
     * The seed array of a {@link Gemm} launch whose masked calls are like {@code call} (null: no
     * dropout): the seed, then the launch's mask base, {@link Gemm#SEED_MASK_BASE}, derived from the
     * seed buffer's first row at every host write.
     */
    IntArray maskSeed(IntBuf b, Gemm.Call call) {
        if (b == null || call == null || !call.masked) {
            return seed(b);
        }
        seed(b); // its size checked
        int base = call.maskBase, perRow = call.maskRow;
        return arena.derive(b, "mask_seed " + base + " " + perRow, DropoutMask.SEED_INTS, (w, into) -> {
            into.set(0, w[0]);
            into.set(1, w[1]);
            into.set(Gemm.SEED_MASK_BASE, base - w[DropoutMask.FIRST_ROW] * perRow);
        });
    }

    /** Appends {@code values} to the argument table; returns where they start. */
    int args(int... values) {
        return arena.args(values);
    }

    /** A range for one launch's partial sums alone, never shared: their second pass may wait for later launches. */
    Span partials(String name, long size) {
        FloatBuf b = arena.alloc(name, (int) Math.max(1, size));
        return new Span(o(b), b.size());
    }

    /** A range that only this backend's kernels use, shared by the launches that ask for it, grown to the largest size. */
    Span scratch(String name, long size) {
        FloatBuf b = scratch.get(name);
        if (b == null || b.size() < size) {
            b = arena.alloc(name, (int) Math.max(1, size));
            scratch.put(name, b);
        }
        return new Span(o(b), b.size());
    }

    /** The arena ranges of {@code bufs} (nulls left out), for a launch's reads and writes. */
    static List<Span> spans(FloatBuf... bufs) {
        List<Span> out = new ArrayList<>();
        for (FloatBuf b : bufs) {
            if (b != null && DeviceArena.own(b) == null) {
                out.add(new Span(o(b), b.size()));
            }
        }
        return out;
    }

    /** {@link #spans} and more spans (the launch's own scratch). */
    static List<Span> spans(List<Span> more, FloatBuf... bufs) {
        List<Span> out = spans(bufs);
        out.addAll(more);
        return out;
    }
}
