package org.gptjvm.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The one matrix product every Linear layer needs, forward and backward:
 * {@code C[m, j] += sum_k A[m, k] * B[k, j]} for rows m in [m0, m1), with A read through strides
 * (so A can be a transposed view) and B and C row-major.
 *
 * <p>Register tiling: 6 rows of C by 4 vectors of columns (24 accumulators of 16 lanes with
 * AVX-512; 4 rows where vectors are narrower and registers fewer) stay in registers over a block of
 * k; each step broadcasts one A element per row and loads 4 vectors of a B row. With many rows, a
 * k block's B panels are packed once and A is taken a block of rows at a time (see packedBlock). The
 * k order is fixed for every element, whoever computes it, so the result does not depend on how rows
 * are split across threads, nor on the tile that computes it.
 */
final class Gemm {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    private static final int MR = 4;
    /** 6-row tiles need 29 vector registers: AVX-512 has 32; AVX2's 16 would spill. */
    private static final boolean SIX_ROWS = L >= 16;
    /**
     * Largest k block. K is cut into equal blocks of at most this many (384 stays whole, 1536 is 3 x 512):
     * C's tiles are loaded and stored once per block, and a smaller block buys nothing, since B's
     * panels for the wide layers outgrow L2 whatever the block.
     */
    private static final int KC = 512;
    private static final int PACK_MIN_ROWS = 64;
    /**
     * Rows of A per block: MC x kc floats (at most 240 KiB) stay in L2 while B's panels stream past.
     * A multiple of 6, so a block is whole 6-row tiles.
     */
    private static final int MC = 120;
    private Gemm() {
    }

    /**
     * Floats of packed panels enough for a product of at most n columns over at most K: one k block
     * of every whole panel of B.
     */
    static int panelFloats(int n, int K) {
        return n / (4 * L) * (4 * L) * Math.min(K, KC);
    }

    /**
     * @param a      A's array; element (m, k) is {@code a[aOff + m*sam + k*sak]}
     * @param b      B (K x n), row-major with row stride ldb
     * @param c      C (M x n), row-major with row stride ldc; accumulated into
     * @param panels the calling thread's work space for packed panels of B, at least {@link #panelFloats}(n, K)
     */
    static void gemm(int m0, int m1, int n, int K, float[] a, int aOff, int sam, int sak, float[] b, int bOff,
                     int ldb, float[] c, int cOff, int ldc, float[] panels) {
        int nv = (n / (4 * L)) * (4 * L);
        boolean pack = m1 - m0 >= PACK_MIN_ROWS && ldb != 4 * L;
        int blocks = (K + KC - 1) / KC, kc = (K + blocks - 1) / blocks;
        for (int k0 = 0; k0 < K; k0 += kc) {
            int k1 = Math.min(K, k0 + kc);
            if (pack) {
                packedBlock(m0, m1, nv, k0, k1, a, aOff, sam, sak, b, bOff, ldb, c, cOff, ldc, panels);
            } else {
                for (int j = 0; j < nv; j += 4 * L) {
                    int m = m0;
                    for (; SIX_ROWS && m + 6 <= m1; m += 6) {
                        tile6x4(m, 0, k0, k1, a, aOff, sam, sak, b, bOff + j, ldb, c, cOff + j, ldc);
                    }
                    for (; m + MR <= m1; m += MR) {
                        tile4x4(m, 0, k0, k1, a, aOff, sam, sak, b, bOff + j, ldb, c, cOff + j, ldc);
                    }
                    for (; m < m1; m++) {
                        rest(m, j, j + 4 * L, k0, k1, a, aOff, sam, sak, b, bOff, ldb, c, cOff, ldc);
                    }
                }
            }
            if (nv < n) {
                // narrow leftovers (attention's T-wide blocks at small T, say): whole vectors four
                // rows at a time, so four FMA chains overlap, then any last columns row by row
                int nf = nv + (n - nv) / L * L;
                int m = m0;
                for (; m + MR <= m1; m += MR) {
                    for (int j = nv; j < nf; j += L) {
                        tile4x1(m, j, k0, k1, a, aOff, sam, sak, b, bOff, ldb, c, cOff, ldc);
                    }
                }
                int tiled = m;
                for (; m < m1; m++) {
                    rest(m, nv, n, k0, k1, a, aOff, sam, sak, b, bOff, ldb, c, cOff, ldc);
                }
                int r = m0;
                for (; r + 2 * MR <= tiled; r += 2 * MR) {
                    for (int j = nf; j < n; j++) {
                        column8(r, j, k0, k1, a, aOff, sam, sak, b, bOff, ldb, c, cOff, ldc);
                    }
                }
                for (; r < tiled; r += MR) {
                    for (int j = nf; j < n; j++) {
                        column4(r, j, k0, k1, a, aOff, sam, sak, b, bOff, ldb, c, cOff, ldc);
                    }
                }
            }
        }
    }

