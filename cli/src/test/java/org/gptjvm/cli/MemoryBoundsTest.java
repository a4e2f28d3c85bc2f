package org.gptjvm.cli;

import org.gptjvm.model.GptConfig;
import org.gptjvm.model.Memory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Memory and time bounded by the input: a model larger than the JVM's heap is refused before any of
 * it is allocated, with one line naming the setting that makes it large (not an out-of-memory error
 * after minutes, nor the OOM killer); loops whose length a flag or a checkpoint sets are bounded.
 */
class MemoryBoundsTest {
    @TempDir
    Path tmp;

    private Path text() throws IOException {
        return Files.writeString(tmp.resolve("t.txt"), "the quick brown fox jumps over the lazy dog.\n".repeat(40));
    }

    @Test
    void trainRefusesTwoBillionLayersNamingNLayerAndTheFigure() throws IOException {
        Cli.Result r = Cli.run("train", "--n-layer", "2147483647", "--data", text().toString(),
                "--out", tmp.resolve("m.safetensors").toString(), "--threads", "1").assertError(2);
        String e = r.err();
        assertTrue(e.contains("--n-layer 2147483647 needs ") && e.contains("PiB of memory for the model (parameters, "
                + "gradients, AdamW moments, activations for batch 16 x 32); this JVM may use ")
                && e.contains("use a smaller --n-layer"), r.describe());
        assertTrue(!Files.exists(tmp.resolve("m.safetensors")), r.describe());
    }

    @Test
    void trainRefusesAHugeBatchNamingBatchSize() throws IOException {
        Cli.Result r = Cli.run("train", "--batch-size", "200000", "--data", text().toString(),
                "--out", tmp.resolve("m.safetensors").toString(), "--threads", "1").assertError(2);
        assertTrue(r.err().contains("--batch-size 200000 needs ") && r.err().contains("use a smaller --batch-size"),
                r.describe());
    }

    @Test
    void outOfMemoryNamesTheSettingThatIsLargeNotAlwaysBatchSize() {
        GptConfig layers = new GptConfig(GptConfig.GPT, 65, 32, 64, 4, 100_000, 0f);
        // a device backend's memory is not checked ahead: the estimate still tells what an OOM is about
        MemoryCheck.require(Memory.of(Memory.Use.TRAIN, layers, 16, 200, 1, 0), false, MemoryCheck::flag);
        String msg = MemoryCheck.outOfMemory();
        assertTrue(msg.contains("--n-layer 100000 is what makes it large") && msg.endsWith("use a smaller --n-layer")
                && !msg.contains("--batch-size"), msg);
    }
}
