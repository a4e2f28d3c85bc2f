package org.gptjvm.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.gptjvm.model.Rng;
import org.gptjvm.model.data.DataFiles;
import org.gptjvm.model.data.TextData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * gpt bench's data: a text file as training reads it, or, with none named and no
 * data/tinyshakespeare.txt (a fresh clone), random tokens. Each run is the small config on the cpu
 * backend for one step without warm-up, in a child JVM whose working directory is a temp folder, so
 * that the repository's data/ folder and $GPT_DATA play no part.
 */
class BenchCommandTest {
    @TempDir
    Path tmp;

    private Cli.Result bench(Path cwd, String... more) {
        return new Cli.Fork().cwd(cwd).unsetEnv("GPT_DATA").run(Cli.args(List.of("bench", "--config", "small",
                "--backend", "cpu", "--iters", "1", "--warmup", "0", "--threads", "1"), more));
    }

    private static JsonObject data(Path json) throws IOException {
        return JsonParser.parseString(Files.readString(json)).getAsJsonObject().getAsJsonObject("data");
    }

    /** Text of {@code n} characters over the 26 lower-case letters. */
    private static String letters(int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append((char) ('a' + (i * 7 + i / 26) % 26));
        }
        return sb.toString();
    }

    @Test
    void withoutADataFileItRunsOnRandomTokens() throws IOException {
        Path json = tmp.resolve("bench.json");
        Cli.Result r = bench(tmp, "--json", json.toString()).assertOk();
        assertTrue(r.out().lines().anyMatch("data: random tokens (vocabulary 65; no data file)"::equals), r::describe);
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("cpu ")), () -> "no timing row\n" + r.describe());
        assertTrue(r.out().lines().anyMatch(l -> l.matches("    peak: [0-9.]+ GFLOP/s, measured .*; the step ran at [0-9]+% of it")),
                r::describe);
        double peak = JsonParser.parseString(Files.readString(json)).getAsJsonObject().getAsJsonArray("backends").get(0)
                .getAsJsonObject().get("peak_gflops").getAsDouble();
        assertTrue(peak > 0 && Double.isFinite(peak), () -> "peak_gflops " + peak);
        JsonObject d = data(json);
        assertEquals("random tokens", d.get("source").getAsString());
        assertEquals(65, d.get("vocab_size").getAsInt());
        assertFalse(d.has("file"));
        assertFalse(Files.exists(tmp.resolve("data")), "nothing was downloaded or created");
    }

    @Test
    void evalTimesTheForwardPassesOneBatchAndManyBatchesAPass() throws IOException {
        Path json = tmp.resolve("bench-eval.json");
        Cli.Result r = bench(tmp, "--eval", "--json", json.toString()).assertOk();
        assertTrue(r.out().lines().anyMatch(l -> l.matches(
                "    evaluation: [0-9.]+ ms per batch in passes of 10 batches \\([0-9.]+ GFLOP/s, [0-9]+% of the peak\\), "
                        + "[0-9.]+ ms one batch per pass")),
                r::describe);
        JsonObject e = com.google.gson.JsonParser.parseString(Files.readString(json)).getAsJsonObject()
                .getAsJsonArray("backends").get(0).getAsJsonObject().getAsJsonObject("eval_ms_per_batch");
        assertEquals(10, e.get("batches_per_pass").getAsInt());
        assertTrue(e.get("single").getAsDouble() > 0 && e.get("batched").getAsDouble() > 0, e::toString);
        assertTrue(e.get("gflops").getAsDouble() > 0, e::toString);
    }

    @Test
    void productsTimeEachLinearLayerForwardAndBackward() throws IOException {
        Path json = tmp.resolve("bench-products.json");
        Cli.Result r = bench(tmp, "--products", "--json", json.toString()).assertOk();
        for (String layer : List.of("qkv", "attention proj", "mlp fc", "mlp proj", "lm_head")) {
            assertTrue(r.out().lines().anyMatch(l -> l.startsWith(layer + " ")), () -> "no row for " + layer + "\n" + r.describe());
        }
        assertTrue(r.out().contains("512 x 256 -> 64"), r::describe);
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("a training step's Linear products at these speeds: ")),
                r::describe);
        var rows = JsonParser.parseString(Files.readString(json)).getAsJsonObject().getAsJsonArray("backends").get(0)
                .getAsJsonObject().getAsJsonArray("products");
        assertEquals(5, rows.size());
        for (var row : rows) {
            JsonObject o = row.getAsJsonObject();
            assertEquals(512, o.get("n").getAsInt());
            assertTrue(o.get("forward_ms").getAsDouble() > 0 && o.get("backward_gflops").getAsDouble() > 0, o::toString);
        }
    }

    @Test
    void withADataFileItDrawsFromTheText() throws IOException {
        Path text = Files.writeString(tmp.resolve("letters.txt"), letters(3000));
        Path json = tmp.resolve("bench.json");
        Cli.Result r = bench(tmp, "--data", text.toString(), "--json", json.toString()).assertOk();
        assertTrue(r.out().lines().anyMatch(("data: " + text + " (vocabulary 26)")::equals), r::describe);
        JsonObject d = data(json);
        assertEquals("file", d.get("source").getAsString());
        assertEquals(text.toString(), d.get("file").getAsString());
        assertEquals(26, d.get("vocab_size").getAsInt());
        assertEquals(3000, d.get("bytes").getAsLong());
        // the default file of the working directory, when it is there, as before
        Files.createDirectory(tmp.resolve("data"));
        Files.writeString(tmp.resolve("data/tinyshakespeare.txt"), letters(3000));
        r = bench(tmp).assertOk();
        assertTrue(r.out().contains("data: " + Path.of("data", "tinyshakespeare.txt") + " (vocabulary 26)"), r::describe);
    }

    @Test
    void aNamedFileThatIsNotThereOrTooShortIsAnError() throws IOException {
        Path absent = tmp.resolve("absent.txt");
        Cli.Result r = bench(tmp, "--data", absent.toString()).assertError(1);
        assertTrue(r.err().contains(absent.toString()), r::describe);
        r = new Cli.Fork().cwd(tmp).env("GPT_DATA", absent.toString())
                .run("bench", "--backend", "cpu", "--iters", "1", "--warmup", "0", "--threads", "1").assertError(1);
        assertTrue(r.err().contains(absent.toString()), r::describe);
        // fewer characters than a batch row needs: a one-line error, not an internal one
        Path shortText = Files.writeString(tmp.resolve("short.txt"), "hello world\n");
        r = bench(tmp, "--data", shortText.toString()).assertError(1);
        assertTrue(r.err().contains("block size"), r::describe);
    }

    /** Random batches are shaped like get_batch's, y being x shifted by one, and are a function of the seed. */
    @Test
    void randomBatchesAreShiftedSequencesOfTheVocabulary() {
        BatchSource random = new BatchSource(null, null);
        int B = 4, T = 16;
        int[] x = new int[B * T], y = new int[B * T], x2 = new int[B * T], y2 = new int[B * T];
        random.batch(new Rng(3), B, T, x, y);
        random.batch(new Rng(3), B, T, x2, y2);
        assertArrayEquals(x, x2);
        assertArrayEquals(y, y2);
        for (int b = 0; b < B; b++) {
            for (int t = 0; t + 1 < T; t++) {
                assertEquals(x[b * T + t + 1], y[b * T + t]);
            }
        }
        assertTrue(Arrays.stream(x).allMatch(v -> v >= 0 && v < 65) && Arrays.stream(y).allMatch(v -> v >= 0 && v < 65));
        assertTrue(Arrays.stream(x).distinct().count() > 20, "uniform over 65 tokens, not a constant");
    }

    /** The random tokens' vocabulary is the one of the text bench would otherwise read. */
    @Test
    void theVocabularyIsTinyShakespeares() {
        assertEquals(DataFiles.TINY_SHAKESPEARE_VOCAB_SIZE,
                TextData.load(SharedData.tinyShakespeare()).tokenizer().vocabSize());
    }
}
