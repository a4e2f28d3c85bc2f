package org.gptjvm.model.sample;

import org.gptjvm.model.Gpt;
import org.gptjvm.model.Rng;

import java.util.Arrays;
import java.util.function.IntConsumer;
import java.util.function.IntPredicate;

/**
 * The lecture's generate(): crop the context to block_size, take the last position's logits, divide
 * by the temperature, optionally keep the top k (as nanoGPT), optionally keep the nucleus of
 * probability mass top_p of what is left (as HF transformers, which also applies top-k first),
 * softmax, draw one token, append.
 *
 * <p>With the KV cache on, each token costs one row through the model while the context still fits
 * in block_size; once it is cropped, every position shifts, so the window is recomputed as in the
 * lecture. Both ways give the same logits bit for bit, hence the same tokens for the same seed.
 */
public final class Sampler {
    private final Gpt gpt;
    private final int blockSize;
    private final boolean kvCache;
    /** Whether {@link #prepare} has run the one-token step, the windowed forward. */
    private boolean stepReady, windowReady;

    /** {@code blockSize} may crop the context below the model's block size. */
    public Sampler(Gpt gpt, int blockSize) {
        this(gpt, blockSize, true);
    }

    public Sampler(Gpt gpt, int blockSize, boolean kvCache) {
        this.gpt = gpt;
        this.blockSize = blockSize;
        this.kvCache = kvCache;
    }

    /**
     * Makes and runs once each forward program that a stream from a prompt of {@code promptLength}
     * tokens, {@code maxNewTokens} long, will use: the one-token step while the sequence fits the KV
     * cache, the windowed forward once it does not (or without the cache). A device backend compiles
     * a program's kernels on its first run, for seconds: done here, before the first token, the stream
     * does not stop for it halfway, and a caller can time the stream without it. {@link #stream}
     * calls it; once a program has run, it is not run again here.
     */
    public void prepare(int promptLength, long maxNewTokens) {
        int n = Math.min(promptLength, blockSize);
        if (n == 0 || maxNewTokens <= 0) {
            return;
        }
        // the stream's last token is drawn from a sequence of promptLength + maxNewTokens - 1
        boolean cached = kvCache && promptLength <= blockSize && !stepReady;
        boolean windowed = (!kvCache || maxNewTokens - 1 > (long) blockSize - promptLength) && !windowReady;
        if (windowed) {
            gpt.nextLogits(new int[blockSize], n);
            windowReady = true;
        }
        if (cached) {
            gpt.decoder().step(0, 0); // position 0 of the cache, which a stream writes first
            stepReady = true;
        }
    }

    /** {@link #generate(int[], int, double, int, double, Rng, IntConsumer)} without top-p. */
    public int[] generate(int[] prompt, int maxNewTokens, double temperature, int topK, Rng rng, IntConsumer onToken) {
        return generate(prompt, maxNewTokens, temperature, topK, 1.0, rng, onToken);
    }

    /** {@link #stream} that also returns the whole sequence, prompt first (for short runs: it keeps every token). */
    public int[] generate(int[] prompt, int maxNewTokens, double temperature, int topK, double topP, Rng rng,
                          IntConsumer onToken) {
        int[] seq = Arrays.copyOf(prompt, prompt.length + maxNewTokens);
        int[] len = {prompt.length};
        stream(prompt, maxNewTokens, temperature, topK, topP, rng, t -> {
            seq[len[0]++] = t;
            onToken.accept(t);
            return true;
        });
        return seq;
    }

    /** {@link #stream(int[], long, double, int, double, Rng, IntPredicate)} without top-p. */
    public long stream(int[] prompt, long maxNewTokens, double temperature, int topK, Rng rng, IntPredicate onToken) {
        return stream(prompt, maxNewTokens, temperature, topK, 1.0, rng, onToken);
    }

    /**
     * Generates up to {@code maxNewTokens} tokens after {@code prompt}, handing each to
     * {@code onToken}, which returns false to stop (a closed pipe, say). Only the last block_size
     * tokens are kept, so the memory does not grow with the length. Returns how many were made.
     * {@code topK} 0 and {@code topP} 1 turn those filters off; one draw of {@code rng} per token.
     */
    public long stream(int[] prompt, long maxNewTokens, double temperature, int topK, double topP, Rng rng,
                       IntPredicate onToken) {
        int V = gpt.config.vocabSize();
        double[] p = new double[V];
        double[] sorted = new double[V]; // scratch for top-p
        int[] window = new int[blockSize]; // the last n tokens of the sequence, in order
        int n = Math.min(prompt.length, blockSize);
        System.arraycopy(prompt, prompt.length - n, window, 0, n);
        long len = prompt.length; // the whole sequence's length
        prepare(prompt.length, maxNewTokens);
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
            int next = pick(logits, temperature, topK, topP, rng, p, sorted);
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

    /** {@link #pick(float[], double, int, double, Rng, double[], double[])} without top-p. */
    static int pick(float[] logits, double temperature, int topK, Rng rng, double[] p) {
        return pick(logits, temperature, topK, 1.0, rng, p, null);
    }

    /**
     * One token from {@code logits}: the argmax when {@code temperature} is 0, else a draw from the
     * softmax of logits / temperature restricted to the top {@code topK} (0: all; ties with the k-th
     * are kept) and then to the nucleus of mass {@code topP} of those (1: all). {@code p} holds V
     * doubles of scratch, {@code sorted} too when {@code topP < 1}. With top-p off the arithmetic and
     * the single draw are those of the sampler before top-p existed, so a seed gives the same text.
     */
    static int pick(float[] logits, double temperature, int topK, double topP, Rng rng, double[] p, double[] sorted) {
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
            float[] sortedLogits = logits.clone();
            Arrays.sort(sortedLogits);
            cut = sortedLogits[V - topK];
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
        if (topP < 1) {
            sum = nucleus(p, V, sum, topP, sorted);
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

    /**
     * Slack on the nucleus' mass: a set whose probabilities sum to P up to the float rounding of the
     * logits (about 1e-7 relative) counts as reaching P, so 0.5 + 0.3 reaches 0.8 whichever way the
     * last bits of the softmax fall. It changes no real choice of P.
     */
    static final double NUCLEUS_SLACK = 1e-6;

    /**
     * Top-p on the unnormalised weights {@code p[0..V)} summing to {@code sum}: keeps the smallest
     * set of the largest weights whose share of {@code sum} reaches {@code topP}, zeroes the rest, and
     * returns the kept weights' sum (the renormalisation is the draw's scaling by that sum). A weight
     * equal to the smallest kept one is kept too, as top-k keeps ties, so the result does not depend
     * on the order of the vocabulary. At least the likeliest token is always kept.
     */
    static double nucleus(double[] p, int V, double sum, double topP, double[] sorted) {
        System.arraycopy(p, 0, sorted, 0, V);
        Arrays.sort(sorted, 0, V);
        double target = (topP - NUCLEUS_SLACK) * sum;
        double cum = 0;
        double threshold = sorted[V - 1];
        for (int i = V - 1; i >= 0; i--) { // largest first, until the mass reaches the target
            threshold = sorted[i];
            cum += threshold;
            if (cum >= target) {
                break;
            }
        }
        double kept = 0;
        for (int v = 0; v < V; v++) {
            if (p[v] < threshold) {
                p[v] = 0;
            }
            kept += p[v];
        }
        return kept;
    }
}
