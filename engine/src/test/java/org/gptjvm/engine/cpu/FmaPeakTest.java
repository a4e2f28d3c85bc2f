package org.gptjvm.engine.cpu;

import org.gptjvm.engine.host.WorkerPool;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The peak measurement does the multiply-adds it counts, and gives a finite rate on every thread count. */
class FmaPeakTest {
    @Test
    void theChainsAreTwelveMultiplyAddChainsOfTheGivenLength() {
        for (int n : new int[]{0, 1, 7, 1000}) {
            float c = 1f;
            for (int i = 0; i < n; i++) {
                c = Math.fma(c, 0.999f, 1e-3f);
            }
            float sum = c;
            for (int chain = 1; chain < FmaPeak.CHAINS; chain++) {
                sum += c;
            }
            assertEquals(sum, FmaPeak.chains(n), "n = " + n);
        }
    }

    @Test
    void theRateIsPositiveAndFiniteForOneAndTwoThreads() {
        for (int threads = 1; threads <= 2; threads++) {
            try (WorkerPool pool = new WorkerPool(threads)) {
                double g = FmaPeak.gflops(pool);
                assertTrue(g > 0 && Double.isFinite(g), threads + " threads: " + g);
            }
        }
    }
}