    /**
     * One k block with enough rows to amortise packing: every KC x 4L panel of B is copied once into
     * a contiguous buffer (rows a cache line apart, not a matrix row apart: TLB and prefetch friendly),
     * then rows are taken MC at a time, so that block of A stays in L2 while all panels stream past it.
     * Each element still sums its k in order, so the result is the unpacked one, bit for bit.
     */
    private static void packedBlock(int m0, int m1, int nv, int k0, int k1, float[] a, int aOff, int sam, int sak,
                                    float[] b, int bOff, int ldb, float[] c, int cOff, int ldc, float[] panels) {
        int kc = k1 - k0, panelSize = kc * 4 * L;
        for (int j = 0, p = 0; j < nv; j += 4 * L, p += panelSize) {
            for (int k = k0; k < k1; k++) {
                System.arraycopy(b, bOff + k * ldb + j, panels, p + (k - k0) * 4 * L, 4 * L);
            }
        }
        for (int mb = m0; mb < m1; mb += MC) {
            int me = Math.min(m1, mb + MC);
            for (int j = 0, p = 0; j < nv; j += 4 * L, p += panelSize) {
                int m = mb;
                for (; SIX_ROWS && m + 6 <= me; m += 6) {
                    tile6x4(m, 0, k0, k1, a, aOff, sam, sak, panels, p - k0 * 4 * L, 4 * L, c, cOff + j, ldc);
                }
                for (; m + MR <= me; m += MR) {
                    tile4x4(m, 0, k0, k1, a, aOff, sam, sak, panels, p - k0 * 4 * L, 4 * L, c, cOff + j, ldc);
                }
                for (; m < me; m++) {
                    rest(m, j, j + 4 * L, k0, k1, a, aOff, sam, sak, b, bOff, ldb, c, cOff, ldc);
                }
            }
        }
    }

