package org.gptjvm.cli;

import org.gptjvm.model.train.Checkpoint;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@code train --resume} and Ctrl-C on a tiny model (n_embd 16, 1 layer, block 8, dropout 0.1) trained on
 * the shared Tiny Shakespeare:
 * <ul>
 *   <li>a run stopped at iteration k and resumed to N saves the same bytes, and prints the same losses
 *       from step k on, as one run of N iterations (k an evaluation step or not);</li>
 *   <li>--resume refuses weights-only files, flags that would change the run, and missing files, each
 *       with one line on stderr;</li>
 *   <li>SIGINT during training saves a resumable checkpoint, exits 130 and leaves no temporary file;
 *       training resumes from it.</li>
 * </ul>
 * Runs that print losses go through child JVMs ({@link Cli#fork}); the usage errors run in this JVM.
 * Skipped without ../shared.
 */
class ResumeAndInterruptTest {

    private static final int TOTAL = 40;
    private static final Pattern STEP = Pattern.compile("^step (\\d+): train loss .*, val loss .*$");

    @TempDir
    static Path dir;
    static Path data;
    static Path full;
    static Cli.Result fullRun;


    private static String[] resume(Path from, int iters, Path out) {
        return new String[]{"train", "--data", data.toString(), "--resume", from.toString(), "--iters",
                String.valueOf(iters), "--out", out.toString(), "--sample-tokens", "0", "--threads", "1"};
    }

    /** The "step N: train loss ..., val loss ..." lines by step, in printed order. */
    private static Map<Integer, String> steps(String out) {
        Map<Integer, String> m = new LinkedHashMap<>();
        out.lines().forEach(l -> {
            Matcher s = STEP.matcher(l);
            if (s.matches()) {
                String previous = m.put(Integer.parseInt(s.group(1)), l);
                assertEquals(null, previous, () -> "step printed twice: " + l + "\n" + out);
            }
        });
        return m;
    }

    @BeforeAll
    static void trainUninterrupted() {
        data = SharedData.tinyShakespeare();
        full = dir.resolve("full.safetensors");
        fullRun = Cli.fork(Cli.tinyRun(data, full, TOTAL)).assertOk();
        Map<Integer, String> s = steps(fullRun.out());
        assertEquals(List.of(0, 10, 20, 30, TOTAL - 1), List.copyOf(s.keySet()), fullRun::describe);
        assertTrue(Checkpoint.load(full).resumable(), "train's checkpoint holds no training state");
        assertEquals(TOTAL, Checkpoint.load(full).train.iteration());
    }

    // 1. exact resume -----------------------------------------------------------------------------------

    /** 20 is an evaluation step (interval 10), 25 is not. */
    @ParameterizedTest(name = "stopped at {0}")
    @ValueSource(ints = {20, 25})
    void resumedRunMatchesTheUninterruptedOne(int at, @TempDir Path tmp) throws IOException {
        Path part = tmp.resolve("part.safetensors");
        Cli.Result first = Cli.fork(Cli.tinyRun(data, part, at)).assertOk();
        assertEquals(at, Checkpoint.load(part).train.iteration(), first::describe);
        // what the short run printed for steps the long run also evaluated agrees with it
        Map<Integer, String> whole = steps(fullRun.out());
        steps(first.out()).forEach((step, line) -> {
            if (whole.containsKey(step)) {
                assertEquals(whole.get(step), line, () -> "step " + step + " before the stop\n" + first.describe());
            }
        });

        Cli.Result resumed = Cli.fork(resume(part, TOTAL, part)).assertOk();
        assertTrue(resumed.out().contains("resuming " + part + " at iteration " + at), resumed::describe);

        List<String> expected = whole.entrySet().stream().filter(e -> e.getKey() >= at).map(Map.Entry::getValue).toList();
        List<String> actual = List.copyOf(steps(resumed.out()).values());
        assertEquals(expected, actual, () -> "losses after resuming at " + at + "\n--- uninterrupted ---\n"
                + fullRun.out() + "\n--- resumed ---\n" + resumed.describe());

        long mismatch = Files.mismatch(full, part);
        assertEquals(-1L, mismatch, () -> "checkpoints differ from byte " + mismatch + " (resumed at " + at + ")");
    }

    // 2. --resume errors --------------------------------------------------------------------------------

    @Test
    void resumingAWeightsOnlyFileFails(@TempDir Path tmp) {
        Path weights = SharedData.require("fixtures/ref_tiny.safetensors");
        Path out = tmp.resolve("out.safetensors");
        Cli.Result r = Cli.run(resume(weights, 10, out)).assertFailure();
        String line = r.errLines().get(0);
        assertTrue(line.contains(weights.toString()), () -> "the error should name the file\n" + r.describe());
        assertTrue(line.contains("no training state"), r::describe);
        assertFalse(Files.exists(out), "nothing should be written");
    }

    @ParameterizedTest(name = "{0} {1}")
    @org.junit.jupiter.params.provider.CsvSource({
            "--n-embd, 32", "--n-head, 4", "--n-layer, 2", "--block-size, 16", "--batch-size, 8", "--dropout, 0.2",
            "--seed, 7", "--lr, 0.01", "--config, lecture", "--model, bigram"})
    void resumeRefusesFlagsThatChangeTheRun(String flag, String value, @TempDir Path tmp) throws IOException {
        Path copy = Files.copy(full, tmp.resolve("copy.safetensors"));
        Path out = tmp.resolve("out.safetensors");
        List<String> args = new ArrayList<>(List.of(resume(copy, TOTAL + 10, out)));
        args.add(flag);
        args.add(value);
        Cli.Result r = Cli.run(args.toArray(String[]::new)).assertError(2);
        assertTrue(r.errLines().get(0).contains("--resume"), r::describe);
        assertFalse(Files.exists(out), "nothing should be written");
        assertEquals(-1L, Files.mismatch(full, copy), "the resumed file was changed");
    }

    @Test
    void resumingAMissingFileFails(@TempDir Path tmp) {
        Path missing = tmp.resolve("nope.safetensors");
        Path out = tmp.resolve("out.safetensors");
        Cli.Result r = Cli.run(resume(missing, 10, out)).assertError(1);
        assertTrue(r.errLines().get(0).contains(missing.toString()), () -> "the error should name the file\n"
                + r.describe());
        assertFalse(Files.exists(out), "nothing should be written");
    }

    // 3. Ctrl-C -----------------------------------------------------------------------------------------

    /**
     * A child JVM running Main with SIGINT, SIGTERM and SIGHUP at their default disposition (see the
     * class comment of this test), as a terminal starts it.
     */
    private static List<String> javaWithDefaultSigint(String... args) {
        List<String> cmd = new ArrayList<>();
        // a shell that is not interactive, or runs us in the background, starts its children with SIGINT
        // ignored, nohup (a build started under it) with SIGHUP ignored, and exec keeps them ignored, which
        // the JVM honours: put them back to the default before exec'ing java
        cmd.add("/usr/bin/python3");
        cmd.add("-c");
        cmd.add("import os,signal,sys\nfor s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP): signal.signal(s, signal.SIG_DFL)\n"
                + "os.execvp(sys.argv[1], sys.argv[1:])");
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx1g");
        cmd.add("-XX:+UseSerialGC");
        boolean vector = false;
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-") || a.startsWith("--enable-")) {
                cmd.add(a);
                vector |= a.contains("jdk.incubator.vector");
            }
        }
        if (!vector) {
            cmd.add("--add-modules=jdk.incubator.vector");
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(List.of(args));
        return cmd;
    }

    /**
     * Ctrl-C (SIGINT), kill (SIGTERM) and a closed terminal (SIGHUP) all save a resumable checkpoint
     * and exit 130, and the "continue with" command they print works when pasted.
     */
    @ParameterizedTest
    @ValueSource(strings = {"INT", "TERM", "HUP"})
    void aSignalSavesAResumableCheckpointAndExits130(String signal, @TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "skipped: no /usr/bin/python3");
        Assumptions.assumeFalse(System.getProperty("os.name").startsWith("Windows"), "skipped: no SIGINT on Windows");
        Path outDir = Files.createDirectory(tmp.resolve("run"));
        Path ck = outDir.resolve("ck.safetensors");
        String[] args = {"train", "--data", data.toString(), "--n-embd", "16", "--n-head", "2", "--n-layer", "1",
                "--block-size", "8", "--batch-size", "4", "--eval-iters", "2", "--dropout", "0.1", "--sample-tokens",
                "0", "--threads", "1", "--iters", "1000000", "--eval-interval", "50", "--out", ck.toString()};
        Path errFile = tmp.resolve("stderr");
        ProcessBuilder pb = new ProcessBuilder(javaWithDefaultSigint(args)).redirectError(errFile.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().remove("GPT_DEBUG");
        Process p = pb.start();
        StringBuilder out = new StringBuilder();
        CountDownLatch step0 = new CountDownLatch(1);
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    synchronized (out) {
                        out.append(l).append('\n');
                    }
                    if (l.startsWith("step 0:")) {
                        step0.countDown();
                    }
                }
            } catch (IOException ignored) {
                // the process went away
            }
        }, "train-stdout");
        reader.setDaemon(true);
        reader.start();
        try {
            if (!step0.await(120, TimeUnit.SECONDS)) {
                fail("no 'step 0:' line in 120 s\n--- stdout ---\n" + out + "\n--- stderr ---\n" + read(errFile));
            }
            // step 0's checkpoint is saved right after the line; let a few training steps pass so the
            // interrupt lands in the training loop and not before its first step
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.exists(ck) && System.nanoTime() < until && p.isAlive()) {
                Thread.sleep(50);
            }
            Thread.sleep(1000);
            assertTrue(p.isAlive(), () -> "train ended before the interrupt\n" + out + "\n" + read(errFile));
            assertEquals(0, new ProcessBuilder("kill", "-" + signal, String.valueOf(p.pid())).start().waitFor(),
                    "kill -" + signal);
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                fail("train still running 60 s after SIG" + signal + "\n--- stdout ---\n" + out + "\n--- stderr ---\n"
                        + read(errFile));
            }
            reader.join(10_000);
            String stdout;
            synchronized (out) {
                stdout = out.toString();
            }
            String err = read(errFile);
            String describe = "exit " + p.exitValue() + "\n--- stdout ---\n" + stdout + "\n--- stderr ---\n" + err;
            assertEquals(130, p.exitValue(), describe);
            assertTrue(stdout.contains("interrupted at iteration"), describe);
            assertTrue(err.contains("interrupted: saving a checkpoint"), describe);
            assertFalse(err.contains("\tat ") || err.contains("Exception"), describe);

            assertTrue(Files.isRegularFile(ck), describe);
            Checkpoint c = Checkpoint.load(ck);
            assertTrue(c.resumable(), "the interrupted run's checkpoint cannot be resumed\n" + describe);
            int iter = c.train.iteration();
            assertTrue(iter > 0, "interrupted at iteration " + iter + "\n" + describe);
            assertTrue(stdout.contains("interrupted at iteration " + iter + ";"), describe);
            try (var files = Files.list(outDir)) {
                List<String> left = files.map(f -> f.getFileName().toString())
                        .filter(n -> n.startsWith(".") && n.endsWith(".tmp")).toList();
                assertEquals(List.of(), left, "temporary files left beside the checkpoint");
            }

            // the printed command, pasted (with fewer iterations): it names the data and writes to ck
            Matcher hint = Pattern.compile("continue with: \\S.* (train .*)\\)$", Pattern.MULTILINE).matcher(stdout);
            assertTrue(hint.find(), describe);
            List<String> pasted = new ArrayList<>(List.of(hint.group(1).split(" ")));
            pasted.set(pasted.indexOf("--iters") + 1, String.valueOf(iter + 10));
            pasted.addAll(List.of("--sample-tokens", "0", "--threads", "1"));
            Cli.Result resumed = Cli.fork(pasted.toArray(String[]::new)).assertOk();
            assertTrue(resumed.out().contains("resuming " + ck + " at iteration " + iter), resumed::describe);
            assertEquals(iter + 10, Checkpoint.load(ck).train.iteration(), resumed::describe);
            try (var files = Files.list(outDir)) {
                assertTrue(files.noneMatch(f -> f.getFileName().toString().endsWith(".tmp")),
                        "temporary files left beside the checkpoint after resuming");
            }
        } finally {
            if (p.isAlive()) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /** A signal during an evaluation stops the run within seconds: the evaluation is abandoned, the model saved. */
    @Test
    void aSignalDuringALongEvaluationStopsAtOnce(@TempDir Path tmp) throws Exception {
        Assumptions.assumeFalse(System.getProperty("os.name").startsWith("Windows"), "skipped: no SIGINT on Windows");
        Path ck = tmp.resolve("ck.safetensors");
        // 10^6 batches of 64 per split (the most --eval-iters allows): without the check between batches, step 0's
        // evaluation takes hours
        String[] args = {"train", "--data", data.toString(), "--n-embd", "32", "--n-head", "2", "--n-layer", "1",
                "--block-size", "8", "--batch-size", "64", "--eval-iters", "1000000", "--sample-tokens", "0",
                "--threads", "1", "--iters", "100", "--out", ck.toString()};
        Path outFile = tmp.resolve("stdout"), errFile = tmp.resolve("stderr");
        Process p = new ProcessBuilder(javaWithDefaultSigint(args)).redirectOutput(outFile.toFile())
                .redirectError(errFile.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        try {
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!read(outFile).contains("M parameters") && System.nanoTime() < until && p.isAlive()) {
                Thread.sleep(50);
            }
            Thread.sleep(1500); // well into the evaluation
            assertTrue(p.isAlive(), () -> "train ended early\n" + read(outFile) + read(errFile));
            assertEquals(0, new ProcessBuilder("kill", "-INT", String.valueOf(p.pid())).start().waitFor());
            assertTrue(p.waitFor(20, TimeUnit.SECONDS), "still evaluating 20 s after SIGINT");
            String describe = "exit " + p.exitValue() + "\n" + read(outFile) + "\n" + read(errFile);
            assertEquals(130, p.exitValue(), describe);
            assertFalse(read(outFile).contains("step 0:"), "the abandoned evaluation was reported\n" + describe);
            Checkpoint c = Checkpoint.load(ck);
            assertTrue(c.resumable(), describe);
            assertEquals(0, c.train.iteration(), describe);
        } finally {
            if (p.isAlive()) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private static String read(Path f) {
        try {
            return Files.exists(f) ? Files.readString(f, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return "(cannot read " + f + ": " + e + ")";
        }
    }
}
