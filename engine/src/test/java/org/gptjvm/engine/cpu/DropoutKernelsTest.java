package org.gptjvm.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import org.gptjvm.engine.DropoutMask;
import org.gptjvm.engine.ref.RefKernels;
import org.junit.jupiter.api.Test;

/** The vectorised dropout hash gives DropoutMask's factors bit for bit, before and after JIT compilation. */
class DropoutKernelsTest {
    private static final float[] PS = {0.2f, 0.5f, 1e-7f, 0.999f, 0.1f};

    @Test
    void scalesEqualDropoutMaskForAnySeedSaltIndexAndLength() {
        Random rnd = new Random(5);
        for (int it = 0; it < 200; it++) {
            long seed = rnd.nextLong();
            int salt = it < 5 ? it : rnd.nextInt();
            int index = it % 3 == 0 ? rnd.nextInt(100) : rnd.nextInt(Integer.MAX_VALUE - 1000);
            int n = rnd.nextInt(70);
            float p = PS[it % PS.length];
            float[] got = new float[n + 3];
            DropoutKernels.scales(got, 3, n, seed, salt, index, p);
            for (int i = 0; i < n; i++) {
                assertEquals(DropoutMask.scale(seed, salt, index + i, p), got[3 + i],
                        "seed " + seed + " salt " + salt + " index " + (index + i) + " p " + p);
            }
        }
    }

    @Test
    void forwardAndBackwardEqualTheReferenceKernelsBeforeAndAfterWarmUp() {
        Random rnd = new Random(8);
        int n = 4099;
        float[] x = new float[n], d = new float[n], acc0 = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
            d[i] = (float) rnd.nextGaussian();
            acc0[i] = (float) rnd.nextGaussian();
        }
        long seed = 0x1234_5678_9ABCL;
        float[] wantOut = new float[n], wantAcc = acc0.clone();
        RefKernels.dropoutForward(wantOut, x, seed, 1234, 0.2f, 7, 5, n);
        RefKernels.dropoutBackward(wantAcc, d, seed, 1234, 0.2f, 7, 5, n);
        for (int rep = 0; rep < 3000; rep++) {
            float[] out = new float[n], acc = acc0.clone();
            DropoutKernels.forward(out, x, seed, 1234, 0.2f, 7, 5, n);
            DropoutKernels.backward(acc, d, seed, 1234, 0.2f, 7, 5, n);
            if (rep == 0 || rep == 2999) {
                assertArrayEquals(wantOut, out, "forward, repetition " + rep);
                assertArrayEquals(wantAcc, acc, "backward, repetition " + rep);
            }
        }
    }
}
