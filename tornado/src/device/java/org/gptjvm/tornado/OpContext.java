package org.gptjvm.tornado;

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
    private final IntArray noSeed = new IntArray(2);
    /** Scratch ranges by name, each as large as the largest launch needs. */
    private final Map<String, FloatBuf> scratch = new HashMap<>();

    OpContext(DeviceArena arena) {
        this.arena = arena;
    }

    /** The arena's offset of a buffer (-1 for none, where a kernel's flag says it is absent). */
    static int o(FloatBuf b) {
        return DeviceArena.offset(b);
    }

    static IntArray ints(IntBuf b) {
        return DeviceArena.ints(b);
    }

    /** A dropout seed's array, or an unused one where there is no dropout (null). */
    IntArray seed(IntBuf b) {
        return b == null ? noSeed : DeviceArena.ints(b);
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
