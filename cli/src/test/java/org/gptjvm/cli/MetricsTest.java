package org.gptjvm.cli;

import org.gptjvm.engine.GptException;
import org.gptjvm.model.train.Metrics;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The metrics file's reader ({@link Metrics}): events, resumes, a half-written last line, errors. */
class MetricsTest {
    @TempDir
    Path tmp;

    static String start(int iter) {
        return "{\"event\":\"start\",\"iter\":" + iter + ",\"time\":\"2026-11-30T12:00:00Z\","
                + "\"backend\":\"cpu backend, 2 thread(s)\",\"model\":{\"n_embd\":64},\"train\":{\"batch_size\":16}}";
    }

    static String train(int iter, double loss) {
        return "{\"event\":\"train\",\"iter\":" + iter + ",\"loss\":" + loss + ",\"lr\":0.001,\"grad_norm\":0.83,"
                + "\"tokens_per_s\":81234.5,\"elapsed_s\":3.2}";
    }

    static String eval(int iter, double trainLoss, double valLoss) {
        return "{\"event\":\"eval\",\"iter\":" + iter + ",\"train_loss\":" + trainLoss + ",\"val_loss\":" + valLoss
                + ",\"lr\":0.001,\"elapsed_s\":12.5}";
    }

    static String end(int iter) {
        return "{\"event\":\"end\",\"iter\":" + iter + ",\"elapsed_s\":87.0,\"train_s\":40.6,\"eval_s\":46.7,"
                + "\"stopped\":false}";
    }

    @Test
    void readsEveryEvent() {
        Metrics.Run run = Metrics.parse(List.of(start(0), train(0, 4.2), train(10, 3.1),
                "{\"event\":\"train\",\"iter\":20,\"loss\":2.9,\"lr\":0.001,\"grad_norm\":null,\"tokens_per_s\":1,\"elapsed_s\":1}",
                "{\"event\":\"train\",\"iter\":30,\"loss\":2.8,\"lr\":0.001}",
                eval(30, 2.7, 2.75), "{\"event\":\"later\",\"iter\":31}", end(30), ""), "m");
        assertEquals(1, run.starts().size());
        Metrics.Start s = run.starts().getFirst();
        assertEquals("cpu backend, 2 thread(s)", s.backend());
        assertEquals(64, s.model().get("n_embd").getAsInt());
        assertEquals(16, s.train().get("batch_size").getAsInt());
        assertEquals(4, run.train().size());
        assertEquals(0.83, run.train().getFirst().gradNorm());
        assertTrue(run.train().getFirst().hasGradNorm());
        assertFalse(run.train().get(2).hasGradNorm(), "null grad_norm");
        assertFalse(run.train().get(3).hasGradNorm(), "absent grad_norm");
        assertEquals(1, run.evals().size());
        assertEquals(2.75, run.lastEval().valLoss());
        assertNotNull(run.end());
        assertFalse(run.end().stopped());
        assertEquals(5, run.points());
        assertEquals(0, run.firstIter());
        assertEquals(30, run.lastIter());
    }

    @Test
    void aResumeFromAnOlderCheckpointDropsThePointsItReplaces() {
        Metrics.Run run = Metrics.parse(List.of(start(0), train(0, 4.0), train(10, 3.0), eval(10, 3.0, 3.1),
                train(20, 2.5), eval(20, 2.4, 2.6), train(30, 2.2), end(30),
                start(10), train(10, 2.9), train(20, 2.6), eval(20, 2.5, 2.7)), "m");
        assertEquals(2, run.starts().size());
        assertEquals(List.of(0, 10, 20), run.train().stream().map(Metrics.Train::iter).toList());
        assertEquals(List.of(4.0, 2.9, 2.6), run.train().stream().map(Metrics.Train::loss).toList());
        assertEquals(1, run.evals().size());
        assertEquals(2.7, run.lastEval().valLoss());
        assertNull(run.end(), "the resumed run has not ended");
    }

    @Test
    void aResumeWherePointsStopKeepsThemAll() {
        Metrics.Run run = Metrics.parse(List.of(start(0), train(0, 4.0), train(10, 3.0), end(10),
                start(11), train(11, 2.9), end(20)), "m");
        assertEquals(List.of(0, 10, 11), run.train().stream().map(Metrics.Train::iter).toList());
        assertEquals(20, run.end().iter());
    }

    @Test
    void aHalfWrittenLastLineIsLeftOut() {
        Metrics.Run run = Metrics.parse(List.of(start(0), train(0, 4.0), "{\"event\":\"train\",\"iter\":1"), "m");
        assertEquals(1, run.train().size());
        run = Metrics.parse(List.of(start(0), train(0, 4.0), "{\"event\":\"train\",\"iter\":1", "", "  "), "m");
        assertEquals(1, run.train().size());
    }

