package org.gptjvm.engine.cpu;

import jdk.incubator.vector.FloatVector;
import org.gptjvm.engine.host.WorkerPool;

import static org.gptjvm.engine.cpu.Gemm.L;
import static org.gptjvm.engine.cpu.Gemm.S;

/**
 * How fast this machine does the cpu backend's arithmetic at best, measured: every thread of the
 * pool runs {@link #CHAINS} independent chains of vector multiply-adds on {@link Gemm}'s vectors,
 * from registers, with no memory traffic. Twelve chains are more than the multiply-add latency
 * times the issue rate of current x86 and ARM cores, so the loop runs at the FMA units' rate.
 * No kernel can go faster: a benchmark's GFLOP/s over this is the share of the machine it used.
 * Measured, not taken from a datasheet, because a virtual machine's cores may be hyper-threads of
 * one physical core, throttled, or shared.
 */
final class FmaPeak {
    static final int CHAINS = 12;
    /** Iterations of one timed round per thread (with 512-bit vectors 805 MFLOP: about 10 ms at 80 GFLOP/s a core). */
    private static final int ROUND = 1 << 21;

    private FmaPeak() {
    }

    /** GFLOP/s (a multiply-add counts two) of all the pool's threads together: the best of several rounds. */
    static double gflops(WorkerPool pool) {
        int threads = pool.threads();
        float[] sink = new float[threads];
        WorkerPool.PartTask task = (p, a, b) -> sink[p] += chains(ROUND);
        for (int i = 0; i < 40; i++) { // until the JIT has compiled the loop
            chains(ROUND / 64);
        }
        double best = 0;
        for (int round = 0; round < 8; round++) {
            long t0 = System.nanoTime();
            pool.parallelForParts(threads, task);
            double seconds = (System.nanoTime() - t0) / 1e9;
            best = Math.max(best, 2.0 * CHAINS * L * ROUND * threads / seconds / 1e9);
        }
        if (Float.isNaN(sink[0])) { // never true; keeps the chains from being optimised away
            throw new AssertionError();
        }
        return best;
    }

    /** {@code n} steps of {@link #CHAINS} independent multiply-adds; returns a value that depends on all of them. */
    static float chains(int n) {
        FloatVector x = FloatVector.broadcast(S, 0.999f), y = FloatVector.broadcast(S, 1e-3f);
        FloatVector c0 = FloatVector.broadcast(S, 1f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0,
                c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int i = 0; i < n; i++) {
            c0 = c0.fma(x, y);
            c1 = c1.fma(x, y);
            c2 = c2.fma(x, y);
            c3 = c3.fma(x, y);
            c4 = c4.fma(x, y);
            c5 = c5.fma(x, y);
            c6 = c6.fma(x, y);
            c7 = c7.fma(x, y);
            c8 = c8.fma(x, y);
            c9 = c9.fma(x, y);
            c10 = c10.fma(x, y);
            c11 = c11.fma(x, y);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11).lane(0);
    }
}
