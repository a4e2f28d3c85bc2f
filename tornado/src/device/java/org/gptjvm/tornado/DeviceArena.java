package org.gptjvm.tornado;

import org.gptjvm.engine.FloatBlock;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.GptException;
import org.gptjvm.engine.IntBuf;
import uk.ac.manchester.tornado.api.DataRange;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The tornado backend's memory and the copies between host and device. Every float buffer is a
 * range of one array, the arena (as llm.c keeps all parameters in one block): parameters,
 * gradients, AdamW moments and activations. The plan uploads it once; afterwards the device copy is
 * the current one, reached through the result of the last graph run:
 *
 * <ul>
 * <li>{@link #read} copies one range back: the loss every step, a row of logits when sampling,
 * everything only for a checkpoint.</li>
 * <li>A host {@link #write} into the arena once it is on the device (initialisation, loading a
 * checkpoint) copies the arena back first and has it re-uploaded before the next run: a slow path
 * that training never takes.</li>
 * <li>Host inputs (token ids, targets, seeds: every {@link IntBuf}, and float buffers declared
 * with {@link #makeHostInput}) are small arrays of their own, sent with each run of a graph that
 * reads them.</li>
 * </ul>
 */
final class DeviceArena {

    /** A float buffer: a range of the arena, or (a host input) an array of its own. */
    static final class Range implements FloatBuf {
        final String name;
        final int offset, size;
        FloatArray own;

        Range(String name, int offset, int size) {
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

    /**
     * An int buffer: always a host input. {@code derived} (may stay empty) are arrays computed from
     * what the host writes, each by the backend's own function: the batch grouped by token, a launch's
     * dropout seed with its mask base, say.
     */
    static final class Ints implements IntBuf {
        final String name;
        final IntArray a;
        final java.util.Map<Object, Derived> derived = new java.util.LinkedHashMap<>();

        Ints(String name, IntArray a) {
            this.name = name;
            this.a = a;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public int size() {
            return a.getSize();
        }
    }

    /** Largest arena: FloatArray indices are ints. */
    static final long MAX_FLOATS = Integer.MAX_VALUE - 1024 - Gemm.OVERRUN;

    private FloatArray mem = new FloatArray(1024);
    private long used, ownBytes;
    /** The kernels' integer arguments (sizes, offsets, strides), all in one table on the device. */
    private final java.util.List<int[]> argRows = new java.util.ArrayList<>();
    private int argCount;
    private IntArray args = new IntArray(1);
    /** The last graph run; device buffers are copied back through it. */
    private TornadoExecutionResult last;
    /** Whether the device's copy of the arena must be (re)sent before the next run. */
    private boolean uploadNeeded = true;

    Range alloc(String name, int size) {
        if (used + size > MAX_FLOATS) {
            throw new GptException("tornado backend: the model needs more than " + MAX_FLOATS / (1 << 28)
                    + " GiB of buffers, more than one TornadoVM array holds");
        }
        Range b = new Range(name, (int) used, size);
        used += size;
        return b;
    }

    /** Parts of {@code sizes} laid end to end: one range of the arena, whatever is allocated around it. */
    FloatBlock allocBlock(String name, java.util.List<String> partNames, int[] sizes) {
        if (partNames.size() != sizes.length) {
            throw new IllegalArgumentException(partNames.size() + " names for " + sizes.length + " parts");
        }
        long total = 0;
        for (int n : sizes) {
            total += n;
        }
        if (total > Integer.MAX_VALUE) {
            throw new GptException("tornado backend: block " + name + " of " + total + " floats is more than one TornadoVM "
                    + "array holds");
        }
        Range all = alloc(name, (int) total);
        java.util.List<FloatBuf> parts = new java.util.ArrayList<>();
        int at = all.offset;
        for (int i = 0; i < sizes.length; i++) {
            parts.add(new Range(partNames.get(i), at, sizes[i]));
            at += sizes[i];
        }
        return new FloatBlock(name, parts);
    }

    /** The range of parts [from, to) of a block (one range: see {@link #allocBlock}). */
    static DeviceLaunch.Span span(FloatBlock block, int from, int to) {
        long at = offset(block.part(from)), n = 0;
        for (int i = from; i < to; i++) {
            if (offset(block.part(i)) != at + n) {
                throw new IllegalStateException("block " + block.name() + " is not one range of the arena");
            }
            n += block.part(i).size();
        }
        return new DeviceLaunch.Span(at, n);
    }

    /** The range of a whole block. */
    static DeviceLaunch.Span span(FloatBlock block) {
        return span(block, 0, block.parts().size());
    }

    /** Appends {@code values} to the argument table; returns where they start. */
    int args(int... values) {
        argRows.add(values.clone());
        int at = argCount;
        argCount += values.length;
        return at;
    }

    /** The argument table as a device array, remade when arguments were added since (a new plan). */
    IntArray args() {
        if (args.getSize() < Math.max(1, argCount)) {
            int[] all = new int[argCount];
            int at = 0;
            for (int[] row : argRows) {
                System.arraycopy(row, 0, all, at, row.length);
                at += row.length;
            }
            args = IntArray.fromArray(all);
        }
        return args;
    }

    /** An array computed from an int buffer's values by {@code fn} at every host write. */
    record Derived(IntArray array, java.util.function.BiConsumer<int[], IntArray> fn) {
    }

    /**
     * {@code b}'s values also feed an array of {@code size} ints, filled by {@code derive} at every host
     * write; one array per {@code key} (the same key gives the same array).
     */
    IntArray derive(IntBuf b, Object key, int size, java.util.function.BiConsumer<int[], IntArray> derive) {
        Ints ints = (Ints) b;
        Derived d = ints.derived.get(key);
        if (d == null) {
            d = new Derived(new IntArray(Math.max(1, size)), derive);
            ints.derived.put(key, d);
            ownBytes += 4L * Math.max(1, size);
            derive.accept(ints.a.toHeapArray(), d.array()); // from what the host wrote so far
        }
        return d.array();
    }

    Ints allocInt(String name, int size) {
        ownBytes += 4L * Math.max(1, size);
        return new Ints(name, new IntArray(Math.max(1, size)));
    }

    /** Gives {@code b} an array of its own, sent with every run, holding the arena's values of it. */
    void makeHostInput(Range b) {
        b.own = new FloatArray(Math.max(1, b.size));
        ownBytes += 4L * Math.max(1, b.size);
        if (mem.getSize() >= b.offset + b.size) { // keep what was written so far
            MemorySegment.copy(mem.getSegment(), 4L * b.offset, b.own.getSegment(), 0, 4L * b.size);
        }
    }

    long bytes() {
        return 4 * used + ownBytes + 4L * argCount;
    }

    /** The arena's offset of a buffer kernels read and write (-1 for none, where a kernel's flag says it is absent). */
    static int offset(FloatBuf b) {
        if (b == null) {
            return -1;
        }
        Range r = (Range) b;
        if (r.own != null) {
            throw new GptException("tornado backend: host input " + r.name + " used as a device buffer");
        }
        return r.offset;
    }

    /** A host input's own array. */
    static FloatArray own(FloatBuf b) {
        return ((Range) b).own;
    }

    static IntArray ints(IntBuf b) {
        return ((Ints) b).a;
    }

    /**
     * The host arena, grown to hold every buffer allocated so far. Growing brings the device copy
     * back first and drops it: a new array needs a new plan.
     */
    FloatArray array() {
        long size = used + Gemm.OVERRUN; // the slack a wide product may read past its operands
        if (mem.getSize() < size) {
            pullAll();
            deviceDropped();
            FloatArray bigger = new FloatArray((int) Math.min(MAX_FLOATS + Gemm.OVERRUN, Math.max(size, mem.getSize() * 3L / 2)));
            MemorySegment.copy(mem.getSegment(), 0, bigger.getSegment(), 0, 4L * mem.getSize());
            mem = bigger;
        }
        return mem;
    }

    void write(FloatBuf dst, float[] src) {
        Range b = (Range) dst;
        check(b.name, b.size, src.length);
        if (b.own != null) {
            MemorySegment.copy(src, 0, b.own.getSegment(), ValueLayout.JAVA_FLOAT, 0, src.length);
            return;
        }
        FloatArray a = array();
        if (last != null && !uploadNeeded) {
            pullAll(); // the device holds the current values of everything else in the arena
            uploadNeeded = true;
        }
        MemorySegment.copy(src, 0, a.getSegment(), ValueLayout.JAVA_FLOAT, 4L * b.offset, src.length);
    }

    void write(IntBuf dst, int[] src) {
        check(dst.name(), dst.size(), src.length);
        Ints ints = (Ints) dst;
        MemorySegment.copy(src, 0, ints.a.getSegment(), ValueLayout.JAVA_INT, 0, src.length);
        for (Derived d : ints.derived.values()) {
            d.fn().accept(src, d.array());
        }
    }

    private static void check(String name, int expected, int actual) {
        if (expected != actual) {
            throw new GptException("buffer " + name + " holds " + expected + " values, got " + actual);
        }
    }

    void read(FloatBuf src, int offset, float[] dst, int len) {
        Range b = (Range) src;
        if (b.own != null) {
            MemorySegment.copy(b.own.getSegment(), ValueLayout.JAVA_FLOAT, 4L * offset, dst, 0, len);
            return;
        }
        FloatArray a = array();
        if (len > 0 && last != null && !uploadNeeded) {
            last.transferToHost(new DataRange(a).withOffset(b.offset + offset).withSize(len));
        }
        MemorySegment.copy(a.getSegment(), ValueLayout.JAVA_FLOAT, 4L * (b.offset + offset), dst, 0, len);
    }

    /**
     * The arena's host memory over {@code s}, brought back from the device first where the device
     * holds the current values ({@link #deviceHolds}).
     */
    MemorySegment pull(DeviceLaunch.Span s) {
        FloatArray a = array();
        if (s.n() > 0 && deviceHolds()) {
            last.transferToHost(new DataRange(a).withOffset((int) s.at()).withSize((int) s.n()));
        }
        return a.getSegment().asSlice(4L * s.at(), 4L * s.n());
    }

    /** Whether the device holds the current values (a graph ran since the host last wrote). */
    boolean deviceHolds() {
        return last != null && !uploadNeeded;
    }

    /**
     * Copies the arena back, so the host copy is current. Through a range, as {@link #read} does:
     * TornadoVM 5.2's whole-object transfer back after a plan's later graphs ran left the host copy
     * as it was (a data-parallel step's first all-reduce read zeros).
     */
    void pullAll() {
        if (last != null && !uploadNeeded && mem.getSize() > 0) {
            last.transferToHost(new DataRange(mem).withOffset(0).withSize(mem.getSize()));
        }
    }

    // ---------------------------------------------------------------- what the plan tells the arena

    boolean uploadNeeded() {
        return uploadNeeded;
    }

    /** A graph ran: the device copy is current, and reached through {@code result}. */
    void ran(TornadoExecutionResult result) {
        last = result;
        uploadNeeded = false;
    }

    /** The profiler log of the graph that ran last (a JSON object per run so far), when the plan profiles. */
    String lastProfile() {
        return last == null ? "" : last.getProfilerResult().getProfileLog();
    }

    /** The plan that held the device copy was closed: the host copy is the only one. */
    void deviceDropped() {
        last = null;
        uploadNeeded = true;
    }
}
