package org.gptjvm.engine.host;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.DropoutMask;
import org.gptjvm.engine.FloatBlock;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.GptException;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.KernelProfile;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.Program;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * What the backends that compute on this machine's cores share: buffers as Java arrays, launches
 * as code run on a {@link WorkerPool}, programs as those launches in order (timed per launch when
 * profiled), and the memory figure. The kernels are the subclasses' own.
 */
public abstract class HostBackend implements Backend {

    /** A Java float array. */
    public record HostFloat(String name, float[] a) implements FloatBuf {
        @Override
        public int size() {
            return a.length;
        }
    }

    /** A Java int array. */
    public record HostInt(String name, int[] a) implements IntBuf {
        @Override
        public int size() {
            return a.length;
        }
    }

    /** A launch on the host: a name and the code that runs it. */
    protected record HostLaunch(String kernel, Runnable body) implements Launch {
    }

    /**
     * Elements per thread below which an elementwise kernel runs on one thread. Small enough that the
     * small model's N x C kernels split too, so every kernel cuts the rows at the same place and each
     * core keeps its part of the activations in its own cache.
     */
    protected static final int ELEMENTWISE_GRAIN = 1 << 13;

    protected final WorkerPool pool;
    private final String name;
    private long allocated;
    private KernelProfile profile;

    protected HostBackend(String name, int threads) {
        this(name, new WorkerPool(threads));
    }

    /** A backend computing on {@code pool}; closing it closes the pool. */
    protected HostBackend(String name, WorkerPool pool) {
        this.name = name;
        this.pool = pool;
    }

    @Override
    public String name() {
        return name;
    }

    /** Number of threads the backend computes with. */
    public int threads() {
        return pool.threads();
    }

    /** What this backend computes with beyond threads, for {@link #device()} (empty: nothing to add). */
    protected String detail() {
        return "";
    }

    @Override
    public String device() {
        String d = detail();
        return name + " backend, " + threads() + " thread(s)" + (d.isEmpty() ? "" : ", " + d);
    }

