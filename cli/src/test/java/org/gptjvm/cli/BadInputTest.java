package org.gptjvm.cli;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.data.CharTokenizer;
import org.gptjvm.model.io.SafeTensors;
import org.gptjvm.model.train.Checkpoint;
import org.gptjvm.model.train.Optimizer;
import org.gptjvm.model.train.TrainOptions;
import org.gptjvm.model.train.TrainState;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Bad files and bad values that only show once a file is read: exit 1 (2 for a usage error), one
 * "gpt: ..." line on stderr, no stack trace. Runs in this JVM except where stdout must be seen.
 */
class BadInputTest {

    static final String VOCAB_TEXT = "\nabcdefghijklmnopqrstuvwxyz ,.";

    @TempDir
    static Path dir;
    static Path checkpoint;   // a tiny GPT (block 8) with the vocabulary of VOCAB_TEXT, never trained
    static Path goodText;     // text in that vocabulary, long enough for block 8

    @TempDir
    Path tmp;

    @BeforeAll
    static void makeCheckpoint() throws IOException {
        CharTokenizer tok = CharTokenizer.fromText(VOCAB_TEXT);
        GptConfig cfg = new GptConfig(GptConfig.GPT, tok.vocabSize(), 8, 16, 2, 1, 0f).validate();
        checkpoint = dir.resolve("tiny.safetensors");
        try (Backend b = new ReferenceBackend(1)) {
            Gpt gpt = new Gpt(b, cfg);
            gpt.params.initialize(Seeds.init(1));
            Checkpoint.save(checkpoint, gpt, null, tok, null);
        }
        goodText = Files.writeString(dir.resolve("good.txt"),
                "the quick brown fox jumps over the lazy dog, again and again.\n".repeat(20));
    }

    private Path out() {
        return tmp.resolve("m.safetensors");
    }

    private static String[] train(Path data, Path out, String... more) {
        return Cli.args(java.util.List.of("train", "--data", data.toString(), "--out", out.toString(),
                "--n-embd", "16", "--n-head", "2", "--n-layer", "1", "--iters", "1", "--eval-iters", "1",
                "--sample-tokens", "0", "--threads", "1"), more);
    }

    // ---- training data ----

    @Test
    void missingDataFile() {
        Path data = tmp.resolve("nosuch.txt");
        Cli.Result r = Cli.run(train(data, out())).assertError(1);
        assertTrue(r.err().contains("nosuch.txt"), r::describe);
        assertFalse(Files.exists(out()), r::describe);
    }

    @Test
    void emptyDataFile() throws IOException {
        Path data = Files.createFile(tmp.resolve("empty.txt"));
        Cli.Result r = Cli.run(train(data, out())).assertError(1);
        assertTrue(r.err().contains("empty"), r::describe);
    }

    @Test
    void dataShorterThanBlockSizePlusOne() throws IOException {
        Path data = Files.writeString(tmp.resolve("short.txt"), "hello worl"); // 10 chars, default block 32
        Cli.Result r = Cli.run("train", "--data", data.toString(), "--out", out().toString(), "--threads", "1")
                .assertFailure();
        assertTrue(r.err().contains("block"), () -> "should say it is about the block size\n" + r.describe());
        assertFalse(Files.exists(out()), r::describe);
    }

    @Test
    void dataLongEnoughForTrainButNotForVal() throws IOException {
        // 60 chars: the train split (54) holds block 32 + 1, the val split (6) does not
        Path data = Files.writeString(tmp.resolve("sixty.txt"), "abcdefghij".repeat(6));
        Cli.Result r = Cli.run("train", "--data", data.toString(), "--out", out().toString(), "--threads", "1")
                .assertFailure();
        assertTrue(r.err().contains("val"), r::describe);
    }

    @Test
    void nonUtf8DataFile() throws IOException {
        Path data = Files.write(tmp.resolve("latin1.txt"),
                "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, ".repeat(20).getBytes(StandardCharsets.ISO_8859_1));
        Cli.Result r = Cli.run(train(data, out(), "--block-size", "8")).assertError(1);
        assertTrue(r.err().contains("UTF-8"), r::describe);
    }

    @Test
    void dataIsADirectory() {
        Cli.Result r = Cli.run(train(tmp, out())).assertError(1);
        assertTrue(r.err().contains(tmp.toString()), r::describe);
    }

    @Test
    void gptDataEnvironmentVariablePointsNowhere() {
        Path missing = tmp.resolve("from-env.txt");
        Cli.Result r = new Cli.Fork().cwd(tmp).env("GPT_DATA", missing.toString())
                .run("train", "--out", out().toString(), "--sample-tokens", "0", "--threads", "1").assertError(1);
        assertTrue(r.err().contains("from-env.txt"), r::describe);
    }

