package org.gptjvm.cli;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.Memory;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.data.CharTokenizer;
import org.gptjvm.model.train.Checkpoint;
import org.gptjvm.model.train.Optimizer;
import org.gptjvm.model.train.TrainOptions;
import org.gptjvm.model.train.TrainState;
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

    /** On a device backend that reports its memory, a model larger than it is refused naming the setting. */
    @Test
    void aDeviceRefusesAModelLargerThanItsMemory() {
        org.gptjvm.engine.Backend device = (org.gptjvm.engine.Backend) java.lang.reflect.Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[]{org.gptjvm.engine.Backend.class}, (proxy, m, args) ->
                        switch (m.getName()) {
                            case "deviceMemory" -> 64L << 20;
                            case "device" -> "a 64 MiB device";
                            default -> throw new UnsupportedOperationException(m.getName());
                        });
        GptConfig big = new GptConfig(GptConfig.GPT, 65, 256, 384, 6, 6, 0f);
        MemoryCheck.require(Memory.of(Memory.Use.TRAIN, big, 64, 1, 1, 0), false, MemoryCheck::flag);
        org.gptjvm.engine.GptException e = org.junit.jupiter.api.Assertions.assertThrows(
                org.gptjvm.engine.GptException.class, () -> MemoryCheck.requireOnDevice(device));
        assertTrue(e.getMessage().contains("the device (a 64 MiB device) can hold 64.0 MiB")
                && e.getMessage().contains("use a smaller --"), e.getMessage());
        MemoryCheck.require(Memory.of(Memory.Use.TRAIN, new GptConfig(GptConfig.GPT, 65, 8, 16, 2, 1, 0f), 2, 1, 1, 0),
                false, MemoryCheck::flag);
        MemoryCheck.requireOnDevice(device); // a small one fits
    }

    /** A setting the user never gave is named as the preset's, not as a flag given. */
    @Test
    void aPresetTooLargeForTheHeapIsNamedAsThePresets() throws IOException {
        Cli.Result r = new Cli.Fork().run("train", "--config", "lecture", "--data", text().toString(), "--out",
                tmp.resolve("l.safetensors").toString(), "--threads", "1").assertError(2);
        assertTrue(r.err().contains("(--config lecture's)") && r.err().contains("JAVA_OPTS=-Xmx"), r.describe());
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

    @Test
    void gradAccumAndEvalItersHaveBoundsSoAStepOrAnEvaluationEnds() throws IOException {
        String data = text().toString(), out = tmp.resolve("m.safetensors").toString();
        Cli.Result r = Cli.run("train", "--grad-accum", "2147483647", "--iters", "1", "--data", data, "--out", out,
                "--threads", "1").assertError(2);
        assertTrue(r.err().contains("--grad-accum must be at most 1000000 (micro-batches per step"), r.describe());
        r = Cli.run("train", "--eval-iters", "2147483647", "--iters", "1", "--data", data, "--out", out, "--threads", "1")
                .assertError(2);
        assertTrue(r.err().contains("--eval-iters must be at most 1000000 (batches per split"), r.describe());
        r = Cli.run("eval", "--eval-iters", "2147483647", "--checkpoint", out, "--data", data, "--threads", "1")
                .assertError(2);
        assertTrue(r.err().contains("--eval-iters must be at most 1000000"), r.describe());
        r = Cli.run("bench", "--iters", "2147483647", "--backend", "reference").assertError(2);
        assertTrue(r.err().contains("--iters must be at most 1000000"), r.describe());
    }

    /** A checkpoint of a run whose saved options are {@code options}, in the vocabulary of {@link #text}. */
    private Path runCheckpoint(TrainOptions options) throws IOException {
        CharTokenizer tok = CharTokenizer.fromText(Files.readString(text()));
        GptConfig cfg = new GptConfig(GptConfig.GPT, tok.vocabSize(), 8, 16, 2, 1, 0f);
        Path f = tmp.resolve("run.safetensors");
        try (Backend b = new ReferenceBackend(1)) {
            Gpt gpt = new Gpt(b, cfg);
            gpt.params.initialize(Seeds.init(1));
            Checkpoint.save(f, gpt, new Optimizer(gpt, Optimizer.Settings.PYTORCH), tok, new TrainState(0, options, 1, 2));
        }
        return f;
    }

    @Test
    void evalBlamesTheCheckpointsSavedBatchSizeNotTheFlag() throws IOException {
        Path f = runCheckpoint(new TrainOptions(10_000_000, 1e-3, 10, 5, 1, 1));
        Cli.Result r = Cli.run("eval", "--checkpoint", f.toString(), "--data", text().toString(), "--threads", "1")
                .assertError(1);
        assertTrue(r.err().startsWith("gpt: error: " + f + ": batch_size (the run's; set --batch-size) 10000000: ")
                && !r.err().contains("--help"), r.describe());
    }

    @Test
    void aCosineScheduleLongerThanItsRunNamesIters() throws IOException {
        Cli.Result r = Cli.run("train", "--lr-schedule", "cosine", "--iters", "10", "--warmup-iters", "100",
                "--data", text().toString(), "--out", tmp.resolve("m.safetensors").toString(), "--threads", "1").assertError(2);
        assertTrue(r.err().startsWith("gpt: --iters (10) must be above --warmup-iters (100)")
                && r.err().contains("whose default is --iters"), r.describe());
    }
}
