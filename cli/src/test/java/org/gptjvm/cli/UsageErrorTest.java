package org.gptjvm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Usage errors: exit 2, exactly one "gpt: ..." line on stderr, no stack trace, nothing on stdout.
 * Each run is rejected before any data is read or any model built, so these run in this JVM.
 */
class UsageErrorTest {

    @TempDir
    Path tmp;

    /** --out in the temp dir, so a check that (wrongly) got past validation would not write into the repo. */
    private Cli.Result train(String... args) {
        String[] all = new String[args.length + 3];
        all[0] = "train";
        System.arraycopy(args, 0, all, 1, args.length);
        all[args.length + 1] = "--out";
        all[args.length + 2] = tmp.resolve("m.safetensors").toString();
        return Cli.run(all);
    }

    private static Cli.Result usage(Cli.Result r) {
        r.assertError(2);
        assertEquals("", r.out(), r::describe);
        assertTrue(r.err().contains("--help"), () -> "a usage error should point at --help\n" + r.describe());
        return r;
    }

    @Test
    void aPlanIsADeviceBackendsAndIsRefusedForAHostOne() {
        Cli.Result r = usage(Cli.run("bench", "--plan", "--backend", "cpu"));
        assertTrue(r.err().contains("--plan") && r.err().contains("cpu runs on the host"), r::describe);
    }

    @Test
    void aDeviceIsForADeviceBackend() {
        Cli.Result r = usage(Cli.run("bench", "--backend", "cpu", "--device", "0"));
        assertTrue(r.err().contains("--device is for the tornado backend"), r::describe);
    }

    @Test
    void anInfiniteToleranceWouldPassAnything() {
        Cli.Result r = usage(Cli.run("verify", "--reference", tmp.resolve("ref.safetensors").toString(),
                "--tolerance=Infinity"));
        assertTrue(r.err().contains("--tolerance must be a positive number"), r::describe);
    }

    @Test
    void productsAloneDoNotGoWithEvaluation() {
        Cli.Result r = usage(Cli.run("bench", "--products", "--eval", "--backend", "cpu"));
        assertTrue(r.err().contains("--products") && r.err().contains("--eval"), r::describe);
    }

    @Test
    void noSubcommand() {
        Cli.Result r = usage(Cli.run());
        assertTrue(r.err().contains("train"), r::describe);
    }

    @Test
    void unknownSubcommand() {
        Cli.Result r = usage(Cli.run("nosuch"));
        assertTrue(r.err().contains("nosuch"), r::describe);
    }

    @Test
    void unknownTopLevelOption() {
        usage(Cli.run("--bogus"));
    }

    @Test
    void unknownTrainOption() {
        Cli.Result r = usage(train("--bogus"));
        assertTrue(r.err().contains("--bogus"), r::describe);
    }

    @Test
    void unknownSampleAndEvalOptions() {
        usage(Cli.run("sample", "--bogus"));
        usage(Cli.run("eval", "--bogus"));
    }

    @Test
    void nEmbdNotDivisibleByNHead() {
        Cli.Result r = usage(train("--n-embd", "30", "--n-head", "4"));
        assertTrue(r.err().contains("30") && r.err().contains("4"), r::describe);
    }

    @Test
    void zeroBatchSize() {
        usage(train("--batch-size", "0"));
    }

    @Test
    void negativeBlockSize() {
        usage(train("--block-size", "-1"));
    }

    @Test
    void hugeBlockSize() {
        usage(train("--block-size", "100000000"));
    }

    @Test
    void nonNumericIters() {
        Cli.Result r = usage(train("--iters", "abc"));
        assertTrue(r.err().contains("abc"), r::describe);
    }

    @Test
    void negativeIters() {
        usage(train("--iters", "-1"));
    }

    @Test
    void missingOptionValue() {
        usage(train("--iters"));
    }

    @Test
    void unknownConfigPreset() {
        Cli.Result r = usage(train("--config", "bogus"));
        assertTrue(r.err().contains("bogus"), r::describe);
    }

    @Test
    void unknownModelKind() {
        usage(train("--model", "lstm"));
    }

    @Test
    void badDropoutAndLearningRate() {
        usage(train("--dropout", "1.5"));
        usage(train("--dropout", "-0.1"));
        usage(train("--lr", "-1"));
        usage(train("--lr", "0"));
    }

    @Test
    void badEvalSettings() {
        usage(train("--eval-interval", "0"));
        usage(train("--eval-iters", "0"));
        usage(train("--n-layer", "0"));
        usage(train("--sample-tokens", "-1"));
    }

    @Test
    void unknownBackend() {
        // needs data: pass the shared file if there is one, else a small text file
        Path data = SharedData.has("data/tinyshakespeare.txt") ? SharedData.dir().resolve("data/tinyshakespeare.txt")
                : writeText("some text long enough for a block of eight characters, twice over and more.\n".repeat(4));
        Cli.Result r = train("--backend", "nosuch", "--data", data.toString(), "--block-size", "8", "--n-embd", "16",
                "--n-head", "2", "--n-layer", "1", "--iters", "1", "--sample-tokens", "0").assertFailure();
        assertTrue(r.err().contains("nosuch"), r::describe);
        assertTrue(r.err().contains("reference"), () -> "should list the backends there are\n" + r.describe());
    }

    @Test
    void sampleUsageErrors() {
        Path ckpt = tmp.resolve("absent.safetensors");
        // checked before the checkpoint is read
        usage(Cli.run("sample", "--checkpoint", ckpt.toString(), "--tokens", "-1"));
        usage(Cli.run("sample", "--checkpoint", ckpt.toString(), "--temperature", "-1"));
        usage(Cli.run("sample", "--checkpoint", ckpt.toString(), "--top-k", "-1"));
        usage(Cli.run("sample", "--checkpoint", ckpt.toString(), "--tokens", "many"));
    }

    @Test
    void evalUsageErrors() {
        Path ckpt = tmp.resolve("absent.safetensors");
        usage(Cli.run("eval", "--checkpoint", ckpt.toString(), "--eval-iters", "0"));
        usage(Cli.run("eval", "--checkpoint", ckpt.toString(), "--batch-size", "0"));
    }

    private Path writeText(String s) {
        try {
            return java.nio.file.Files.writeString(tmp.resolve("text.txt"), s);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
