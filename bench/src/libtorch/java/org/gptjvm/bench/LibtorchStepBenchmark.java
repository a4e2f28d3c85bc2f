package org.gptjvm.bench;

import org.gptjvm.baseline.DjlStepSession;
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

/**
 * The baseline for TrainingStepBenchmark: the same model's training step in official libtorch 2.7.1
 * CPU, driven from Java through DJL 0.36 (profile libtorch; see baseline-djl/README.md). Same JMH
 * settings and parameters as TrainingStepBenchmark, so one JMH run times both:
 * {@code java -jar bench/target/benchmarks.jar "(TrainingStep|LibtorchStep)Benchmark" -p backend=cpu -p config=small}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx12g", "-Dai.djl.offline=true"})
public class LibtorchStepBenchmark {
    @Param({"small"})
    public String config;
    @Param({"2"})
    public int threads;

    private DjlStepSession session;

    @Setup(Level.Trial)
    public void setUp() {
        System.setProperty("ai.djl.pytorch.num_threads", String.valueOf(threads));
        System.setProperty("ai.djl.pytorch.num_interop_threads", String.valueOf(threads));
        session = new DjlStepSession(config);
    }

    @Benchmark
    public float step() {
        return session.step();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        session.close();
    }
}
