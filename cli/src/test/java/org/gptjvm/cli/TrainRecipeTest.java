package org.gptjvm.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.gptjvm.model.train.Checkpoint;
import org.gptjvm.model.train.Metrics;
import org.gptjvm.model.train.Optimizer;
import org.gptjvm.model.train.Recipe;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code gpt train} with nanoGPT's knobs on a tiny model: the recipe is printed and saved, the
 * metrics file holds the documented events and keys, the loss picture is a PNG, a resumed run keeps
 * its recipe and appends to the metrics, and bad knobs are one-line usage errors. Skipped without
 * ../shared.
 */
class TrainRecipeTest {
    @TempDir
    static Path dir;
    static Path data;

    @BeforeAll
    static void data() {
        data = SharedData.tinyShakespeare();
    }


    static final String[] KNOBS = {"--lr-schedule", "cosine", "--warmup-iters", "5", "--lr-decay-iters", "20",
            "--min-lr", "1e-4", "--grad-clip", "0.5", "--grad-accum", "2", "--beta2", "0.99", "--weight-decay", "0.1",
            "--decay-matrices-only", "--log-interval", "3"};

    @Test
    void knobsAreSavedLoggedPlottedAndKeptOnResume() throws IOException {
        Path model = dir.resolve("knobs.safetensors");
        Cli.Result r = Cli.fork(Cli.tinyRun(data, model, 12, KNOBS)).assertOk();
        assertTrue(r.out().contains("recipe: cosine lr 0.001 -> 0.0001 over 20 iterations, warmup 5; AdamW betas (0.9, "
                + "0.99), weight decay 0.1 (matrices only); grad clip 0.5; grad accum 2"), r.describe());
        Path metrics = dir.resolve("knobs.metrics.jsonl"), picture = dir.resolve("knobs.loss.png");
        assertTrue(r.out().contains("metrics: " + metrics + "; loss curves: " + picture), r.describe());

        Recipe saved = Checkpoint.load(model).train.options().recipe();
        assertEquals(new Recipe(new Optimizer.Schedule(Optimizer.Schedule.Kind.cosine, 5, 20, 1e-4),
                new Optimizer.Settings(0.9, 0.99, Optimizer.EPS, 0.1, true), 0.5, 2), saved);

        List<JsonObject> lines = Files.readAllLines(metrics, StandardCharsets.UTF_8).stream()
                .map(l -> JsonParser.parseString(l).getAsJsonObject()).toList();
        assertEquals("start", lines.getFirst().get("event").getAsString());
        assertEquals("end", lines.getLast().get("event").getAsString());
        List<JsonObject> train = lines.stream().filter(l -> l.get("event").getAsString().equals("train")).toList();
        assertEquals(List.of(3, 6, 9, 12), train.stream().map(l -> l.get("iter").getAsInt()).toList());
        for (JsonObject t : train) {
            for (String k : new String[]{"loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s"}) {
                assertTrue(t.has(k) && t.get(k).getAsDouble() > 0, k + " in " + t);
            }
            // the rate of the step that made iteration i: get_lr(i - 1)
            int i = t.get("iter").getAsInt();
            assertEquals(saved.schedule().learningRate(1e-3, i - 1, 12), t.get("lr").getAsDouble(), 1e-15, t.toString());
        }
        List<JsonObject> evals = lines.stream().filter(l -> l.get("event").getAsString().equals("eval")).toList();
        assertEquals(List.of(0, 10, 11), evals.stream().map(l -> l.get("iter").getAsInt()).toList());
        assertTrue(evals.stream().allMatch(e -> e.has("train_loss") && e.has("val_loss") && e.has("lr")));
        assertTrue(lines.getFirst().getAsJsonObject("train").get("grad_clip").getAsDouble() == 0.5);

        byte[] png = Files.readAllBytes(picture);
        assertTrue(png.length > 5000, "picture of " + png.length + " bytes");
        assertArrayEquals(Outputs.PNG_SIGNATURE, java.util.Arrays.copyOf(png, 8));

        // resumed: the saved recipe goes on (a flag that would change it is refused), the metrics grow
        Cli.run(Cli.tinyRun(data, model, 20, "--resume", model.toString(), "--grad-clip", "1.0")).assertError(2);
        Cli.run(Cli.tinyRun(data, model, 20, "--resume", model.toString(), "--no-decay-matrices-only")).assertError(2);
        Cli.fork(Cli.tinyRun(data, model, 20, "--resume", model.toString(), "--grad-clip", "0.5")).assertOk();
        Metrics.Run run = Metrics.read(metrics);
        assertEquals(2, run.starts().size());
        assertEquals(12, run.starts().get(1).iter());
        assertEquals(20, run.lastIter());
        assertFalse(run.end() == null || run.end().stopped());
    }