    @Test
    void aBadLineElsewhereIsAnErrorNamingIt() {
        GptException e = assertThrows(GptException.class, () -> Metrics.parse(List.of(start(0), "{\"event\":\"tra",
                train(1, 4.0)), "m.jsonl"));
        assertTrue(e.getMessage().startsWith("m.jsonl: line 2 is not a metrics event"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        for (String bad : List.of("[1,2]", "{\"iter\":3}", "{\"event\":\"train\",\"iter\":3}",
                "{\"event\":\"train\",\"iter\":\"x\",\"loss\":1}", "{\"event\":\"train\",\"iter\":1.5,\"loss\":1}",
                "{\"event\":\"eval\",\"iter\":3,\"train_loss\":1}", "{\"event\":\"end\",\"iter\":1} {}")) {
            assertThrows(GptException.class, () -> Metrics.parse(List.of(bad, train(1, 4.0)), "m"), bad);
        }
    }

    @Test
    void aDivergedLossReadsAsNaN() {
        Metrics.Run run = Metrics.parse(List.of("{\"event\":\"train\",\"iter\":5,\"loss\":NaN,\"lr\":0.001}",
                "{\"event\":\"train\",\"iter\":6,\"loss\":null}", train(7, 1.0)), "m");
        assertTrue(Double.isNaN(run.train().get(0).loss()));
        assertTrue(Double.isNaN(run.train().get(1).loss()));
    }

    @Test
    void readingAFile() throws IOException {
        Path f = tmp.resolve("gpt.metrics.jsonl");
        GptException missing = assertThrows(GptException.class, () -> Metrics.read(f));
        assertTrue(missing.getMessage().contains(f.toString()), missing.getMessage());
        Files.writeString(f, "");
        assertThrows(GptException.class, () -> Metrics.read(f));
        Files.writeString(f, start(0) + "\n");
        GptException none = assertThrows(GptException.class, () -> Metrics.read(f));
        assertTrue(none.getMessage().contains("no training points"), none.getMessage());
        // a last line cut inside a multi-byte character
        byte[] head = (start(0) + "\n" + train(0, 4.0) + "\n{\"event\":\"start\",\"backend\":\"é").getBytes(
                java.nio.charset.StandardCharsets.UTF_8);
        Files.write(f, java.util.Arrays.copyOf(head, head.length - 1));
        assertEquals(1, Metrics.read(f).points());
    }

    @Test
    void fileNames() {
        assertEquals(Path.of("out", "gpt.metrics.jsonl"), Metrics.metricsFileFor(Path.of("out", "gpt.safetensors")));
        assertEquals(Path.of("out", "gpt.loss.png"), Metrics.plotFileFor(Path.of("out", "gpt.safetensors")));
        assertEquals(Path.of("out", "gpt.loss.png"), Metrics.plotFileForMetrics(Path.of("out", "gpt.metrics.jsonl")));
        assertEquals(Path.of("m.bin.metrics.jsonl"), Metrics.metricsFileFor(Path.of("m.bin")));
        assertEquals(Path.of("run.loss.png"), Metrics.plotFileForMetrics(Path.of("run.jsonl")));
    }

    /**
     * A resume's start line says which earlier lines it rolls back, so that a reader of the raw JSON
     * lines knows: here a run killed after iteration 39 whose last checkpoint was at 30.
     */
    @Test
    void aResumesStartSaysWhichLinesItRollsBack() throws IOException {
        Path data = Files.writeString(tmp.resolve("text.txt"), "First Citizen: we are accounted poor.\n".repeat(200));
        Path ck = tmp.resolve("ck.safetensors");
        Cli.run(Cli.tinyRun(data, ck, 30)).assertOk();
        Path metrics = Metrics.metricsFileFor(ck);
        StringBuilder killed = new StringBuilder();
        for (int i = 30; i < 40; i++) {
            killed.append(train(i, 2.0)).append('\n'); // written before a kill -9, after the checkpoint
        }
        Files.writeString(metrics, killed, java.nio.file.StandardOpenOption.APPEND);
        Metrics.Run before = Metrics.read(metrics);
        long standing = before.train().stream().filter(t -> t.iter() >= 30).count()
                + before.evals().stream().filter(e -> e.iter() >= 30).count();
        assertTrue(standing >= 10, "the lines of the killed run stand before the resume");

        Cli.run(Cli.tinyRun(data, ck, 40, "--resume", ck.toString())).assertOk();
        List<String> starts = Files.readAllLines(metrics).stream().filter(l -> l.contains("\"start\"")).toList();
        assertEquals(2, starts.size());
        assertFalse(starts.get(0).contains(Metrics.ROLLED_BACK_FROM), "a fresh run rolls nothing back: " + starts.get(0));
        com.google.gson.JsonObject resume = com.google.gson.JsonParser.parseString(starts.get(1)).getAsJsonObject();
        assertEquals(30, resume.get(Metrics.ITER).getAsInt());
        assertEquals(30, resume.get(Metrics.ROLLED_BACK_FROM).getAsInt(), starts.get(1));
        assertEquals(standing, resume.get(Metrics.ROLLED_BACK_LINES).getAsLong(), starts.get(1));
        Metrics.Run after = Metrics.read(metrics);
        assertEquals(after.train().stream().map(Metrics.Train::iter).distinct().count(), after.train().size(),
                "an iteration is read twice after the resume");
    }

    /** A start's rolled_back_from is what rolls back, where it is given; without it, its iter. */
    @Test
    void rolledBackFromDecidesWhichEarlierPointsAreDropped() {
        String resume = "{\"event\":\"start\",\"iter\":40,\"rolled_back_from\":20,\"rolled_back_lines\":3}";
        Metrics.Run run = Metrics.parse(List.of(start(0), train(10, 3.0), train(20, 2.5), eval(20, 2.5, 2.6),
                train(30, 2.0), resume, train(40, 1.9)), "m");
        assertEquals(List.of(10, 40), run.train().stream().map(Metrics.Train::iter).toList());
        assertTrue(run.evals().isEmpty());
        assertEquals(20, run.starts().get(1).rolledBackFrom());
        // a later start rolls back what an earlier one kept, and a point after a start is its own
        run = Metrics.parse(List.of(start(0), train(10, 3.0), train(20, 2.5), start(15), train(15, 2.8), train(20, 2.4),
                start(18), train(18, 2.3)), "m");
        assertEquals(List.of(10, 15, 18), run.train().stream().map(Metrics.Train::iter).toList());
        assertEquals(List.of(2.8, 2.3), run.train().stream().skip(1).map(Metrics.Train::loss).toList());
    }
}
