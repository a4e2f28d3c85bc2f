package org.gptjvm.model.sample;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.Program;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.ModelTestSupport;
import org.gptjvm.model.Param;
import org.gptjvm.model.Rng;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.data.CharTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplerTest {
    static final int BLOCK = 8;
    static Backend be;
    static Gpt gpt;

    /** A tiny GPT with wide random weights, so its next-token distributions are far from uniform. */
    @BeforeAll
    static void model() {
        be = new ReferenceBackend(1);
        int V = CharTokenizer.fromText(ModelTestSupport.SHORT_TEXT).vocabSize();
        gpt = new Gpt(be, new GptConfig(GptConfig.GPT, V, BLOCK, 16, 2, 2, 0f));
        gpt.params.initialize(Seeds.init(21));
        for (Param p : gpt.params.all) {
            if (p.init() == Param.Init.NORMAL) {
                float[] a = gpt.params.read(p.value());
                for (int i = 0; i < a.length; i++) {
                    a[i] *= 25;
                }
                be.write(p.value(), a);
            }
        }
    }

    @AfterAll
    static void close() {
        be.close();
    }

    private static int[] generate(int[] prompt, int n, double temperature, int topK, long seed, List<Integer> seen) {
        return new Sampler(gpt, BLOCK).generate(prompt, n, temperature, topK, new Rng(seed), seen::add);
    }

    @Test
    void sameSeedSameTokensDifferentSeedDifferent() {
        List<Integer> seen = new ArrayList<>();
        int[] a = generate(new int[]{0}, 60, 1.0, 0, 5, seen);
        int[] b = generate(new int[]{0}, 60, 1.0, 0, 5, new ArrayList<>());
        int[] c = generate(new int[]{0}, 60, 1.0, 0, 6, new ArrayList<>());
        assertArrayEquals(a, b);
        assertFalse(Arrays.equals(a, c));
        assertEquals(61, a.length);
        assertEquals(0, a[0], "the prompt comes first");
        // the callback sees each new token, in order
        assertArrayEquals(Arrays.copyOfRange(a, 1, a.length), seen.stream().mapToInt(Integer::intValue).toArray());
        for (int t : a) {
            assertTrue(t >= 0 && t < gpt.config.vocabSize());
        }
    }

    /** Greedy decoding by hand: argmax of the logits after the last block_size tokens. */
    private static int[] greedyByHand(int[] prompt, int n) {
        int[] seq = Arrays.copyOf(prompt, prompt.length + n);
        int len = prompt.length;
        for (int k = 0; k < n; k++) {
            int ctxLen = Math.min(len, BLOCK);
            float[] logits = gpt.nextLogits(Arrays.copyOfRange(seq, len - ctxLen, len), ctxLen);
            int best = 0;
            for (int v = 1; v < logits.length; v++) {
                if (logits[v] > logits[best]) {
                    best = v;
                }
            }
            seq[len++] = best;
        }
        return seq;
    }

    @Test
    void temperatureZeroIsGreedyAndDeterministic() {
        int[] prompt = {1, 2, 3};
        int[] expected = greedyByHand(prompt, 30); // longer than block_size: the context is cropped
        assertArrayEquals(expected, generate(prompt, 30, 0.0, 0, 1, new ArrayList<>()));
        assertArrayEquals(expected, generate(prompt, 30, 0.0, 0, 2, new ArrayList<>()), "the seed does not matter");
        assertArrayEquals(expected, generate(prompt, 30, 0.0, 5, 3, new ArrayList<>()));
        assertTrue(Arrays.stream(expected).distinct().count() > 1, "a constant sequence would be a weak test");
    }

    @Test
    void topKOneIsGreedy() {
        int[] prompt = {4};
        int[] greedy = greedyByHand(prompt, 25);
        for (long seed = 0; seed < 3; seed++) {
            assertArrayEquals(greedy, generate(prompt, 25, 1.0, 1, seed, new ArrayList<>()));
            assertArrayEquals(greedy, generate(prompt, 25, 3.0, 1, seed, new ArrayList<>()));
        }
    }

    @Test
    void pickFollowsTheSoftmaxWithTemperatureAndTopK() {
        float[] logits = {0f, 1f, 2f, -1f};
        double[] scratch = new double[4];
        for (double temp : new double[]{1.0, 2.0, 0.5}) {
            double[] p = new double[4];
            double sum = 0;
            for (int v = 0; v < 4; v++) {
                p[v] = Math.exp(logits[v] / temp);
                sum += p[v];
            }
            int n = 100_000;
            int[] counts = new int[4];
            Rng rng = new Rng(17);
            for (int i = 0; i < n; i++) {
                counts[Sampler.pick(logits, temp, 0, rng, scratch)]++;
            }
            for (int v = 0; v < 4; v++) {
                assertEquals(p[v] / sum, (double) counts[v] / n, 0.006, "temperature " + temp + " token " + v);
            }
        }
        // top-k 2 keeps tokens 2 and 1 only, in proportion e^2 : e^1
        int[] counts = new int[4];
        Rng rng = new Rng(3);
        for (int i = 0; i < 50_000; i++) {
            counts[Sampler.pick(logits, 1.0, 2, rng, scratch)]++;
        }
        assertEquals(0, counts[0] + counts[3]);
        assertEquals(Math.E / (1 + Math.E), counts[2] / 50_000.0, 0.01);
        // temperature 0 and top-k 1 are the argmax
        assertEquals(2, Sampler.pick(logits, 0.0, 0, new Rng(1), scratch));
        assertEquals(2, Sampler.pick(logits, 1.0, 1, new Rng(1), scratch));
    }

    /** Draws {@code n} tokens by pick() and counts each. */
    private static int[] counts(float[] logits, double temperature, int topK, double topP, long seed, int n) {
        int[] counts = new int[logits.length];
        double[] p = new double[logits.length], sorted = new double[logits.length];
        Rng rng = new Rng(seed);
        for (int i = 0; i < n; i++) {
            counts[Sampler.pick(logits, temperature, topK, topP, rng, p, sorted)]++;
        }
        return counts;
    }

    /**
     * Top-p keeps the smallest set of likeliest tokens whose probabilities reach P and renormalises:
     * on 0.5, 0.3, 0.15, 0.05 (laid out out of order, so the vocabulary's order cannot stand in for the
     * ranking), P 0.8 keeps exactly two tokens and P 0.81 exactly three.
     */
    @Test
    void topPKeepsExactlyTheNucleus() {
        // token 0: 0.15, token 1: 0.5, token 2: 0.05, token 3: 0.3
        float[] logits = {(float) Math.log(0.15), (float) Math.log(0.5), (float) Math.log(0.05), (float) Math.log(0.3)};
        int n = 40_000;
        int[] c = counts(logits, 1.0, 0, 0.8, 11, n);
        assertEquals(0, c[0] + c[2], "only 0.5 and 0.3 make up 0.8: " + Arrays.toString(c));
        assertEquals(0.5 / 0.8, (double) c[1] / n, 0.01, "renormalised over the nucleus");
        c = counts(logits, 1.0, 0, 0.81, 11, n);
        assertEquals(0, c[2], "0.05 is outside the nucleus of 0.81: " + Arrays.toString(c));
        assertTrue(c[0] > 0 && c[1] > 0 && c[3] > 0, Arrays.toString(c));
        assertEquals(0.15 / 0.95, (double) c[0] / n, 0.01);
        assertEquals(0.5 / 0.95, (double) c[1] / n, 0.01);
        // the likeliest token alone reaches 0.5, and is kept whatever the P
        assertEquals(n, counts(logits, 1.0, 0, 0.5, 11, n)[1]);
        assertEquals(n, counts(logits, 1.0, 0, 1e-9, 11, n)[1]);
        // 0.96 needs all four
        c = counts(logits, 1.0, 0, 0.96, 11, n);
        assertTrue(c[2] > 0, Arrays.toString(c));
        // the temperature comes first: at T 2 the probabilities flatten (0.5 -> 0.38), and 0.8 needs three
        c = counts(logits, 2.0, 0, 0.8, 11, n);
        assertTrue(c[0] > 0 && c[2] == 0, Arrays.toString(c));
    }

    /**
     * Top-k applies before top-p, as in HF transformers: on logits 0, 1, 2, -1, top-k 2 leaves
     * tokens 2 and 1 at 0.73 and 0.27, so P 0.7 keeps token 2 alone; top-p first would keep both
     * (token 2 is 0.64 of the whole softmax).
     */
    @Test
    void topKAppliesBeforeTopP() {
        float[] logits = {0f, 1f, 2f, -1f};
        assertEquals(20_000, counts(logits, 1.0, 2, 0.7, 5, 20_000)[2]);
        int[] c = counts(logits, 1.0, 0, 0.7, 5, 20_000);
        assertTrue(c[1] > 0 && c[0] == 0 && c[3] == 0, Arrays.toString(c));
    }

    /** P 1 is no top-p: the same draws, token for token, as the sampler without it. */
    @Test
    void topPOneIsOff() {
        float[] logits = {0.3f, -1f, 2f, 1.5f, 0f};
        double[] p = new double[5], sorted = new double[5];
        for (int topK : new int[]{0, 3}) {
            Rng a = new Rng(8), b = new Rng(8);
            for (int i = 0; i < 2000; i++) {
                assertEquals(Sampler.pick(logits, 0.9, topK, a, p), Sampler.pick(logits, 0.9, topK, 1.0, b, p, sorted));
            }
        }
        for (long seed = 0; seed < 3; seed++) {
            assertArrayEquals(generate(new int[]{0}, 40, 1.0, 0, seed, new ArrayList<>()),
                    new Sampler(gpt, BLOCK).generate(new int[]{0}, 40, 1.0, 0, 1.0, new Rng(seed), t -> { }));
        }
    }

    /** Top-p through the model: the same seed gives the same text, a tiny P is greedy, and P < 1 changes the draws. */
    @Test
    void topPIsDeterministicPerSeed() {
        Sampler s = new Sampler(gpt, BLOCK);
        int[] a = s.generate(new int[]{0}, 60, 1.0, 0, 0.7, new Rng(5), t -> { });
        assertArrayEquals(a, s.generate(new int[]{0}, 60, 1.0, 0, 0.7, new Rng(5), t -> { }));
        assertFalse(Arrays.equals(a, s.generate(new int[]{0}, 60, 1.0, 0, 0.7, new Rng(6), t -> { })));
        assertFalse(Arrays.equals(a, s.generate(new int[]{0}, 60, 1.0, 0, 1.0, new Rng(5), t -> { })),
                "P 0.7 should cut something on this model");
        assertArrayEquals(greedyByHand(new int[]{2}, 30), s.generate(new int[]{2}, 30, 1.0, 0, 1e-9, new Rng(5), t -> { }));
    }

    /**
     * A stream runs each forward program it will need before its first token (a device backend
     * compiles a program on its first run): the KV-cache step, and the windowed forward only where
     * the sequence will outgrow the block. The programs' runs are counted through a backend that
     * records them.
     */
    @Test
    void streamRunsItsProgramsBeforeTheFirstToken() {
        for (long tokens : new long[]{BLOCK - 1, BLOCK, Long.MAX_VALUE}) {
            List<String> runs = new ArrayList<>();
            try (Backend rec = new ReferenceBackend(1) {
                @Override
                public Program compile(String name, List<Launch> launches) {
                    Program p = super.compile(name, launches);
                    return new Program() {
                        @Override
                        public String name() {
                            return name;
                        }

                        @Override
                        public void run() {
                            runs.add(name);
                            p.run();
                        }
                    };
                }
            }) {
                Gpt g = new Gpt(rec, gpt.config);
                List<String> beforeFirst = new ArrayList<>();
                new Sampler(g, BLOCK).stream(new int[]{0, 1}, tokens, 1.0, 0, new Rng(5), t -> {
                    beforeFirst.addAll(runs);
                    return false;
                });
                // BLOCK - 1 tokens after a two-token prompt: the last is drawn from BLOCK tokens, all cached
                boolean windowed = tokens > BLOCK - 1;
                assertTrue(beforeFirst.contains("decode"), tokens + " tokens: " + beforeFirst);
                assertEquals(windowed, beforeFirst.contains("logits"), tokens + " tokens: " + beforeFirst);
            }
        }
    }

    /** Streaming keeps only a window of block_size tokens: any count works, and the consumer can stop it. */
    @Test
    void streamRunsUntilItsConsumerStops() {
        int[] seen = {0};
        long made = new Sampler(gpt, BLOCK).stream(new int[]{0}, Long.MAX_VALUE, 1.0, 0, new Rng(3), t -> ++seen[0] < 1000);
        assertEquals(1000, made);
        assertEquals(1000, seen[0]);
        // the same tokens as generate() for as long as both run
        int[] first = new int[50];
        int[] at = {0};
        new Sampler(gpt, BLOCK).stream(new int[]{0}, 50, 1.0, 0, new Rng(9), t -> {
            first[at[0]++] = t;
            return true;
        });
        assertArrayEquals(first, java.util.Arrays.copyOfRange(
                new Sampler(gpt, BLOCK).generate(new int[]{0}, 50, 1.0, 0, new Rng(9), t -> { }), 1, 51));
    }
}
