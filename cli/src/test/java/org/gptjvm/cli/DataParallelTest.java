package org.gptjvm.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.gptjvm.model.io.SafeTensors;
import org.gptjvm.model.train.Checkpoint;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Data-parallel {@code gpt train} under Open MPI's mpirun, two processes on this machine: the same run
 * as one process on the combined batch (losses and weights), with dropout, clipping and accumulation
 * on; over shared memory and over TCP; a resumed two-process run continues the uninterrupted one;
 * SIGTERM to every process (Slurm's scancel) stops and saves; a killed process ends the job. Skipped
 * where mpirun is missing, except on CI (.ci/run installs openmpi-bin), where that fails.
 */
class DataParallelTest {
    @TempDir
    static Path tmp;
    static Path data;

    @BeforeAll
    static void mpi() {
        data = SharedData.tinyShakespeare();
        boolean have = Files.isExecutable(Path.of("/usr/bin/mpirun"));
        if (System.getenv("CI") != null && !have) {
            throw new AssertionError("CI run without mpirun (apt-get install openmpi-bin)");
        }
        Assumptions.assumeTrue(have, "skipped: no mpirun (apt-get install openmpi-bin)");
    }

    /** A small model with every knob that must survive the split: dropout, clipping, accumulation. */
    private static List<String> run(Path out, String backend, int batch, int iters, String... more) {
        return run(out, backend, batch, iters, 10, more);
    }

    private static List<String> run(Path out, String backend, int batch, int iters, int evalInterval, String... more) {
        List<String> a = new ArrayList<>(List.of("train", "--backend", backend, "--threads", "1", "--data", data.toString(),
                "--n-layer", "2", "--n-embd", "32", "--n-head", "2", "--block-size", "32", "--dropout", "0.1",
                "--grad-clip", "1.0", "--grad-accum", "2", "--lr", "1e-3", "--batch-size", String.valueOf(batch),
                "--iters", String.valueOf(iters), "--eval-interval", String.valueOf(evalInterval), "--eval-iters", "2", "--log-interval", "1",
                "--sample-tokens", "0", "--out", out.toString()));
        a.addAll(List.of(more));
        return a;
    }

    private static List<String> java() {
        return List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector", "-cp",
                System.getProperty("java.class.path"), Main.class.getName());
    }

    /** mpirun -np 2 over {@code btl} (vader: shared memory, tcp: loopback). */
    private static List<String> mpirun(String btl, List<String> gpt) {
        List<String> cmd = new ArrayList<>(List.of("mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2",
                "--mca", "btl", "self," + btl));
        if (btl.equals("tcp")) {
            cmd.addAll(List.of("--mca", "btl_tcp_if_include", "lo"));
        }
        cmd.addAll(java());
        cmd.addAll(gpt);
        return cmd;
    }

    private static String exec(List<String> cmd, int expectExit) throws Exception {
        Path log = Files.createTempFile(tmp, "log", ".txt");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean ended = p.waitFor(300, TimeUnit.SECONDS);
        p.destroyForcibly();
        String out = Files.readString(log);
        assertTrue(ended, "did not end: " + String.join(" ", cmd) + "\n" + out);
        assertEquals(expectExit, p.exitValue(), out);
        return out;
    }

    /** "train" losses by iteration, and the evaluations' (train, val) by iteration, from a metrics file. */
    private static Map<String, Double> losses(Path model) throws IOException {
        Map<String, Double> m = new java.util.TreeMap<>();
        Path f = Path.of(model.toString().replace(".safetensors", ".metrics.jsonl"));
        for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
            JsonObject o = JsonParser.parseString(line).getAsJsonObject();
            String ev = o.get("event").getAsString();
            int it = o.get("iter").getAsInt();
            if (ev.equals("train")) {
                m.put("train " + it, o.get("loss").getAsDouble());
            } else if (ev.equals("eval")) {
                m.put("eval train " + it, o.get("train_loss").getAsDouble());
                m.put("eval val " + it, o.get("val_loss").getAsDouble());
            }
        }
        return m;
    }

    private static void assertSameRun(Path one, Path two, double lossRel, double weightAbs) throws IOException {
        Map<String, Double> a = losses(one), b = losses(two);
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) {
            assertEquals(a.get(k), b.get(k), lossRel * Math.abs(a.get(k)), k);
        }
        Map<String, SafeTensors.Entry> wa = SafeTensors.read(one).tensors(), wb = SafeTensors.read(two).tensors();
        assertEquals(wa.keySet(), wb.keySet());
        double worst = 0;
        for (String k : wa.keySet()) {
            if (!wa.get(k).dtype().equals("F32")) {
                continue;
            }
            float[] x = wa.get(k).floats(), y = wb.get(k).floats();
            for (int i = 0; i < x.length; i++) {
                worst = Math.max(worst, Math.abs(x[i] - y[i]));
            }
        }
        assertTrue(worst <= weightAbs, "weights differ by " + worst);
    }

    @ParameterizedTest(name = "{0} over {1}")
    @CsvSource({"reference, vader", "cpu, vader", "cpu, tcp"})
    void twoProcessesOfBAreOneProcessOf2B(String backend, String btl) throws Exception {
        Path one = tmp.resolve(backend + btl + "-one.safetensors"), two = tmp.resolve(backend + btl + "-two.safetensors");
        List<String> cmd = new ArrayList<>(java());
        cmd.addAll(run(one, backend, 8, 20));
        exec(cmd, 0);
        String out = exec(mpirun(btl, run(two, backend, 4, 20)), 0);
        assertTrue(out.contains("data-parallel: 2 processes of 4 rows each, one batch of 8 rows a step"), out);
        assertEquals(1, out.split("step 10: train loss", -1).length - 1, "process 0 alone prints: " + out);
        assertSameRun(one, two, 1e-6, 1e-5);
        // the job's record: its size, and the all-reduce's time per step
        String metrics = Files.readString(Path.of(two.toString().replace(".safetensors", ".metrics.jsonl")));
        assertTrue(metrics.contains("\"processes\":2") && metrics.contains("\"allreduce_ms\":"), metrics);
        assertEquals("2", SafeTensors.metadataOrNull(two).get("train").replaceAll(".*\"processes\":(\\d+).*", "$1"));
    }

    /**
     * mpirun starting java without -cp (as {@code java -jar gpt.jar} does) prefixes its working
     * directory to the argument after the first one holding "cp" (here --backend cpu's --threads):
     * gpt takes it back.
     */
    @Test
    void mpirunsClassPathRewritingOfAnArgumentAfterCpuIsUndone() throws Exception {
        Path m = tmp.resolve("cp.safetensors");
        List<String> cmd = new ArrayList<>(List.of("mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "1",
                "-x", "CLASSPATH", Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector", Main.class.getName()));
        cmd.addAll(run(m, "cpu", 4, 2));
        Path log = Files.createTempFile(tmp, "log", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("CLASSPATH", System.getProperty("java.class.path"));
        Process p = pb.start();
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "did not end");
        String out = Files.readString(log);
        assertEquals(0, p.exitValue(), out);
        assertTrue(Files.isRegularFile(m), out);
    }

    @Test
    void aResumedJobContinuesTheSameRunAndOtherSizesAreRefused() throws Exception {
        Path whole = tmp.resolve("whole.safetensors"), part = tmp.resolve("part.safetensors");
        exec(mpirun("vader", run(whole, "cpu", 4, 20)), 0);
        exec(mpirun("vader", run(part, "cpu", 4, 10)), 0);
        exec(mpirun("vader", List.of("train", "--resume", part.toString(), "--iters", "20", "--threads", "1",
                "--data", data.toString(), "--sample-tokens", "0", "--log-interval", "1")), 0);
        Map<String, Double> a = losses(whole), b = losses(part);
        for (String k : a.keySet()) {
            assertEquals(a.get(k), b.get(k), k); // bit for bit: the same processes, the same sums
        }
        List<String> alone = new ArrayList<>(java());
        alone.addAll(List.of("train", "--resume", part.toString(), "--iters", "30", "--threads", "1", "--data",
                data.toString()));
        String out = exec(alone, 1);
        assertTrue(out.contains("was trained by 2 processes of 4 rows each, and this is 1: resume it with mpirun -np 2"),
                out);
    }

    /** What a test does to a running job: its mpirun and the file their output goes to. */
    private interface Running {
        void with(Process job, Path log) throws Exception;
    }

    /**
     * Starts a job of 2 processes training into {@code m}, waits for its first checkpoint, hands it to
     * {@code action}, ends what is left of it, and loads {@code m}: whole, written atomically by process
     * 0 alone, whatever the action did.
     */
    private void whileRunning(Path m, Running action) throws Exception {
        List<String> cmd = mpirun("vader", run(m, "cpu", 4, 100000, 20));
        Path log = Files.createTempFile(tmp, "log", ".txt");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!Files.exists(m) && System.nanoTime() < deadline) { // the first checkpoint is written
                Thread.sleep(200);
            }
            assertTrue(Files.exists(m), Files.readString(log));
            action.with(p, log);
        } finally {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        Checkpoint.load(m);
    }

    /**
     * SIGTERM to every process, as Slurm's scancel sends it: the job stops at one step and saves, process
     * 0 alone says so, and the command to continue names the launcher.
     */
    @Test
    void aSignalToEveryProcessStopsTheJobOnceAndSaves() throws Exception {
        whileRunning(tmp.resolve("stopped.safetensors"), (p, log) -> {
            List<ProcessHandle> javas = p.descendants().filter(h -> h.info().command().orElse("").endsWith("java")).toList();
            assertEquals(2, javas.size(), Files.readString(log));
            for (ProcessHandle h : javas) {
                new ProcessBuilder("kill", "-TERM", String.valueOf(h.pid())).start().waitFor();
            }
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the job went on after SIGTERM: " + Files.readString(log));
            String out = Files.readString(log);
            assertEquals(130, p.exitValue(), out);
            assertEquals(1, out.split("interrupted: saving a checkpoint after this step", -1).length - 1, out);
            assertTrue(out.contains("(continue with: mpirun -np 2 "), out);
        });
    }

    @Test
    void aKilledProcessEndsTheJob() throws Exception {
        Path m = tmp.resolve("killed.safetensors");
        whileRunning(m, (p, log) -> {
            // process 1 (a java child of mpirun that is not rank 0): killed outright
            long victim = p.descendants().filter(h -> h.info().command().orElse("").endsWith("java")
                    && h.info().arguments().map(a -> String.join(" ", a)).orElse("").contains(m.toString()))
                    .mapToLong(ProcessHandle::pid).max().orElseThrow();
            new ProcessBuilder("kill", "-9", String.valueOf(victim)).start().waitFor();
            long t0 = System.nanoTime();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the job went on after a process died: " + Files.readString(log));
            assertTrue(p.exitValue() != 0, Files.readString(log));
            assertTrue((System.nanoTime() - t0) / 1e9 < 30);
        });
    }
}
