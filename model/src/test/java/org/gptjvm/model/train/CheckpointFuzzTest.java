package org.gptjvm.model.train;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.GptException;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.Rng;
import org.gptjvm.model.data.CharTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Mutation fuzzing of the checkpoint reader: a valid checkpoint with random bytes flipped, spliced,
 * inserted or cut, in the header and in the data. Every outcome must be a load that succeeds (a data
 * byte changed a weight) or a one-line GptException naming the file; never another exception, an
 * OutOfMemoryError, or a model half loaded.
 */
class CheckpointFuzzTest {
    private static final int CASES = 3000;

    @Test
    void mutatedAndTruncatedCheckpointsFailCleanly(@TempDir Path dir) throws IOException {
        Path good = dir.resolve("good.safetensors");
        CharTokenizer tok = CharTokenizer.fromText("abcdefgh \n");
        GptConfig cfg = new GptConfig(GptConfig.GPT, tok.vocabSize(), 4, 8, 2, 1, 0f);
        try (Backend be = new ReferenceBackend(1)) {
            Gpt gpt = new Gpt(be, cfg);
            Optimizer optimizer = new Optimizer(gpt, Optimizer.Settings.PYTORCH);
            gpt.initialize(1);
            Checkpoint.save(good, gpt, optimizer, tok, new TrainState(3, Preset.small.trainOptions(), 1, 2));
        }
        byte[] original = Files.readAllBytes(good);
        int headerEnd = 8 + (int) ByteBuffer.wrap(original, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        Rng rng = new Rng(42);
        int loaded = 0, rejected = 0;
        Path f = dir.resolve("mutant.safetensors");
        for (int i = 0; i < CASES; i++) {
            byte[] m = mutate(original, headerEnd, rng);
            Files.write(f, m);
            try {
                Checkpoint c = Checkpoint.load(f);
                try (Backend be = new ReferenceBackend(1)) {
                    Gpt gpt = c.toModel(be, f);
                    assertTrue(gpt.params.count() > 0);
                }
                loaded++;
            } catch (GptException e) {
                String msg = e.getMessage();
                assertTrue(msg.contains(f.toString()), "error does not name the file: " + msg);
                assertFalse(msg.contains("\n"), "error is not one line: " + msg);
                rejected++;
            } catch (Throwable t) {
                fail("case " + i + ": " + t + " for a mutant of " + m.length + " bytes", t);
            }
        }
        System.out.printf("fuzz: %d mutants, %d loaded (data bytes changed), %d rejected cleanly%n", CASES, loaded,
                rejected);
        assertTrue(rejected > CASES / 4, "too few mutants reached the error paths");
    }

    private static byte[] mutate(byte[] src, int headerEnd, Rng rng) {
        byte[] m = src.clone();
        switch (rng.nextInt(6)) {
            case 0 -> { // flip bytes in the header (JSON, lengths, offsets)
                for (int k = 0, n = 1 + rng.nextInt(4); k < n; k++) {
                    m[rng.nextInt(headerEnd)] = (byte) rng.nextInt(256);
                }
            }
            case 1 -> { // a digit in the header becomes another digit: shapes and offsets move
                for (int k = 0; k < 20; k++) {
                    int p = 8 + rng.nextInt(headerEnd - 8);
                    if (m[p] >= '0' && m[p] <= '9') {
                        m[p] = (byte) ('0' + rng.nextInt(10));
                        break;
                    }
                }
            }
            case 2 -> { // truncate anywhere
                m = Arrays.copyOf(src, rng.nextInt(src.length));
            }
            case 3 -> { // corrupt the 8-byte length prefix
                m[rng.nextInt(8)] = (byte) rng.nextInt(256);
            }
            case 4 -> { // cut a slice out of the header
                int a = 8 + rng.nextInt(headerEnd - 8), b = Math.min(headerEnd, a + 1 + rng.nextInt(40));
                byte[] cut = new byte[src.length - (b - a)];
                System.arraycopy(src, 0, cut, 0, a);
                System.arraycopy(src, b, cut, a, src.length - b);
                m = cut;
            }
            default -> { // flip bytes in the data (may still load: it is just different weights)
                for (int k = 0, n = 1 + rng.nextInt(8); k < n; k++) {
                    m[headerEnd + rng.nextInt(src.length - headerEnd)] = (byte) rng.nextInt(256);
                }
            }
        }
        return m;
    }
}
