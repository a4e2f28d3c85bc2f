package org.gptjvm.model;

import java.util.List;

/**
 * The model FLOPs of a training step, counted once for every report ({@code gpt bench}, its plan and
 * its product timings), by PaLM's convention: a multiply-add is two FLOPs; each Linear layer costs 2
 * per weight per row forward and 4 backward (the input and the weight gradient); attention costs
 * 12 * n_layer * T * C per token for a step (its two products per head, forward and backward, over
 * the whole T x T square, though a causal model needs only the triangle).
 */
public final class Flops {
    private Flops() {
    }

    /** A Linear layer of the model: N rows of C features to OC, run {@code perStep} times in a step. */
    public record Linear(String name, int n, int c, int oc, int perStep) {
        public double forward() {
            return 2.0 * n * c * oc;
        }

        public double backward() {
            return 4.0 * n * c * oc;
        }
    }

    /** The distinct Linear layers of a training step of {@code cfg} on batches of {@code B} (none in the bigram model). */
    public static List<Linear> linearLayers(GptConfig cfg, int B) {
        if (cfg.isBigram()) {
            return List.of();
        }
        int n = B * cfg.blockSize(), C = cfg.nEmbd(), L = cfg.nLayer();
        return List.of(new Linear("qkv", n, C, 3 * C, L), new Linear("attention proj", n, C, C, L),
                new Linear("mlp fc", n, C, 4 * C, L), new Linear("mlp proj", n, 4 * C, C, L),
                new Linear("lm_head", n, C, cfg.vocabSize(), 1));
    }

    /** Attention's products in a training step (forward and backward). */
    public static double attention(GptConfig cfg, int B) {
        if (cfg.isBigram()) {
            return 0;
        }
        double tokens = (double) B * cfg.blockSize();
        return 12.0 * cfg.nLayer() * cfg.blockSize() * cfg.nEmbd() * tokens;
    }

    /** A whole training step: forward, backward (AdamW's elementwise work is not counted). */
    public static double trainingStep(GptConfig cfg, int B) {
        double linear = 0;
        for (Linear l : linearLayers(cfg, B)) {
            linear += l.perStep() * (l.forward() + l.backward());
        }
        return linear + attention(cfg, B);
    }

    /** A forward pass (estimate_loss): a third of a step. */
    public static double forward(GptConfig cfg, int B) {
        return trainingStep(cfg, B) / 3;
    }
}