    /**
     * The main tile: 6 rows of C by 4 vectors, 24 accumulators, so 29 of AVX-512's 32 vector registers
     * are busy and each loaded B vector feeds six FMAs (four in {@link #tile4x4}). Same k order as
     * every other tile.
     */
    private static void tile6x4(int m, int j, int k0, int k1, float[] a, int aOff, int sam, int sak,
                                float[] b, int bOff, int ldb, float[] c, int cOff, int ldc) {
        int c0 = cOff + m * ldc + j, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc, c4 = c3 + ldc, c5 = c4 + ldc;
        FloatVector x00 = FloatVector.fromArray(S, c, c0), x01 = FloatVector.fromArray(S, c, c0 + L);
        FloatVector x02 = FloatVector.fromArray(S, c, c0 + 2 * L), x03 = FloatVector.fromArray(S, c, c0 + 3 * L);
        FloatVector x10 = FloatVector.fromArray(S, c, c1), x11 = FloatVector.fromArray(S, c, c1 + L);
        FloatVector x12 = FloatVector.fromArray(S, c, c1 + 2 * L), x13 = FloatVector.fromArray(S, c, c1 + 3 * L);
        FloatVector x20 = FloatVector.fromArray(S, c, c2), x21 = FloatVector.fromArray(S, c, c2 + L);
        FloatVector x22 = FloatVector.fromArray(S, c, c2 + 2 * L), x23 = FloatVector.fromArray(S, c, c2 + 3 * L);
        FloatVector x30 = FloatVector.fromArray(S, c, c3), x31 = FloatVector.fromArray(S, c, c3 + L);
        FloatVector x32 = FloatVector.fromArray(S, c, c3 + 2 * L), x33 = FloatVector.fromArray(S, c, c3 + 3 * L);
        FloatVector x40 = FloatVector.fromArray(S, c, c4), x41 = FloatVector.fromArray(S, c, c4 + L);
        FloatVector x42 = FloatVector.fromArray(S, c, c4 + 2 * L), x43 = FloatVector.fromArray(S, c, c4 + 3 * L);
        FloatVector x50 = FloatVector.fromArray(S, c, c5), x51 = FloatVector.fromArray(S, c, c5 + L);
        FloatVector x52 = FloatVector.fromArray(S, c, c5 + 2 * L), x53 = FloatVector.fromArray(S, c, c5 + 3 * L);
        int a0 = aOff + m * sam, a1 = a0 + sam, a2 = a1 + sam, a3 = a2 + sam, a4 = a3 + sam, a5 = a4 + sam;
        for (int k = k0; k < k1; k++) {
            int bk = bOff + k * ldb + j;
            FloatVector b0 = FloatVector.fromArray(S, b, bk), b1 = FloatVector.fromArray(S, b, bk + L);
            FloatVector b2 = FloatVector.fromArray(S, b, bk + 2 * L), b3 = FloatVector.fromArray(S, b, bk + 3 * L);
            int ak = k * sak;
            FloatVector v = FloatVector.broadcast(S, a[a0 + ak]);
            x00 = v.fma(b0, x00);
            x01 = v.fma(b1, x01);
            x02 = v.fma(b2, x02);
            x03 = v.fma(b3, x03);
            v = FloatVector.broadcast(S, a[a1 + ak]);
            x10 = v.fma(b0, x10);
            x11 = v.fma(b1, x11);
            x12 = v.fma(b2, x12);
            x13 = v.fma(b3, x13);
            v = FloatVector.broadcast(S, a[a2 + ak]);
            x20 = v.fma(b0, x20);
            x21 = v.fma(b1, x21);
            x22 = v.fma(b2, x22);
            x23 = v.fma(b3, x23);
            v = FloatVector.broadcast(S, a[a3 + ak]);
            x30 = v.fma(b0, x30);
            x31 = v.fma(b1, x31);
            x32 = v.fma(b2, x32);
            x33 = v.fma(b3, x33);
            v = FloatVector.broadcast(S, a[a4 + ak]);
            x40 = v.fma(b0, x40);
            x41 = v.fma(b1, x41);
            x42 = v.fma(b2, x42);
            x43 = v.fma(b3, x43);
            v = FloatVector.broadcast(S, a[a5 + ak]);
            x50 = v.fma(b0, x50);
            x51 = v.fma(b1, x51);
            x52 = v.fma(b2, x52);
            x53 = v.fma(b3, x53);
        }
        x00.intoArray(c, c0);
        x01.intoArray(c, c0 + L);
        x02.intoArray(c, c0 + 2 * L);
        x03.intoArray(c, c0 + 3 * L);
        x10.intoArray(c, c1);
        x11.intoArray(c, c1 + L);
        x12.intoArray(c, c1 + 2 * L);
        x13.intoArray(c, c1 + 3 * L);
        x20.intoArray(c, c2);
        x21.intoArray(c, c2 + L);
        x22.intoArray(c, c2 + 2 * L);
        x23.intoArray(c, c2 + 3 * L);
        x30.intoArray(c, c3);
        x31.intoArray(c, c3 + L);
        x32.intoArray(c, c3 + 2 * L);
        x33.intoArray(c, c3 + 3 * L);
        x40.intoArray(c, c4);
        x41.intoArray(c, c4 + L);
        x42.intoArray(c, c4 + 2 * L);
        x43.intoArray(c, c4 + 3 * L);
        x50.intoArray(c, c5);
        x51.intoArray(c, c5 + L);
        x52.intoArray(c, c5 + 2 * L);
        x53.intoArray(c, c5 + 3 * L);
    }

