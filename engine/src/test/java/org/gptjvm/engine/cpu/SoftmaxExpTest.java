package org.gptjvm.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * The cpu backend's own exp (a polynomial, so vector lanes and scalar tails agree) and the causal
 * softmax row built on it: accurate against Math.exp, the same bits in every form, and the same
 * bits before and after the JIT compiles it.
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
            VectorKernels.exp(FloatVector.fromArray(Gemm.S, x, i)).intoArray(y, i);
        }
        return y;
    }

    @Test
    void expIsWithinTwoUlpOfMathExpAndZeroBelowTheNormalRange() {
        float[] x = inputs(1 << 20, 1);
        for (float v : x) {
            float got = VectorKernels.exp(v);
            float want = (float) Math.exp(v);
            if (v < -87.33654f) {
                assertEquals(0f, got, "exp(" + v + ")");
            } else {
                assertTrue(Math.abs(got - want) <= 2 * Math.ulp(want), "exp(" + v + ") = " + got + ", Math.exp " + want);
            }
        }
        assertEquals(1f, VectorKernels.exp(0f));
    }

    @Test
    void vectorLanesEqualTheScalarFormBeforeAndAfterJitCompilation() {
        float[] x = inputs(64 * Gemm.L, 2);
        float[] first = vectorExp(x);
        for (int i = 0; i < x.length; i++) {
            assertEquals(Float.floatToRawIntBits(VectorKernels.exp(x[i])), Float.floatToRawIntBits(first[i]),
                    "lane and scalar differ at " + x[i]);
        }
        float[] later = first;
        for (int it = 0; it < 20_000; it++) {
            later = vectorExp(x);
        }
        assertTrue(Arrays.equals(first, later), "vector exp changed once compiled");
        for (int i = 0; i < x.length; i++) {
            assertEquals(Float.floatToRawIntBits(VectorKernels.exp(x[i])), Float.floatToRawIntBits(later[i]),
                    "scalar exp changed once compiled, at " + x[i]);
        }
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
            VectorKernels.softmaxRow(row, 2, n, scale);
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
