package org.gptjvm.model.train;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.GptParams;
import org.gptjvm.model.ModelTestSupport;
import org.gptjvm.model.Rng;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.data.TextData;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Map;

import static org.gptjvm.model.ModelTestSupport.assertBitIdentical;
import static org.gptjvm.model.ModelTestSupport.bitIdentical;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Same seed, same bits: across runs and across thread counts, with dropout on. */
class ReproducibilityTest {
    static final int STEPS = 8, B = 6;

    /** A few kilobytes of text without the shared dataset: the short text's words in a seeded order. */
    static TextData text() {
        String[] words = ModelTestSupport.SHORT_TEXT.split(" ");
        Rng rng = new Rng(11);
        StringBuilder sb = new StringBuilder();
        while (sb.length() < 6000) {
            sb.append(words[rng.nextInt(words.length)]).append(' ');
        }
        return TextData.fromText(sb.toString());
    }

    record Run(int[] lossBits, Map<String, GptParams.Tensor> weights) {
    }

    static Run run(int threads, long seed, float dropout) {
        TextData data = text();
        GptConfig cfg = new GptConfig(GptConfig.GPT, data.tokenizer().vocabSize(), 16, 24, 3, 2, dropout);
        try (Backend be = new ReferenceBackend(threads)) {
            Gpt gpt = new Gpt(be, cfg);
            gpt.params.initialize(Seeds.init(seed));
            Trainer trainer = new Trainer(gpt, data, new TrainOptions(B, 3e-3, STEPS, STEPS, 2, seed));
            int[] losses = new int[STEPS];
            for (int i = 0; i < STEPS; i++) {
                losses[i] = Float.floatToRawIntBits(trainer.step());
            }
            return new Run(losses, gpt.params.stateDict());
        }
    }

    @Test
    void sameSeedGivesBitIdenticalRuns() {
        Run a = run(1, 42, 0.2f), b = run(1, 42, 0.2f);
        assertArrayEquals(a.lossBits(), b.lossBits());
        assertBitIdentical(a.weights(), b.weights());
    }

    @Test
    void threadCountDoesNotChangeABit() {
        Run one = run(1, 7, 0.2f);
        for (int threads : new int[]{2, 3}) {
            Run many = run(threads, 7, 0.2f);
            assertArrayEquals(one.lossBits(), many.lossBits(), threads + " threads: losses");
            assertBitIdentical(one.weights(), many.weights());
        }
        Run noDropout1 = run(1, 7, 0f), noDropout2 = run(2, 7, 0f);
        assertArrayEquals(noDropout1.lossBits(), noDropout2.lossBits());
        assertBitIdentical(noDropout1.weights(), noDropout2.weights());
        assertFalse(Arrays.equals(one.lossBits(), noDropout1.lossBits()), "dropout changes the losses");
    }

    @Test
    void differentSeedsDiffer() {
        Run a = run(1, 1, 0.2f), b = run(1, 2, 0.2f);
        assertFalse(Arrays.equals(a.lossBits(), b.lossBits()));
        assertFalse(bitIdentical(a.weights(), b.weights()));
        // every tensor that starts random differs
        for (String k : a.weights().keySet()) {
            if (k.endsWith(".weight") && !k.contains("ln")) {
                assertFalse(Arrays.equals(a.weights().get(k).data(), b.weights().get(k).data()), k);
            }
        }
        assertTrue(a.weights().containsKey("lm_head.weight"));
    }
}
