package org.gptjvm.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * Attention's two paths, by rows (long T) and by columns (short T, where a per-row reduction does
 * not pay), give the same att, out and dqkv to the bit, with and without dropout:
 * so the threshold between them changes no run's numbers, and each path is proven against the
 * reference backend through the other.
 */
class AttentionByColumnsTest {
    /** B, T, C, NH: odd T and head sizes, T within one vector, across several, and past the threshold. */
    private static final int[][] SHAPES = {{2, 5, 12, 3}, {4, 32, 64, 4}, {1, 1, 8, 2}, {3, 17, 36, 6},
            {2, 64, 64, 1}, {1, 40, 24, 2}, {2, 33, 72, 3}, {1, 100, 96, 2}, {1, 2 * Gemm.L + 1, 40, 5}};

    @Test
    void byColumnsGivesTheBitsOfByRowsForwardAndBackward() {
        for (int[] shape : SHAPES) {
            int B = shape[0], T = shape[1], C = shape[2], NH = shape[3];
            Random rnd = new Random(31L * T + C);
            float[] qkv = new float[B * T * 3 * C];
            for (int i = 0; i < qkv.length; i++) {
                qkv[i] = (float) (rnd.nextGaussian() * 2);
            }
            for (float dropout : new float[]{0f, 0.25f}) {
                float[][] att = new float[2][B * NH * T * T], out = new float[2][B * T * C];
                for (int path = 0; path < 2; path++) {
                    Workspace s = new Workspace();
                    s.fit(T, C / NH);
                    java.util.Arrays.fill(att[path], Float.NaN); // every element must be written
                    java.util.Arrays.fill(out[path], Float.NaN);
                    Attention.forward(out[path], att[path], qkv, 99, 3 * T * T * NH, dropout, 7, T, C, NH, s, 0, B * NH, path == 1);
                }
                String what = "B" + B + " T" + T + " C" + C + " NH" + NH + " dropout " + dropout;
                assertArrayEquals(att[0], att[1], "att, " + what);
                assertArrayEquals(out[0], out[1], "out, " + what);

                float[] dout = new float[B * T * C], dqkv0 = new float[qkv.length];
                for (int i = 0; i < dout.length; i++) {
                    dout[i] = (float) rnd.nextGaussian();
                }
                for (int i = 0; i < dqkv0.length; i++) {
                    dqkv0[i] = (float) rnd.nextGaussian(); // accumulated into
                }
                float[][] dqkv = new float[2][];
                for (int path = 0; path < 2; path++) {
                    Workspace s = new Workspace();
                    s.fit(T, C / NH);
                    dqkv[path] = dqkv0.clone();
                    Attention.backward(dqkv[path], dout, qkv, att[0], 99, 3 * T * T * NH, dropout, 7, T, C, NH, s, 0, B * NH,
                            path == 1);
                }
                assertArrayEquals(dqkv[0], dqkv[1], "dqkv, " + what);
            }
        }
    }
}
