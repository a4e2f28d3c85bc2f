package org.gptjvm.model;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.gptjvm.model.data.CharTokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole model's analytic gradients (forwardBackward) against central differences of its loss,
 * on a tiny GPT, on the same GPT with dropout (same mask for every evaluation), and on the bigram.
 *
 * <p>The loss is smooth but for the ReLUs: a difference whose two evaluations see a different set
 * of active ReLU units straddles a kink and measures nothing, so such coordinates are detected (the
 * backend below keeps the ReLU outputs' buffers) and skipped; they are few, and counted.
 */
class GradientCheckTest {
    static final int B = 3, T = 6, SAMPLES = 20;
    /** Step: small enough that few differences straddle a ReLU kink, large enough for float32 losses. */
    static final float H = 1e-3f;
    /** Norm-wise relative error allowed per parameter tensor over its sampled coordinates. */
    static final double TENSOR_TOL = 2e-2;
    /**
     * Per coordinate: |analytic - numeric| <= ABS_TOL + REL_TOL * |analytic|. ABS_TOL is the float32
     * rounding of the loss (a few ulps of ~2.5, about 1e-6) over the 2h of the difference.
     */
    static final double ABS_TOL = 5e-4, REL_TOL = 1e-2;

    /** The reference backend, remembering the ReLU activation buffers so kinks can be detected. */
    static final class KinkAwareBackend extends ReferenceBackend {
        final List<FloatBuf> relu = new ArrayList<>();

        KinkAwareBackend() {
            super(1);
        }

        @Override
        public FloatBuf allocFloat(String name, int size) {
            FloatBuf b = super.allocFloat(name, size);
            if (name.endsWith("fc_relu")) {
                relu.add(b);
            }
            return b;
        }

        /** Which ReLU units are active after the last forward pass. */
        java.util.BitSet active() {
            java.util.BitSet bits = new java.util.BitSet();
            int base = 0;
            for (FloatBuf b : relu) {
                float[] a = new float[b.size()];
                read(b, a);
                for (int i = 0; i < a.length; i++) {
                    if (a[i] > 0) {
                        bits.set(base + i);
                    }
                }
                base += a.length;
            }
            return bits;
        }
    }

    private static GptConfig tiny(float dropout) {
        int vocab = CharTokenizer.fromText(ModelTestSupport.SHORT_TEXT).vocabSize();
        return new GptConfig(GptConfig.GPT, vocab, T, 12, 3, 2, dropout);
    }

    /** PyTorch's init, then widened (std 0.2, LayerNorm gains/biases off 1/0) so every gradient is sizeable. */
    private static void randomize(Gpt gpt, long seed) {
        gpt.params.initialize(Seeds.init(seed));
        Rng rng = new Rng(seed + 1);
        for (Param p : gpt.params.all) {
            float[] a = gpt.params.read(p.value());
            for (int i = 0; i < a.length; i++) {
                a[i] = switch (p.init()) {
                    case NORMAL -> a[i] * 10f;
                    case ONES -> (float) (1 + 0.2 * rng.nextGaussian());
                    case ZEROS -> (float) (0.2 * rng.nextGaussian());
                };
            }
            gpt.backend.write(p.value(), a);
        }
    }

    private static int[][] batch(int vocab, long seed) {
        Rng rng = new Rng(seed);
        int[] x = new int[B * T], y = new int[B * T];
        for (int i = 0; i < x.length; i++) {
            x[i] = rng.nextInt(vocab);
            y[i] = rng.nextInt(vocab);
        }
        return new int[][]{x, y};
    }

    interface LossFn {
        float loss();
    }

    record Report(double worstTensorRel, double worstAbs, int checked, int outliers, int kinks, String table) {
    }

    private static Report check(Gpt gpt, KinkAwareBackend be, LossFn lossFn, float[][] analytic) {
        Rng pick = new Rng(77);
        StringBuilder table = new StringBuilder();
        double worstRel = 0, worstAbs = 0;
        int checked = 0, outliers = 0, kinks = 0;
        for (int k = 0; k < gpt.params.all.size(); k++) {
            Param p = gpt.params.all.get(k);
            float[] g = analytic[k];
            float[] v = gpt.params.read(p.value());
            List<Integer> idx = new ArrayList<>();
            if (p.size() <= SAMPLES * 2) {
                for (int i = 0; i < p.size(); i++) {
                    idx.add(i);
                }
            } else {
                for (int s = 0; s < SAMPLES; s++) {
                    idx.add(pick.nextInt(p.size()));
                }
            }
            double num2 = 0, den2 = 0, maxAbs = 0;
            for (int i : idx) {
                float orig = v[i];
                float up = orig + H, down = orig - H;
                v[i] = up;
                gpt.backend.write(p.value(), v);
                float lp = lossFn.loss();
                java.util.BitSet activeUp = be.active();
                v[i] = down;
                gpt.backend.write(p.value(), v);
                float lm = lossFn.loss();
                java.util.BitSet activeDown = be.active();
                v[i] = orig;
                gpt.backend.write(p.value(), v);
                if (!activeUp.equals(activeDown)) {
                    kinks++;
                    continue;
                }
                double numeric = ((double) lp - lm) / ((double) up - down); // the steps actually taken
                double err = Math.abs(numeric - g[i]);
                num2 += err * err;
                den2 += (double) g[i] * g[i];
                maxAbs = Math.max(maxAbs, err);
                if (err > ABS_TOL + REL_TOL * Math.abs(g[i])) {
                    outliers++;
                }
                checked++;
            }
            double rel = Math.sqrt(num2 / Math.max(den2, 1e-30));
            worstRel = Math.max(worstRel, rel);
            worstAbs = Math.max(worstAbs, maxAbs);
            table.append(String.format(Locale.ROOT, "  %-28s n=%2d  |g|=%.3e  rel %.2e  max abs %.2e%n", p.name(),
                    idx.size(), Math.sqrt(den2 / idx.size()), rel, maxAbs));
        }
        return new Report(worstRel, worstAbs, checked, outliers, kinks, table.toString());
    }

    private static float[][] grads(Gpt gpt) {
        float[][] g = new float[gpt.params.all.size()][];
        for (int k = 0; k < g.length; k++) {
            g[k] = gpt.params.read(gpt.params.all.get(k).grad());
        }
        return g;
    }

    private static void assertGood(String what, Report r) {
        System.out.printf(Locale.ROOT, "gradient check %s: %d coordinates, worst tensor rel error %.3e, max abs error %.3e,"
                + " %d outside per-coordinate tolerance, %d skipped at ReLU kinks%n%s", what, r.checked(), r.worstTensorRel(),
                r.worstAbs(), r.outliers(), r.kinks(), r.table());
        assertTrue(r.kinks() <= r.checked() / 4, what + ": too many kinks (" + r.kinks() + "), the check is weak");
        assertTrue(r.worstTensorRel() < TENSOR_TOL, what + ": worst tensor relative error " + r.worstTensorRel());
        assertEquals(0, r.outliers(), what + ": coordinates outside tolerance");
    }

    @Test
    void tinyGptWithoutDropout() {
        GptConfig cfg = tiny(0f);
        try (KinkAwareBackend be = new KinkAwareBackend()) {
            Gpt gpt = new Gpt(be, cfg);
            randomize(gpt, 1);
            int[][] xy = batch(cfg.vocabSize(), 2);
            float loss = gpt.forwardBackward(xy[0], xy[1], 12345);
            float[][] g = grads(gpt);
            assertEquals(loss, gpt.loss(xy[0], xy[1]), 0f, "forwardBackward's loss is loss() without dropout");
            assertTrue(loss > 0 && Float.isFinite(loss));
            assertGood("gpt, dropout 0", check(gpt, be, () -> gpt.loss(xy[0], xy[1]), g));
        }
    }

    @Test
    void tinyGptWithDropout() {
        GptConfig cfg = tiny(0.2f);
        long seed = 0x1234_5678_9ABCL;
        try (KinkAwareBackend be = new KinkAwareBackend()) {
            Gpt gpt = new Gpt(be, cfg);
            randomize(gpt, 3);
            int[][] xy = batch(cfg.vocabSize(), 4);
            float loss = gpt.forwardBackward(xy[0], xy[1], seed);
            float[][] g = grads(gpt); // read before the finite differences overwrite them
            assertEquals(loss, gpt.forwardBackward(xy[0], xy[1], seed), 0f, "same seed, same mask");
            assertNotEquals(loss, gpt.forwardBackward(xy[0], xy[1], seed + 1), "another seed, another mask");
            assertNotEquals(loss, gpt.loss(xy[0], xy[1]), "loss() runs without dropout");
            assertGood("gpt, dropout 0.2", check(gpt, be, () -> gpt.forwardBackward(xy[0], xy[1], seed), g));
        }
    }

    @Test
    void bigram() {
        int V = 11;
        GptConfig cfg = new GptConfig(GptConfig.BIGRAM, V, T, V, 1, 0, 0f);
        try (Backend be = new ReferenceBackend(1)) {
            Gpt gpt = new Gpt(be, cfg);
            randomize(gpt, 5);
            int[][] xy = batch(V, 6);
            float loss = gpt.forwardBackward(xy[0], xy[1], 0);
            float[][] g = grads(gpt);
            assertEquals(loss, gpt.loss(xy[0], xy[1]), 0f);
            assertEquals(1, gpt.params.all.size());
            // every one of the V*V coordinates (rows of tokens absent from x have zero gradient)
            Param wte = gpt.params.all.get(0);
            float[] v = gpt.params.read(wte.value());
            double worst = 0;
            for (int i = 0; i < v.length; i++) {
                float orig = v[i];
                v[i] = orig + H;
                be.write(wte.value(), v);
                float lp = gpt.loss(xy[0], xy[1]);
                v[i] = orig - H;
                be.write(wte.value(), v);
                float lm = gpt.loss(xy[0], xy[1]);
                v[i] = orig;
                be.write(wte.value(), v);
                double numeric = ((double) lp - lm) / ((double) (orig + H) - (orig - H));
                worst = Math.max(worst, Math.abs(numeric - g[0][i]));
                assertEquals(numeric, g[0][i], ABS_TOL + REL_TOL * Math.abs(g[0][i]), "coordinate " + i);
            }
            System.out.printf(Locale.ROOT, "gradient check bigram: %d coordinates, max abs error %.3e%n", v.length, worst);
        }
    }
}
