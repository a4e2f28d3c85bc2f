package org.gptjvm.bench;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.Program;
import org.gptjvm.model.Rng;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What the kernel benchmarks share: a backend, a forward and a backward {@link Program} built by the
 * subclass's setup, buffers of deterministic random values, and the two timed methods.
 */
public abstract class ProgramBenchmark {
    protected Backend be;
    protected Program forward, backward;

    protected FloatBuf random(String name, int n) {
        Rng rng = new Rng(name.hashCode());
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rng.nextDouble() - 0.5);
        }
        FloatBuf buf = be.allocFloat(name, n);
        be.write(buf, a);
        return buf;
    }

    /**
     * Runs both programs once, untimed: a device backend compiles a program's kernels on its first
     * run (seconds on some drivers), which is no operation's time. The subclass's setup ends with it.
     */
    protected void firstRuns() {
        forward.run();
        backward.run();
    }

    @Benchmark
    public void forward() {
        forward.run();
    }

    @Benchmark
    public void backward() {
        backward.run();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        be.close();
    }
}
