package org.gptjvm.model.train;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.GptException;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.GptParams;
import org.gptjvm.model.ModelTestSupport;
import org.gptjvm.model.Param;
import org.gptjvm.model.Rng;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.Shared;
import org.gptjvm.model.data.CharTokenizer;
import org.gptjvm.model.data.TextData;
import org.gptjvm.model.io.SafeTensors;
import org.gptjvm.model.parity.ParityReport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.gptjvm.model.ModelTestSupport.assertBitIdentical;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class CheckpointTest {

    private static GptConfig tinyConfig(CharTokenizer tok) {
        return new GptConfig(GptConfig.GPT, tok.vocabSize(), 8, 12, 3, 2, 0.1f);
    }

    /** A tiny model, initialised and trained a few steps (so the AdamW moments are not zero), and its trainer. */
    private record Trained(Gpt gpt, Trainer trainer) {
    }

    private static Trained training(Backend be, GptConfig cfg, TextData data) {
        Gpt gpt = new Gpt(be, cfg);
        gpt.params.initialize(Seeds.init(3));
        Trainer t = new Trainer(gpt, data, new TrainOptions(4, 1e-2, 3, 3, 1, 3));
        for (int i = 0; i < 3; i++) {
            t.step();
        }
        return new Trained(gpt, t);
    }

    private static Gpt trained(Backend be, GptConfig cfg, TextData data) {
        return training(be, cfg, data).gpt();
    }

    @Test
    void saveLoadRoundTripIsBitIdentical(@TempDir Path dir) {
        TextData data = ReproducibilityTest.text();
        CharTokenizer tok = data.tokenizer();
        GptConfig cfg = tinyConfig(tok);
        Path file = dir.resolve("sub/model.safetensors"); // the directory is created
        try (Backend be = new ReferenceBackend(1)) {
            Trained run = training(be, cfg, data);
            Gpt gpt = run.gpt();
            Checkpoint.save(file, gpt, run.trainer().optimizer(), tok, new TrainState(3, Preset.small.trainOptions(), 1, 2));
            Checkpoint c = Checkpoint.load(file);
            assertEquals(cfg, c.config);
            assertEquals(tok.vocabulary(), c.tokenizer.vocabulary());
            assertEquals(3, c.train.iteration());
            try (Backend be2 = new ReferenceBackend(2)) {
                Gpt back = c.toModel(be2, file);
                assertBitIdentical(gpt.params.stateDict(), back.params.stateDict());
                int[] x = new int[2 * cfg.blockSize()], y = new int[2 * cfg.blockSize()];
                data.batch(TextData.Split.VAL, new Rng(1), 2, cfg.blockSize(), x, y);
                assertEquals(Float.floatToRawIntBits(gpt.loss(x, y)), Float.floatToRawIntBits(back.loss(x, y)));
            }
            // the moments are saved too, bit for bit, under the optimizer prefix
            Map<String, GptParams.Tensor> state = run.trainer().optimizer().state();
            for (Param p : gpt.params.all) {
                float[] m = state.get(Optimizer.PREFIX + "exp_avg." + p.name()).data();
                GptParams.Tensor saved = c.weights.get(Optimizer.PREFIX + "exp_avg." + p.name());
                assertTrue(saved != null, "moment of " + p.name());
                assertArrayEquals(m, saved.data());
                assertFalse(Arrays.equals(m, new float[m.length]), "moments are not all zero after training");
            }
            // saving again replaces the file atomically and leaves no temporary files behind
            Checkpoint.save(file, gpt, null, tok, null);
            try (var files = Files.list(file.getParent())) {
                assertEquals(List.of(file.getFileName().toString()),
                        files.map(f -> f.getFileName().toString()).toList());
            } catch (IOException e) {
                throw new AssertionError(e);
            }
            Checkpoint weightsOnly = Checkpoint.load(file);
            assertTrue(weightsOnly.weights.keySet().stream().noneMatch(k -> k.startsWith(Optimizer.PREFIX)));
            assertNull(weightsOnly.train);
        }
    }

    @Test
    void bigramRoundTrip(@TempDir Path dir) {
        TextData data = ReproducibilityTest.text();
        CharTokenizer tok = data.tokenizer();
        GptConfig cfg = new GptConfig(GptConfig.BIGRAM, tok.vocabSize(), 8, tok.vocabSize(), 1, 0, 0f);
        Path file = dir.resolve("bigram.safetensors");
        try (Backend be = new ReferenceBackend(1)) {
            Gpt gpt = trained(be, cfg, data);
            Checkpoint.save(file, gpt, null, tok, null);
            Checkpoint c = Checkpoint.load(file);
            assertEquals(cfg, c.config);
            assertEquals(Set.of("token_embedding_table.weight"), c.weights.keySet());
            try (Backend be2 = new ReferenceBackend(1)) {
                Gpt back = c.toModel(be2, file);
                assertBitIdentical(gpt.params.stateDict(), back.params.stateDict());
            }
        }
    }

    @Test
    void savedFileHasPyTorchNamesAndShapes(@TempDir Path dir) {
        CharTokenizer tok = CharTokenizer.fromText(ModelTestSupport.SHORT_TEXT);
        GptConfig cfg = new GptConfig(GptConfig.GPT, tok.vocabSize(), 8, 12, 3, 2, 0f);
        int V = cfg.vocabSize(), C = 12, hs = 4, T = 8;
        Path file = dir.resolve("m.safetensors");
        try (Backend be = new ReferenceBackend(1)) {
            Gpt gpt = new Gpt(be, cfg);
            gpt.params.initialize(Seeds.init(9));
            Checkpoint.save(file, gpt, null, tok, null);
            SafeTensors.Contents c = SafeTensors.read(file);
            Map<String, int[]> expect = new LinkedHashMap<>();
            expect.put("token_embedding_table.weight", new int[]{V, C});
            expect.put("position_embedding_table.weight", new int[]{T, C});
            for (int l = 0; l < 2; l++) {
                String p = "blocks." + l + ".";
                for (int h = 0; h < 3; h++) {
                    for (String k : new String[]{"key", "query", "value"}) {
                        expect.put(p + "sa.heads." + h + "." + k + ".weight", new int[]{hs, C});
                    }
                }
                expect.put(p + "sa.proj.weight", new int[]{C, C});
                expect.put(p + "sa.proj.bias", new int[]{C});
                expect.put(p + "ffwd.net.0.weight", new int[]{4 * C, C});
                expect.put(p + "ffwd.net.0.bias", new int[]{4 * C});
                expect.put(p + "ffwd.net.2.weight", new int[]{C, 4 * C});
                expect.put(p + "ffwd.net.2.bias", new int[]{C});
                for (String ln : new String[]{"ln1", "ln2"}) {
                    expect.put(p + ln + ".weight", new int[]{C});
                    expect.put(p + ln + ".bias", new int[]{C});
                }
            }
            expect.put("ln_f.weight", new int[]{C});
            expect.put("ln_f.bias", new int[]{C});
            expect.put("lm_head.weight", new int[]{V, C});
            expect.put("lm_head.bias", new int[]{V});
            assertEquals(new TreeSet<>(expect.keySet()), new TreeSet<>(c.tensors().keySet()));
            expect.forEach((name, shape) -> {
                assertArrayEquals(shape, c.tensors().get(name).shape(), name);
                assertEquals("F32", c.tensors().get(name).dtype(), name);
            });
            assertTrue(c.tensors().keySet().stream().noneMatch(k -> k.contains("sa.qkv")));
            assertEquals(Checkpoint.FORMAT, c.metadata().get("format"));
            assertEquals(cfg, GptConfig.fromJson(c.metadata().get("config")));

            // the heads are the rows of the fused [query; key; value] matrix
            float[] qkv = gpt.params.read(gpt.params.layers[1].qkvW().value());
            float[] key2 = c.tensors().get("blocks.1.sa.heads.2.key.weight").floats();
            assertArrayEquals(Arrays.copyOfRange(qkv, (C + 2 * hs) * C, (C + 3 * hs) * C), key2);
            float[] query0 = c.tensors().get("blocks.1.sa.heads.0.query.weight").floats();
            assertArrayEquals(Arrays.copyOfRange(qkv, 0, hs * C), query0);
            float[] value1 = c.tensors().get("blocks.1.sa.heads.1.value.weight").floats();
            assertArrayEquals(Arrays.copyOfRange(qkv, (2 * C + hs) * C, (2 * C + 2 * hs) * C), value1);
        }
    }

    @Test
    void savedNamesMatchThePyTorchFixture(@TempDir Path dir) {
        Path fixture = Shared.require("fixtures/ref_tiny.safetensors");
        SafeTensors.Contents ref = SafeTensors.read(fixture);
        Map<String, int[]> refShapes = new LinkedHashMap<>();
        ref.tensors().forEach((k, e) -> {
            if (!k.equals("idx") && !k.equals("targets") && !k.startsWith("expected.")) {
                refShapes.put(k, e.shape());
            }
        });
        Checkpoint c = Checkpoint.load(fixture);
        Path file = dir.resolve("ours.safetensors");
        try (Backend be = new ReferenceBackend(1)) {
            Gpt gpt = new Gpt(be, c.config);
            gpt.params.initialize(Seeds.init(1));
            Checkpoint.save(file, gpt, null, c.tokenizer, null);
        }
        SafeTensors.Contents ours = SafeTensors.read(file);
        assertEquals(new TreeSet<>(refShapes.keySet()), new TreeSet<>(ours.tensors().keySet()));
        refShapes.forEach((k, s) -> assertArrayEquals(s, ours.tensors().get(k).shape(), k));
        // the lecture's state_dict order
        assertEquals(List.copyOf(refShapes.keySet()), List.copyOf(ours.tensors().keySet()));
    }

    @Test
    void loadsThePyTorchFixtureAndReproducesItsLogits() {
        Path fixture = Shared.require("fixtures/ref_tiny.safetensors");
        Checkpoint c = Checkpoint.load(fixture);
        assertEquals(new GptConfig(GptConfig.GPT, 65, 16, 32, 4, 2, 0f), c.config);
        assertEquals("\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", c.tokenizer.vocabulary());
        SafeTensors.Contents raw = SafeTensors.read(fixture);
        int[] idx = raw.get("idx", fixture).ints(), targets = raw.get("targets", fixture).ints();
        float[] expected = raw.get("expected.logits", fixture).floats();
        float expectedLoss = raw.get("expected.loss", fixture).floats()[0];
        int B = 4, T = 16, V = 65;
        try (Backend be = new ReferenceBackend(1)) {
            Gpt gpt = c.toModel(be, fixture);
            float loss = gpt.loss(idx, targets);
            float[] logits = new float[B * T * V];
            be.read(gpt.batchGraph(B).logitsBuf, logits);
            double rel = ParityReport.relative(logits, expected);
            System.out.printf("ref_tiny via Checkpoint.load: logits relative error %.3e, loss %.7f vs %.7f%n", rel, loss,
                    expectedLoss);
            assertTrue(rel < 1e-5, "logits relative error " + rel);
            assertEquals(expectedLoss, loss, 1e-5);
            // sampling's path: one sequence, its first n tokens, padded to block_size
            for (int b : new int[]{0, 3}) {
                for (int n : new int[]{1, 5, 16}) {
                    float[] got = gpt.nextLogits(Arrays.copyOfRange(idx, b * T, b * T + n), n).clone();
                    float[] want = Arrays.copyOfRange(expected, ((b * T) + n - 1) * V, ((b * T) + n) * V);
                    assertTrue(ParityReport.relative(got, want) < 1e-5, "nextLogits b=" + b + " n=" + n);
                }
            }
        }
    }

    // ------------------------------------------------------------------ broken files

    /**
     * The call throws a GptException (never another type) whose one-line message names the file;
     * returns what is wrong, or null.
     */
    private static String fileError(Path file, Executable e) {
        try {
            e.execute();
            return file.getFileName() + ": no error";
        } catch (GptException ex) {
            String m = String.valueOf(ex.getMessage());
            if (!m.contains(file.getFileName().toString())) {
                return file.getFileName() + ": message does not name the file: " + m.replace("\n", "\\n");
            }
            if (m.contains("\n")) {
                return file.getFileName() + ": message is not one line: " + m.replace("\n", "\\n");
            }
            return null;
        } catch (Throwable t) {
            return file.getFileName() + ": " + t + " instead of a GptException";
        }
    }

    private static String loadError(Path file) {
        return fileError(file, () -> {
            Checkpoint c = Checkpoint.load(file);
            try (Backend be = new ReferenceBackend(1)) {
                Gpt g = c.toModel(be, file);
                fail("loaded " + g.config);
            }
        });
    }

    private static void assertLoadError(Path file) {
        String problem = loadError(file);
        if (problem != null) {
            fail(problem);
        }
    }

    private static byte[] header(String json) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        return b.array();
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    @Test
    void brokenFilesAreOneLineErrorsNamingTheFile(@TempDir Path dir) throws IOException {
        CharTokenizer tok = CharTokenizer.fromText(ModelTestSupport.SHORT_TEXT);
        GptConfig cfg = new GptConfig(GptConfig.GPT, tok.vocabSize(), 8, 12, 3, 2, 0f);
        Path good = dir.resolve("good.safetensors");
        try (Backend be = new ReferenceBackend(1)) {
            Gpt gpt = new Gpt(be, cfg);
            gpt.params.initialize(Seeds.init(1));
            Checkpoint.save(good, gpt, null, tok, null);
        }
        byte[] bytes = Files.readAllBytes(good);
        try (Backend be = new ReferenceBackend(1)) {
            Checkpoint.load(good).toModel(be, good); // the intact file loads
        }
        List<String> problems = new java.util.ArrayList<>();
        int[] cases = {0};
        java.util.function.Consumer<Path> assertLoadError = f -> {
            cases[0]++;
            String p = loadError(f);
            if (p != null) {
                problems.add(p);
            }
        };

        assertLoadError.accept(dir.resolve("missing.safetensors"));
        assertLoadError.accept(Files.createDirectory(dir.resolve("a-directory.safetensors")));
        assertLoadError.accept(Files.write(dir.resolve("empty.safetensors"), new byte[0]));
        assertLoadError.accept(Files.write(dir.resolve("tiny.safetensors"), Arrays.copyOf(bytes, 5)));
        for (int cut : new int[]{9, 30, bytes.length / 2, bytes.length - 100, bytes.length - 1}) {
            assertLoadError.accept(Files.write(dir.resolve("truncated-" + cut + ".safetensors"), Arrays.copyOf(bytes, cut)));
        }
        Rng rng = new Rng(5);
        for (int k = 0; k < 20; k++) {
            byte[] garbage = new byte[1 + rng.nextInt(4000)];
            for (int i = 0; i < garbage.length; i++) {
                garbage[i] = (byte) rng.nextInt(256);
            }
            assertLoadError.accept(Files.write(dir.resolve("garbage-" + k + ".safetensors"), garbage));
        }
        // a plausible header length but garbage after it
        byte[] g2 = new byte[200];
        ByteBuffer.wrap(g2).order(ByteOrder.LITTLE_ENDIAN).putLong(100);
        for (int i = 8; i < g2.length; i++) {
            g2[i] = (byte) (31 * i);
        }
        assertLoadError.accept(Files.write(dir.resolve("garbage-header.safetensors"), g2));
        // text that is not a safetensors file at all
        assertLoadError.accept(Files.writeString(dir.resolve("text.safetensors"), "First Citizen:\nBefore we proceed any further"));

        byte[] big = Arrays.copyOf(bytes, bytes.length);
        ByteBuffer.wrap(big).order(ByteOrder.LITTLE_ENDIAN).putLong(bytes.length); // header longer than the file
        assertLoadError.accept(Files.write(dir.resolve("long-header.safetensors"), big));
        ByteBuffer.wrap(big).order(ByteOrder.LITTLE_ENDIAN).putLong(Long.MAX_VALUE);
        assertLoadError.accept(Files.write(dir.resolve("huge-header.safetensors"), big));
        ByteBuffer.wrap(big).order(ByteOrder.LITTLE_ENDIAN).putLong(-8);
        assertLoadError.accept(Files.write(dir.resolve("negative-header.safetensors"), big));

        // well-formed JSON, bad contents
        String[] headers = {
                "[1, 2, 3]",
                "\"a string\"",
                "{}",
                "{\"w\": 5}",
                "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0]}}",
                "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 800]}}",
                "{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}",
                "{\"w\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}",
                "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}",
                "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [-8, 0]}}",
                "{\"w\": {\"dtype\": \"Q7\", \"shape\": [2], \"data_offsets\": [0, 8]}}",
                "{\"w\": {\"dtype\": \"F32\", \"shape\": \"2\", \"data_offsets\": [0, 8]}}",
                "{\"w\": {\"dtype\": \"F32\", \"shape\": [65536, 65536], \"data_offsets\": [0, 8]}}",
                "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                        + " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}",
                "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", // no metadata
                "{\"__metadata__\": {\"config\": {\"nested\": 1}, \"chars\": \"abc\"}}",
                "{\"__metadata__\": \"x\"}",
                "{\"__metadata__\": {\"config\": \"{\\\"vocab_size\\\": 3, \\\"n_embd\\\": 4, \\\"n_head\\\": 2,"
                        + " \\\"n_layer\\\": 1, \\\"block_size\\\": 4}\", \"chars\": \"\\\"abc\\\"\"},"
                        + " \"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", // no model tensors
                "{\"__metadata__\": {\"config\": \"{\\\"vocab_size\\\": 3, \\\"n_embd\\\": 4, \\\"n_head\\\": 2,"
                        + " \\\"n_layer\\\": 1, \\\"block_size\\\": 4}\", \"chars\": \"\\\"abcd\\\"\"},"
                        + " \"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", // 4 chars, vocab 3
                "{\"__metadata__\": {\"config\": \"{\\\"vocab_size\\\": 3, \\\"n_embd\\\": 4, \\\"n_head\\\": 2,"
                        + " \\\"n_layer\\\": 1, \\\"block_size\\\": 4}\", \"chars\": \"\\\"cba\\\"\"},"
                        + " \"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", // unsorted chars
        };
        for (int k = 0; k < headers.length; k++) {
            byte[] f = concat(header(headers[k]), new byte[16]);
            assertLoadError.accept(Files.write(dir.resolve("header-" + k + ".safetensors"), f));
        }
        if (!problems.isEmpty()) {
            fail(problems.size() + " of " + cases[0] + " broken files not reported as required:\n  "
                    + String.join("\n  ", problems));
        }
    }

    @Test
    void unwritableDestinationsAreOneLineErrors(@TempDir Path dir) throws IOException {
        CharTokenizer tok = CharTokenizer.fromText(ModelTestSupport.SHORT_TEXT);
        GptConfig cfg = new GptConfig(GptConfig.GPT, tok.vocabSize(), 8, 12, 3, 2, 0f);
        Path notADir = Files.writeString(dir.resolve("plain-file"), "x");
        Path under = notADir.resolve("model.safetensors");
        Path isDir = Files.createDirectory(dir.resolve("taken.safetensors"));
        try (Backend be = new ReferenceBackend(1)) {
            Gpt gpt = new Gpt(be, cfg);
            gpt.params.initialize(Seeds.init(1));
            assertFileError(under, () -> Checkpoint.save(under, gpt, null, tok, null));
            assertFileError(under, () -> Checkpoint.checkWritable(under));
            assertFileError(isDir, () -> Checkpoint.save(isDir, gpt, null, tok, null));
            assertFileError(isDir, () -> Checkpoint.checkWritable(isDir));
        }
        Checkpoint.checkWritable(dir.resolve("new/dir/ok.safetensors")); // creates what it needs
    }

    /** kill -9 during a save leaves the hidden temporary file; the next save of that file removes it. */
    @Test
    void aTemporaryFileLeftByAKilledSaveIsRemovedByTheNextSave(@TempDir Path dir) throws IOException {
        CharTokenizer tok = CharTokenizer.fromText(ModelTestSupport.SHORT_TEXT);
        GptConfig cfg = new GptConfig(GptConfig.GPT, tok.vocabSize(), 8, 12, 3, 2, 0f);
        Path file = dir.resolve("model.safetensors");
        Path stale = Files.writeString(dir.resolve(".model.safetensors.8127361.tmp"), "half a checkpoint");
        Path other = Files.writeString(dir.resolve(".model.safetensors.notes.tmp"), "not ours");
        try (Backend be = new ReferenceBackend(1)) {
            Gpt gpt = new Gpt(be, cfg);
            gpt.params.initialize(Seeds.init(1));
            Checkpoint.save(file, gpt, null, tok, null);
        }
        assertFalse(Files.exists(stale), "the stale temporary file is still there");
        assertTrue(Files.exists(other), "a file that is not one of our temporary files was removed");
        try (var files = Files.list(dir)) {
            assertEquals(List.of("model.safetensors", ".model.safetensors.notes.tmp"),
                    files.map(f -> f.getFileName().toString()).sorted(java.util.Comparator.reverseOrder()).toList());
        }
    }

    private static void assertFileError(Path file, Executable e) {
        String problem = fileError(file, e);
        if (problem != null) {
            fail(problem);
        }
    }

    /** The config metadata is parsed by GptConfig.fromJson, whose errors must still name the file. */
    @Test
    void badConfigMetadataIsAnErrorNamingTheFile(@TempDir Path dir) throws IOException {
        String[] headers = {
                "{\"__metadata__\": {\"config\": \"not json\", \"chars\": \"\\\"abc\\\"\"}}",
                "{\"__metadata__\": {\"config\": \"{\\\"n_embd\\\": 4}\", \"chars\": \"\\\"abc\\\"\"}}", // no vocab_size
                "{\"__metadata__\": {\"config\": \"{\\\"vocab_size\\\": 3, \\\"n_embd\\\": 5, \\\"n_head\\\": 2,"
                        + " \\\"n_layer\\\": 1, \\\"block_size\\\": 4}\", \"chars\": \"\\\"abc\\\"\"}}", // 5 % 2 != 0
                "{\"__metadata__\": {\"config\": \"{\\\"vocab_size\\\": 3, \\\"n_embd\\\": 4, \\\"n_head\\\": 2,"
                        + " \\\"n_layer\\\": 1, \\\"block_size\\\": 4}\", \"chars\": \"null\"},"
                        + " \"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}",
        };
        List<String> problems = new java.util.ArrayList<>();
        for (int k = 0; k < headers.length; k++) {
            Path f = Files.write(dir.resolve("bad-config-" + k + ".safetensors"), concat(header(headers[k]), new byte[16]));
            String p = loadError(f);
            if (p != null) {
                problems.add(p);
            }
        }
        if (!problems.isEmpty()) {
            fail(problems.size() + " of " + headers.length + " files not reported as required:\n  "
                    + String.join("\n  ", problems));
        }
    }

    @Test
    void wrongOrMissingTensorsAreErrorsNamingTheFileAndTensor(@TempDir Path dir) {
        CharTokenizer tok = CharTokenizer.fromText(ModelTestSupport.SHORT_TEXT);
        GptConfig cfg = new GptConfig(GptConfig.GPT, tok.vocabSize(), 8, 12, 3, 2, 0f);
        Map<String, GptParams.Tensor> sd;
        try (Backend be = new ReferenceBackend(1)) {
            Gpt gpt = new Gpt(be, cfg);
            gpt.params.initialize(Seeds.init(1));
            sd = gpt.params.stateDict();
        }
        Map<String, String> meta = Map.of("config", cfg.toJson().toString(), "chars",
                new com.google.gson.Gson().toJson(tok.vocabulary()));

        // lm_head.bias one longer than the vocabulary
        Map<String, SafeTensors.Out> out = new LinkedHashMap<>();
        sd.forEach((k, t) -> out.put(k, SafeTensors.Out.f32(t.shape(), t.data())));
        out.put("lm_head.bias", SafeTensors.Out.f32(new int[]{cfg.vocabSize() + 1}, new float[cfg.vocabSize() + 1]));
        Path wrong = dir.resolve("wrong-shape.safetensors");
        SafeTensors.write(wrong, out, meta);
        assertLoadError(wrong);
        GptException e = org.junit.jupiter.api.Assertions.assertThrows(GptException.class,
                () -> Checkpoint.load(wrong).toModel(new ReferenceBackend(1), wrong));
        assertTrue(e.getMessage().contains("lm_head.bias"), e.getMessage());

        // a head's key transposed: [C, hs] instead of [hs, C]
        out.clear();
        sd.forEach((k, t) -> out.put(k, SafeTensors.Out.f32(t.shape(), t.data())));
        out.put("blocks.1.sa.heads.2.key.weight", SafeTensors.Out.f32(new int[]{12, 4}, new float[48]));
        Path transposed = dir.resolve("transposed.safetensors");
        SafeTensors.write(transposed, out, meta);
        assertLoadError(transposed);

        // a tensor missing
        out.clear();
        sd.forEach((k, t) -> out.put(k, SafeTensors.Out.f32(t.shape(), t.data())));
        out.remove("blocks.0.ln2.bias");
        Path missing = dir.resolve("missing-tensor.safetensors");
        SafeTensors.write(missing, out, meta);
        e = org.junit.jupiter.api.Assertions.assertThrows(GptException.class,
                () -> Checkpoint.load(missing).toModel(new ReferenceBackend(1), missing));
        assertTrue(e.getMessage().contains("blocks.0.ln2.bias") && e.getMessage().contains("missing-tensor"),
                e.getMessage());

        // a model file of another config: a checkpoint whose config says block 16 with block-8 tensors
        Map<String, String> meta16 = Map.of("config",
                new GptConfig(GptConfig.GPT, tok.vocabSize(), 16, 12, 3, 2, 0f).toJson().toString(),
                "chars", new com.google.gson.Gson().toJson(tok.vocabulary()));
        out.clear();
        sd.forEach((k, t) -> out.put(k, SafeTensors.Out.f32(t.shape(), t.data())));
        Path other = dir.resolve("other-config.safetensors");
        SafeTensors.write(other, out, meta16);
        assertLoadError(other);
    }
}
