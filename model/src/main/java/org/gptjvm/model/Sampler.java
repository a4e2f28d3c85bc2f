package org.gptjvm.model;

import java.util.Arrays;
import java.util.function.IntConsumer;
import java.util.function.IntPredicate;

/**
 * The lecture's generate(): crop the context to block_size, take the last position's logits, divide
 * by the temperature, optionally keep the top k (as nanoGPT), softmax, draw one token, append.
 *
 * <p>With the KV cache on, each token costs one row through the model while the context still fits
 * in block_size; once it is cropped, every position shifts, so the window is recomputed as in the
 * lecture. Both ways give the same logits bit for bit, hence the same tokens for the same seed.
 */
public final class Sampler {
    private final Gpt gpt;
    private final int blockSize;
    private final boolean kvCache;

    /** {@code blockSize} may crop the context below the model's block size. */
    public Sampler(Gpt gpt, int blockSize) {
        this(gpt, blockSize, true);
    }

    public Sampler(Gpt gpt, int blockSize, boolean kvCache) {
        this.gpt = gpt;
        this.blockSize = blockSize;
        this.kvCache = kvCache;
    }

    /** {@link #stream} that also returns the whole sequence, prompt first (for short runs: it keeps every token). */
    public int[] generate(int[] prompt, int maxNewTokens, double temperature, int topK, Rng rng, IntConsumer onToken) {
        int[] seq = Arrays.copyOf(prompt, prompt.length + maxNewTokens);
        int[] len = {prompt.length};
        stream(prompt, maxNewTokens, temperature, topK, rng, t -> {
            seq[len[0]++] = t;
            onToken.accept(t);
            return true;
        });
        return seq;
    }

    /**
     * Generates up to {@code maxNewTokens} tokens after {@code prompt}, handing each to
     * {@code onToken}, which returns false to stop (a closed pipe, say). Only the last block_size
     * tokens are kept, so the memory does not grow with the length. Returns how many were made.
     */
    public long stream(int[] prompt, long maxNewTokens, double temperature, int topK, Rng rng, IntPredicate onToken) {
        int V = gpt.config.vocabSize();
        double[] p = new double[V];
        int[] window = new int[blockSize]; // the last n tokens of the sequence, in order
        int n = Math.min(prompt.length, blockSize);
        System.arraycopy(prompt, prompt.length - n, window, 0, n);
        long len = prompt.length; // the whole sequence's length
        int cached = 0; // while len <= blockSize the window is the sequence, and positions 0..cached-1 are cached
        long made = 0;
        while (made < maxNewTokens) {
            float[] logits = null;
            if (kvCache && len <= blockSize) {
                while (cached < len) {
                    logits = gpt.decoder().step(window[cached], cached);
                    cached++;
                }
            } else {
                logits = gpt.nextLogits(window, n);
            }
            int next = pick(logits, temperature, topK, rng, p);
            if (n < blockSize) {
                window[n++] = next;
            } else {
                System.arraycopy(window, 1, window, 0, n - 1);
                window[n - 1] = next;
            }
            len++;
            made++;
            if (!onToken.test(next)) {
                break;
            }
        }
        return made;
    }

    static int pick(float[] logits, double temperature, int topK, Rng rng, double[] p) {
        int V = logits.length;
        if (temperature <= 0) { // greedy
            int best = 0;
            for (int v = 1; v < V; v++) {
                if (logits[v] > logits[best]) {
                    best = v;
                }
            }
            return best;
        }
        double cut = Double.NEGATIVE_INFINITY;
        if (topK > 0 && topK < V) {
            float[] sorted = logits.clone();
            Arrays.sort(sorted);
            cut = sorted[V - topK];
        }
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        for (int v = 0; v < V; v++) {
            p[v] = logits[v] < cut ? 0 : Math.exp((logits[v] - max) / temperature);
            sum += p[v];
        }
        double u = rng.nextDouble() * sum;
        for (int v = 0; v < V; v++) {
            u -= p[v];
            if (u < 0) {
                return v;
            }
        }
        for (int v = V - 1; v >= 0; v--) { // rounding left u at ~0: the last possible token
            if (p[v] > 0) {
                return v;
            }
        }
        return V - 1;
    }
}
