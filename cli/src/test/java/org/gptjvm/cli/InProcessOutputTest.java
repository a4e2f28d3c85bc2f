package org.gptjvm.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Main.run's documented purpose is to be called by tests ("Runs the CLI and returns its exit code (tests
 * call this)"), and eval, --help and every error go through System.out / System.err. train and sample
 * instead write to {@code new FileOutputStream(FileDescriptor.out)}, which bypasses System.setOut: their
 * output cannot be captured in-JVM (and, under surefire, it lands in the fork's native stdout, the
 * channel surefire talks over). These tests expect train's and sample's results in System.out.
 */
class InProcessOutputTest {

    @TempDir
    static Path dir;
    static Path text;

    @BeforeAll
    static void writeText() throws IOException {
        text = Files.writeString(dir.resolve("text.txt"),
                "the quick brown fox jumps over the lazy dog, again and again.\n".repeat(20));
    }

    @Test
    void trainReportsThroughSystemOut() {
        Path out = dir.resolve("m.safetensors");
        Cli.Result r = Cli.run("train", "--data", text.toString(), "--out", out.toString(), "--n-embd", "16",
                "--n-head", "2", "--n-layer", "1", "--block-size", "8", "--batch-size", "2", "--iters", "0",
                "--eval-iters", "1", "--sample-tokens", "0", "--threads", "1").assertOk();
        assertTrue(Files.isRegularFile(out), r::describe);
        assertTrue(r.out().contains("M parameters"), () -> "train's report did not reach System.out\n" + r.describe());
        assertTrue(r.out().contains("step 0: train loss"), r::describe);
    }

    @Test
    void sampleWritesThroughSystemOut() {
        Path out = dir.resolve("s.safetensors");
        Cli.run("train", "--data", text.toString(), "--out", out.toString(), "--n-embd", "16", "--n-head", "2",
                "--n-layer", "1", "--block-size", "8", "--batch-size", "2", "--iters", "0", "--eval-iters", "1",
                "--sample-tokens", "0", "--threads", "1").assertOk();
        Cli.Result r = Cli.run("sample", "--checkpoint", out.toString(), "--prompt", "the ", "--tokens", "5",
                "--threads", "1").assertOk();
        assertTrue(r.out().startsWith("the "), () -> "sample's text did not reach System.out\n" + r.describe());
    }
}