    /** This machine's CPU as Linux names it ({@code /proc/cpuinfo}'s model name); null where it says nothing. */
    public static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).strip();
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return null;
    }

    /** The line a host backend's provider lists under {@code gpt devices}. */
    public static List<String> cpuDevices() {
        return List.of("this machine's CPU: " + Runtime.getRuntime().availableProcessors() + " cores");
    }

    // ---------------------------------------------------------------- buffers

    protected static float[] f(FloatBuf b) {
        return b == null ? null : ((HostFloat) b).a;
    }

    protected static int[] i(IntBuf b) {
        return ((HostInt) b).a;
    }

    /** A host backend's buffers are heap arrays: each part goes to {@code change} as it is, changed in place. */
    @Override
    public void changeOnHost(FloatBlock block, java.util.function.Consumer<java.lang.foreign.MemorySegment> change) {
        for (FloatBuf part : block.parts()) {
            change.accept(java.lang.foreign.MemorySegment.ofArray(f(part)));
        }
    }

    /** The dropout seed: the first two of the seed buffer's ints, written by the host each step. */
    protected static long seed(IntBuf b) {
        int[] s = i(b);
        return DropoutMask.seed(s[0], s[1]);
    }

    /** The row of the combined batch that this process's row 0 is: the seed buffer's third int, if any. */
    protected static int firstRow(IntBuf b) {
        if (b == null) {
            return 0;
        }
        int[] s = i(b);
        return s.length > DropoutMask.FIRST_ROW ? s[DropoutMask.FIRST_ROW] : 0;
    }

    /** The mask index of this process's first attention weight (B,NH,T,T) in the combined batch. */
    protected static int attentionBase(IntBuf b, int T, int NH) {
        return DropoutMask.attentionBase(firstRow(b), T, NH);
    }

    /** The position of a decode step: the second of the two ints the host writes per token. */
    protected static int position(IntBuf tokPos) {
        return i(tokPos)[1];
    }

    @Override
    public FloatBuf allocFloat(String name, int size) {
        allocated += 4L * size;
        return new HostFloat(name, new float[size]);
    }

    /** Each part its own array: on the host a block is its parts, and nothing needs them adjacent. */
    @Override
    public FloatBlock allocBlock(String name, List<String> partNames, int[] sizes) {
        if (partNames.size() != sizes.length) {
            throw new IllegalArgumentException(partNames.size() + " names for " + sizes.length + " parts");
        }
        List<FloatBuf> parts = new java.util.ArrayList<>();
        for (int i = 0; i < sizes.length; i++) {
            parts.add(allocFloat(partNames.get(i), sizes[i]));
        }
        return new FloatBlock(name, parts);
    }

    @Override
    public IntBuf allocInt(String name, int size) {
        allocated += 4L * size;
        return new HostInt(name, new int[size]);
    }

    /** Bytes of scratch the subclass holds besides the buffers (per-thread work space and the like). */
    protected long scratchBytes() {
        return 0;
    }

    @Override
    public final long allocatedBytes() {
        return allocated + scratchBytes() + 4L * outputGrad.length;
    }

    /**
     * A Linear layer's output gradient through dropout (matmulDropoutBackward), one array for every
     * launch that needs it: launches run one after another. Sized when launches are recorded; read
     * when they run.
     */
    private float[] outputGrad = new float[0];

    protected final void fitOutputGrad(int n) {
        if (outputGrad.length < n) {
            outputGrad = new float[n];
        }
    }

    protected final float[] outputGrad() {
        return outputGrad;
    }

    @Override
    public void write(FloatBuf dst, float[] src) {
        checkSize(dst.name(), dst.size(), src.length);
        System.arraycopy(src, 0, f(dst), 0, src.length);
    }

    @Override
    public void write(IntBuf dst, int[] src) {
        checkSize(dst.name(), dst.size(), src.length);
        System.arraycopy(src, 0, i(dst), 0, src.length);
    }

    private static void checkSize(String name, int expected, int actual) {
        if (expected != actual) {
            throw new GptException("buffer " + name + " holds " + expected + " values, got " + actual);
        }
    }

    @Override
    public void read(FloatBuf src, int offset, float[] dst, int len) {
        System.arraycopy(f(src), offset, dst, 0, len);
    }

    // ---------------------------------------------------------------- programs

    @Override
    public void profile(KernelProfile into) {
        this.profile = into;
    }

    @Override
    public Program compile(String name, List<Launch> launches) {
        Runnable[] bodies = launches.stream().map(l -> timed((HostLaunch) l)).toArray(Runnable[]::new);
        return new Program() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public void run() {
                for (Runnable r : bodies) {
                    r.run();
                }
            }
        };
    }

    /** The launch's code, adding its wall time to the profile when there is one. */
    private Runnable timed(HostLaunch l) {
        if (profile == null) {
            return l.body();
        }
        long[] slot = profile.slot(l.kernel());
        Runnable body = l.body();
        return () -> {
            long t0 = System.nanoTime();
            body.run();
            slot[0] += System.nanoTime() - t0;
            slot[1]++;
        };
    }

    @Override
    public void close() {
        pool.close();
    }

    // ---------------------------------------------------------------- launches

    protected static Launch launch(String kernel, Runnable body) {
        return new HostLaunch(kernel, body);
    }

    /** A launch that runs {@code task} over [0, n) split across the pool. */
    protected Launch parallel(String kernel, int n, WorkerPool.RangeTask task) {
        return parallel(kernel, n, 1, task);
    }

    /** As above, with at least {@code grain} items per thread (elementwise kernels: a few thousand). */
    protected Launch parallel(String kernel, int n, int grain, WorkerPool.RangeTask task) {
        return new HostLaunch(kernel, () -> pool.parallelFor(n, grain, task));
    }

    /** As above, each part told its number (0..threads-1), to pick its thread's scratch. */
    protected Launch parallelParts(String kernel, int n, WorkerPool.PartTask task) {
        return new HostLaunch(kernel, () -> pool.parallelForParts(n, task));
    }

    /** Rows of C floats per thread below which a row-wise kernel runs on one thread. */
    protected static int rowGrain(int rowLength) {
        return Math.max(1, ELEMENTWISE_GRAIN / 4 / Math.max(1, rowLength));
    }

    /**
     * Zeroing a step's gradients and scratch writes megabytes: the block's parts are laid end to end
     * and the range split over the threads. Machinery rather than a kernel, so every host backend
     * shares it.
     */
    @Override
    public Launch zero(FloatBlock block) {
        float[][] arrays = block.parts().stream().map(HostBackend::f).toArray(float[][]::new);
        long[] starts = new long[arrays.length + 1];
        for (int k = 0; k < arrays.length; k++) {
            starts[k + 1] = starts[k] + arrays[k].length;
        }
        if (starts[arrays.length] > Integer.MAX_VALUE) {
            return launch("zero", () -> {
                for (float[] a : arrays) {
                    Arrays.fill(a, 0f);
                }
            });
        }
        int total = (int) starts[arrays.length];
        WorkerPool.RangeTask task = (a, b) -> {
            for (int k = 0; k < arrays.length; k++) {
                int from = (int) Math.max(a, starts[k]), to = (int) Math.min(b, starts[k + 1]);
                if (from < to) {
                    Arrays.fill(arrays[k], from - (int) starts[k], to - (int) starts[k], 0f);
                }
            }
        };
        return parallel("zero", total, ELEMENTWISE_GRAIN, task);
    }

    /** Elements per partial sum of {@link #sumOfSquares}: the fixed blocks whose order never changes. */
    static final int SQUARES_CHUNK = 1 << 16;

    /**
     * The block's parts laid end to end and cut into fixed chunks; each chunk's squares are summed in
     * double, in order, on whichever thread, and the chunks' sums are then added in order: the same
     * number for any thread count.
     */
    @Override
    public Launch sumOfSquares(FloatBuf out, FloatBlock block) {
        float[][] arrays = block.parts().stream().map(HostBackend::f).toArray(float[][]::new);
        long[] starts = new long[arrays.length + 1];
        for (int k = 0; k < arrays.length; k++) {
            starts[k + 1] = starts[k] + arrays[k].length;
        }
        long total = starts[arrays.length];
        int chunks = (int) ((total + SQUARES_CHUNK - 1) / SQUARES_CHUNK);
        double[] partial = new double[chunks];
        float[] o = f(out);
        WorkerPool.RangeTask task = (c0, c1) -> {
            int k = 0;
            for (int c = c0; c < c1; c++) {
                long a = (long) c * SQUARES_CHUNK, b = Math.min(total, a + SQUARES_CHUNK);
                double s = 0;
                while (starts[k + 1] <= a) {
                    k++;
                }
                for (int j = k; j < arrays.length && starts[j] < b; j++) {
                    int from = (int) (Math.max(a, starts[j]) - starts[j]), to = (int) (Math.min(b, starts[j + 1]) - starts[j]);
                    float[] x = arrays[j];
                    for (int i = from; i < to; i++) {
                        s += (double) x[i] * x[i];
                    }
                }
                partial[c] = s;
            }
        };
        return launch("sum_of_squares", () -> {
            pool.parallelFor(chunks, task);
            double sum = 0;
            for (double p : partial) {
                sum += p;
            }
            o[0] = (float) sum;
        });
    }
}
