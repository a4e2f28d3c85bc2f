package org.gptjvm.model;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.GptException;
import org.gptjvm.engine.cpu.CpuBackend;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.gptjvm.model.train.Optimizer;
import org.gptjvm.model.train.Preset;
import org.junit.jupiter.api.Test;

import static org.gptjvm.model.ModelTestSupport.oneLineError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemoryTest {

    /** The lecture's model at a small batch (its batch of 64 would need gigabytes in a test). */
    private static final GptConfig LECTURE = Preset.lecture.config(65);
    private static final GptConfig SMALL = Preset.small.config(65);

    /** Within a factor: the estimate neither misses buffers nor refuses models that fit by far. */
    private static void assertClose(double estimate, long actual, String what) {
        double ratio = estimate / actual;
        assertTrue(ratio > 0.9 && ratio < 1.6, what + ": estimate " + Memory.bytes(estimate) + ", allocated "
                + Memory.bytes(actual) + " (ratio " + ratio + ")");
    }

    /** What a training step's buffers (params, grads, AdamW, one batch's activations, scratch) really take. */
    private static long stepBytes(Backend be, GptConfig c, int B) {
        Gpt gpt = new Gpt(be, c);
        new Optimizer(gpt, Optimizer.Settings.PYTORCH);
        gpt.batchGraph(B); // recording the launches sizes the backend's scratch: nothing needs to run
        return be.allocatedBytes();
    }

    @Test
    void stepEstimateMatchesWhatTheSmallAndLectureModelsAllocate() {
        for (GptConfig c : new GptConfig[]{SMALL, LECTURE, new GptConfig(GptConfig.BIGRAM, 65, 8, 65, 1, 0, 0f)}) {
            int B = c == LECTURE ? 2 : 16;
            try (Backend be = new CpuBackend(1)) {
                assertClose(Memory.of(Memory.Use.STEP, c, B, 0, 1, 0).bytes(), stepBytes(be, c, B), "cpu " + c);
            }
            try (Backend be = new ReferenceBackend(1)) {
                // the reference backend has no transposed weights nor per-thread tiles: the estimate is above it
                double estimate = Memory.of(Memory.Use.STEP, c, B, 0, 1, 0).bytes();
                long actual = stepBytes(be, c, B);
                assertTrue(estimate >= actual && estimate < 2 * actual, "reference " + c + ": " + estimate + " vs " + actual);
            }
        }
    }

    @Test
    void sampleEstimateMatchesWhatSamplingAllocates() {
        for (GptConfig c : new GptConfig[]{SMALL, LECTURE}) {
            try (Backend be = new CpuBackend(1)) {
                Gpt gpt = new Gpt(be, c);
                gpt.decoder(); // both sampling graphs
                assertClose(Memory.of(Memory.Use.SAMPLE, c, 1, 0, 1, 0).bytes(), be.allocatedBytes(), "sample " + c);
            }
        }
    }

    @Test
    void hugeSettingsDoNotOverflowAndTheLargestIsNamed() {
        GptConfig layers = new GptConfig(GptConfig.GPT, 65, 32, 64, 4, Integer.MAX_VALUE, 0f);
        Memory.Estimate e = Memory.of(Memory.Use.TRAIN, layers, 16, 200, 2, 0);
        assertTrue(e.bytes() > 1e15, "" + e.bytes());
        assertEquals(Memory.Setting.N_LAYER, e.largest());
        String msg = oneLineError(() -> e.require(6L << 30, s -> "--" + s.name().toLowerCase().replace('_', '-')));
        assertTrue(msg.startsWith("--n-layer 2147483647 needs "), msg);
        assertTrue(msg.contains("PiB of memory for the model (parameters, gradients, AdamW moments, activations for batch 16 x 32)"),
                msg);
        assertTrue(msg.contains("this JVM may use 6.0 GiB (-Xmx): use a smaller --n-layer"), msg);

        assertEquals(Memory.Setting.BATCH_SIZE, Memory.of(Memory.Use.TRAIN, SMALL, 1_000_000, 200, 2, 0).largest());
        GptConfig block = new GptConfig(GptConfig.GPT, 65, 8192, 64, 4, 4, 0f);
        assertEquals(Memory.Setting.BLOCK_SIZE, Memory.of(Memory.Use.SAMPLE, block, 1, 0, 2, 0).largest());
        GptConfig wide = new GptConfig(GptConfig.GPT, 65, 32, 40_000, 4, 4, 0f);
        assertEquals(Memory.Setting.N_EMBD, Memory.of(Memory.Use.SAMPLE, wide, 1, 0, 2, 0).largest());
        // a checkpoint's key names the setting, and more heap is the remedy
        String file = oneLineError(() -> Memory.of(Memory.Use.SAMPLE, block, 1, 0, 2, 0)
                .require(1 << 20, s -> "m.safetensors: " + s.name().toLowerCase()));
        assertTrue(file.startsWith("m.safetensors: block_size 8192 needs ") && file.contains("give it more"), file);
    }

    @Test
    void aModelThatFitsIsNotRefused() {
        Memory.of(Memory.Use.TRAIN, LECTURE, 64, 200, 2, 0).require(Long.MAX_VALUE, s -> "x");
        assertTrue(Memory.of(Memory.Use.TRAIN, LECTURE, 64, 200, 2, 0).bytes() < 8e9);
    }

    @Test
    void arraySizesThatOverflowAnIntAreRefusedNotWrapped() {
        // block 2^31-1: T*T*H overflowed a long and the model's buffers were allocated with negative sizes
        for (int heads : new int[]{1, 4}) {
            GptConfig c = new GptConfig(GptConfig.GPT, 65, Integer.MAX_VALUE, 64, heads, 1, 0f);
            GptException e = assertThrows(GptException.class, c::validate);
            assertTrue(e.getMessage().contains("too large"), e.getMessage());
        }
        GptException e = assertThrows(GptException.class, () -> new GptConfig(GptConfig.GPT, 65, 46_000, 60_000, 1, 1, 0f)
                .validate());
        assertTrue(e.getMessage().contains("too large"), e.getMessage());
        assertThrows(GptException.class, () -> SMALL.checkBatch(Integer.MAX_VALUE));
    }

    @Test
    void bytesReadAsAPersonWritesThem() {
        assertEquals("512 B", Memory.bytes(512));
        assertEquals("6.0 GiB", Memory.bytes(6L << 30));
        assertEquals("2.0 EiB", Memory.bytes(2.0 * (1L << 60)));
    }
}
