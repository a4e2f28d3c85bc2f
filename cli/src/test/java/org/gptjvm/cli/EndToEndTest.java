package org.gptjvm.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * train, sample and eval end to end on a tiny model (n_embd 16, 1 layer, block 8, 30 iterations) trained
 * on the shared Tiny Shakespeare. train and sample print to the native stdout, so these run in a child
 * JVM ({@link Cli#fork}). Skipped without ../shared.
 */
class EndToEndTest {

    @TempDir
    static Path dir;
    static Path data;
    static Path model;
    static Cli.Result trained;

    @BeforeAll
    static void trainTinyModel() {
        data = SharedData.tinyShakespeare();
        model = dir.resolve("m.safetensors");
        trained = Cli.fork(Cli.args(Cli.tinyTrain(data, model, 1), "--sample-tokens", "20")).assertOk();
    }

    private static String sample(String... more) {
        Cli.Result r = Cli.fork(Cli.args(List.of("sample", "--checkpoint", model.toString(), "--threads", "1"), more))
                .assertOk();
        if (List.of(more).contains("--quiet")) {
            assertEquals("", r.err(), r::describe);
        } else {
            // one summary line on stderr, so the text on stdout stays clean for pipes
            assertTrue(r.err().matches("gpt: \\d+ tokens in [0-9.]+ s, \\d+ tokens/s \\((no )?KV cache; .*\\)\\R"),
                    r::describe);
        }
        return r.out();
    }

    @Test
    void theKvCacheChangesSpeedNotTokens() {
        // block_size 8 and 40 tokens: the cache serves the first positions, then the window is recomputed
        for (String seed : List.of("1", "7")) {
            String with = sample("--tokens", "40", "--seed", seed, "--quiet");
            String without = sample("--tokens", "40", "--seed", seed, "--quiet", "--no-kv-cache");
            assertEquals(without, with, "seed " + seed);
        }
        Cli.Result r = Cli.fork(Cli.args(List.of("sample", "--checkpoint", model.toString(), "--threads", "1"),
                "--tokens", "5", "--no-kv-cache")).assertOk();
        assertTrue(r.err().contains("tokens/s (no KV cache; "), r::describe);
    }

    private static String stripNewline(String s) {
        return s.endsWith(System.lineSeparator()) ? s.substring(0, s.length() - System.lineSeparator().length()) : s;
    }

    @Test
    void trainPrintsParametersAndLossesAndSaves() throws IOException {
        String out = trained.out();
        assertTrue(out.contains(" M parameters"), trained::describe);
        assertTrue(out.contains("step 0: train loss"), trained::describe);
        assertTrue(out.contains("step 10: train loss") && out.contains("step 20: train loss"), trained::describe);
        assertTrue(out.lines().filter(l -> l.startsWith("step ")).allMatch(l -> l.contains("val loss")),
                trained::describe);
        assertTrue(out.contains("--- sample ---"), trained::describe);
        assertTrue(Files.isRegularFile(model), trained::describe);
        assertTrue(Files.size(model) > 1000, trained::describe);
        assertEquals("", trained.err(), trained::describe);
        try (var files = Files.list(dir)) {
            assertTrue(files.noneMatch(f -> f.getFileName().toString().endsWith(".tmp")),
                    "a temporary file was left beside the checkpoint");
        }
    }

    @Test
    void trainLossGoesDown() {
        List<Float> losses = trained.out().lines().filter(l -> l.startsWith("step "))
                .map(l -> Float.parseFloat(l.replaceAll(".*train loss ([0-9.]+),.*", "$1"))).toList();
        assertTrue(losses.size() >= 3, trained::describe);
        assertTrue(losses.get(losses.size() - 1) < losses.get(0), trained::describe);
        // an untrained model over 65 characters starts near ln(65) = 4.17
        assertTrue(Math.abs(losses.get(0) - Math.log(65)) < 0.3, trained::describe);
    }

    /** The generated characters: without the trailing newline nor the leading context newline, if printed. */
    private static String generated(String printed) {
        String s = stripNewline(printed);
        return s.startsWith("\n") ? s.substring(1) : s;
    }

    private static String trainSample() {
        String out = trained.out();
        int at = out.indexOf("--- sample ---");
        assertTrue(at >= 0, trained::describe);
        return generated(out.substring(at + "--- sample ---".length() + System.lineSeparator().length()));
    }

    @Test
    void trainSamplePrintsTheRequestedCharacters() {
        String sample = trainSample();
        assertEquals(20, sample.codePointCount(0, sample.length()), trained::describe);
    }

    @Test
    void sampleAfterTrainingMatchesTheSampleTrainPrinted() {
        // train samples from the model in memory with seed 1337; sample reads the saved file, same seed
        assertEquals(trainSample(), generated(sample("--tokens", "20")),
                "the saved model should sample as the trained one did");
    }

    @Test
    void samplePrintsTheRequestedNumberOfCharacters() {
        String s = stripNewline(sample("--tokens", "50", "--seed", "7"));
        int n = s.codePointCount(0, s.length());
        assertTrue(n >= 50 && n <= 51, () -> n + " characters: " + s);
    }

    @Test
    void sampleIsReproducibleForASeedAndVariesAcrossSeeds() {
        String a = sample("--tokens", "50", "--seed", "7");
        String b = sample("--tokens", "50", "--seed", "7");
        String c = sample("--tokens", "50", "--seed", "8");
        assertEquals(a, b, "same seed, different text");
        assertNotEquals(a, c, "different seeds, same text");
    }

    @Test
    void sampleContinuesThePrompt() {
        String s = sample("--prompt", "ROMEO:", "--tokens", "30", "--seed", "7");
        assertTrue(s.startsWith("ROMEO:"), s);
        String body = stripNewline(s);
        assertEquals(6 + 30, body.codePointCount(0, body.length()), s);
    }

    @Test
    void greedySamplingIgnoresTheSeed() {
        String t0a = sample("--tokens", "25", "--temperature", "0", "--seed", "1");
        String t0b = sample("--tokens", "25", "--temperature", "0", "--seed", "2");
        String k1 = sample("--tokens", "25", "--top-k", "1", "--seed", "3");
        assertEquals(t0a, t0b, "temperature 0 should always take the likeliest character");
        assertEquals(t0a, k1, "top-k 1 and temperature 0 should both be greedy");
    }

    @Test
    void sampleWithSmallerBlockSizeAndZeroTokens() {
        String s = stripNewline(sample("--tokens", "20", "--block-size", "4"));
        assertEquals(21, s.codePointCount(0, s.length()), s);
        assertEquals("\n", stripNewline(sample("--tokens", "0")));
    }

    @Test
    void evalPrintsBothLossesReproducibly() {
        String[] args = {"eval", "--checkpoint", model.toString(), "--data", data.toString(), "--eval-iters", "2",
                "--threads", "1"};
        Cli.Result r = Cli.fork(args).assertOk();
        assertTrue(r.out().contains("train loss"), r::describe);
        assertTrue(r.out().contains("val loss"), r::describe);
        assertEquals(r.out(), Cli.fork(args).assertOk().out(), "eval with the same seed should print the same losses");
    }

    @Test
    void evalRunsInProcessToo() {
        // eval prints through System.out, so it can be captured without a child JVM
        Cli.Result r = Cli.run("eval", "--checkpoint", model.toString(), "--data", data.toString(), "--eval-iters", "1",
                "--threads", "1").assertOk();
        assertTrue(r.out().matches("(?s)train loss \\d+\\.\\d+, val loss \\d+\\.\\d+\\R?"), r::describe);
    }

    @Test
    void trainingIsBitForBitReproducible() throws IOException {
        Path again = dir.resolve("again.safetensors");
        Cli.Result r = Cli.fork(Cli.args(Cli.tinyTrain(data, again, 1), "--sample-tokens", "20")).assertOk();
        assertEquals(-1L, Files.mismatch(model, again), "same seed, different checkpoint bytes");
        assertEquals(lossLines(trained), lossLines(r));
    }

    @Test
    void trainingDoesNotDependOnTheThreadCount() throws IOException {
        Path two = dir.resolve("two-threads.safetensors");
        Cli.Result r = Cli.fork(Cli.args(Cli.tinyTrain(data, two, 2), "--sample-tokens", "20")).assertOk();
        assertEquals(lossLines(trained), lossLines(r));
        assertEquals(-1L, Files.mismatch(model, two), "1 and 2 threads gave different checkpoint bytes");
    }

    @Test
    void withoutTheVectorApiTheCpuBackendRunsTheReferenceKernelsAndSaysSoOnce() {
        Cli.Result scalar = new Cli.Fork().withoutVectorApi().run(Cli.args(
                Cli.tinyTrain(data, dir.resolve("scalar.safetensors"), 2), "--sample-tokens", "20", "--backend", "cpu"))
                .assertOk();
        long notes = scalar.err().lines().filter(l -> l.contains("the Vector API is not enabled")).count();
        assertEquals(1, notes, scalar::describe);
        Cli.Result reference = Cli.fork(Cli.args(Cli.tinyTrain(data, dir.resolve("reference.safetensors"), 1),
                "--sample-tokens", "20", "--backend", "reference")).assertOk();
        assertEquals(4, lossLines(scalar).size(), scalar::describe);
        assertEquals(lossLines(reference), lossLines(scalar), "the scalar path is the reference kernels");
    }

    @Test
    void anotherSeedTrainsAnotherModel() throws IOException {
        Path other = dir.resolve("seed2.safetensors");
        Cli.fork(Cli.args(Cli.tinyTrain(data, other, 1), "--sample-tokens", "0", "--seed", "2")).assertOk();
        assertNotEquals(-1L, Files.mismatch(model, other));
    }

    @Test
    void bigramTrainsAndSamples() {
        Path bigram = dir.resolve("bigram.safetensors");
        Cli.Result r = Cli.fork("train", "--model", "bigram", "--data", data.toString(), "--block-size", "8",
                "--batch-size", "4", "--iters", "20", "--eval-interval", "10", "--eval-iters", "2", "--out",
                bigram.toString(), "--sample-tokens", "10", "--threads", "1").assertOk();
        assertTrue(r.out().contains("M parameters"), r::describe);
        assertTrue(r.out().contains("0.004225 M parameters"), () -> "65 x 65 weights\n" + r.describe());
        assertTrue(r.out().contains("step 0: train loss"), r::describe);
        assertTrue(Files.isRegularFile(bigram), r::describe);
        Cli.Result s = Cli.fork("sample", "--checkpoint", bigram.toString(), "--tokens", "30", "--seed", "3",
                "--threads", "1").assertOk();
        String body = stripNewline(s.out());
        assertEquals(31, body.codePointCount(0, body.length()), s::describe);
        Cli.Result e = Cli.fork("eval", "--checkpoint", bigram.toString(), "--data", data.toString(), "--eval-iters",
                "2", "--threads", "1").assertOk();
        assertTrue(e.out().contains("val loss"), e::describe);
    }

    @Test
    void zeroIterationsStillSavesAndEvaluatesOnce() throws IOException {
        Path zero = dir.resolve("zero.safetensors");
        Cli.Result r = Cli.fork(Cli.args(Cli.tinyTrain(data, zero, 1), "--iters", "0", "--sample-tokens", "0"))
                .assertFailure();
        // --iters given twice is a usage error: picocli does not let an option be overwritten
        assertEquals(2, r.exit(), r::describe);
        Cli.Result ok = Cli.fork("train", "--data", data.toString(), "--n-embd", "16", "--n-head", "2", "--n-layer", "1",
                "--block-size", "8", "--batch-size", "4", "--iters", "0", "--eval-iters", "1", "--sample-tokens", "0",
                "--out", zero.toString(), "--threads", "1").assertOk();
        assertTrue(ok.out().contains("step 0: train loss"), ok::describe);
        assertTrue(Files.isRegularFile(zero), ok::describe);
    }

    private static List<String> lossLines(Cli.Result r) {
        return r.out().lines().filter(l -> l.startsWith("step ")).toList();
    }
}
