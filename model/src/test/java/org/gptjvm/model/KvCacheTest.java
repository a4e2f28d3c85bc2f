package org.gptjvm.model;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.cpu.CpuBackend;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.gptjvm.model.sample.Sampler;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.IntFunction;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The KV cache changes the cost of sampling, not its result: the logits of every position equal the
 * recomputed forward's bit for bit, on every backend and shape, and so the sampled tokens are the same.
 */
class KvCacheTest {
    record Case(String backend, int threads, GptConfig config) {
        Backend create() {
            return backend.equals("cpu") ? new CpuBackend(threads) : new ReferenceBackend(threads);
        }

        @Override
        public String toString() {
            return backend + "x" + threads + " " + config.kind() + " C" + config.nEmbd() + " NH" + config.nHead()
                    + " L" + config.nLayer() + " T" + config.blockSize();
        }
    }

    static Stream<Arguments> cases() {
        List<GptConfig> configs = List.of(
                new GptConfig(GptConfig.GPT, 13, 8, 16, 2, 2, 0f),
                new GptConfig(GptConfig.GPT, 65, 40, 24, 3, 2, 0.2f), // block > the cpu's 32-row attention blocks
                new GptConfig(GptConfig.GPT, 65, 32, 64, 4, 1, 0f),
                new GptConfig(GptConfig.GPT, 11, 5, 12, 1, 3, 0f),
                new GptConfig(GptConfig.BIGRAM, 65, 8, 65, 1, 1, 0f));
        List<Arguments> a = new ArrayList<>();
        for (GptConfig c : configs) {
            a.add(Arguments.of(new Case("reference", 2, c)));
            a.add(Arguments.of(new Case("cpu", 1, c)));
            a.add(Arguments.of(new Case("cpu", 3, c)));
        }
        return a.stream();
    }

    private static Gpt model(Backend be, GptConfig cfg) {
        Gpt gpt = new Gpt(be, cfg);
        gpt.initialize(3);
        // wider weights than the initialisation, so softmaxes are peaked and rounding would show
        for (Param p : gpt.params.all) {
            float[] v = gpt.params.read(p.value());
            Random rnd = new Random(p.name().hashCode());
            for (int i = 0; i < v.length; i++) {
                v[i] = v[i] * 8 + (float) rnd.nextGaussian() * 0.05f;
            }
            be.write(p.value(), v);
        }
        return gpt;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void cachedLogitsEqualRecomputedBitForBit(Case c) {
        GptConfig cfg = c.config();
        try (Backend be = c.create()) {
            Gpt gpt = model(be, cfg);
            Random rnd = new Random(11);
            int T = cfg.blockSize();
            int[] seq = new int[T];
            for (int i = 0; i < T; i++) {
                seq[i] = rnd.nextInt(cfg.vocabSize());
            }
            DecodeGraph dec = gpt.decoder();
            for (int round = 0; round < 2; round++) { // the second fill overwrites the first's cache rows
                for (int p = 0; p < T; p++) {
                    float[] cached = dec.step(seq[p], p).clone();
                    float[] full = gpt.nextLogits(java.util.Arrays.copyOf(seq, p + 1), p + 1);
                    for (int v = 0; v < cached.length; v++) {
                        assertEquals(Float.floatToRawIntBits(full[v]), Float.floatToRawIntBits(cached[v]),
                                "position " + p + ", logit " + v + ": " + full[v] + " vs " + cached[v]);
                    }
                }
                seq[0] = (seq[0] + 1) % cfg.vocabSize();
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void sameTokensWithAndWithoutTheCache(Case c) {
        GptConfig cfg = c.config();
        try (Backend be = c.create()) {
            Gpt gpt = model(be, cfg);
            int n = 3 * cfg.blockSize(); // well past the block: the cropped window is recomputed
            IntFunction<int[]> run = cache -> new Sampler(gpt, cfg.blockSize(), cache == 1)
                    .generate(new int[]{1, 2}, n, 1.0, 0, new Rng(99), t -> { });
            int[] with = run.apply(1), without = run.apply(0);
            assertArrayEquals(without, with);
            assertTrue(java.util.Arrays.stream(with).distinct().count() > 2, "a near-constant sample is a weak test");
            // a crop below the model's block size, and a prompt longer than it
            int crop = Math.max(1, cfg.blockSize() / 2);
            int[] longPrompt = new int[cfg.blockSize() + 3];
            assertArrayEquals(new Sampler(gpt, crop, false).generate(new int[]{3}, n, 0.8, 5, new Rng(4), t -> { }),
                    new Sampler(gpt, crop, true).generate(new int[]{3}, n, 0.8, 5, new Rng(4), t -> { }));
            assertArrayEquals(new Sampler(gpt, cfg.blockSize(), false).generate(longPrompt, 10, 1.0, 0, new Rng(4), t -> { }),
                    new Sampler(gpt, cfg.blockSize(), true).generate(longPrompt, 10, 1.0, 0, new Rng(4), t -> { }));
        }
    }
}
