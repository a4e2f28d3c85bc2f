package org.gptjvm.cli;

import com.google.gson.JsonObject;
import org.gptjvm.model.Rng;
import org.gptjvm.model.data.DataFiles;
import org.gptjvm.model.data.TextData;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a benchmark's batches come from: the text of --data, $GPT_DATA or data/tinyshakespeare.txt
 * as training draws them, or, when none was named and the default file is absent (a fresh clone),
 * uniformly random tokens of Tiny Shakespeare's vocabulary, so the benchmark runs anywhere. A step's
 * time does not depend on the token values, only on the shapes, so both time the same work.
 */
record BatchSource(TextData text, Path file) {
    static BatchSource choose(Path flag, String env) {
        Path file = DataFiles.choose(flag, env);
        if (flag == null && (env == null || env.isBlank()) && !Files.exists(file)) {
            return new BatchSource(null, null);
        }
        return new BatchSource(TextData.load(file), file); // a named file that is missing stays an error
    }

    int vocabSize() {
        return text != null ? text.tokenizer().vocabSize() : DataFiles.TINY_SHAKESPEARE_VOCAB_SIZE;
    }

    String describe() {
        return text != null ? file + " (vocabulary " + vocabSize() + ")"
                : "random tokens (vocabulary " + vocabSize() + "; no data file)";
    }

    JsonObject toJson() {
        JsonObject d = new JsonObject();
        d.addProperty("source", text != null ? "file" : "random tokens");
        if (text != null) {
            d.addProperty("file", file.toString());
            d.addProperty("bytes", text.identity().bytes());
            d.addProperty("sha256", text.identity().sha256());
        }
        d.addProperty("vocab_size", vocabSize());
        return d;
    }

    /**
     * One batch into x and y (B*T each): get_batch on the text's training split, or B rows of
     * T + 1 uniformly random tokens, x the first T of each and y the last T, as get_batch shifts.
     */
    void batch(Rng rng, int B, int T, int[] x, int[] y) {
        if (text != null) {
            text.batch(TextData.Split.TRAIN, rng, B, T, x, y);
            return;
        }
        int V = vocabSize();
        for (int b = 0; b < B; b++) {
            int prev = rng.nextInt(V);
            for (int t = 0; t < T; t++) {
                x[b * T + t] = prev;
                prev = rng.nextInt(V);
                y[b * T + t] = prev;
            }
        }
    }
}
