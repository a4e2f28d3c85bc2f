package org.gptjvm.engine;

import org.gptjvm.engine.ref.ReferenceBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The counter-based dropout mask: rate, scale, and dependence on seed, salt and index. */
class DropoutMaskTest {

    static final int COUNT = 100_000;
    static final long SEED = 0x243F6A8885A308D3L;

    /** |observed - expected| within 5 binomial sigmas. */
    private static void assertBinomial(String what, int observed, int n, double p) {
        double sigma = Math.sqrt(n * p * (1 - p));
        assertTrue(Math.abs(observed - n * p) <= 5 * sigma,
                what + ": " + observed + " of " + n + ", expected " + n * p + " +- " + 5 * sigma);
    }

    @ParameterizedTest(name = "p={0}")
    @ValueSource(floats = {0.05f, 0.1f, 0.3f, 0.5f, 0.9f})
    void dropsAboutPAndScalesTheRest(float p) {
        float keep = 1.0f / (1.0f - p);
        int dropped = 0;
        double sum = 0;
        for (int i = 0; i < COUNT; i++) {
            float s = DropoutMask.scale(SEED, 7, i, p);
            if (s == 0f) {
                dropped++;
            } else {
                assertEquals(keep, s, "kept elements are scaled by exactly 1/(1-p)");
            }
            sum += s;
        }
        assertBinomial("dropped", dropped, COUNT, p);
        // inverted dropout keeps the expectation: mean factor ~ 1
        double sigmaMean = Math.sqrt(p / (1 - p) / COUNT);
        assertEquals(1.0, sum / COUNT, 5 * sigmaMean);
    }

    @Test
    void zeroProbabilityKeepsEverything() {
        for (int i = 0; i < 1000; i++) {
            assertEquals(1f, DropoutMask.scale(SEED, 3, i, 0f));
        }
    }

    @Test
    void uniformIsInUnitIntervalAndFlat() {
        int bins = 10;
        int[] hist = new int[bins];
        for (int i = 0; i < COUNT; i++) {
            float u = DropoutMask.uniform(SEED, 1, i);
            assertTrue(u >= 0f && u < 1f, "uniform out of [0,1): " + u);
            hist[(int) (u * bins)]++;
        }
        for (int b = 0; b < bins; b++) {
            assertBinomial("bin " + b, hist[b], COUNT, 1.0 / bins);
        }
    }

    @Test
    void isAPureFunction() {
        for (int i = 0; i < 1000; i += 7) {
            assertEquals(DropoutMask.uniform(SEED, 5, i), DropoutMask.uniform(SEED, 5, i));
        }
    }

    /** Two independent masks at rate p disagree on a fraction 2p(1-p) of elements. */
    private static int disagreements(long seedA, int saltA, long seedB, int saltB, float p) {
        int diff = 0;
        for (int i = 0; i < COUNT; i++) {
            boolean a = DropoutMask.scale(seedA, saltA, i, p) == 0f;
            boolean b = DropoutMask.scale(seedB, saltB, i, p) == 0f;
            if (a != b) {
                diff++;
            }
        }
        return diff;
    }

    @Test
    void maskDependsOnSeed() {
        float p = 0.3f;
        assertBinomial("seed vs seed+1", disagreements(SEED, 0, SEED + 1, 0, p), COUNT, 2 * p * (1 - p));
        assertBinomial("seed vs other seed", disagreements(SEED, 0, 0x1234L, 0, p), COUNT, 2 * p * (1 - p));
        // a seed differing only in its high word
        assertBinomial("high word", disagreements(SEED, 0, SEED ^ (1L << 40), 0, p), COUNT, 2 * p * (1 - p));
    }

    @Test
    void maskDependsOnSalt() {
        float p = 0.3f;
        assertBinomial("salt 0 vs 1", disagreements(SEED, 0, SEED, 1, p), COUNT, 2 * p * (1 - p));
        assertBinomial("salt 1 vs 2", disagreements(SEED, 1, SEED, 2, p), COUNT, 2 * p * (1 - p));
    }

    @Test
    void neighbouringIndicesAreUncorrelated() {
        // consecutive elements dropped together as often as independence predicts
        float p = 0.5f;
        int both = 0;
        for (int i = 0; i < COUNT; i++) {
            if (DropoutMask.scale(SEED, 2, i, p) == 0f && DropoutMask.scale(SEED, 2, i + 1, p) == 0f) {
                both++;
            }
        }
        assertBinomial("pairs dropped", both, COUNT, p * p);
    }

    @Test
    void seedWordsCombineLowFirst() {
        assertEquals(0x89ABCDEF01234567L, DropoutMask.seed(0x01234567, 0x89ABCDEF));
        // a negative low word must not sign-extend into the high word
        assertEquals(0x00000001FFFFFFFFL, DropoutMask.seed(-1, 1));
        assertEquals(0xFFFFFFFF00000000L, DropoutMask.seed(0, -1));
        long s = 0xDEADBEEFCAFEF00DL;
        assertEquals(s, DropoutMask.seed((int) s, (int) (s >>> 32)));
    }

    @Test
    void backendReadsTheSeedBufferAsLowThenHighWord() {
        // a Linear layer's dropout must use the same mask as DropoutMask with the combined 64-bit seed:
        // one input of ones through an identity weight, no residual, gives the mask's factors
        long s = 0xF00DFACE12345678L;
        int n = 257;
        float p = 0.4f;
        float[] ones = new float[n];
        java.util.Arrays.fill(ones, 1f);
        try (Backend be = new ReferenceBackend(2)) {
            FloatBuf out = be.allocFloat("out", n);
            KernelTestSupport.run(be, be.matmulResidualForward(out, be.allocFloat("zeros", n),
                    KernelTestSupport.buf(be, "x", ones), KernelTestSupport.buf(be, "one", new float[]{1f}), null,
                    KernelTestSupport.seedBuf(be, s), p, 6, n, 1, 1));
            float[] o = KernelTestSupport.read(be, out);
            for (int i = 0; i < n; i++) {
                assertEquals(DropoutMask.scale(s, 6, i, p), o[i]);
            }
        }
    }
}
