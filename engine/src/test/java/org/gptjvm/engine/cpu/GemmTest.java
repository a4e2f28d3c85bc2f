package org.gptjvm.engine.cpu;

import static org.gptjvm.engine.cpu.CpuTestSupport.randn;
import static org.gptjvm.engine.cpu.CpuTestSupport.relErr;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * {@link Gemm} directly: against a naive double triple loop, with plain and transposed (strided) A,
 * padded leading dimensions, non-zero offsets and arrays of exactly the size addressed (so a vector
 * access past the last element would throw); row splits are bit-identical to one call, which is
 * what makes the backend's results independent of the thread count.
 */
class GemmTest {
    static final double TOL = 1e-5;
    static final CpuTestSupport.MaxErrors MAX = new CpuTestSupport.MaxErrors();

    @AfterAll
    static void printWorst() {
        MAX.print("gemm");
    }

    /** One product C[M x n] += A[M x K] B[K x n] laid out in arrays with offsets and strides. */
    record Case(int M, int n, int K, boolean transposedA, int aOff, int sam, int sak, int bOff, int ldb,
                int cOff, int ldc, float[] a, float[] b, float[] c0) {

        static Case random(Random rnd, int M, int n, int K, boolean transposedA, boolean padded) {
            int aOff = 1 + rnd.nextInt(9), bOff = 1 + rnd.nextInt(9), cOff = 1 + rnd.nextInt(9);
            int padA = padded ? rnd.nextInt(5) : 0, padB = padded ? rnd.nextInt(5) : 0;
            int padC = padded ? rnd.nextInt(5) : 0;
            int sam, sak, aLen;
            if (transposedA) { // A stored as K x M (row k holds A[., k]): element (m, k) at k*(M+pad) + m
                sam = 1;
                sak = M + padA;
                aLen = aOff + (K - 1) * sak + M;
            } else {
                sam = K + padA;
                sak = 1;
                aLen = aOff + (M - 1) * sam + K;
            }
            int ldb = n + padB, ldc = n + padC;
            float[] a = randn(rnd, aLen, 1), b = randn(rnd, bOff + (K - 1) * ldb + n, 1);
            float[] c0 = randn(rnd, cOff + (M - 1) * ldc + n, 1);
            return new Case(M, n, K, transposedA, aOff, sam, sak, bOff, ldb, cOff, ldc, a, b, c0);
        }

        void gemm(float[] c, int m0, int m1) {
            Gemm.gemm(m0, m1, n, K, a, aOff, sam, sak, b, bOff, ldb, c, cOff, ldc, new float[Gemm.panelFloats(n, K)]);
        }

        float[] full() {
            float[] c = c0.clone();
            gemm(c, 0, M);
            return c;
        }

        /** The expected C over all of its array: c0 plus the product on the addressed elements. */
        double[] naive(int m0, int m1) {
            double[] e = new double[c0.length];
            for (int i = 0; i < e.length; i++) {
                e[i] = c0[i];
            }
            for (int m = m0; m < m1; m++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int k = 0; k < K; k++) {
                        s += (double) a[aOff + m * sam + k * sak] * b[bOff + k * ldb + j];
                    }
                    e[cOff + m * ldc + j] += s;
                }
            }
            return e;
        }

        /** The increments only (rows [m0,m1), columns [0,n)), for a sharper error than the total. */
        double incrementError(float[] c, double[] e, int m0, int m1) {
            double diff = 0, ref = 0;
            for (int m = m0; m < m1; m++) {
                for (int j = 0; j < n; j++) {
                    int i = cOff + m * ldc + j;
                    double want = e[i] - c0[i], got = (double) c[i] - c0[i];
                    diff += (got - want) * (got - want);
                    ref += want * want;
                }
            }
            return ref == 0 ? Math.sqrt(diff) : Math.sqrt(diff / ref);
        }

        /** Every element gemm must not touch (offset, padding, rows outside [m0,m1)) is bit-unchanged. */
        void assertUntouchedOutside(float[] c, int m0, int m1) {
            for (int i = 0; i < c.length; i++) {
                int r = i - cOff;
                boolean inside = r >= 0 && r / ldc >= m0 && r / ldc < m1 && r % ldc < n;
                if (!inside) {
                    assertEquals(Float.floatToRawIntBits(c0[i]), Float.floatToRawIntBits(c[i]),
                            this + ": element " + i + " outside the product was written");
                }
            }
        }

        @Override
        public String toString() {
            return "M=" + M + " n=" + n + " K=" + K + (transposedA ? " A^T" : " A") + " sam=" + sam + " sak=" + sak
                    + " aOff=" + aOff + " bOff=" + bOff + " ldb=" + ldb + " cOff=" + cOff + " ldc=" + ldc;
        }
    }

    private static void check(Case cs, float[] c, int m0, int m1) {
        double[] e = cs.naive(m0, m1);
        double total = relErr(c, e), inc = cs.incrementError(c, e, m0, m1);
        String kind = cs.transposedA() ? "gemm A^T" : "gemm A";
        MAX.add(kind + " (total)", total);
        MAX.add(kind + " (increment)", inc);
        assertTrue(total < TOL && inc < TOL, cs + " rows [" + m0 + "," + m1 + "): error " + total
                + ", increment error " + inc);
        cs.assertUntouchedOutside(c, m0, m1);
    }

    @Test
    void randomShapesMatchNaiveProduct() {
        Random rnd = new Random(20240601);
        for (int it = 0; it < 400; it++) {
            int M = 1 + rnd.nextInt(70), n = 1 + rnd.nextInt(70), K = 1 + rnd.nextInt(70);
            Case cs = Case.random(rnd, M, n, K, it % 2 == 1, it % 4 >= 2);
            check(cs, cs.full(), 0, M);
        }
    }

    @Test
    void edgeShapesMatchNaiveProduct() {
        // tile boundaries around 4 rows and 4 vectors of columns, single rows/columns, and K across the
        // k-block (256) boundary
        int L = Gemm.L;
        int[] ms = {1, 3, 4, 5, 8, 9};
        int[] ns = {1, L - 1, L, L + 1, 4 * L - 1, 4 * L, 4 * L + 1, 5 * L + 3};
        int[] ks = {1, 2, 17};
        Random rnd = new Random(99);
        for (int M : ms) {
            for (int n : ns) {
                for (int K : ks) {
                    for (boolean t : new boolean[] {false, true}) {
                        Case cs = Case.random(rnd, M, n, K, t, true);
                        check(cs, cs.full(), 0, M);
                    }
                }
            }
        }
        for (int K : new int[] {255, 256, 257, 600}) {
            for (boolean t : new boolean[] {false, true}) {
                Case cs = Case.random(rnd, 9, 4 * L + 5, K, t, true);
                check(cs, cs.full(), 0, 9);
            }
        }
    }

    @Test
    void subRangeOfRowsTouchesOnlyThoseRows() {
        Random rnd = new Random(7);
        for (int it = 0; it < 60; it++) {
            int M = 1 + rnd.nextInt(70), n = 1 + rnd.nextInt(70), K = 1 + rnd.nextInt(70);
            Case cs = Case.random(rnd, M, n, K, rnd.nextBoolean(), true);
            int m0 = rnd.nextInt(M + 1), m1 = m0 + rnd.nextInt(M - m0 + 1);
            float[] c = cs.c0().clone();
            cs.gemm(c, m0, m1);
            check(cs, c, m0, m1);
        }
    }

    @Test
    void rowSplitsAreBitIdenticalToOneCall() {
        Random rnd = new Random(4242);
        for (int it = 0; it < 40; it++) {
            int M = 1 + rnd.nextInt(70), n = 1 + rnd.nextInt(70), K = 1 + rnd.nextInt(70);
            if (it < 4) {
                K = 250 + rnd.nextInt(300); // across the k-block boundary too
            }
            Case cs = Case.random(rnd, M, n, K, it % 2 == 0, it % 3 == 0);
            float[] whole = cs.full();
            for (int s = 0; s <= M; s++) {
                float[] c = cs.c0().clone();
                cs.gemm(c, 0, s);
                cs.gemm(c, s, M);
                assertTrue(Arrays.equals(whole, c), cs + ": split at " + s + " differs from one call");
            }
            // three parts, in reverse order of execution
            int s1 = rnd.nextInt(M + 1), s2 = s1 + rnd.nextInt(M - s1 + 1);
            float[] c = cs.c0().clone();
            cs.gemm(c, s2, M);
            cs.gemm(c, s1, s2);
            cs.gemm(c, 0, s1);
            assertTrue(Arrays.equals(whole, c), cs + ": split at " + s1 + "," + s2 + " differs from one call");
        }
    }

    @Test
    void transposeIsCorrect() {
        Random rnd = new Random(3);
        int[][] shapes = {{1, 1}, {1, 70}, {70, 1}, {31, 33}, {32, 32}, {33, 65}, {192, 64}, {65, 64}, {64, 256}, {100, 17}};
        for (int it = 0; it < shapes.length + 30; it++) {
            int rows = it < shapes.length ? shapes[it][0] : 1 + rnd.nextInt(70);
            int cols = it < shapes.length ? shapes[it][1] : 1 + rnd.nextInt(70);
            float[] src = randn(rnd, rows * cols, 1);
            float[] dst = randn(rnd, rows * cols, 1); // garbage: every element must be overwritten
            // in two parts split anywhere, as two threads would take them (gathers, then a scalar tail)
            int split = rnd.nextInt(rows + 1);
            int[] map = Gemm.transposeMap(cols);
            Gemm.transposeRows(src, dst, rows, cols, map, split, rows);
            Gemm.transposeRows(src, dst, rows, cols, map, 0, split);
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    assertEquals(src[r * cols + c], dst[c * rows + r], rows + "x" + cols + " at " + r + "," + c);
                }
            }
        }
    }

    @Test
    void broadcastRowsCopiesBiasOrZeroes() {
        Random rnd = new Random(11);
        int n = 13, rows = 6;
        float[] bias = randn(rnd, n, 1), out = randn(rnd, rows * n, 1), before = out.clone();
        Gemm.broadcastRows(out, bias, 2, 5, n);
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < n; j++) {
                float want = r >= 2 && r < 5 ? bias[j] : before[r * n + j];
                assertEquals(want, out[r * n + j]);
            }
        }
        Gemm.broadcastRows(out, null, 0, 3, n);
        for (int i = 0; i < 3 * n; i++) {
            assertEquals(0f, out[i]);
        }
    }
}
