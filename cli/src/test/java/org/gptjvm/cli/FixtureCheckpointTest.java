package org.gptjvm.cli;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * --checkpoint also takes the PyTorch reference weights (shared/fixtures/ref_tiny.safetensors: config and
 * chars metadata, no training state). Skipped without ../shared.
 */
class FixtureCheckpointTest {

    @Test
    void sampleFromThePyTorchFixture() {
        Path ckpt = SharedData.require("fixtures/ref_tiny.safetensors");
        Cli.Result r = Cli.fork("sample", "--checkpoint", ckpt.toString(), "--tokens", "40", "--seed", "5",
                "--threads", "1").assertOk();
        String body = r.out().strip();
        assertTrue(body.codePointCount(0, body.length()) >= 30, r::describe);
        assertEquals(r.out(), Cli.fork("sample", "--checkpoint", ckpt.toString(), "--tokens", "40", "--seed", "5",
                "--threads", "1").assertOk().out());
    }

    @Test
    void evalThePyTorchFixture() {
        Path ckpt = SharedData.require("fixtures/ref_tiny.safetensors");
        Path data = SharedData.tinyShakespeare();
        // eval prints through System.out, so this one runs in-process
        Cli.Result r = Cli.run("eval", "--checkpoint", ckpt.toString(), "--data", data.toString(), "--eval-iters", "2",
                "--threads", "1").assertOk();
        assertTrue(r.out().contains("train loss") && r.out().contains("val loss"), r::describe);
    }

    @Test
    void fixtureBlockSizeIsEnforced() {
        Path ckpt = SharedData.require("fixtures/ref_tiny.safetensors"); // block_size 16
        Cli.Result r = Cli.run("sample", "--checkpoint", ckpt.toString(), "--block-size", "17", "--tokens", "5",
                "--threads", "1").assertError(2);
        assertTrue(r.err().contains("16"), r::describe);
    }
}