    private static void tile4x4(int m, int j, int k0, int k1, float[] a, int aOff, int sam, int sak,
                                float[] b, int bOff, int ldb, float[] c, int cOff, int ldc) {
        int c0 = cOff + m * ldc + j, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        FloatVector x00 = FloatVector.fromArray(S, c, c0), x01 = FloatVector.fromArray(S, c, c0 + L);
        FloatVector x02 = FloatVector.fromArray(S, c, c0 + 2 * L), x03 = FloatVector.fromArray(S, c, c0 + 3 * L);
        FloatVector x10 = FloatVector.fromArray(S, c, c1), x11 = FloatVector.fromArray(S, c, c1 + L);
        FloatVector x12 = FloatVector.fromArray(S, c, c1 + 2 * L), x13 = FloatVector.fromArray(S, c, c1 + 3 * L);
        FloatVector x20 = FloatVector.fromArray(S, c, c2), x21 = FloatVector.fromArray(S, c, c2 + L);
        FloatVector x22 = FloatVector.fromArray(S, c, c2 + 2 * L), x23 = FloatVector.fromArray(S, c, c2 + 3 * L);
        FloatVector x30 = FloatVector.fromArray(S, c, c3), x31 = FloatVector.fromArray(S, c, c3 + L);
        FloatVector x32 = FloatVector.fromArray(S, c, c3 + 2 * L), x33 = FloatVector.fromArray(S, c, c3 + 3 * L);
        int a0 = aOff + m * sam, a1 = a0 + sam, a2 = a1 + sam, a3 = a2 + sam;
        for (int k = k0; k < k1; k++) {
            int bk = bOff + k * ldb + j;
            FloatVector b0 = FloatVector.fromArray(S, b, bk), b1 = FloatVector.fromArray(S, b, bk + L);
            FloatVector b2 = FloatVector.fromArray(S, b, bk + 2 * L), b3 = FloatVector.fromArray(S, b, bk + 3 * L);
            int ak = k * sak;
            FloatVector v = FloatVector.broadcast(S, a[a0 + ak]);
            x00 = v.fma(b0, x00);
            x01 = v.fma(b1, x01);
            x02 = v.fma(b2, x02);
            x03 = v.fma(b3, x03);
            v = FloatVector.broadcast(S, a[a1 + ak]);
            x10 = v.fma(b0, x10);
            x11 = v.fma(b1, x11);
            x12 = v.fma(b2, x12);
            x13 = v.fma(b3, x13);
            v = FloatVector.broadcast(S, a[a2 + ak]);
            x20 = v.fma(b0, x20);
            x21 = v.fma(b1, x21);
            x22 = v.fma(b2, x22);
            x23 = v.fma(b3, x23);
            v = FloatVector.broadcast(S, a[a3 + ak]);
            x30 = v.fma(b0, x30);
            x31 = v.fma(b1, x31);
            x32 = v.fma(b2, x32);
            x33 = v.fma(b3, x33);
        }
        x00.intoArray(c, c0);
        x01.intoArray(c, c0 + L);
        x02.intoArray(c, c0 + 2 * L);
        x03.intoArray(c, c0 + 3 * L);
        x10.intoArray(c, c1);
        x11.intoArray(c, c1 + L);
        x12.intoArray(c, c1 + 2 * L);
        x13.intoArray(c, c1 + 3 * L);
        x20.intoArray(c, c2);
        x21.intoArray(c, c2 + L);
        x22.intoArray(c, c2 + 2 * L);
        x23.intoArray(c, c2 + 3 * L);
        x30.intoArray(c, c3);
        x31.intoArray(c, c3 + L);
        x32.intoArray(c, c3 + 2 * L);
        x33.intoArray(c, c3 + 3 * L);
    }

    /** Columns [j, j + L) of rows m..m+3: one vector per row; same k order as the 4x4 tiles. */
    private static void tile4x1(int m, int j, int k0, int k1, float[] a, int aOff, int sam, int sak,
                                float[] b, int bOff, int ldb, float[] c, int cOff, int ldc) {
        int c0 = cOff + m * ldc + j, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        FloatVector x0 = FloatVector.fromArray(S, c, c0), x1 = FloatVector.fromArray(S, c, c1);
        FloatVector x2 = FloatVector.fromArray(S, c, c2), x3 = FloatVector.fromArray(S, c, c3);
        int a0 = aOff + m * sam, a1 = a0 + sam, a2 = a1 + sam, a3 = a2 + sam;
        for (int k = k0; k < k1; k++) {
            FloatVector bk = FloatVector.fromArray(S, b, bOff + k * ldb + j);
            int ak = k * sak;
            x0 = FloatVector.broadcast(S, a[a0 + ak]).fma(bk, x0);
            x1 = FloatVector.broadcast(S, a[a1 + ak]).fma(bk, x1);
            x2 = FloatVector.broadcast(S, a[a2 + ak]).fma(bk, x2);
            x3 = FloatVector.broadcast(S, a[a3 + ak]).fma(bk, x3);
        }
        x0.intoArray(c, c0);
        x1.intoArray(c, c1);
        x2.intoArray(c, c2);
        x3.intoArray(c, c3);
    }

    /**
     * Column j of rows m..m+7 in scalars: eight independent FMA chains, enough to cover the FMA
     * latency at two scalar FMAs a cycle (one chain would wait on it at every k; lm_head's 65th
     * column was a third of its time).
     */
    private static void column8(int m, int j, int k0, int k1, float[] a, int aOff, int sam, int sak,
                                float[] b, int bOff, int ldb, float[] c, int cOff, int ldc) {
        int c0 = cOff + m * ldc + j;
        float x0 = c[c0], x1 = c[c0 + ldc], x2 = c[c0 + 2 * ldc], x3 = c[c0 + 3 * ldc];
        float x4 = c[c0 + 4 * ldc], x5 = c[c0 + 5 * ldc], x6 = c[c0 + 6 * ldc], x7 = c[c0 + 7 * ldc];
        int a0 = aOff + m * sam;
        for (int k = k0; k < k1; k++) {
            float bk = b[bOff + k * ldb + j];
            int ak = a0 + k * sak;
            x0 = Math.fma(a[ak], bk, x0);
            x1 = Math.fma(a[ak + sam], bk, x1);
            x2 = Math.fma(a[ak + 2 * sam], bk, x2);
            x3 = Math.fma(a[ak + 3 * sam], bk, x3);
            x4 = Math.fma(a[ak + 4 * sam], bk, x4);
            x5 = Math.fma(a[ak + 5 * sam], bk, x5);
            x6 = Math.fma(a[ak + 6 * sam], bk, x6);
            x7 = Math.fma(a[ak + 7 * sam], bk, x7);
        }
        c[c0] = x0;
        c[c0 + ldc] = x1;
        c[c0 + 2 * ldc] = x2;
        c[c0 + 3 * ldc] = x3;
        c[c0 + 4 * ldc] = x4;
        c[c0 + 5 * ldc] = x5;
        c[c0 + 6 * ldc] = x6;
        c[c0 + 7 * ldc] = x7;
    }

