package org.gptjvm.model.data;

import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.Rng;
import org.gptjvm.model.Shared;
import org.gptjvm.model.train.TrainOptions;
import org.gptjvm.model.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.IntStream;

import static org.gptjvm.model.ModelTestSupport.oneLineError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TextDataTest {

    @Test
    void splitIsNinetyTenAsInTheLecture() {
        for (int n : new int[]{1, 2, 9, 10, 11, 19, 20, 101, 1000, 12345}) {
            int[] tokens = new int[n];
            TextData d = new TextData(CharTokenizer.fromText("a"), tokens);
            int train = (int) (0.9 * n); // Python's int(0.9 * n): same IEEE double product, truncated
            assertEquals(train, d.tokens(TextData.Split.TRAIN).length, "n=" + n);
            assertEquals(n - train, d.tokens(TextData.Split.VAL).length, "n=" + n);
        }
    }

    @Test
    void tinyShakespeareSplits() {
        TextData d = TextData.load(Shared.tinyShakespeare());
        assertEquals(1_003_854, d.tokens(TextData.Split.TRAIN).length);
        assertEquals(111_540, d.tokens(TextData.Split.VAL).length);
        assertEquals(65, d.tokenizer().vocabSize());
        // the split is a cut of the whole: train then val
        String text = TextData.readText(Shared.tinyShakespeare());
        assertEquals(text.substring(0, 1_003_854), d.tokenizer().decode(d.tokens(TextData.Split.TRAIN)));
        assertEquals(text.substring(1_003_854), d.tokenizer().decode(d.tokens(TextData.Split.VAL)));

        int B = 8, T = 32;
        int[] x = new int[B * T], y = new int[B * T];
        Rng rng = new Rng(1);
        for (int k = 0; k < 20; k++) {
            for (TextData.Split s : TextData.Split.values()) {
                d.batch(s, rng, B, T, x, y);
                for (int b = 0; b < B; b++) {
                    for (int t = 0; t + 1 < T; t++) {
                        assertEquals(x[b * T + t + 1], y[b * T + t]);
                    }
                }
            }
        }
    }

    /** Tokens 0..n-1, so a row's first token is its offset. */
    private static TextData counting(int n) {
        return new TextData(CharTokenizer.fromText("a"), IntStream.range(0, n).toArray());
    }

    @Test
    void batchTargetsAreInputsShiftedByOneAndOffsetsAreInRange() {
        TextData d = counting(1000); // train 900, val 100
        int B = 16, T = 8;
        int[] x = new int[B * T], y = new int[B * T];
        Rng rng = new Rng(42);
        for (TextData.Split s : TextData.Split.values()) {
            int[] data = d.tokens(s);
            int min = Integer.MAX_VALUE, max = Integer.MIN_VALUE;
            for (int k = 0; k < 500; k++) {
                d.batch(s, rng, B, T, x, y);
                for (int b = 0; b < B; b++) {
                    int off = x[b * T] - data[0];
                    assertTrue(off >= 0 && off < data.length - T, "offset " + off + " outside [0, len - T)");
                    min = Math.min(min, off);
                    max = Math.max(max, off);
                    for (int t = 0; t < T; t++) {
                        assertEquals(data[off + t], x[b * T + t]);
                        assertEquals(data[off + t + 1], y[b * T + t]);
                        if (t + 1 < T) {
                            assertEquals(x[b * T + t + 1], y[b * T + t]);
                        }
                    }
                }
            }
            // torch.randint(len(data) - block_size): every offset in [0, len - T) occurs, len - T never
            assertEquals(0, min, s + " min offset");
            assertEquals(data.length - T - 1, max, s + " max offset");
        }
    }

    @Test
    void sameSeedSameBatchesDifferentSeedDifferent() {
        TextData d = counting(5000);
        int B = 4, T = 16;
        int[][] a = batches(d, 7, B, T), b = batches(d, 7, B, T), c = batches(d, 8, B, T);
        assertTrue(Arrays.deepEquals(a, b));
        assertFalse(Arrays.deepEquals(a, c));
    }

    private static int[][] batches(TextData d, long seed, int B, int T) {
        Rng rng = new Rng(seed);
        int[][] out = new int[20][];
        for (int k = 0; k < out.length; k += 2) {
            int[] x = new int[B * T], y = new int[B * T];
            d.batch(TextData.Split.TRAIN, rng, B, T, x, y);
            out[k] = x;
            out[k + 1] = y;
        }
        return out;
    }

    @Test
    void checkBlockSizeNeedsBlockSizePlusOneInBothSplits() {
        TextData d = counting(100); // train 90, val 10
        d.checkBlockSize(9); // val holds exactly block_size + 1
        String m = oneLineError(() -> d.checkBlockSize(10));
        assertTrue(m.contains("val") && m.contains("11"), m);
        TextData small = TextData.fromText("abcdefghijklmnopqrst"); // 18 + 2 characters
        small.checkBlockSize(1);
        oneLineError(() -> small.checkBlockSize(2));
        // after a successful check a batch can be drawn from both splits
        int[] x = new int[9], y = new int[9];
        d.batch(TextData.Split.VAL, new Rng(3), 1, 9, x, y);
        assertArrayEquals(IntStream.range(90, 99).toArray(), x);
    }

    @Test
    void trainerRefusesTextShorterThanABlock() {
        TextData d = TextData.fromText("abcdefghijklmnopqrstuvwxyz0123456789"); // val: 4 characters
        try (org.gptjvm.engine.Backend be = new org.gptjvm.engine.ref.ReferenceBackend(1)) {
            Gpt gpt = new Gpt(be, new GptConfig(GptConfig.GPT, d.tokenizer().vocabSize(), 8, 8, 2, 1, 0f));
            String m = oneLineError(() -> new Trainer(gpt, d, new TrainOptions(2, 1e-3, 10, 10, 1, 1)));
            assertTrue(m.contains("block"), m);
        }
    }

    @Test
    void loadErrorsAreOneLineAndNameTheFile(@TempDir Path dir) throws IOException {
        Path missing = dir.resolve("nope.txt");
        assertTrue(oneLineError(() -> TextData.load(missing)).contains("nope.txt"));

        Path empty = Files.createFile(dir.resolve("empty.txt"));
        String m = oneLineError(() -> TextData.load(empty));
        assertTrue(m.contains("empty.txt") && m.contains("empty"), m);

        Path binary = Files.write(dir.resolve("latin1.txt"), "caf\u00e9 cr\u00e8me".getBytes(StandardCharsets.ISO_8859_1));
        m = oneLineError(() -> TextData.load(binary));
        assertTrue(m.contains("latin1.txt") && m.contains("UTF-8"), m);

        Path garbage = Files.write(dir.resolve("garbage.bin"), new byte[]{(byte) 0xff, (byte) 0xfe, 0, (byte) 0x80});
        assertTrue(oneLineError(() -> TextData.load(garbage)).contains("garbage.bin"));

        Path sub = Files.createDirectory(dir.resolve("adir"));
        assertTrue(oneLineError(() -> TextData.load(sub)).contains("adir"));

        Path ok = Files.writeString(dir.resolve("ok.txt"), "héllo 😀 world\n", StandardCharsets.UTF_8);
        TextData d = TextData.load(ok);
        assertEquals(10, d.tokenizer().vocabSize());
        assertEquals(14, d.tokens(TextData.Split.TRAIN).length + d.tokens(TextData.Split.VAL).length);
    }

    /** A vocabulary of more than 256 characters (two bytes a token) and one of more than 65,536 (four). */
    @Test
    void largeVocabulariesLoadAndRoundTrip(@TempDir Path dir) throws IOException {
        for (int distinct : new int[]{300, 70_000}) {
            StringBuilder sb = new StringBuilder();
            for (int k = 0; k < 3; k++) {
                for (int i = 0; i < distinct; i++) {
                    sb.appendCodePoint(0x4E00 + i < 0xD800 ? 0x4E00 + i : 0x10000 + i); // CJK, then past the BMP
                }
            }
            String text = sb.toString();
            Path f = Files.writeString(dir.resolve("v" + distinct + ".txt"), text, StandardCharsets.UTF_8);
            TextData d = TextData.load(f);
            assertEquals(distinct, d.tokenizer().vocabSize());
            int[] all = java.util.stream.IntStream.concat(java.util.Arrays.stream(d.tokens(TextData.Split.TRAIN)),
                    java.util.Arrays.stream(d.tokens(TextData.Split.VAL))).toArray();
            assertEquals(text, d.tokenizer().decode(all));
            assertEquals(Files.size(f), d.identity().bytes());
            assertEquals(64, d.identity().sha256().length());
        }
    }
}