    // ---- where the model is saved ----

    @Test
    void outUnderARegularFileFailsBeforeTheDataIsRead() throws IOException {
        Path file = Files.writeString(tmp.resolve("x.txt"), "not a directory");
        Path bad = file.resolve("model.safetensors");
        // the data file does not exist either: the --out error must come first, before any loading
        Cli.Result r = Cli.run(train(tmp.resolve("nosuch.txt"), bad)).assertError(1);
        assertTrue(r.err().contains("cannot write"), r::describe);
        assertTrue(r.err().contains("model.safetensors"), r::describe);
    }

    @Test
    void outUnderARegularFileIsDetectedBeforeTraining() throws IOException {
        Path data = SharedData.has("data/tinyshakespeare.txt") ? SharedData.dir().resolve("data/tinyshakespeare.txt")
                : goodText;
        Path file = Files.writeString(tmp.resolve("x.txt"), "not a directory");
        Cli.Result r = Cli.fork(train(data, file.resolve("model.safetensors"), "--block-size", "8")).assertError(1);
        assertFalse(r.out().contains("step 0"), () -> "trained before noticing --out is unwritable\n" + r.describe());
        assertFalse(r.out().contains("parameters"), () -> "built the model before noticing\n" + r.describe());
        assertEquals("not a directory", Files.readString(file));
    }

    @Test
    void outIsADirectory() throws IOException {
        Path d = Files.createDirectory(tmp.resolve("outdir"));
        Cli.Result r = Cli.run(train(goodText, d, "--block-size", "8")).assertError(1);
        assertTrue(r.err().contains("directory"), r::describe);
    }

