package org.gptjvm.model.train;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.Rng;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.Shared;
import org.gptjvm.model.data.TextData;
import org.junit.jupiter.api.Test;

import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Short training runs on Tiny Shakespeare: the loss must fall well below chance, ln(65) = 4.17. */
class TrainingTest {
    static final int EVAL_ITERS = 20;

    /** estimate_loss: mean loss over EVAL_ITERS batches of a split, without dropout, from its own generator. */
    static float estimate(Gpt gpt, TextData data, TextData.Split split, int B, long seed) {
        int T = gpt.config.blockSize();
        int[] x = new int[B * T], y = new int[B * T];
        Rng rng = new Rng(seed);
        double sum = 0;
        for (int k = 0; k < EVAL_ITERS; k++) {
            data.batch(split, rng, B, T, x, y);
            sum += gpt.loss(x, y);
        }
        return (float) (sum / EVAL_ITERS);
    }

    private static float[] train(GptConfig cfg, TextData data, int B, double lr, int iters, long seed, String what) {
        try (Backend be = new ReferenceBackend(1)) {
            Gpt gpt = new Gpt(be, cfg);
            gpt.params.initialize(Seeds.init(seed));
            float val0 = estimate(gpt, data, TextData.Split.VAL, B, 99);
            Trainer trainer = new Trainer(gpt, data, new TrainOptions(B, lr, iters, iters, EVAL_ITERS, seed));
            long t0 = System.nanoTime();
            float first = Float.NaN, last = Float.NaN;
            double lastTen = 0;
            for (int i = 0; i < iters; i++) {
                float loss = trainer.step();
                assertTrue(Float.isFinite(loss), "loss at step " + i + " is " + loss);
                if (i == 0) {
                    first = loss;
                }
                if (i >= iters - 10) {
                    lastTen += loss / 10;
                }
                last = loss;
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            assertEquals(iters, trainer.iteration());
            float train = estimate(gpt, data, TextData.Split.TRAIN, B, 98);
            float val = estimate(gpt, data, TextData.Split.VAL, B, 99);
            System.out.printf(Locale.ROOT, "%s, %s: val %.4f before; step 1 loss %.4f; after %d steps (%.1f s): last"
                            + " batch %.4f, mean of last 10 %.4f, estimated train %.4f, val %.4f (ln 65 = %.4f)%n",
                    what, cfg, val0, first, iters, secs, last, lastTen, train, val, Math.log(65));
            return new float[]{val0, train, val};
        }
    }

    @Test
    void smallGptLearnsTinyShakespeare() {
        TextData data = TextData.load(Shared.tinyShakespeare());
        GptConfig cfg = new GptConfig(GptConfig.GPT, 65, 16, 32, 4, 2, 0f);
        float[] r = train(cfg, data, 16, 1e-3, 200, 1337, "gpt");
        assertEquals(Math.log(65), r[0], 0.15, "an untrained model is near chance");
        assertTrue(r[2] < 3.0, "val loss after 200 steps: " + r[2]);
        assertTrue(r[1] < 3.0, "train loss after 200 steps: " + r[1]);
    }

    @Test
    void bigramLearnsTinyShakespeare() {
        TextData data = TextData.load(Shared.tinyShakespeare());
        GptConfig cfg = new GptConfig(GptConfig.BIGRAM, 65, 8, 65, 1, 0, 0f);
        float[] r = train(cfg, data, 32, 1e-2, 300, 1337, "bigram");
        assertEquals(Math.log(65), r[0], 0.05, "an untrained bigram is near chance");
        assertTrue(r[2] < 3.5, "bigram val loss after 300 steps: " + r[2]);
    }
}
