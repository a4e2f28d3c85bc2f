package org.gptjvm.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.gptjvm.model.train.Metrics;
import org.gptjvm.model.train.RunLock;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One writer per run, and --force reaching only what it names: a training run locks its checkpoint's
 * name (checkpoint, metrics, picture) for its whole life, against a second run started beside it; a
 * run never writes over the text it reads nor a file gpt did not write; a resumed run keeps its
 * metrics apart from another run's; a save that fails mid-run is told at once. The concurrency cases
 * start real processes.
 */
class OneWriterPerRunTest {
    static Path data;

    @TempDir
    Path tmp;

    @BeforeAll
    static void data() {
        data = SharedData.tinyShakespeare();
    }

    /** A tiny run to {@code out}, long enough ({@code iters}) to be caught running. */
    private static String[] tiny(Path out, int iters, String... more) {
        return Cli.tinyRun(data, out, iters, more);
    }

    /** A run in a child JVM, going on in the background. */
    private record Child(Process process, Path out, Path err) {
        String stderr() throws IOException {
            return Files.readString(err, StandardCharsets.UTF_8);
        }

        void kill() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private Child start(String name, String... args) throws IOException {
        Path out = tmp.resolve(name + ".stdout"), err = tmp.resolve(name + ".stderr");
        return new Child(new Cli.Fork().start(out, err, args), out, err);
    }