    @Test
    void outInAReadOnlyDirectory() throws IOException {
        assumeTrue(Files.getFileStore(tmp).supportsFileAttributeView("posix"), "needs POSIX permissions");
        Path ro = Files.createDirectory(tmp.resolve("ro"));
        Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            assumeFalse(Files.isWritable(ro), "running as root: a read-only directory is still writable");
            Cli.Result r = Cli.run(train(goodText, ro.resolve("m.safetensors"), "--block-size", "8")).assertError(1);
            assertTrue(r.err().contains("cannot write"), r::describe);
        } finally {
            Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    // ---- checkpoints ----

    @Test
    void sampleWithMissingCheckpoint() {
        Path ckpt = tmp.resolve("absent.safetensors");
        Cli.Result r = Cli.run("sample", "--checkpoint", ckpt.toString(), "--threads", "1").assertError(1);
        assertTrue(r.err().contains("absent.safetensors"), r::describe);
    }

    @Test
    void evalWithMissingCheckpoint() {
        Path ckpt = tmp.resolve("absent.safetensors");
        Cli.Result r = Cli.run("eval", "--checkpoint", ckpt.toString(), "--data", goodText.toString(), "--threads", "1")
                .assertError(1);
        assertTrue(r.err().contains("absent.safetensors"), r::describe);
    }

    @Test
    void sampleWithRandomBytes() throws IOException {
        byte[] junk = new byte[500];
        new Random(42).nextBytes(junk);
        Path ckpt = Files.write(tmp.resolve("random.safetensors"), junk);
        Cli.run("sample", "--checkpoint", ckpt.toString(), "--threads", "1").assertError(1);
        Cli.run("eval", "--checkpoint", ckpt.toString(), "--data", goodText.toString(), "--threads", "1").assertError(1);
    }

    @Test
    void sampleWithTinyAndEmptyFiles() throws IOException {
        Path three = Files.write(tmp.resolve("three.safetensors"), new byte[]{1, 2, 3});
        Cli.run("sample", "--checkpoint", three.toString(), "--threads", "1").assertError(1);
        Path empty = Files.createFile(tmp.resolve("empty.safetensors"));
        Cli.run("sample", "--checkpoint", empty.toString(), "--threads", "1").assertError(1);
    }

    @Test
    void sampleWithAHeaderThatIsNotJson() throws IOException {
        Path ckpt = tmp.resolve("notjson.safetensors");
        Files.write(ckpt, safetensors("{this is not json}   ", new byte[0]));
        Cli.run("sample", "--checkpoint", ckpt.toString(), "--threads", "1").assertError(1);
    }

    @Test
    void sampleWithCheckpointDirectory() {
        Cli.run("sample", "--checkpoint", tmp.toString(), "--threads", "1").assertError(1);
    }

    @Test
    void sampleWithValidSafetensorsWithoutConfig() throws IOException {
        Path ckpt = tmp.resolve("foreign.safetensors");
        Files.write(ckpt, safetensors("{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]));
        Cli.Result r = Cli.run("sample", "--checkpoint", ckpt.toString(), "--threads", "1").assertError(1);
        assertTrue(r.err().contains("foreign.safetensors"), r::describe);
        Cli.run("eval", "--checkpoint", ckpt.toString(), "--data", goodText.toString(), "--threads", "1").assertError(1);
    }

    @Test
    void sampleWithConfigButNoWeights() throws IOException {
        String meta = "{\"__metadata__\":{\"format\":\"gpt-jvm/1\","
                + "\"config\":\"{\\\"model\\\":\\\"gpt\\\",\\\"vocab_size\\\":3,\\\"n_embd\\\":4,\\\"n_head\\\":2,"
                + "\\\"n_layer\\\":1,\\\"block_size\\\":4,\\\"dropout\\\":0.0}\",\"chars\":\"\\\"abc\\\"\"},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        Path ckpt = Files.write(tmp.resolve("noweights.safetensors"), safetensors(meta, new byte[8]));
        Cli.Result r = Cli.run("sample", "--checkpoint", ckpt.toString(), "--tokens", "5", "--threads", "1")
                .assertError(1);
        assertTrue(r.err().contains("tensor"), r::describe);
    }

    @Test
    void sampleWithBadConfigInMetadata() throws IOException {
        String meta = "{\"__metadata__\":{\"config\":\"{\\\"vocab_size\\\":\\\"many\\\"}\",\"chars\":\"\\\"abc\\\"\"},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        Path ckpt = Files.write(tmp.resolve("badconfig.safetensors"), safetensors(meta, new byte[8]));
        Cli.run("sample", "--checkpoint", ckpt.toString(), "--threads", "1").assertError(1);
    }

    @Test
    void sampleWithATruncatedCheckpoint() throws IOException {
        byte[] all = Files.readAllBytes(checkpoint);
        Path ckpt = Files.write(tmp.resolve("truncated.safetensors"), java.util.Arrays.copyOf(all, all.length - 100));
        Cli.run("sample", "--checkpoint", ckpt.toString(), "--threads", "1").assertError(1);
    }

    // ---- prompts, block size, eval data against a checkpoint ----

    @Test
    void promptWithAccentedCharacterOutsideTheVocabulary() {
        Cli.Result r = Cli.run("sample", "--checkpoint", checkpoint.toString(), "--prompt", "h\u00e9llo", "--tokens", "5",
                "--threads", "1").assertFailure();
        assertTrue(r.err().contains("U+00E9"), r::describe);
        assertEquals("", r.out(), r::describe);
    }

    @Test
    void promptWithSmileyOutsideTheVocabulary() {
        Cli.Result r = Cli.run("sample", "--checkpoint", checkpoint.toString(), "--prompt", "hi \u263A", "--tokens", "5",
                "--threads", "1").assertFailure();
        assertTrue(r.err().contains("U+263A"), r::describe);
    }

    @Test
    void promptWithCharacterOutsideTheBmp() {
        Cli.Result r = Cli.run("sample", "--checkpoint", checkpoint.toString(), "--prompt", "a\uD83D\uDE00",
                "--tokens", "5", "--threads", "1").assertFailure();
        assertTrue(r.err().contains("U+1F600"), r::describe);
    }

    @Test
    void sampleBlockSizeLargerThanTrained() {
        Cli.Result r = Cli.run("sample", "--checkpoint", checkpoint.toString(), "--block-size", "9", "--tokens", "5",
                "--threads", "1").assertError(2);
        assertTrue(r.err().contains("8"), () -> "should name the model's block size\n" + r.describe());
    }

    @Test
    void sampleBlockSizeZero() {
        Cli.run("sample", "--checkpoint", checkpoint.toString(), "--block-size", "0", "--tokens", "5", "--threads", "1")
                .assertError(2);
    }

    @Test
    void evalDataWithCharacterOutsideTheVocabulary() throws IOException {
        Path data = Files.writeString(tmp.resolve("accent.txt"), "caf\u00e9 and more plain text here. ".repeat(10));
        Cli.Result r = Cli.run("eval", "--checkpoint", checkpoint.toString(), "--data", data.toString(),
                "--eval-iters", "1", "--threads", "1").assertError(1);
        assertTrue(r.err().contains("U+00E9"), r::describe);
    }

    @Test
    void evalDataShorterThanTheBlock() throws IOException {
        Path data = Files.writeString(tmp.resolve("short.txt"), "hello world, how are you"); // val split: 3 chars
        Cli.Result r = Cli.run("eval", "--checkpoint", checkpoint.toString(), "--data", data.toString(),
                "--eval-iters", "1", "--threads", "1").assertError(1);
        assertTrue(r.err().contains("block"), r::describe);
    }

    @Test
    void evalWithMissingData() {
        Cli.run("eval", "--checkpoint", checkpoint.toString(), "--data", tmp.resolve("nosuch.txt").toString(),
                "--threads", "1").assertError(1);
    }

    @Test
    void zeroThreads() {
        Cli.run("sample", "--checkpoint", checkpoint.toString(), "--threads", "0", "--tokens", "5").assertFailure();
        Cli.run("train", "--data", goodText.toString(), "--out", out().toString(), "--block-size", "8",
                "--n-embd", "16", "--n-head", "2", "--n-layer", "1", "--iters", "1", "--sample-tokens", "0",
                "--threads", "0").assertFailure();
    }

    @Test
    void evalWithTrainingStateLackingTheBatchSize() throws IOException {
        // a well-formed checkpoint whose "train" metadata has "options" but no batch_size
        CharTokenizer tok = CharTokenizer.fromText(VOCAB_TEXT);
        GptConfig cfg = new GptConfig(GptConfig.GPT, tok.vocabSize(), 8, 16, 2, 1, 0f).validate();
        Path ckpt = tmp.resolve("odd-state.safetensors");
        try (Backend b = new ReferenceBackend(1)) {
            Gpt gpt = new Gpt(b, cfg);
            Optimizer optimizer = new Optimizer(gpt, Optimizer.Settings.PYTORCH);
            gpt.params.initialize(Seeds.init(1));
            Checkpoint.save(ckpt, gpt, optimizer, tok, new TrainState(1, new TrainOptions(16, 1e-3, 1, 1, 1, 1), 1, 2));
        }
        // the writer keeps its state whole, so take batch_size out of the file's metadata by hand
        SafeTensors.Contents saved = SafeTensors.read(ckpt);
        Map<String, String> meta = new java.util.LinkedHashMap<>(saved.metadata());
        com.google.gson.JsonObject state = com.google.gson.JsonParser.parseString(meta.get("train")).getAsJsonObject();
        state.getAsJsonObject("options").remove("batch_size");
        meta.put("train", state.toString());
        Map<String, SafeTensors.Out> tensors = new java.util.LinkedHashMap<>();
        saved.tensors().forEach((n, e) -> tensors.put(n, SafeTensors.Out.f32(e.shape(), e.floats())));
        SafeTensors.write(ckpt, tensors, meta);
        // the batch size falls back to the small config's 16
        Cli.Result r = Cli.run("eval", "--checkpoint", ckpt.toString(), "--data", goodText.toString(), "--eval-iters", "1",
                "--threads", "1").assertOk();
        org.junit.jupiter.api.Assertions.assertTrue(r.out().contains("val loss"), r.out());
    }

    // ---- sizes whose products overflow an int (child JVM: a fix might try to allocate them) ----

    @Test
    void trainBatchTimesBlockOverflows() {
        Cli.fork("train", "--data", goodText.toString(), "--out", out().toString(), "--batch-size", "1000000000",
                "--block-size", "8", "--n-embd", "16", "--n-head", "2", "--n-layer", "1", "--iters", "1",
                "--sample-tokens", "0", "--threads", "1").assertFailure();
        assertFalse(Files.exists(out()));
    }

    @Test
    void evalBatchTimesBlockOverflows() {
        Cli.fork("eval", "--checkpoint", checkpoint.toString(), "--data", goodText.toString(), "--batch-size",
                "1000000000", "--eval-iters", "1", "--threads", "1").assertFailure();
    }

    @Test
    void hugeEmbeddingWidth() {
        // 3 * n_embd^2 = 3e10 weights in one matrix: more than a Java array holds
        Cli.fork("train", "--data", goodText.toString(), "--out", out().toString(), "--n-embd", "100000",
                "--n-head", "1", "--n-layer", "1", "--block-size", "8", "--iters", "1", "--sample-tokens", "0",
                "--threads", "1").assertFailure();
    }

    /** A safetensors file: little-endian header length, the header, the data. */
    static byte[] safetensors(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(h.length).put(h).put(data).array();
    }

    /**
     * A name that cannot be a path (a NUL in it; or, under a locale that is not UTF-8, a character it
     * cannot encode) is one line naming the argument, exit 2, not an InvalidPathException.
     */
    @Test
    void aFileNameThatCannotBeAPathIsAUsageErrorNamingIt() {
        for (String[] args : new String[][]{{"plot", "--metrics", "run\u0000.jsonl"}, {"sample", "--checkpoint", "m\u0000"},
                {"train", "--data", "t\u0000.txt"}}) {
            Cli.Result r = Cli.run(args).assertError(2);
            String line = r.errLines().getFirst();
            // the NUL shown as \\x00: an error line holds no control characters
            assertTrue(line.contains("'" + Main.printable(args[2]) + "' cannot be a file name here") && line.contains(args[1]),
                    r::describe);
        }
    }

    /** An error naming a file whose name holds a terminal escape shows it as \\xHH, never raw. */
    @Test
    void anErrorNeverSendsAFileNamesControlCharactersRaw() {
        Cli.Result r = Cli.run("sample", "--checkpoint", tmp.resolve("no\u001b]0;pwned\u0007such").toString())
                .assertFailure();
        assertFalse(r.err().contains("\u001b") || r.err().contains("\u0007"), r::describe);
        assertTrue(r.err().contains("\\x1b]0;pwned\\x07"), r::describe);
    }

    /** gpt plot reads a metrics file, never a device or a pipe (which would never end). */
    @Test
    void plotRefusesADeviceForItsMetrics() {
        assumeTrue(Files.exists(Path.of("/dev/urandom")), "no /dev/urandom");
        Cli.Result r = Cli.run("plot", "--metrics", "/dev/urandom", "--out", tmp.resolve("p.png").toString())
                .assertError(1);
        assertTrue(r.err().contains("is not a regular file"), r::describe);
    }

    /** A resumed bigram run refuses the GPT model's flags rather than ignoring them. */
    @Test
    void aResumedBigramRunRefusesTheGptModelsFlags() {
        Path bigram = tmp.resolve("bigram.safetensors");
        Cli.run("train", "--model", "bigram", "--data", goodText.toString(), "--block-size", "8", "--batch-size", "4",
                "--iters", "3", "--eval-interval", "10", "--eval-iters", "1", "--sample-tokens", "0", "--threads", "1",
                "--out", bigram.toString()).assertOk();
        Cli.Result r = Cli.run("train", "--resume", bigram.toString(), "--data", goodText.toString(), "--n-embd", "999",
                "--iters", "5", "--sample-tokens", "0", "--threads", "1").assertError(2);
        assertTrue(r.err().contains("--n-embd sets the GPT model"), r::describe);
    }

    /** A bad value's error names the flag given, not another one beside it. */
    @Test
    void evalNamesOnlyTheFlagThatIsWrong() {
        Cli.Result r = Cli.run("eval", "--checkpoint", checkpoint.toString(), "--eval-iters", "0").assertError(2);
        assertTrue(r.err().contains("--eval-iters must be positive, got 0") && !r.err().contains("--batch-size"),
                r::describe);
    }

    /**
     * --gemm names a library a backend offers beside its own kernels (cuBLAS, on TornadoVM's CUDA
     * backend): on a host backend it is refused in one line, and "own" is the default.
     */
    @Test
    void aProductLibraryTheBackendLacksIsOneLine() {
        Cli.Result r = Cli.run("eval", "--checkpoint", checkpoint.toString(), "--data", goodText.toString(), "--backend",
                "cpu", "--threads", "1", "--gemm", "cublas").assertError(1);
        assertTrue(r.err().contains("the cpu backend computes the products with its own kernels only, not cublas"),
                r::describe);
        Cli.run("eval", "--checkpoint", checkpoint.toString(), "--data", goodText.toString(), "--backend", "cpu",
                "--threads", "1", "--eval-iters", "1", "--gemm", "own").assertOk();
        Cli.Result b = Cli.run("bench", "--backend", "reference", "--threads", "1", "--iters", "1", "--warmup", "0",
                "--gemm", "cublas-tf32").assertError(1);
        assertTrue(b.err().contains("the reference backend computes the products with its own kernels only"), b::describe);
        // from the environment, the error names it
        Cli.Result e = new Cli.Fork().env("GPT_GEMM", "cublas").run("eval", "--checkpoint", checkpoint.toString(), "--data",
                goodText.toString(), "--backend", "cpu", "--threads", "1").assertError(1);
        assertTrue(e.err().contains("GPT_GEMM=cublas: the cpu backend computes the products with its own kernels only"),
                e::describe);
    }
}
