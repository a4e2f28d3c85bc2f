package org.gptjvm.model.train;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import org.gptjvm.engine.Backend;
import org.gptjvm.engine.GptException;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.GptParams;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.data.CharTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.gptjvm.model.ModelTestSupport.oneLineError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A checkpoint's numbers and dtypes: F16 and BF16 weights (as PyTorch users save them) load as F32;
 * other dtypes, configs that are not whole numbers, and configs the tensors do not match are one-line
 * errors naming the file and the key or tensor, found from the header before any data is allocated.
 */
class CheckpointNumbersTest {
    @TempDir
    Path dir;

    private static final CharTokenizer TOK = CharTokenizer.fromText("abcdefgh\n");
    private static final GptConfig CFG = new GptConfig(GptConfig.GPT, TOK.vocabSize(), 8, 12, 3, 2, 0f);

    /** A safetensors file of {@code tensors} (name: dtype and raw little-endian bytes) and metadata. */
    private static byte[] safetensors(Map<String, Object[]> tensors, Map<String, String> meta) {
        JsonObject header = new JsonObject();
        JsonObject m = new JsonObject();
        meta.forEach(m::addProperty);
        header.add("__metadata__", m);
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        tensors.forEach((name, t) -> {
            JsonObject o = new JsonObject();
            o.addProperty("dtype", (String) t[0]);
            o.add("shape", new Gson().toJsonTree(t[1]));
            byte[] bytes = (byte[]) t[2];
            JsonArray off = new JsonArray();
            off.add(data.size());
            off.add(data.size() + bytes.length);
            o.add("data_offsets", off);
            header.add(name, o);
            data.writeBytes(bytes);
        });
        return file(header.toString(), data.toByteArray());
    }

    private static byte[] file(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        return b.array();
    }

    private static Map<String, String> meta(String config) {
        return Map.of("config", config, "chars", new Gson().toJson(TOK.vocabulary()));
    }

    private static byte[] halves(float[] a, boolean bf16) {
        ByteBuffer b = ByteBuffer.allocate(2 * a.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : a) {
            b.putShort(bf16 ? (short) (Float.floatToRawIntBits(x) >>> 16) : Float.floatToFloat16(x));
        }
        return b.array();
    }

