package org.gptjvm.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.junit.jupiter.api.Test;

/** allocatedBytes counts everything a host backend holds: buffers, and the scratch its launches need. */
class CpuMemoryTest {
    static final int N = 256, C = 64, OC = 192, B = 2, T = 32, NH = 4;

    @Test
    void scratchIsCountedAndTheTransposedWeightsAreSharedByEveryLinear() {
        try (Backend be = new CpuBackend(2)) {
            FloatBuf out = be.allocFloat("out", N * OC), inp = be.allocFloat("inp", N * C);
            FloatBuf w = be.allocFloat("w", OC * C), b = be.allocFloat("b", OC);
            long buffers = 4L * (N * OC + N * C + OC * C + OC);
            assertEquals(buffers, be.allocatedBytes());

            be.matmulForward(out, inp, w, b, N, C, OC);
            long once = be.allocatedBytes();
            // W^T (C x OC) and each of the two threads' packed panels (C x OC here: one k block)
            assertEquals(buffers + 4L * C * OC + 2 * 4L * Gemm.panelFloats(OC, C), once);
            // the same Linear recorded by two more programs (loss, logits) shares them
            be.matmulForward(out, inp, w, b, N, C, OC);
            be.matmulForward(out, inp, w, b, N, C, OC);
            assertEquals(once, be.allocatedBytes());

            FloatBuf qkv = be.allocFloat("qkv", B * T * 3 * C), att = be.allocFloat("att", B * NH * T * T);
            FloatBuf atty = be.allocFloat("atty", B * T * C);
            IntBuf seed = be.allocInt("seed", 2);
            long before = be.allocatedBytes();
            be.attentionForward(atty, att, qkv, seed, 0f, 0, B, T, C, NH);
            assertTrue(be.allocatedBytes() >= before + 2 * 4L * (3 * T * T + T * C / NH), "attention scratch per thread");
        }
    }

    @Test
    void theReferenceBackendCountsItsDoubleSums() {
        try (Backend be = new ReferenceBackend(2)) {
            FloatBuf qkv = be.allocFloat("qkv", B * T * 3 * C), att = be.allocFloat("att", B * NH * T * T);
            FloatBuf d = be.allocFloat("d", B * T * C), dqkv = be.allocFloat("dqkv", B * T * 3 * C);
            IntBuf seed = be.allocInt("seed", 2);
            long before = be.allocatedBytes();
            be.attentionBackward(dqkv, d, qkv, att, seed, 0f, 0, B, T, C, NH);
            assertEquals(before + 2 * 8L * T * T, be.allocatedBytes()); // a T x T block of doubles per thread
        }
    }
}
