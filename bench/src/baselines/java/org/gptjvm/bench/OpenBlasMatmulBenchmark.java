package org.gptjvm.bench;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.gptjvm.model.Rng;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

import static org.bytedeco.openblas.global.openblas.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas.CblasTrans;
import static org.bytedeco.openblas.global.openblas.cblas_sgemm;
import static org.bytedeco.openblas.global.openblas.cblas_sgemv;

/**
 * Baseline for {@link MatmulBenchmark}: the same Linear-layer products on the same shapes ("NxCxOC") and thread
 * counts, done by OpenBLAS cblas_sgemm (row-major, single precision) on off-heap buffers. Only in the jar built
 * with -Pbaselines. What each method computes matches our cpu backend's kernels:
 * <ul>
 *   <li>forward: out(N,OC) = bias rows, then out += inp(N,C) @ W(OC,C)^T (sgemm NoTrans x Trans, beta 1);</li>
 *   <li>backward_input: dinp(N,C) += dout(N,OC) @ W(OC,C) (sgemm, beta 1);</li>
 *   <li>backward_weight: dW(OC,C) += dout^T @ inp(N,C) (sgemm Trans x NoTrans, beta 1) and
 *       dbias(OC) += column sums of dout (sgemv Trans against a vector of ones, beta 1);</li>
 *   <li>backward: backward_input then backward_weight, which is what our {@code backward} does.</li>
 * </ul>
 * Buffers are off-heap FloatPointers holding the same values as MatmulBenchmark's: JavaCPP's float[] overloads
 * would copy every array through JNI on each call and charge OpenBLAS for it. OpenBLAS gets its thread count from
 * openblas_set_num_threads in setup ({@link OpenBlasCheck} verifies it really uses that many cores). The bias copy
 * in forward is a few single-threaded memcpy calls, like our kernel's bias broadcast it writes out once.
 * Run it with {@code bench/src/baselines/scripts/run-matmul-baseline.sh} (see bench/README.md).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx8g",
        "--enable-native-access=ALL-UNNAMED"})
public class OpenBlasMatmulBenchmark {
    @Param({"512x64x192", "512x64x256", "512x256x64", "512x64x65", "16384x384x1536", "16384x1536x384"})
    public String shape;
    @Param({"2"})
    public int threads;

    int N, C, OC;
    FloatPointer inp, w, b, out, dout, dinp, dw, db, ones;
    /**
     * A byte view of out whose position walks the rows for the bias copy (out itself stays at 0); a byte view
     * because JavaCPP offsets memcpy's void* arguments by position in bytes.
     */
    private BytePointer outRow;

    @Setup(Level.Trial)
    public void setup() {
        String[] p = shape.split("x");
        N = Integer.parseInt(p[0]);
        C = Integer.parseInt(p[1]);
        OC = Integer.parseInt(p[2]);
        OpenBlas.init(threads);
        System.out.println("# " + OpenBlas.describe());
        inp = random("inp", N * C);
        w = random("w", OC * C);
        b = random("b", OC);
        out = random("out", N * OC);
        dout = random("dout", N * OC);
        dinp = random("dinp", N * C);
        dw = random("dw", OC * C);
        db = random("db", OC);
        float[] one = new float[N];
        java.util.Arrays.fill(one, 1f);
        ones = new FloatPointer(one);
        outRow = new BytePointer(out);
    }

    /** Same values as {@link MatmulBenchmark}'s buffers of the same name. */
    private static FloatPointer random(String name, int n) {
        Rng rng = new Rng(name.hashCode());
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rng.nextDouble() - 0.5);
        }
        return new FloatPointer(a);
    }

    @Benchmark
    public void forward() {
        // our kernel starts every row from the bias too (Gemm.broadcastRows), then accumulates the product
        fillBiasRows();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1f, inp, C, w, C, 1f, out, OC);
    }

    /**
     * out = the bias in every row, with few JNI calls and without reading more than a cache-sized block: the bias
     * into row 0, rows doubled up to a block of about 256 KiB, then that block copied down the rest of out.
     */
    private void fillBiasRows() {
        long row = (long) OC * Float.BYTES, total = (long) N * row;
        long block = Math.min(total, Math.max(row, (256 * 1024 / row) * row));
        Pointer.memcpy(outRow.position(0), b, row);
        for (long done = row; done < block; done *= 2) {
            Pointer.memcpy(outRow.position(done), out, Math.min(done, block - done));
        }
        for (long at = block; at < total; at += block) {
            Pointer.memcpy(outRow.position(at), out, Math.min(block, total - at));
        }
    }

    @Benchmark
    public void backward_input() {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1f, dout, OC, w, C, 1f, dinp, C);
    }

    @Benchmark
    public void backward_weight() {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1f, dout, OC, inp, C, 1f, dw, C);
        cblas_sgemv(CblasRowMajor, CblasTrans, N, OC, 1f, dout, OC, ones, 1, 1f, db, 1);
    }

    @Benchmark
    public void backward() {
        backward_input();
        backward_weight();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (FloatPointer f : new FloatPointer[] {inp, w, b, out, dout, dinp, dw, db, ones}) {
            f.close();
        }
    }
}
