package org.gptjvm.model;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.GptException;
import org.gptjvm.engine.host.HostBackend;

import java.util.Locale;
import java.util.function.Function;

/**
 * What a model will allocate, known from its shape before anything is allocated: the parameters and
 * their gradients, AdamW's moments and the checkpoint's copies when training, the activations of the
 * graphs a command builds ({@link GptGraph}, {@link DecodeGraph}), and the host backends' scratch.
 * Every figure is a double, so that no shape, however large, overflows; commands compare it with
 * what the JVM may use and refuse, naming the setting that makes it large, before spending any of it.
 */
public final class Memory {
    private Memory() {
    }

    /** The settings a model's memory follows; which one makes it large is what an error names. */
    public enum Setting { VOCAB_SIZE, BLOCK_SIZE, N_EMBD, N_HEAD, N_LAYER, BATCH_SIZE }

    /** What a command builds. */
    public enum Use {
        /** gpt train: the model, AdamW, the training graph, the evaluation graph, a checkpoint's copies. */
        TRAIN("parameters, gradients, AdamW moments, activations for batch %d x %d"),
        /** gpt eval: the model and the evaluation passes. */
        EVALUATE("parameters, activations for batch %d x %d"),
        /** gpt sample: the model, one sequence's graph and the KV cache. */
        SAMPLE("parameters, activations for one sequence of %2$d"),
        /** gpt bench, gpt verify: the model, AdamW and one training step's graph. */
        STEP("parameters, gradients, AdamW moments, activations for batch %d x %d");

        private final String what;

        Use(String what) {
            this.what = what;
        }
    }

    /**
     * An estimate: {@code bytes} for {@code use} of {@code config} at {@code batch} sequences, with
     * {@code evalIters} batches per evaluation (TRAIN, EVALUATE), {@code threads} host threads and
     * {@code heldFloats} floats already held for the model (a loaded checkpoint's tensors).
     */
    public record Estimate(Use use, GptConfig config, int batch, int evalIters, int threads, double heldFloats,
                           double bytes) {

        /** The value of {@code s} in this estimate. */
        public long value(Setting s) {
            return switch (s) {
                case VOCAB_SIZE -> config.vocabSize();
                case BLOCK_SIZE -> config.blockSize();
                case N_EMBD -> config.nEmbd();
                case N_HEAD -> config.nHead();
                case N_LAYER -> config.nLayer();
                case BATCH_SIZE -> batch;
            };
        }

        /**
         * The setting that makes this estimate large: the one whose reduction to 1 shrinks it most
         * (the gpt settings only for a gpt, the batch only where a batch is used).
         */
        public Setting largest() {
            Setting best = null;
            double bestRatio = 0;
            for (Setting s : Setting.values()) {
                if (config.isBigram() && (s == Setting.N_EMBD || s == Setting.N_HEAD || s == Setting.N_LAYER)
                        || use == Use.SAMPLE && s == Setting.BATCH_SIZE || value(s) <= 1) {
                    continue;
                }
                double ratio = bytes / floats(use, shape(s), s == Setting.BATCH_SIZE ? 1 : batch, evalIters, threads,
                        heldFloats) / 4;
                if (ratio > bestRatio) {
                    bestRatio = ratio;
                    best = s;
                }
            }
            return best != null ? best : Setting.BLOCK_SIZE;
        }

        private double[] shape(Setting one) {
            double[] d = dims(config);
            if (one != Setting.BATCH_SIZE) {
                d[one.ordinal()] = 1; // Setting's first five are dims' V, T, C, H, L
            }
            return d;
        }

        /** What the figure covers, in words: "parameters, gradients, ..., activations for batch 16 x 32". */
        public String what() {
            return String.format(Locale.ROOT, use.what, batch, config.blockSize());
        }

        /**
         * Throws a one-line {@link GptException} when this estimate exceeds {@code limit} bytes:
         * "LABEL VALUE needs X of memory for the model (...); this JVM may use Y (-Xmx): REMEDY", where
         * LABEL names the largest setting as the user gave it ({@code label}: a flag such as
         * {@code --n-layer}, or a checkpoint's config key) and the remedy is a smaller value of a
         * flag, else more heap.
         */
        public void require(long limit, Function<Setting, String> label) {
            if (bytes <= limit) {
                return;
            }
            Setting s = largest();
            String name = label.apply(s);
            throw new GptException(name + " " + value(s) + " needs " + Memory.bytes(bytes) + " of memory for the model (" + what()
                    + "); this JVM may use " + Memory.bytes(limit) + " (-Xmx): "
                    + (name.startsWith("--") ? "use a smaller " + name + ", or give the JVM more (JAVA_OPTS=-Xmx...)"
                    : "give it more (JAVA_OPTS=-Xmx...) or use a smaller model"));
        }

        /**
         * As {@link #require(long, Function)} for a device's memory ({@code device}: the device in
         * words): "...; DEVICE holds Y: use a smaller FLAG", else a smaller model.
         */
        public void requireOnDevice(long limit, String device, Function<Setting, String> label) {
            if (bytes <= limit) {
                return;
            }
            Setting s = largest();
            String name = label.apply(s);
            throw new GptException(name + " " + value(s) + " needs about " + Memory.bytes(bytes) + " of memory for the model ("
                    + what() + "); " + device + " can hold " + Memory.bytes(limit) + ": "
                    + (name.startsWith("--") ? "use a smaller " + name : "use a smaller model, or a device with more memory"));
        }
    }

