package org.gptjvm.model;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.ref.ReferenceBackend;
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
