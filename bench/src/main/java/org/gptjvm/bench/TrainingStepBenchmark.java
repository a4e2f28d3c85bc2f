package org.gptjvm.bench;

import org.gptjvm.engine.Backend;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.Rng;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.train.Optimizer;
import org.gptjvm.model.train.Preset;
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
 * One whole training step (forward, backward, AdamW) per backend and config, on random tokens
 * (the timing does not depend on which tokens). Run with -prof gc to see the allocation per step.
 *
 * <p>The backends are the {@code backend} parameter's: reference and cpu unless {@code -p backend=}
 * names others. {@code bench/run-all.sh} names every backend its build has, tornado included where
 * TornadoVM is installed, and gives the forks TornadoVM's JVM flags. Each step ends with the loss
 * read back to the host ({@link Gpt#forwardBackward}), so on a device backend it waits for the
 * device's work, and the next step's waits for this step's AdamW. The setup runs one step untimed:
 * a device backend compiles its kernels on their first run (tens of seconds on some drivers), which
 * is no step's time. Each trial notes its device for the report ({@link Devices}).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx12g"})
public class TrainingStepBenchmark {
    @Param({"reference", "cpu"})
    public String backend;
    @Param({"small"})
    public String config;
    @Param({"2"})
    public int threads;

    private Backend be;
    private Gpt gpt;
    private int[] x, y;
    private long step;
    private Optimizer opt;

    @Setup(Level.Trial)
    public void setup() {
        Preset preset = Preset.valueOf(config);
        GptConfig cfg = preset.config(65);
        int B = preset.batchSize;
        be = BenchBackends.create(backend, threads);
        gpt = new Gpt(be, cfg);
        opt = new Optimizer(gpt, Optimizer.Settings.PYTORCH);
        gpt.params.initialize(Seeds.init(1337));
        Rng rng = new Rng(1);
        x = new int[B * cfg.blockSize()];
        y = new int[x.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = rng.nextInt(65);
            y[i] = rng.nextInt(65);
        }
        step(); // compiles a device backend's kernels
    }

    @Benchmark
    public float step() {
        float loss = gpt.forwardBackward(x, y, step);
        opt.step(++step, 1e-3, 1.0);
        return loss;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        be.close();
    }
}