    @Test
    void resumedKnobRunIsTheUninterruptedRun() throws IOException {
        Path whole = dir.resolve("whole.safetensors"), part = dir.resolve("part.safetensors");
        Cli.fork(Cli.tinyRun(data, whole, 14, KNOBS)).assertOk();
        Cli.fork(Cli.tinyRun(data, part, 7, KNOBS)).assertOk(); // stops in the cosine decay
        Cli.fork(Cli.tinyRun(data, part, 14, "--resume", part.toString())).assertOk();
        Checkpoint a = Checkpoint.load(whole), b = Checkpoint.load(part);
        for (String k : a.weights.keySet()) {
            assertArrayEquals(a.weights.get(k).data(), b.weights.get(k).data(), k);
        }
    }

    @Test
    void badKnobsAreUsageErrors() {
        Path out = dir.resolve("bad.safetensors");
        String[][] bad = {{"--grad-accum", "0"}, {"--beta2", "1"}, {"--beta1", "-0.1"}, {"--grad-clip", "-1"},
                {"--warmup-iters", "-1"}, {"--lr-schedule", "linear"}, {"--log-interval", "0"}, {"--min-lr", "-1"},
                {"--weight-decay", "NaN"}, {"--lr-schedule", "cosine", "--warmup-iters", "50", "--lr-decay-iters", "40"},
                // NaN and 0 were the recipe's "not given", taken silently; a floor above the peak decayed upwards
                {"--lr-schedule", "cosine", "--min-lr", "NaN"}, {"--lr-schedule", "cosine", "--lr-decay-iters", "0"},
                {"--lr-schedule", "cosine", "--min-lr", "5"}, {"--config", "nanogpt", "--lr", "5e-5"}};
        for (String[] b : bad) {
            Cli.Result r = Cli.run(Cli.tinyRun(data, out, 5, b)).assertError(2);
            assertTrue(r.err().lines().count() == 1, r::describe);
        }
        assertFalse(Files.exists(out));
    }

    @Test
    void nanogptPresetIsNanoGptsRecipeOnTheLecturesModel() {
        Path out = dir.resolve("nano.safetensors");
        // the preset's recipe with a model small enough for a test
        Cli.Result r = Cli.fork("train", "--config", "nanogpt", "--data", data.toString(), "--n-embd", "16",
                "--n-layer", "1", "--n-head", "2", "--block-size", "8", "--batch-size", "2", "--iters", "3",
                "--eval-iters", "1", "--sample-tokens", "0", "--threads", "1", "--out", out.toString()).assertOk();
        assertTrue(r.out().contains("batch 2, lr 0.001, 3 iterations"), r.describe());
        assertTrue(r.out().contains("recipe: cosine lr 0.001 -> 0.0001 over 5000 iterations, warmup 100; AdamW betas "
                + "(0.9, 0.99), weight decay 0.1 (matrices only); grad clip 1; grad accum 1"), r.describe());
        assertTrue(r.out().contains("dropout 0.2"), r.describe());
    }
}
