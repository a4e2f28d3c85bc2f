package org.gptjvm.model;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.gptjvm.model.train.Preset;
import org.junit.jupiter.api.Test;

import java.util.Locale;

import static org.gptjvm.model.ModelTestSupport.oneLineError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GptConfigTest {

    @Test
    void parameterCountsOfTheLectureModels() {
        GptConfig small = Preset.small.config(65);
        assertEquals(209_729, small.parameterCount());
        assertEquals("0.209729 M", String.format(Locale.ROOT, "%.6f M", small.parameterCount() / 1e6));
        GptConfig lecture = Preset.lecture.config(65);
        assertEquals(10_788_929, lecture.parameterCount());
        assertEquals("10.79 M", String.format(Locale.ROOT, "%.2f M", lecture.parameterCount() / 1e6));
        GptConfig bigram = new GptConfig(GptConfig.BIGRAM, 65, 8, 65, 1, 0, 0f);
        assertEquals(65 * 65, bigram.parameterCount());
    }

    @Test
    void allocatedParametersAgreeWithTheCount() {
        try (Backend be = new ReferenceBackend(1)) {
            for (GptConfig c : new GptConfig[]{Preset.small.config(65), Preset.lecture.config(65),
                    new GptConfig(GptConfig.GPT, 11, 6, 12, 3, 2, 0f),
                    new GptConfig(GptConfig.BIGRAM, 65, 8, 65, 1, 0, 0f)}) {
                GptParams p = new GptParams(be, c);
                assertEquals(c.parameterCount(), p.count(), c.toString());
            }
            // and the PyTorch-named state dict holds the same number of values (sum of numel)
            GptParams p = new GptParams(be, Preset.small.config(65));
            long numel = p.stateDict().values().stream().mapToLong(t -> t.data().length).sum();
            assertEquals(209_729, numel);
            for (GptParams.Tensor t : p.stateDict().values()) {
                long prod = 1;
                for (int s : t.shape()) {
                    prod *= s;
                }
                assertEquals(prod, t.data().length);
            }
        }
    }

    @Test
    void validateRejectsBadShapes() {
        GptConfig ok = new GptConfig(GptConfig.GPT, 65, 8, 32, 4, 2, 0.1f);
        assertEquals(ok, ok.validate());
        String m = oneLineError(() -> new GptConfig(GptConfig.GPT, 65, 8, 30, 4, 2, 0f).validate());
        assertTrue(m.contains("30") && m.contains("4"), m);
        oneLineError(() -> new GptConfig(GptConfig.GPT, 0, 8, 32, 4, 2, 0f).validate());
        oneLineError(() -> new GptConfig(GptConfig.GPT, -1, 8, 32, 4, 2, 0f).validate());
        oneLineError(() -> new GptConfig(GptConfig.GPT, 65, 0, 32, 4, 2, 0f).validate());
        oneLineError(() -> new GptConfig(GptConfig.GPT, 65, -8, 32, 4, 2, 0f).validate());
        oneLineError(() -> new GptConfig(GptConfig.GPT, 65, 8, 0, 4, 2, 0f).validate());
        oneLineError(() -> new GptConfig(GptConfig.GPT, 65, 8, -32, 4, 2, 0f).validate());
        oneLineError(() -> new GptConfig(GptConfig.GPT, 65, 8, 32, 0, 2, 0f).validate());
        oneLineError(() -> new GptConfig(GptConfig.GPT, 65, 8, 32, -4, 2, 0f).validate());
        oneLineError(() -> new GptConfig(GptConfig.GPT, 65, 8, 32, 4, 0, 0f).validate());
        oneLineError(() -> new GptConfig(GptConfig.GPT, 65, 8, 32, 4, -1, 0f).validate());
        for (float p : new float[]{-0.1f, 1f, 1.5f, Float.NaN, Float.POSITIVE_INFINITY}) {
            String d = oneLineError(() -> new GptConfig(GptConfig.GPT, 65, 8, 32, 4, 2, p).validate());
            assertTrue(d.contains("dropout"), d);
        }
        oneLineError(() -> new GptConfig("transformer", 65, 8, 32, 4, 2, 0f).validate());
        oneLineError(() -> new GptConfig(GptConfig.BIGRAM, 0, 8, 0, 0, 0, 0f).validate());
        // the model refuses a bad config too
        try (Backend be = new ReferenceBackend(1)) {
            oneLineError(() -> new Gpt(be, new GptConfig(GptConfig.GPT, 65, 8, 30, 4, 2, 0f)));
        }
        // dropout 0 and just below 1 are allowed
        new GptConfig(GptConfig.GPT, 65, 8, 32, 4, 2, 0f).validate();
        new GptConfig(GptConfig.GPT, 65, 8, 32, 4, 2, 0.99f).validate();
    }

    @Test
    void jsonRoundTrip() {
        for (GptConfig c : new GptConfig[]{Preset.small.config(65), Preset.lecture.config(65),
                new GptConfig(GptConfig.GPT, 11, 6, 12, 3, 2, 0.2f),
                new GptConfig(GptConfig.GPT, 100, 7, 30, 5, 1, 0.1f),
                new GptConfig(GptConfig.BIGRAM, 65, 8, 65, 1, 0, 0f)}) { // the CLI's bigram config
            assertEquals(c, GptConfig.fromJson(c.toJson().toString()), c.toString());
        }
        // the PyTorch fixtures' config has no "model": a gpt
        GptConfig f = GptConfig.fromJson(
                "{\"vocab_size\": 65, \"n_embd\": 32, \"n_head\": 4, \"n_layer\": 2, \"block_size\": 16, \"dropout\": 0.0}");
        assertEquals(new GptConfig(GptConfig.GPT, 65, 16, 32, 4, 2, 0f), f);
    }

    @Test
    void fromJsonErrorsAreOneLine() {
        oneLineError(() -> GptConfig.fromJson("{\"vocab_size\": 65}"));
        oneLineError(() -> GptConfig.fromJson("{\"vocab_size\": 65, \"n_embd\": 30, \"n_head\": 4, \"n_layer\": 2, \"block_size\": 16}"));
        oneLineError(() -> GptConfig.fromJson("[1, 2]"));
        // malformed JSON: gson's own message spans two lines ("...\nSee https://github.com/google/gson/...")
        oneLineError(() -> GptConfig.fromJson("not json"));
    }
}
