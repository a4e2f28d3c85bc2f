package org.gptjvm.engine.host;

import org.gptjvm.engine.conformance.Conformance;
import org.gptjvm.engine.conformance.KernelConformance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;

/**
 * The host backends give the same bits for any thread count: every kernel of the conformance suite,
 * on each of its shapes (whose rows, channels and heads split unevenly over 2, 3 and 4 threads), on
 * 1 to 4 threads.
 */
class HostThreadsTest {

    @ParameterizedTest
    @ValueSource(strings = {"reference", "cpu"})
    void everyKernelGivesTheSameBitsOnOneToFourThreads(String backend) {
        for (Conformance.Shape s : Conformance.SHAPES) {
            Map<String, float[]> one = Conformance.outputs(backend, 1, s.hashCode(), c -> KernelConformance.everything(c, s));
            for (int threads = 2; threads <= 4; threads++) {
                Map<String, float[]> other = Conformance.outputs(backend, threads, s.hashCode(),
                        c -> KernelConformance.everything(c, s));
                Conformance.assertSameBits(backend + " " + s + ", 1 and " + threads + " threads", one, other);
            }
        }
    }
}