    /** The memory a host backend's buffers come from: the JVM's heap, at most {@link Runtime#maxMemory}. */
    public static long heapLimit() {
        return Runtime.getRuntime().maxMemory();
    }

    /**
     * Whether {@code backend}'s buffers are on the JVM's heap, so that {@link #heapLimit} bounds them.
     * A device backend's are in the device's memory, which the Backend API does not report.
     */
    public static boolean onHeap(Backend backend) {
        return backend instanceof HostBackend;
    }

    public static Estimate of(Use use, GptConfig config, int batch, int evalIters, int threads, double heldFloats) {
        return new Estimate(use, config, batch, evalIters, threads, heldFloats,
                4 * floats(use, dims(config), batch, evalIters, threads, heldFloats));
    }

    /** {V, T, C, H, L} of a config; a bigram's C is V and it has no layers. */
    private static double[] dims(GptConfig c) {
        return new double[]{c.vocabSize(), c.blockSize(), c.isBigram() ? c.vocabSize() : c.nEmbd(),
                Math.max(1, c.nHead()), c.isBigram() ? 0 : c.nLayer()};
    }

    /** Floats (and ints, also 4 bytes) that {@code use} allocates for a model of {@code d} = {V, T, C, H, L}. */
    private static double floats(Use use, double[] d, double batch, double evalIters, double threads, double held) {
        boolean bigram = d[4] == 0;
        double V = d[0], T = d[1], C = d[2], L = d[4];
        double P = bigram ? V * V : V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C + V * C + V;
        double B = use == Use.SAMPLE ? 1 : batch;
        double N = B * T;
        double model = 2 * P + held; // values and gradients (GptParams allocates both), and what the caller holds
        double scratch = hostScratch(d, N, threads);
        return switch (use) {
            case TRAIN -> {
                // the evaluation passes take up to EVAL_ROWS tokens at once (Trainer.evalBatchesPerPass)
                double perPass = Math.max(1, Math.min(evalIters, Math.floor(8192 / N)));
                double eval = perPass > 1 ? graph(d, perPass * B, true) + 2 * perPass * N : 0;
                // AdamW's two moments, and the checkpoint's copy of weights and moments while it is written
                yield model + 2 * P + 3 * P + graph(d, B, false) + eval + 2 * N + 2 * perPass * N + scratch;
            }
            case EVALUATE -> {
                double perPass = Math.max(1, Math.min(evalIters, Math.floor(8192 / N)));
                yield model + (perPass > 1 ? graph(d, perPass * B, true) : graph(d, B, false)) + 2 * perPass * N + scratch;
            }
            case SAMPLE -> model + graph(d, 1, false) + (bigram ? 0 : 2 * L * T * C + 10 * C) + V + T + scratch;
            case STEP -> model + 2 * P + graph(d, B, false) + 2 * N + scratch;
        };
    }

    /** The buffers of a {@link GptGraph} of {@code B} sequences: per layer when training, shared when evaluating. */
    private static double graph(double[] d, double B, boolean evaluate) {
        double V = d[0], T = d[1], C = d[2], H = d[3], L = d[4];
        double N = B * T;
        double io = 2 * N + 3 + N + 1 + 2 * N * V; // idx, targets, seed, losses, loss, logits, probs
        if (L == 0) {
            return io + (evaluate ? 0 : N * V);
        }
        double layer = 12 * N * C + 4 * N + B * H * T * T; // ln1, qkv, atty, res2, ln2, fc_relu, res3, att, means
        if (evaluate) {
            return io + layer + 2 * N * C + 2 * N;
        }
        // every layer's activations, the embeddings and ln_f, the gradients of logits, residual and one layer
        return io + 1 + L * layer + 2 * N * C + 2 * N + N * V + N * C + 12 * N * C;
    }

    /**
     * The host backends' scratch: transposed weights (the largest matrix), a Linear layer's output
     * gradient through dropout, and each thread's attention rows (three T x T tiles).
     */
    private static double hostScratch(double[] d, double N, double threads) {
        double V = d[0], T = d[1], C = d[2];
        if (d[4] == 0) {
            return 0; // the bigram model has neither Linear layers nor attention
        }
        return Math.max(4 * C * C, V * C) + 4 * N * C + Math.max(1, threads) * 3 * T * T;
    }

    /** Bytes as a person reads them: "512 B", "3.2 GiB", "2.0 EiB", "1.4e+09 EiB". */
    public static String bytes(double b) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        int u = 0;
        while (b >= 1024 && u < units.length - 1) {
            b /= 1024;
            u++;
        }
        if (u == 0) {
            return String.format(Locale.ROOT, "%.0f B", b);
        }
        return String.format(Locale.ROOT, b < 1e6 ? "%.1f %s" : "%.1e %s", b, units[u]);
    }
}