    /** Column j of rows m..m+3 in scalars, as {@link #column8}. */
    private static void column4(int m, int j, int k0, int k1, float[] a, int aOff, int sam, int sak,
                                float[] b, int bOff, int ldb, float[] c, int cOff, int ldc) {
        int c0 = cOff + m * ldc + j;
        float x0 = c[c0], x1 = c[c0 + ldc], x2 = c[c0 + 2 * ldc], x3 = c[c0 + 3 * ldc];
        int a0 = aOff + m * sam, a1 = a0 + sam, a2 = a1 + sam, a3 = a2 + sam;
        for (int k = k0; k < k1; k++) {
            float bk = b[bOff + k * ldb + j];
            int ak = k * sak;
            x0 = Math.fma(a[a0 + ak], bk, x0);
            x1 = Math.fma(a[a1 + ak], bk, x1);
            x2 = Math.fma(a[a2 + ak], bk, x2);
            x3 = Math.fma(a[a3 + ak], bk, x3);
        }
        c[c0] = x0;
        c[c0 + ldc] = x1;
        c[c0 + 2 * ldc] = x2;
        c[c0 + 3 * ldc] = x3;
    }

    /** Columns [j0, n) of row m: one vector at a time, then scalars; same k order as the tiles. */
    private static void rest(int m, int j0, int n, int k0, int k1, float[] a, int aOff, int sam, int sak,
                             float[] b, int bOff, int ldb, float[] c, int cOff, int ldc) {
        int am = aOff + m * sam;
        int cm = cOff + m * ldc;
        int j = j0;
        for (; j + L <= n; j += L) {
            FloatVector x = FloatVector.fromArray(S, c, cm + j);
            for (int k = k0; k < k1; k++) {
                x = FloatVector.broadcast(S, a[am + k * sak]).fma(FloatVector.fromArray(S, b, bOff + k * ldb + j), x);
            }
            x.intoArray(c, cm + j);
        }
        for (; j < n; j++) {
            float x = c[cm + j];
            for (int k = k0; k < k1; k++) {
                x = Math.fma(a[am + k * sak], b[bOff + k * ldb + j], x);
            }
            c[cm + j] = x;
        }
    }

    /** out[r, :] = src[r, :] for rows, so C can start from the bias. */
    static void broadcastRows(float[] out, float[] row, int from, int to, int n) {
        for (int r = from; r < to; r++) {
            if (row == null) {
                java.util.Arrays.fill(out, r * n, r * n + n, 0f);
            } else {
                System.arraycopy(row, 0, out, r * n, n);
            }
        }
    }

    /**
     * The map that {@link #transposeRows} gathers with: lane i reads row i, {@code cols} floats further on.
     * Built once per recorded launch, so a launch allocates nothing.
     */
    static int[] transposeMap(int cols) {
        int[] map = new int[L];
        for (int i = 0; i < L; i++) {
            map[i] = i * cols;
        }
        return map;
    }

    /**
     * Rows [r0, r1) of src (rows x cols) into the same columns of dst (cols x rows). One gather
     * takes a column of L rows, written as one vector instead of L scalar stores; threads take
     * disjoint row ranges.
     */
    static void transposeRows(float[] src, float[] dst, int rows, int cols, int[] map, int r0, int r1) {
        int r = r0;
        for (; r + L <= r1; r += L) {
            for (int cc = 0; cc < cols; cc++) {
                FloatVector.fromArray(S, src, r * cols + cc, map, 0).intoArray(dst, cc * rows + r);
            }
        }
        for (; r < r1; r++) {
            for (int cc = 0; cc < cols; cc++) {
                dst[cc * rows + r] = src[r * cols + cc];
            }
        }
    }
}
