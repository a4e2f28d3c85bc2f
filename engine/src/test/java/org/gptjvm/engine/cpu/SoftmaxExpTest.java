package org.gptjvm.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * The cpu backend's own vector exp (a polynomial of exact operations) and the causal softmax row
 * built on it: accurate against Math.exp, and the same bits before and after the JIT compiles it.
 */
class SoftmaxExpTest {
    private static final float[] EDGES = {0f, -0f, -1e-30f, -1e-7f, -0.3465736f, -0.6931472f, -1f, -10f,
            -80f, -87f, -87.33654f, -87.3366f, -88f, -100f, -1e30f, Float.NEGATIVE_INFINITY, -Float.MIN_VALUE};

    private static float[] inputs(int n, long seed) {
        Random rnd = new Random(seed);
        float[] x = Arrays.copyOf(EDGES, n);
        for (int i = EDGES.length; i < n; i++) {
            x[i] = -90f * rnd.nextFloat() * rnd.nextFloat();
        }
        return x;
    }

    private static float[] vectorExp(float[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i += Gemm.L) {
            VectorMath.exp(FloatVector.fromArray(Gemm.S, x, i)).intoArray(y, i);
        }
        return y;
    }

    @Test
    void expIsWithinTwoUlpOfMathExpAndZeroBelowTheNormalRange() {
        float[] x = inputs(1 << 20, 1);
        float[] y = vectorExp(x);
        for (int i = 0; i < x.length; i++) {
            float want = (float) Math.exp(x[i]);
            if (x[i] < -87.33654f) {
                assertEquals(0f, y[i], "exp(" + x[i] + ")");
            } else {
                assertTrue(Math.abs(y[i] - want) <= 2 * Math.ulp(want), "exp(" + x[i] + ") = " + y[i] + ", Math.exp " + want);
            }
        }
        assertEquals(1f, y[0], "exp(0)"); // EDGES[0] is 0
    }

    @Test
    void expGivesTheSameBitsBeforeAndAfterJitCompilation() {
        float[] x = inputs(64 * Gemm.L, 2);
        float[] first = vectorExp(x);
        float[] later = first;
        for (int it = 0; it < 20_000; it++) {
            later = vectorExp(x);
        }
        assertTrue(Arrays.equals(first, later), "vector exp changed once compiled");
    }

    @Test
    void softmaxRowMatchesADoubleSoftmaxForEveryLength() {
        Random rnd = new Random(3);
        float scale = 0.25f;
        for (int n = 1; n <= 3 * Gemm.L + 3; n++) {
            float[] w = new float[n + 5];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) (rnd.nextGaussian() * 8);
            }
            float[] row = w.clone();
            Attention.softmaxRow(row, 2, n, scale);
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int i = 0; i < n; i++) {
                max = Math.max(max, (double) (w[2 + i] * scale));
            }
            for (int i = 0; i < n; i++) {
                sum += Math.exp(w[2 + i] * scale - max);
            }
            for (int i = 0; i < n; i++) {
                double want = Math.exp(w[2 + i] * scale - max) / sum;
                assertEquals(want, row[2 + i], 1e-6 * Math.max(want, 1e-3), "n=" + n + " i=" + i);
            }
            assertEquals(w[0], row[0]);
            assertEquals(w[1], row[1]);
            assertEquals(w[n + 2], row[n + 2], "past the row");
        }
    }
}
