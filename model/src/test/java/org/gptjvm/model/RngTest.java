package org.gptjvm.model;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RngTest {

    @Test
    void nextIntStaysInBounds() {
        Rng rng = new Rng(123);
        for (int bound : new int[]{1, 2, 3, 7, 65, 1000, 1 << 30, (1 << 30) + 1, Integer.MAX_VALUE}) {
            for (int i = 0; i < 20_000; i++) {
                int v = rng.nextInt(bound);
                assertTrue(v >= 0 && v < bound, v + " not in [0, " + bound + ")");
            }
        }
        assertThrows(IllegalArgumentException.class, () -> rng.nextInt(0));
        assertThrows(IllegalArgumentException.class, () -> rng.nextInt(-5));
    }

    @Test
    void nextIntIsRoughlyUniform() {
        Rng rng = new Rng(2024);
        int k = 10, n = 100_000;
        int[] counts = new int[k];
        for (int i = 0; i < n; i++) {
            counts[rng.nextInt(k)]++;
        }
        double expected = (double) n / k, chi2 = 0;
        for (int c : counts) {
            chi2 += (c - expected) * (c - expected) / expected;
        }
        System.out.printf("nextInt(10) chi-square over %d draws: %.2f (9 dof)%n", n, chi2);
        assertTrue(chi2 < 30, "chi-square " + chi2); // p < 0.0005 for 9 degrees of freedom

        // a large bound that is not a power of two: mean and halves
        int bound = 3 * (1 << 29) + 17;
        double sum = 0;
        int low = 0;
        for (int i = 0; i < n; i++) {
            int v = rng.nextInt(bound);
            sum += v;
            if (v < bound / 2) {
                low++;
            }
        }
        assertEquals(0.5, sum / n / bound, 0.01);
        assertEquals(0.5, (double) low / n, 0.01);
    }

    @Test
    void stateResumesTheExactSequence() {
        Rng rng = new Rng(99);
        for (int i = 0; i < 17; i++) {
            rng.nextLong();
        }
        long saved = rng.state();
        double[] first = draws(rng);
        rng.setState(saved);
        double[] again = draws(rng);
        assertEquals(java.util.Arrays.toString(first), java.util.Arrays.toString(again));
        Rng fresh = new Rng(0);
        fresh.setState(saved);
        assertEquals(java.util.Arrays.toString(first), java.util.Arrays.toString(draws(fresh)));
        assertEquals(java.util.Arrays.toString(first), java.util.Arrays.toString(draws(new Rng(saved))));
    }

    private static double[] draws(Rng rng) {
        double[] a = new double[300];
        for (int i = 0; i < a.length; i += 3) {
            a[i] = rng.nextInt(1000);
            a[i + 1] = rng.nextGaussian();
            a[i + 2] = rng.nextDouble();
        }
        return a;
    }

    @Test
    void gaussianHasMeanZeroAndStdOne() {
        Rng rng = new Rng(7);
        int n = 100_000;
        double sum = 0, sq = 0;
        int beyond2 = 0;
        for (int i = 0; i < n; i++) {
            double g = rng.nextGaussian();
            assertTrue(Double.isFinite(g));
            sum += g;
            sq += g * g;
            if (Math.abs(g) > 2) {
                beyond2++;
            }
        }
        double mean = sum / n, std = Math.sqrt(sq / n - mean * mean);
        System.out.printf("nextGaussian over %d draws: mean %.5f, std %.5f, P(|g|>2) %.4f%n", n, mean, std,
                (double) beyond2 / n);
        assertEquals(0, mean, 0.015);
        assertEquals(1, std, 0.015);
        assertEquals(0.0455, (double) beyond2 / n, 0.005);
    }

    @Test
    void nextDoubleIsInUnitInterval() {
        Rng rng = new Rng(5);
        double sum = 0;
        for (int i = 0; i < 100_000; i++) {
            double d = rng.nextDouble();
            assertTrue(d >= 0 && d < 1);
            sum += d;
        }
        assertEquals(0.5, sum / 100_000, 0.01);
    }

    @Test
    void seedStreamsAreIndependentAndDeterministic() {
        long[] a = {Seeds.init(1).nextLong(), Seeds.data(1).nextLong(), Seeds.dropout(1).nextLong(),
                Seeds.sample(1).nextLong()};
        for (int i = 0; i < a.length; i++) {
            for (int j = i + 1; j < a.length; j++) {
                assertNotEquals(a[i], a[j]);
            }
        }
        assertEquals(a[0], Seeds.init(1).nextLong());
        assertNotEquals(a[0], Seeds.init(2).nextLong());
        assertNotEquals(new Rng(1).nextLong(), new Rng(2).nextLong());
    }
}