    private static void await(String what, Child c, BooleanSupplier done) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!done.getAsBoolean()) {
            if (!c.process.isAlive()) {
                throw new AssertionError("the run ended (exit " + c.process.exitValue() + ") before " + what + ":\n"
                        + c.stderr() + Files.readString(c.out));
            }
            if (System.nanoTime() > end) {
                c.kill();
                throw new AssertionError("no " + what + " in 120 s");
            }
            Thread.sleep(50);
        }
    }

    @Test
    void aSecondRunOnTheSameCheckpointIsRefusedNamingTheFirstWhileReadersGoOn() throws Exception {
        Path ckpt = tmp.resolve("same.safetensors");
        Child first = start("first", tiny(ckpt, 1_000_000));
        try {
            await("first checkpoint", first, () -> RunLock.isHeld(ckpt) && Files.exists(ckpt));
            String pid = "process " + first.process.pid();
            for (String[] second : List.of(tiny(ckpt, 100, "--force"), tiny(ckpt, 100, "--resume", ckpt.toString()),
                    // the same name without .safetensors: the same metrics and picture
                    tiny(tmp.resolve("same"), 100, "--force"))) {
                Cli.Result r = Cli.run(second).assertError(1);
                assertTrue(r.err().contains("is being written by another run (" + pid), r::describe);
            }
            // reading goes on while it trains
            Cli.run("sample", "--checkpoint", ckpt.toString(), "--tokens", "20", "--threads", "1").assertOk();
            Cli.run("eval", "--checkpoint", ckpt.toString(), "--data", data.toString(), "--eval-iters", "1",
                    "--threads", "1").assertOk();
            Cli.run("plot", "--metrics", Metrics.metricsFileFor(ckpt).toString()).assertOk();
        } finally {
            first.kill(); // SIGKILL: the lock dies with the process
        }
        assertFalse(RunLock.isHeld(ckpt), "a killed run's lock is gone");
        Cli.run(tiny(ckpt, 30, "--force")).assertOk();
        // a run that ends leaves its model, metrics and picture, and no lock file
        assertFalse(Files.exists(RunLock.fileFor(ckpt)), "the lock file is left behind");
    }

    /** A lock file planted as a link (symbolic, dangling, or a hard link) is refused, never written through. */
    @Test
    void aLockFilePlantedAsALinkIsNeverWrittenThrough() throws Exception {
        Path victim = Files.writeString(tmp.resolve("victim.txt"), "precious\n");
        Path z = tmp.resolve("z.safetensors");
        Files.createSymbolicLink(RunLock.fileFor(z), victim);
        Cli.Result r = Cli.run(tiny(z, 5)).assertError(1);
        assertTrue(r.err().contains("symbolic link"), r::describe);
        Path dangling = tmp.resolve("d.safetensors"), target = tmp.resolve("created-by-gpt.txt");
        Files.createSymbolicLink(RunLock.fileFor(dangling), target);
        Cli.run(tiny(dangling, 5)).assertError(1);
        assertFalse(Files.exists(target), "a dangling link's target was created");
        Path h = tmp.resolve("h.safetensors");
        Files.createLink(RunLock.fileFor(h), victim);
        r = Cli.run(tiny(h, 5)).assertError(1);
        assertTrue(r.err().contains("not a plain file of its own"), r::describe);
        assertEquals("precious\n", Files.readString(victim));
        assertFalse(Files.exists(z) || Files.exists(h), "refused before any work");
    }

    @Test
    void twoRunsStartedTogetherWriteOneRecordNotTwoInterleaved() throws Exception {
        Path ckpt = tmp.resolve("both.safetensors");
        Child a = start("a", tiny(ckpt, 3000, "--force"));
        Child b = start("b", tiny(ckpt, 3000, "--force"));
        assertTrue(a.process.waitFor(170, TimeUnit.SECONDS) && b.process.waitFor(10, TimeUnit.SECONDS), "runs ended");
        int ok = 0;
        for (Child c : List.of(a, b)) {
            if (c.process.exitValue() == 0) {
                ok++;
            } else {
                assertEquals(1, c.process.exitValue(), c.stderr());
                assertTrue(c.stderr().contains("is being written by another run (process "), c.stderr());
            }
        }
        assertEquals(1, ok, "one run trains, the other is refused");
        List<String> lines = Files.readAllLines(Metrics.metricsFileFor(ckpt));
        long starts = 0;
        for (String line : lines) {
            JsonObject o = JsonParser.parseString(line).getAsJsonObject(); // every line whole
            starts += o.get(Metrics.EVENT).getAsString().equals(Metrics.START) ? 1 : 0;
        }
        assertEquals(1, starts, "one run's record");
    }

    @Test
    void forceNeverReplacesTheTrainingText() throws Exception {
        Path text = Files.copy(data, tmp.resolve("t.txt"));
        byte[] before = Files.readAllBytes(text);
        Cli.Result r = Cli.run(Cli.tinyRun(text, text, 5, "--force")).assertError(1);
        assertTrue(r.err().contains("is the --out file"), r::describe);
        // nor where the run writes its metrics or picture
        Path metricsText = Files.copy(data, tmp.resolve("m.metrics.jsonl"));
        r = Cli.run(Cli.tinyRun(metricsText, tmp.resolve("m.safetensors"), 5, "--force")).assertError(1);
        assertTrue(r.err().contains("metrics"), r::describe);
        assertArrayEquals(before, Files.readAllBytes(text));
        assertArrayEquals(Files.readAllBytes(data), Files.readAllBytes(metricsText));
    }

    @Test
    void forceNeverReplacesAMetricsFileGptDidNotWrite() throws Exception {
        Path notes = Files.writeString(tmp.resolve("m.metrics.jsonl"), "notes\n");
        Cli.Result r = Cli.run(tiny(tmp.resolve("m.safetensors"), 5, "--force")).assertError(1);
        assertTrue(r.err().contains("was not written by gpt train"), r::describe);
        assertEquals("notes\n", Files.readString(notes));
        assertFalse(Files.exists(tmp.resolve("m.safetensors")), "refused before any work");
    }

    @Test
    void aResumeIntoAnotherFileKeepsTheMetricsOfOtherRunsApart() throws Exception {
        Path a = tmp.resolve("a.safetensors"), b = tmp.resolve("b.safetensors"), c = tmp.resolve("c.safetensors");
        Cli.run(tiny(a, 20)).assertOk();
        Cli.run(tiny(b, 20, "--seed", "7")).assertOk();
        Files.delete(b); // B's model gone, its record stays
        String bMetrics = Files.readString(Metrics.metricsFileFor(b));
        // B's metrics are another run's: refused, untouched
        Cli.Result r = Cli.run(tiny(b, 30, "--resume", a.toString())).assertError(1);
        assertTrue(r.err().contains("holds the metrics of another run"), r::describe);
        assertEquals(bMetrics, Files.readString(Metrics.metricsFileFor(b)));
        assertFalse(Files.exists(b));
        // --force replaces them (gpt wrote them), and says so
        r = new Cli.Fork().run(tiny(b, 30, "--resume", a.toString(), "--force")).assertOk();
        assertTrue(r.out().contains("held the metrics of another run: started anew (--force)"), r::describe);
        assertEquals(runs(Metrics.metricsFileFor(a)).getFirst(), runs(Metrics.metricsFileFor(b)).getFirst());
        // into a new file: its metrics begin with A's record, and go on as A's run
        Cli.run(tiny(c, 30, "--resume", a.toString())).assertOk();
        List<String> aLines = Files.readAllLines(Metrics.metricsFileFor(a));
        List<String> cLines = Files.readAllLines(Metrics.metricsFileFor(c));
        assertEquals(aLines, cLines.subList(0, aLines.size()));
        assertEquals(runs(Metrics.metricsFileFor(a)), runs(Metrics.metricsFileFor(c)).subList(0, 1));
        assertEquals(1, runs(Metrics.metricsFileFor(c)).stream().distinct().count(), "one run: " + cLines);
        Metrics.Run run = Metrics.read(Metrics.metricsFileFor(c));
        assertEquals(30, run.lastIter());
        // resuming C itself appends to its record
        Cli.run(tiny(c, 40, "--resume", c.toString())).assertOk();
        assertEquals(3, runs(Metrics.metricsFileFor(c)).size());
    }

    /** The run names of a metrics file's start events, in order. */
    private static List<String> runs(Path metrics) throws IOException {
        return Files.readAllLines(metrics).stream().map(l -> JsonParser.parseString(l).getAsJsonObject())
                .filter(o -> o.get(Metrics.EVENT).getAsString().equals(Metrics.START))
                .map(o -> o.get(Metrics.RUN).getAsString()).toList();
    }

    @Test
    void aSaveThatFailsMidRunIsToldAtOnceAndSaysWhatTheFileHolds() throws Exception {
        Path ckpt = tmp.resolve("full.safetensors");
        Child run = start("full", tiny(ckpt, 1_000_000));
        try {
            await("first checkpoint", run, () -> Files.exists(ckpt));
            // the checkpoint's name taken by a folder: every save fails until it goes
            Files.delete(ckpt);
            Files.createDirectory(ckpt);
            await("a warning", run, () -> {
                try {
                    return run.stderr().contains("gpt: warning: cannot write " + ckpt);
                } catch (IOException e) {
                    return false;
                }
            });
            String warning = run.stderr().lines().filter(l -> l.startsWith("gpt: warning:")).findFirst().orElseThrow();
            assertTrue(warning.matches(".*training goes on, and \\Q" + ckpt + "\\E holds iteration \\d+ until a save "
                    + "succeeds"), warning);
            Files.delete(ckpt); // room again: the next save succeeds
            await("a save after the failure", run, () -> Files.isRegularFile(ckpt));
            assertTrue(run.process.isAlive(), "the run goes on");
        } finally {
            run.kill();
        }
    }
}
