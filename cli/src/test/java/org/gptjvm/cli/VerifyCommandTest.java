package org.gptjvm.cli;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** gpt verify on the PyTorch fixtures, and the round trip: our checkpoint into PyTorch's model. */
class VerifyCommandTest {

    @ParameterizedTest(name = "{0} on {1}")
    @CsvSource({"ref_tiny, reference", "ref_tiny, cpu", "ref_small, reference", "ref_small, cpu"})
    void sharedFixturesPass(String fixture, String backend) {
        Path ref = SharedData.require("fixtures/" + fixture + ".safetensors");
        Cli.Result r = Cli.run("verify", "--reference", ref.toString(), "--backend", backend).assertOk();
        assertTrue(r.out().contains("OK: all"), r.out());
        assertTrue(r.out().contains("grad.blocks.0.sa.heads.0.key.weight"), r.out());
        System.out.println(r.out());
    }

    @Test
    void anImpossibleToleranceFailsWithExitOne() {
        Path ref = SharedData.require("fixtures/ref_tiny.safetensors");
        Cli.Result r = Cli.run("verify", "--reference", ref.toString(), "--tolerance", "1e-12");
        assertEquals(1, r.exit(), r.out() + r.err());
        assertTrue(r.out().contains("FAILED"), r.out());
    }

    @Test
    void aMissingReferenceIsAOneLineError() {
        Cli.run("verify", "--reference", "/nonexistent/ref.safetensors").assertError(1);
        Cli.run("verify").assertError(2);
    }

    /**
     * A checkpoint written by gpt train loads into the lecture's PyTorch model
     * (torch_reference.py --init builds it from our file with load_state_dict) and PyTorch's
     * logits, loss, gradients and AdamW steps from those weights agree with ours.
     */
    @Test
    void aTrainedCheckpointLoadsIntoPyTorchAndAgrees(@TempDir Path tmp) throws Exception {
        Path data = SharedData.require("data/tinyshakespeare.txt");
        Path script = SharedData.require("tools/torch_reference.py");
        boolean torch = hasTorch();
        if (!torch && System.getenv("CI") != null) {
            throw new AssertionError("CI without python3-torch: .ci/run should have installed it");
        }
        Assumptions.assumeTrue(torch, "skipped: /usr/bin/python3 cannot import torch (apt-get install python3-torch)");
        Path ckpt = tmp.resolve("trained.safetensors");
        Cli.run("train", "--data", data.toString(), "--n-embd", "32", "--n-head", "4", "--n-layer", "2",
                "--block-size", "16", "--batch-size", "8", "--iters", "30", "--eval-interval", "30", "--eval-iters", "2",
                "--sample-tokens", "0", "--out", ckpt.toString()).assertOk();
        Path ref = tmp.resolve("torch_from_ours.safetensors");
        Process p = new ProcessBuilder("/usr/bin/python3", script.toString(), "--init", ckpt.toString(), "--data",
                data.toString(), "--out", ref.toString(), "--batch", "4").redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "torch_reference.py timed out");
        assertEquals(0, p.exitValue(), log);
        Cli.Result r = Cli.run("verify", "--reference", ref.toString()).assertOk();
        System.out.println(r.out());
        assertTrue(r.out().contains("OK: all"), r.out());
    }

    private static boolean hasTorch() throws IOException, InterruptedException {
        if (!Files.isExecutable(Path.of("/usr/bin/python3"))) {
            return false;
        }
        Process p = new ProcessBuilder("/usr/bin/python3", "-c", "import torch").redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0;
    }
}
