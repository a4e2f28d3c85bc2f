package org.gptjvm.bench;

import org.gptjvm.engine.ref.RefKernels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Sanity check for {@link OpenBlasMatmulBenchmark}, not a benchmark: that each of its methods computes what our
 * kernels compute (against {@link RefKernels} on a small odd shape), and that OpenBLAS really runs on the requested
 * number of threads (process CPU time over wall time during a long sgemm, and which threads got the CPU time).
 * <pre>java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar org.gptjvm.bench.OpenBlasCheck [threads...]</pre>
 */
public final class OpenBlasCheck {
    private OpenBlasCheck() {
    }

    public static void main(String[] args) throws IOException {
        int[] threadCounts = args.length == 0 ? new int[] {1, 2}
                : Stream.of(args).mapToInt(Integer::parseInt).toArray();
        boolean ok = correctness("37x29x41") & correctness("512x64x65");
        for (int t : threadCounts) {
            ok &= threads(t);
        }
        System.out.println(ok ? "OpenBlasCheck: all OK" : "OpenBlasCheck: FAILED");
        if (!ok) {
            System.exit(1);
        }
    }

    private static OpenBlasMatmulBenchmark bench(String shape, int threads) {
        OpenBlasMatmulBenchmark b = new OpenBlasMatmulBenchmark();
        b.shape = shape;
        b.threads = threads;
        b.setup();
        return b;
    }

    private static boolean correctness(String shape) {
        OpenBlasMatmulBenchmark b = bench(shape, 2);
        int N = b.N, C = b.C, OC = b.OC;
        float[] inp = get(b.inp, N * C), w = get(b.w, OC * C), bias = get(b.b, OC), dout = get(b.dout, N * OC);
        float[] dinp = get(b.dinp, N * C), dw = get(b.dw, OC * C), db = get(b.db, OC);
        float[] out = new float[N * OC];
        RefKernels.matmulForward(out, inp, w, bias, C, OC, 0, N);
        // backward runs input + weight once; then backward_input and backward_weight once each: twice in all
        for (int rep = 0; rep < 2; rep++) {
            RefKernels.matmulBackwardInput(dinp, dout, w, C, OC, 0, N);
            RefKernels.matmulBackwardWeight(dw, db, dout, inp, N, C, OC, 0, OC);
        }
        b.forward();
        b.backward();
        b.backward_input();
        b.backward_weight();
        boolean ok = compare(shape, "forward (out)", out, get(b.out, N * OC))
                & compare(shape, "backward (dinp)", dinp, get(b.dinp, N * C))
                & compare(shape, "backward (dW)", dw, get(b.dw, OC * C))
                & compare(shape, "backward (dbias)", db, get(b.db, OC));
        b.tearDown();
        return ok;
    }

    private static float[] get(org.bytedeco.javacpp.FloatPointer p, int n) {
        float[] a = new float[n];
        p.position(0).get(a);
        return a;
    }

    private static boolean compare(String shape, String what, float[] want, float[] got) {
        double maxErr = 0;
        for (int i = 0; i < want.length; i++) {
            maxErr = Math.max(maxErr, Math.abs(want[i] - got[i]) / (1 + Math.abs(want[i])));
        }
        boolean ok = maxErr < 1e-4;
        System.out.printf("%-10s %-18s max rel err %.2e %s%n", shape, what, maxErr, ok ? "OK" : "MISMATCH");
        return ok;
    }

    /** Runs backward_input on the biggest shape for about 2 s and compares process CPU time with wall time. */
    private static boolean threads(int threads) throws IOException {
        OpenBlasMatmulBenchmark b = bench("16384x384x1536", threads);
        b.backward_input(); // warm up: OpenBLAS starts its thread pool
        long[] cpu0 = taskCpu();
        long t0 = System.nanoTime();
        int ops = 0;
        while (System.nanoTime() - t0 < 2_000_000_000L) {
            b.backward_input();
            ops++;
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        long[] cpu1 = taskCpu();
        b.tearDown();
        double ticks = clockTicks();
        double total = 0;
        List<String> busy = new ArrayList<>();
        for (int i = 0; i < cpu1.length / 2; i++) {
            long tid = cpu1[2 * i];
            long before = 0;
            for (int j = 0; j < cpu0.length / 2; j++) {
                if (cpu0[2 * j] == tid) {
                    before = cpu0[2 * j + 1];
                }
            }
            double s = (cpu1[2 * i + 1] - before) / ticks;
            total += s;
            if (s > 0.1 * wall) {
                busy.add(String.format("tid %d %.2fs", tid, s));
            }
        }
        double ratio = total / wall;
        boolean ok = Math.abs(ratio - threads) < 0.35 && busy.size() == threads;
        System.out.printf("threads=%d: openblas_get_num_threads()=%d, %d ops in %.2fs wall, %.2fs CPU (%.2f cores busy),"
                + " threads over 10%% busy: %s %s%n", threads, OpenBlas.numThreads(), ops, wall, total, ratio, busy,
                ok ? "OK" : "UNEXPECTED");
        return ok;
    }

    /** (tid, utime + stime in clock ticks) for every thread of this process. */
    private static long[] taskCpu() throws IOException {
        List<Long> r = new ArrayList<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path t : tasks.toList()) {
                String stat;
                try {
                    stat = Files.readString(t.resolve("stat"));
                } catch (IOException gone) {
                    continue;
                }
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                // after "pid (comm) ": state is field 3, utime 14, stime 15 -> indexes 11 and 12 here
                r.add(Long.parseLong(t.getFileName().toString()));
                r.add(Long.parseLong(f[11]) + Long.parseLong(f[12]));
            }
        }
        return r.stream().mapToLong(Long::longValue).toArray();
    }

    private static double clockTicks() {
        return 100.0; // USER_HZ on Linux x86_64
    }
}
