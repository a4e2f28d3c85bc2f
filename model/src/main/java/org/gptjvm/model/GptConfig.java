package org.gptjvm.model;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.gptjvm.engine.GptException;

/**
 * The model's shape, with the field names of the PyTorch fixtures' {@code config} metadata.
 *
 * @param kind      {@code gpt} (the lecture's transformer) or {@code bigram} (its first model)
 * @param vocabSize number of distinct characters
 * @param blockSize the context length (T)
 * @param nEmbd     the embedding width (C)
 * @param nHead     attention heads per block; head size is nEmbd / nHead
 * @param nLayer    transformer blocks
 * @param dropout   dropout probability during training
 */
public record GptConfig(String kind, int vocabSize, int blockSize, int nEmbd, int nHead, int nLayer, float dropout) {

    public static final String GPT = "gpt";
    public static final String BIGRAM = "bigram";

    public boolean isBigram() {
        return BIGRAM.equals(kind);
    }

    public int headSize() {
        return nEmbd / nHead;
    }

    /** Throws a one-line {@link GptException} naming the first bad value. */
    public GptConfig validate() {
        if (!GPT.equals(kind) && !BIGRAM.equals(kind)) {
            throw new GptException("unknown model '" + kind + "' (expected gpt or bigram)");
        }
        positive("vocab size", vocabSize);
        positive("block size", blockSize);
        if (!isBigram()) {
            positive("n_embd", nEmbd);
            positive("n_head", nHead);
            positive("n_layer", nLayer);
            if (nEmbd % nHead != 0) {
                throw new GptException("n_embd (" + nEmbd + ") must be divisible by n_head (" + nHead + ")");
            }
        }
        if (!(dropout >= 0f && dropout < 1f)) {
            throw new GptException("dropout must be in [0, 1), got " + dropout);
        }
        // every buffer is a Java array indexed by int: refuse shapes whose tensors cannot be one (the
        // products are doubles: as ints or longs they could overflow and pass)
        double V = vocabSize, T = blockSize, C = nEmbd, H = Math.max(1, nHead);
        fits("n_embd " + nEmbd, 4 * C * C);
        fits("vocab size " + vocabSize + " x n_embd " + nEmbd, V * Math.max(C, V));
        fits("block size " + blockSize + " x n_embd " + nEmbd + " (or vocab size " + vocabSize + ")", T * Math.max(4 * C, V));
        fits("block size " + blockSize + " (squared, x n_head " + nHead + ")", T * T * H);
        return this;
    }

    /** Throws when a batch of {@code batchSize} sequences would need a buffer larger than 2^31 floats. */
    public void checkBatch(int batchSize) {
        double n = (double) batchSize * blockSize;
        fits("batch size " + batchSize + " x block size " + blockSize, n * Math.max(4.0 * nEmbd, vocabSize));
        fits("batch size " + batchSize + " x block size " + blockSize, n * blockSize * Math.max(1, nHead));
    }

    private static void fits(String what, double elements) {
        if (elements > Integer.MAX_VALUE - 8) {
            throw new GptException(what + " too large: a buffer would need "
                    + new java.math.BigDecimal(elements).toBigInteger() + " values (limit 2^31)");
        }
    }

    private static void positive(String what, int v) {
        if (v <= 0) {
            throw new GptException(what + " must be positive, got " + v);
        }
    }

    /** Number of trainable parameters (as PyTorch's sum(p.numel())). */
    public long parameterCount() {
        long V = vocabSize, C = nEmbd, T = blockSize;
        if (isBigram()) {
            return V * V;
        }
        long block = 2 * C + 3 * C * C + C * C + C + 2 * C + 4 * C * C + 4 * C + 4 * C * C + C;
        return V * C + T * C + nLayer * block + 2 * C + V * C + V;
    }

    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("model", kind);
        o.addProperty("vocab_size", vocabSize);
        o.addProperty("n_embd", nEmbd);
        o.addProperty("n_head", nHead);
        o.addProperty("n_layer", nLayer);
        o.addProperty("block_size", blockSize);
        o.addProperty("dropout", dropout);
        return o;
    }

    /** Reads the fixtures' / our checkpoints' config JSON; a missing "model" means gpt. */
    public static GptConfig fromJson(String json) {
        try {
            JsonObject o = JsonParser.parseString(json).getAsJsonObject();
            String kind = o.has("model") ? o.get("model").getAsString() : GPT;
            // counts exactly as written: 64.7 is not 64, and 1e300 is not 0
            int v = count(o, "vocab_size");
            int t = count(o, "block_size");
            if (BIGRAM.equals(kind)) {
                return new GptConfig(kind, v, t, v, 1, 0, 0f).validate();
            }
            return new GptConfig(kind, v, t, count(o, "n_embd"), count(o, "n_head"), count(o, "n_layer"),
                    o.has("dropout") ? o.get("dropout").getAsFloat() : 0f).validate();
        } catch (GptException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new GptException("bad model config (expected JSON with vocab_size, block_size, n_embd, n_head, n_layer)");
        }
    }

    private static int count(JsonObject o, String key) {
        if (!o.has(key)) {
            throw new GptException("bad model config: no " + key);
        }
        return org.gptjvm.model.io.JsonNumbers.wholeInt(o, key, 1, Integer.MAX_VALUE);
    }

    @Override
    public String toString() {
        if (isBigram()) {
            return "bigram (vocab " + vocabSize + ", block " + blockSize + ")";
        }
        return String.format("gpt (vocab %d, block %d, n_embd %d, n_head %d, n_layer %d, dropout %s)",
                vocabSize, blockSize, nEmbd, nHead, nLayer, dropout);
    }
}
