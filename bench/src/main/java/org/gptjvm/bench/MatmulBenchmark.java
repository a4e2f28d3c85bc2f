package org.gptjvm.bench;

import org.gptjvm.engine.FloatBuf;
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
import org.openjdk.jmh.annotations.Warmup;

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The Linear layer's kernels on the model's real shapes, N x C -> OC: "NxCxOC". Small config:
 * 512x64 -> 192 (qkv), 64 (proj), 256 (fc), 256 -> 64 (fc proj), 64 -> 65 (lm_head); lecture config:
 * 16384 x 384 -> 1152, 384, 1536 and 1536 -> 384.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx8g"})
public class MatmulBenchmark extends ProgramBenchmark {
    @Param({"reference", "cpu"})
    public String backend;
    @Param({"512x64x192", "512x64x256", "512x256x64", "512x64x65", "16384x384x1536", "16384x1536x384"})
    public String shape;
    @Param({"2"})
    public int threads;


    @Setup(Level.Trial)
    public void setup() {
        String[] p = shape.split("x");
        int N = Integer.parseInt(p[0]), C = Integer.parseInt(p[1]), OC = Integer.parseInt(p[2]);
        be = BenchBackends.create(backend, threads);
        FloatBuf inp = random("inp", N * C), w = random("w", OC * C), b = random("b", OC);
        FloatBuf out = random("out", N * OC), dout = random("dout", N * OC);
        FloatBuf dinp = random("dinp", N * C), dw = random("dw", OC * C), db = random("db", OC);
        forward = be.compile("fwd", List.of(be.matmulForward(out, inp, w, b, N, C, OC)));
        backward = be.compile("bwd", List.of(be.matmulBackward(dinp, dw, db, dout, inp, w, N, C, OC)));
        firstRuns();
    }
}
