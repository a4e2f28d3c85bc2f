package org.gptjvm.cli;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.gptjvm.model.io.SafeTensors;
import org.gptjvm.model.train.Checkpoint;
import org.gptjvm.model.train.Metrics;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * No command, flag or bad input destroys a file or a good model, and none ends in a stack trace or a
 * hang: each case of the hostile test of the CLI, as it behaves now.
 */
class NothingLostTest {
    @TempDir
    static Path dir;
    static Path data;
    static Path trained; // a tiny run of 20 iterations, with its training state

    @TempDir
    Path tmp;

    static List<String> tiny(Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("train", "--data", data.toString(), "--n-embd", "16", "--n-head", "2",
                "--n-layer", "1", "--block-size", "8", "--batch-size", "4", "--iters", "20", "--eval-interval", "10",
                "--eval-iters", "2", "--sample-tokens", "0", "--threads", "1", "--out", out.toString()));
        a.addAll(List.of(more));
        return a;
    }

    /** {@code base} with each flag of {@code more} (pairs, or a lone switch) set: replaced where it is, else added. */
    static String[] args(List<String> base, String... more) {
        List<String> a = new ArrayList<>(base);
        for (int k = 0; k < more.length; k++) {
            boolean pair = k + 1 < more.length && !more[k + 1].startsWith("--");
            int at = a.indexOf(more[k]);
            if (at >= 0 && pair) {
                a.set(at + 1, more[++k]);
            } else if (at < 0) {
                a.add(more[k]);
                if (pair) {
                    a.add(more[++k]);
                }
            }
        }
        return a.toArray(String[]::new);
    }

    @BeforeAll
    static void trainOnce() {
        data = SharedData.tinyShakespeare();
        trained = dir.resolve("trained.safetensors");
        Cli.run(args(tiny(trained))).assertOk();
    }

    private static byte[] bytes(Path p) throws IOException {
        return Files.readAllBytes(p);
    }

    // ---------------------------------------------------------------- what --out and --json may replace

    @Test
    void outThatIsNotARegularFileIsRefused() throws IOException {
        assumeTrue(Files.exists(Path.of("/dev/null")), "no /dev/null");
        Cli.run(args(tiny(Path.of("/dev/null")))).assertError(1);
        assertFalse(Files.isRegularFile(Path.of("/dev/null")), "/dev/null was replaced by a file");
        Path target = Files.writeString(tmp.resolve("target.txt"), "keep me");
        Path link = Files.createSymbolicLink(tmp.resolve("link.safetensors"), target);
        Cli.run(args(tiny(link))).assertError(1);
        assertTrue(Files.isSymbolicLink(link));
        assertEquals("keep me", Files.readString(target));
    }

    @Test
    void outEqualToTheDataIsRefusedUnlessForced() throws IOException {
        Path text = Files.copy(data, tmp.resolve("text.txt"));
        Cli.Result r = Cli.run(args(tiny(text), "--data", text.toString())).assertError(1);
        assertTrue(r.err().contains("not a gpt checkpoint") && r.err().contains("--force"), r::describe);
        assertEquals(-1, Files.mismatch(data, text), "the text was changed");
        Path notes = Files.writeString(tmp.resolve("notes.safetensors"), "my notes");
        Cli.run(args(tiny(notes))).assertError(1);
        assertEquals("my notes", Files.readString(notes));
        Cli.run(args(tiny(notes), "--force")).assertOk();
        assertTrue(Checkpoint.isOurs(notes));
    }

    /** --force replaces outputs, never a command's input: plot's metrics, bench's text. */
    @Test
    void forceNeverWritesOverACommandsInput() throws IOException {
        Path metrics = Files.copy(org.gptjvm.model.train.Metrics.metricsFileFor(trained), tmp.resolve("run.png"));
        byte[] before = Files.readAllBytes(metrics);
        Cli.Result r = Cli.run("plot", "--metrics", metrics.toString(), "--out", metrics.toString(), "--force")
                .assertError(1);
        assertTrue(r.err().contains("is the file --metrics reads"), r::describe);
        assertArrayEquals(before, Files.readAllBytes(metrics));
        Path text = Files.copy(data, tmp.resolve("t.txt"));
        r = Cli.run("bench", "--data", text.toString(), "--json", text.toString(), "--force", "--backend", "cpu",
                "--iters", "1", "--warmup", "0", "--threads", "1").assertError(1);
        assertTrue(r.err().contains("is the file --data reads"), r::describe);
        assertEquals(-1, Files.mismatch(data, text), "the text was changed");
    }

    @Test
    void aFreshRunOverATrainedModelIsRefused() throws IOException {
        Path model = Files.copy(trained, tmp.resolve("model.safetensors"));
        Cli.Result r = Cli.run(args(tiny(model))).assertError(1);
        assertTrue(r.err().contains("holds a model already") && r.err().contains("--resume " + model), r::describe);
        assertEquals(-1, Files.mismatch(trained, model), "the trained model was changed");
        Cli.run(args(tiny(model), "--iters", "0", "--force")).assertOk(); // replacing it on purpose
        assertEquals(0, Checkpoint.load(model).train.iteration());
    }

    /**
     * A fresh run whose checkpoint is not there does not wipe the metrics an earlier run left under its
     * name, nor a picture at NAME.loss.png that gpt did not draw.
     */
    @Test
    void anEarlierRunsMetricsAndSomeoneElsesPictureAreKept() throws IOException {
        Path out = tmp.resolve("again.safetensors");
        Path metrics = Files.copy(dir.resolve("trained.metrics.jsonl"), tmp.resolve("again.metrics.jsonl"));
        byte[] before = bytes(metrics);
        Cli.Result r = Cli.run(args(tiny(out))).assertError(1);
        assertTrue(r.err().contains("metrics of an earlier run") && r.err().contains("--force"), r::describe);
        assertArrayEquals(before, bytes(metrics), "the earlier run's metrics were changed");
        assertFalse(Files.exists(out));
        Cli.run(args(tiny(out), "--force")).assertOk();

        Path other = tmp.resolve("other.safetensors"), picture = tmp.resolve("other.loss.png");
        javax.imageio.ImageIO.write(new java.awt.image.BufferedImage(4, 4, java.awt.image.BufferedImage.TYPE_INT_RGB),
                "png", picture.toFile());
        byte[] photo = bytes(picture);
        r = Cli.run(args(tiny(other))).assertOk();
        assertArrayEquals(photo, bytes(picture), "a picture gpt did not draw was replaced");
        assertTrue(r.out().contains("loss curves: none (" + picture + " exists and is not a PNG picture of gpt's"),
                r::describe);
        // what the message says replaces the picture does replace it
        String line = r.out().lines().filter(l -> l.contains("loss curves: none")).findFirst().orElseThrow();
        assertFalse(line.contains("pass --force"), "train's --force does not replace the picture: " + line);
        assertTrue(line.contains(" plot --metrics ") && line.contains(" --force replaces it"), line);
        Cli.run("plot", "--metrics", Metrics.metricsFileFor(other).toString(), "--out", picture.toString(), "--force")
                .assertOk();
        assertFalse(java.util.Arrays.equals(photo, bytes(picture)), "plot --force left the picture");
    }

    @Test
    void benchJsonChecksItsTargetBeforeAnyWork() throws IOException {
        Path notes = Files.writeString(tmp.resolve("notes.json"), "{\"mine\": true}");
        Cli.Result r = Cli.run("bench", "--data", data.toString(), "--backend", "reference", "--iters", "1", "--warmup",
                "0", "--threads", "1", "--json", notes.toString()).assertError(1);
        assertFalse(r.out().contains("ms/step") || r.out().contains("reference "), "it ran first\n" + r.describe());
        assertEquals("{\"mine\": true}", Files.readString(notes));
        Path folder = Files.createDirectory(tmp.resolve("reports"));
        r = Cli.run("bench", "--data", data.toString(), "--backend", "reference", "--iters", "1", "--warmup", "0",
                "--threads", "1", "--json", folder.toString()).assertError(1);
        assertFalse(r.out().contains("reference "), "it ran first\n" + r.describe());
    }

    // ---------------------------------------------------------------- a run that diverges

    @Test
    void aNonFiniteLossStopsTheRunAndKeepsTheLastGoodModel() throws Exception {
        Path out = tmp.resolve("diverged.safetensors");
        Cli.Result r = Cli.fork(args(tiny(out), "--lr", "1e9", "--iters", "200")).assertError(1);
        assertTrue(r.err().contains("diverged"), r::describe);
        assertFalse(r.out().contains("NaN"), "a NaN evaluation was printed\n" + r.describe());
        Checkpoint c = Checkpoint.load(out); // saved at step 0, before anything went wrong
        try (Backend be = new ReferenceBackend(1)) {
            c.toModel(be, out); // finite weights load
        }
        // weights that are not finite are refused by every command that loads them
        Map<String, SafeTensors.Out> tensors = new LinkedHashMap<>();
        SafeTensors.Contents contents = SafeTensors.read(out);
        contents.tensors().forEach((n, e) -> {
            float[] f = e.floats();
            if (n.equals("lm_head.bias")) {
                f[0] = Float.NaN;
            }
            tensors.put(n, SafeTensors.Out.f32(e.shape(), f));
        });
        Path nan = tmp.resolve("nan.safetensors");
        SafeTensors.write(nan, tensors, contents.metadata());
        for (String[] cmd : new String[][]{{"eval", "--checkpoint", nan.toString(), "--data", data.toString(), "--eval-iters", "1"},
                {"sample", "--checkpoint", nan.toString(), "--tokens", "5"}}) {
            Cli.Result bad = Cli.run(cmd).assertError(1);
            assertTrue(bad.err().contains("NaN"), bad::describe);
        }
    }

    // ---------------------------------------------------------------- resuming

    @Test
    void resumeWritesToTheResumedFileAndAcceptsTheSameFlagsAgain() throws IOException {
        Path model = Files.copy(trained, tmp.resolve("model.safetensors"));
        List<String> again = tiny(tmp.resolve("unused.safetensors"));
        again.remove(again.indexOf("--out") + 1);
        again.remove("--out");
        Cli.run(args(again, "--resume", model.toString(), "--iters", "30", "--seed", "1337", "--n-embd", "16")).assertOk();
        assertEquals(30, Checkpoint.load(model).train.iteration()); // no --out: the resumed file is the output
        Cli.Result r = Cli.run(args(again, "--resume", model.toString(), "--iters", "40", "--n-embd", "24")).assertError(2);
        assertTrue(r.err().contains("--n-embd asks for 24") && r.err().contains("has 16"), r::describe);
        // a value that comes from a preset names the setting it is
        r = Cli.run("train", "--data", data.toString(), "--resume", model.toString(), "--iters", "40", "--config",
                "lecture").assertError(2);
        assertTrue(r.err().contains("--config lecture (its --block-size) asks for 256, but the saved run has 8"),
                r::describe);
    }

    @Test
    void theBigramModelRefusesTheGptsSettingsInsteadOfIgnoringThem() {
        Path out = tmp.resolve("bigram.safetensors");
        Cli.Result r = Cli.run("train", "--model", "bigram", "--n-layer", "9", "--data", data.toString(), "--iters", "2",
                "--out", out.toString()).assertError(2);
        assertTrue(r.err().contains("--n-layer sets the GPT model"), r::describe);
        assertFalse(Files.exists(out));
    }

    @Test
    void resumeBelowTheSavedIterationIsAnError() {
        Cli.Result r = Cli.run("train", "--data", data.toString(), "--resume", trained.toString(), "--iters", "5",
                "--threads", "1").assertError(1);
        assertTrue(r.err().contains("20 iterations") && r.err().contains("--iters 5"), r::describe);
    }

    @Test
    void resumeOnAnotherTextIsRefusedUnlessForced() throws IOException {
        Path model = Files.copy(trained, tmp.resolve("model.safetensors"));
        String original = Files.readString(data);
        Path other = Files.writeString(tmp.resolve("other.txt"), original.substring(0, original.length() / 2));
        Cli.Result r = Cli.run("train", "--data", other.toString(), "--resume", model.toString(), "--iters", "25",
                "--threads", "1", "--sample-tokens", "0").assertError(1);
        assertTrue(r.err().contains("not the text") && r.err().contains("--force"), r::describe);
        assertEquals(-1, Files.mismatch(trained, model));
        Cli.run("train", "--data", other.toString(), "--resume", model.toString(), "--iters", "25", "--threads", "1",
                "--sample-tokens", "0", "--force").assertOk();
    }

    @Test
    void aMalformedTrainingStateIsAOneLineErrorOnResumeAndHarmlessElsewhere() throws IOException {
        SafeTensors.Contents c = SafeTensors.read(trained);
        Map<String, String> meta = new LinkedHashMap<>(c.metadata());
        meta.put("train", meta.get("train").replaceAll("\"data_rng\":\"[0-9]+\"", "\"data_rng\":\"xyz\""));
        Map<String, SafeTensors.Out> tensors = new LinkedHashMap<>();
        c.tensors().forEach((n, e) -> tensors.put(n, SafeTensors.Out.f32(e.shape(), e.floats())));
        Path bad = tmp.resolve("bad-state.safetensors");
        SafeTensors.write(bad, tensors, meta);
        Cli.Result r = Cli.run("train", "--data", data.toString(), "--resume", bad.toString(), "--iters", "30",
                "--threads", "1").assertError(1);
        assertTrue(r.err().contains("bad training state"), r::describe);
        Cli.run("eval", "--checkpoint", bad.toString(), "--data", data.toString(), "--eval-iters", "1", "--threads", "1")
                .assertOk();
    }

    // ---------------------------------------------------------------- verify's reference files

    @Test
    void verifyChecksEveryTensorOfTheReference() throws IOException {
        Path ref = SharedData.require("fixtures/ref_tiny.safetensors");
        SafeTensors.Contents c = SafeTensors.read(ref);
        // a target outside the vocabulary
        Path out = tmp.resolve("bad-targets.safetensors");
        SafeTensors.write(out, copy(c, "targets", 1000), c.metadata());
        Cli.Result r = Cli.run("verify", "--reference", out.toString()).assertError(1);
        assertTrue(r.err().contains("targets") && r.err().contains("1000"), r::describe);
        // a negative token id
        SafeTensors.write(out, copy(c, "idx", -3), c.metadata());
        r = Cli.run("verify", "--reference", out.toString()).assertError(1);
        assertTrue(r.err().contains("idx") && r.err().contains("-3"), r::describe);
        // metadata that is not JSON
        Map<String, String> meta = new LinkedHashMap<>(c.metadata());
        meta.put("adamw", "{lr: oops");
        SafeTensors.write(out, copy(c, "idx", 0), meta);
        r = Cli.run("verify", "--reference", out.toString()).assertError(1);
        assertTrue(r.err().contains("adamw"), r::describe);
        // a model checkpoint is not a reference file
        r = Cli.run("verify", "--reference", trained.toString()).assertError(1);
        assertTrue(r.err().contains("not a reference file") && !r.err().contains("missing tensor"), r::describe);
    }

    /** The file's tensors with element 0 of {@code name} set to {@code value} (ints stay ints). */
    private static Map<String, SafeTensors.Out> copy(SafeTensors.Contents c, String name, int value) {
        Map<String, SafeTensors.Out> t = new LinkedHashMap<>();
        c.tensors().forEach((n, e) -> {
            if (e.dtype().startsWith("I")) {
                int[] a = e.ints();
                if (n.equals(name)) {
                    a[0] = value;
                }
                t.put(n, SafeTensors.Out.i32(e.shape(), a));
            } else {
                t.put(n, SafeTensors.Out.f32(e.shape(), e.floats()));
            }
        });
        return t;
    }

    // ---------------------------------------------------------------- output that nobody reads, huge counts

    /** Reads the first bytes of the command's stdout, closes the pipe, and expects the command to end by itself. */
    private static int closeAfter(int bytes, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
                Main.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try (InputStream in = p.getInputStream()) {
            byte[] got = in.readNBytes(bytes);
            assertEquals(bytes, got.length, "fewer bytes than expected before the pipe was closed");
        }
        try {
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "gpt " + String.join(" ", args) + " went on after the pipe closed");
            return p.exitValue();
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void sampleAndTrainStopWhenTheReaderGoesAwayWhateverTheCount() throws Exception {
        assertEquals(0, closeAfter(300, "sample", "--checkpoint", trained.toString(), "--tokens", "2147483647",
                "--threads", "1"));
        Path out = tmp.resolve("m.safetensors");
        assertEquals(0, closeAfter(2000, args(tiny(out), "--iters", "1", "--sample-tokens", "2147483647")));
    }

    // ---------------------------------------------------------------- messages

    @Test
    void valuesThatMisledBeforeGetTheirOwnMessage() throws IOException {
        Cli.Result r = Cli.run("sample", "--checkpoint", trained.toString(), "--temperature", "NaN").assertError(2);
        assertTrue(r.err().contains("got NaN") && !r.err().contains("negative"), r::describe);
        r = Cli.run(args(tiny(tmp.resolve("m.safetensors")), "--threads", "100000")).assertError(2);
        assertTrue(r.err().contains("--threads must be between 1 and " + 4 * Runtime.getRuntime().availableProcessors()),
                r::describe);
        r = Cli.run("bench", "--warmup", "-1").assertError(2);
        assertTrue(r.err().contains("--warmup must not be negative"), r::describe);
        r = Cli.run(args(tiny(tmp.resolve("m.safetensors")), "--out", "")).assertError(2);
        assertTrue(r.err().contains("empty name"), r::describe);
        r = Cli.run("sample", "--checkpoint", "").assertError(2);
        assertTrue(r.err().contains("empty name"), r::describe);
        Path folder = tmp.resolve("newdir");
        r = Cli.run(args(tiny(tmp.resolve("m.safetensors")), "--out", folder + "/")).assertError(2);
        assertTrue(r.err().contains("names a folder"), r::describe);
        assertFalse(Files.exists(folder), "a file was made where a folder was meant");
        // eval's block size is the model's: its advice is more text, not a flag it does not have
        Path shortText = Files.writeString(tmp.resolve("short.txt"), "First Citizen:\nBefore we proceed");
        r = Cli.run("eval", "--checkpoint", trained.toString(), "--data", shortText.toString()).assertError(1);
        assertTrue(r.err().contains("more text") && !r.err().contains("--block-size"), r::describe);
        // a symbolic link loop is not "does not exist"
        Path loop = tmp.resolve("loop.txt");
        Files.createSymbolicLink(loop, loop);
        r = Cli.run(args(tiny(tmp.resolve("m.safetensors")), "--data", loop.toString())).assertError(1);
        assertTrue(r.err().contains("symbolic link"), r::describe);
    }

    @Test
    void aTextOverTwoGibibytesGetsTheLimitNotHeapAdvice() throws IOException {
        Path big = tmp.resolve("big.txt");
        try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(3L << 30); // sparse: no disk is used
        }
        Cli.Result r = Cli.run(args(tiny(tmp.resolve("m.safetensors")), "--data", big.toString())).assertError(1);
        assertTrue(r.err().contains("2 GiB") && !r.err().contains("heap"), r::describe);
    }

    @Test
    void aLongOutNameThatFitsTheFileSystemTrainsAndOneThatDoesNotFailsUpFront() throws IOException {
        Path ok = tmp.resolve("m".repeat(235) + ".safetensors"); // 247 characters
        Cli.run(args(tiny(ok), "--iters", "2")).assertOk();
        assertTrue(Files.isRegularFile(ok));
        Path tooLong = tmp.resolve("m".repeat(250) + ".safetensors");
        Cli.Result r = Cli.fork(args(tiny(tooLong), "--iters", "2")).assertError(1);
        assertFalse(r.out().contains("step 0"), "it trained before failing\n" + r.describe());
    }
}