    private static byte[] f32(float[] a) {
        ByteBuffer b = ByteBuffer.allocate(4 * a.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(a);
        return b.array();
    }

    private static Map<String, GptParams.Tensor> weights() {
        try (Backend be = new ReferenceBackend(1)) {
            Gpt gpt = new Gpt(be, CFG);
            gpt.params.initialize(Seeds.init(5));
            return gpt.params.stateDict();
        }
    }

    /** The model's weights in {@code dtype} ("F32", "BF16", "F16"), or one tensor as {@code odd}. */
    private Path modelFile(String name, String dtype, String oddTensor, String oddDtype) throws IOException {
        Map<String, Object[]> t = new LinkedHashMap<>();
        weights().forEach((n, w) -> {
            String d = n.equals(oddTensor) ? oddDtype : dtype;
            byte[] bytes = switch (d) {
                case "BF16" -> halves(w.data(), true);
                case "F16" -> halves(w.data(), false);
                case "I32" -> new byte[4 * w.data().length];
                case "I64", "F64" -> new byte[8 * w.data().length];
                default -> f32(w.data());
            };
            t.put(n, new Object[]{d, w.shape(), bytes});
        });
        return Files.write(dir.resolve(name), safetensors(t, meta(CFG.toJson().toString())));
    }

    @Test
    void bf16AndF16WeightsLoadConvertedToF32() throws IOException {
        Map<String, GptParams.Tensor> w = weights();
        for (String dtype : new String[]{"BF16", "F16"}) {
            Checkpoint c = Checkpoint.load(modelFile(dtype + ".safetensors", dtype, null, null));
            assertEquals(w.keySet(), c.weights.keySet());
            w.forEach((n, t) -> {
                float[] want = new float[t.data().length];
                for (int i = 0; i < want.length; i++) {
                    float x = t.data()[i];
                    want[i] = dtype.equals("BF16") ? Float.intBitsToFloat(Float.floatToRawIntBits(x) & 0xffff0000)
                            : Float.float16ToFloat(Float.floatToFloat16(x));
                }
                assertArrayEquals(want, c.weights.get(n).data(), dtype + " " + n);
            });
            try (Backend be = new ReferenceBackend(1)) {
                Gpt gpt = c.toModel(be, dir.resolve(dtype));
                assertTrue(Float.isFinite(gpt.loss(new int[8], new int[8])));
            }
        }
    }

    @Test
    void otherDtypesAreOneLineErrorsNamingTheTensor() throws IOException {
        for (String dtype : new String[]{"I32", "I64", "F64"}) {
            Path f = modelFile(dtype + ".safetensors", "F32", "blocks.1.ln2.bias", dtype);
            String msg = oneLineError(() -> Checkpoint.load(f));
            assertEquals(f + ": tensor blocks.1.ln2.bias is " + dtype + "; gpt loads weights of F32, BF16 or F16", msg);
        }
    }

    @Test
    void aConfigOfABillionLayersInATinyFileIsRefusedFromTheHeader() throws IOException {
        Map<String, Object[]> one = Map.of("token_embedding_table.weight", new Object[]{"F32", new int[]{1}, new byte[4]});
        // a second file: the first tensor right, the next missing
        Map<String, Object[]> two = Map.of("token_embedding_table.weight", new Object[]{"F32", new int[]{9, 12}, new byte[432]});
        Path f2 = Files.write(dir.resolve("two.safetensors"), safetensors(two,
                meta("{\"vocab_size\":9,\"block_size\":8,\"n_embd\":12,\"n_head\":3,\"n_layer\":1000000000}")));
        assertEquals(f2 + ": missing tensor position_embedding_table.weight, which its config (vocab_size 9, block_size 8, "
                + "n_embd 12, n_head 3, n_layer 1000000000) needs", oneLineError(() -> Checkpoint.load(f2)));
        String[] configs = {
                "{\"vocab_size\":9,\"block_size\":8,\"n_embd\":12,\"n_head\":3,\"n_layer\":1000000000}",
                "{\"vocab_size\":9,\"block_size\":8192,\"n_embd\":8192,\"n_head\":1,\"n_layer\":1000}"};
        for (String config : configs) {
            Path f = Files.write(dir.resolve("huge.safetensors"), safetensors(one, meta(config)));
            assertTrue(Files.size(f) < 400);
            String msg = oneLineError(() -> Checkpoint.load(f));
            assertTrue(msg.startsWith(f + ": tensor token_embedding_table.weight has shape [1], its config (")
                    && msg.contains(config.contains("1000000000") ? "n_layer 1000000000)" : "n_layer 1000)"), msg);
        }
        // every tensor present but one of the wrong shape: named with the config
        Path f = modelFile("ok.safetensors", "F32", null, null);
        Map<String, Object[]> t = new LinkedHashMap<>();
        weights().forEach((n, w) -> t.put(n, new Object[]{"F32", w.shape(), f32(w.data())}));
        t.put("lm_head.bias", new Object[]{"F32", new int[]{3, 3}, new byte[36]});
        Files.write(f, safetensors(t, meta(CFG.toJson().toString())));
        String msg = oneLineError(() -> Checkpoint.load(f));
        assertTrue(msg.startsWith(f + ": tensor lm_head.bias has shape [3, 3], its config (vocab_size 9"), msg);
    }

    @Test
    void configNumbersMustBeWholeAndInRange() throws IOException {
        Map<String, Object[]> one = Map.of("x", new Object[]{"F32", new int[]{1}, new byte[4]});
        for (String[] c : new String[][]{{"n_embd", "1e300"}, {"n_embd", "64.7"}, {"n_layer", "-1"},
                {"block_size", "2147483648"}, {"vocab_size", "\"9\""}}) {
            String config = "{\"vocab_size\":9,\"block_size\":8,\"n_embd\":12,\"n_head\":3,\"n_layer\":2}"
                    .replaceFirst("\"" + c[0] + "\":[0-9]+", "\"" + c[0] + "\":" + c[1]);
            Path f = Files.write(dir.resolve("c.safetensors"), safetensors(one, meta(config)));
            String msg = oneLineError(() -> Checkpoint.load(f));
            assertEquals(f + ": config " + c[0] + " must be a whole number from 1 to 2147483647, got " + c[1], msg);
        }
    }

    @Test
    void shapesAndOffsetsMustBeWholeNumbersAndTheHeaderLengthIsShownUnsigned() throws IOException {
        String cfg = CFG.toJson().toString();
        JsonObject h = new JsonObject();
        JsonObject m = new JsonObject();
        meta(cfg).forEach(m::addProperty);
        h.add("__metadata__", m);
        Path f = dir.resolve("s.safetensors");
        Files.write(f, file(h.toString().replace("}}", "},\"t\":{\"dtype\":\"F32\",\"shape\":[1.5,2],"
                + "\"data_offsets\":[0,12]}}"), new byte[12]));
        String msg = oneLineError(() -> Checkpoint.load(f));
        assertEquals(f + ": tensor t: shape [1.5,2]: each size must be a whole number from 0 to 2147483647, got 1.5", msg);
        Files.write(f, file(h.toString().replace("}}", "},\"t\":{\"dtype\":\"F32\",\"shape\":[3],"
                + "\"data_offsets\":[0,12.0001]}}"), new byte[12]));
        msg = oneLineError(() -> Checkpoint.load(f));
        assertTrue(msg.contains("data_offsets [0,12.0001]: end must be a whole number"), msg);

        byte[] b = file(h.toString(), new byte[0]);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -1L); // 2^64 - 1
        Files.write(f, b);
        msg = oneLineError(() -> Checkpoint.load(f));
        assertTrue(msg.contains("header length 18446744073709551615, beyond the end of the file of " + b.length + " bytes"),
                msg);
    }
}
