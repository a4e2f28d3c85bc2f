package org.gptjvm.baseline;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.util.PairList;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * The libtorch baseline: Karpathy's "Let's build GPT" character-level model and one full training step
 * (forward, mean cross-entropy, backward, AdamW update) in official libtorch 2.7.1 (CPU) driven from Java
 * through DJL 0.36.0.
 *
 * <p>Usage: {@code DjlGptStep [small|lecture] [threads] [warmup] [timed]}. The thread count must reach
 * libtorch before the engine starts, so it is turned into the system properties
 * {@code ai.djl.pytorch.num_threads} (intra-op) and {@code ai.djl.pytorch.num_interop_threads} here, unless
 * they were given with {@code -D}; the values libtorch then reports are printed.
 *
 * <p>The model, as in the lecture's gpt.py: token embedding (vocab, C) + position embedding (T, C); n_layer
 * pre-LayerNorm blocks x = x + proj(attn(ln1(x))), x = x + ffwd(ln2(x)), where attention is multi-head
 * causal self-attention (fused key/query/value Linear without bias, scores scaled by head_size^-0.5, causal
 * mask, softmax, attention-weight dropout, proj Linear with bias, dropout) and ffwd is Linear(C,4C) + ReLU +
 * Linear(4C,C) + dropout; final LayerNorm; lm_head Linear(C, vocab) with bias; mean cross-entropy. Weights
 * ~ N(0, 0.02), biases 0, LayerNorm gamma 1 / beta 0 (gpt.py's _init_weights).
 */
public final class DjlGptStep {

    static final int VOCAB = 65;

    /** One configuration of the model and batch. */
    record Config(String name, int batch, int blockSize, int nEmbd, int nHead, int nLayer, float dropout,
                  float lr, int warmup, int timed, long expectedParams) {}

    static Config config(String name) {
        return switch (name) {
            case "small" -> new Config("small", 16, 32, 64, 4, 4, 0.0f, 1e-3f, 5, 20, 209_729L);
            case "lecture" -> new Config("lecture", 64, 256, 384, 6, 6, 0.2f, 3e-4f, 2, 5, 10_788_929L);
            default -> throw new IllegalArgumentException("unknown config " + name + " (small|lecture)");
        };
    }

    // ------------------------------------------------------------------------------------------ model

    static Parameter weight(String name, long... shape) {
        return Parameter.builder().setName(name).setType(Parameter.Type.WEIGHT).optShape(new Shape(shape)).build();
    }

    static Parameter bias(String name, long n) {
        return Parameter.builder().setName(name).setType(Parameter.Type.BIAS).optShape(new Shape(n)).build();
    }

    static Parameter gamma(String name, long n) {
        return Parameter.builder().setName(name).setType(Parameter.Type.GAMMA).optShape(new Shape(n)).build();
    }

    static Parameter beta(String name, long n) {
        return Parameter.builder().setName(name).setType(Parameter.Type.BETA).optShape(new Shape(n)).build();
    }

    static NDArray layerNorm(NDArray x, NDArray g, NDArray b, long c) {
        return LayerNorm.layerNorm(x, new Shape(c), g, b, 1e-5f).singletonOrThrow();
    }

    /** One pre-LayerNorm transformer block: x + sa(ln1(x)), then + ffwd(ln2(x)). */
    static final class TransformerBlock extends AbstractBlock {
        private final int nEmbd;
        private final int nHead;
        private final float dropout;
        private final Parameter ln1g, ln1b, wqkv, wproj, bproj, ln2g, ln2b, wfc1, bfc1, wfc2, bfc2;

        TransformerBlock(int nEmbd, int nHead, float dropout) {
            this.nEmbd = nEmbd;
            this.nHead = nHead;
            this.dropout = dropout;
            ln1g = addParameter(gamma("ln1_gamma", nEmbd));
            ln1b = addParameter(beta("ln1_beta", nEmbd));
            // key, query and value of all heads in one (3C, C) Linear without bias
            wqkv = addParameter(weight("qkv_weight", 3L * nEmbd, nEmbd));
            wproj = addParameter(weight("proj_weight", nEmbd, nEmbd));
            bproj = addParameter(bias("proj_bias", nEmbd));
            ln2g = addParameter(gamma("ln2_gamma", nEmbd));
            ln2b = addParameter(beta("ln2_beta", nEmbd));
            wfc1 = addParameter(weight("fc1_weight", 4L * nEmbd, nEmbd));
            bfc1 = addParameter(bias("fc1_bias", 4L * nEmbd));
            wfc2 = addParameter(weight("fc2_weight", nEmbd, 4L * nEmbd));
            bfc2 = addParameter(bias("fc2_bias", nEmbd));
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
                                         PairList<String, Object> params) {
            NDArray x = inputs.get(0);     // (B, T, C)
            NDArray mask = inputs.get(1);  // (T, T): 0 on and below the diagonal, -inf above
            Device d = x.getDevice();
            long b = x.getShape().get(0), t = x.getShape().get(1);
            int hs = nEmbd / nHead;

            // ---- multi-head causal self-attention
            NDArray h = layerNorm(x, ps.getValue(ln1g, d, training), ps.getValue(ln1b, d, training), nEmbd);
            NDArray qkv = Linear.linear(h, ps.getValue(wqkv, d, training)).singletonOrThrow();  // (B,T,3C)
            NDList split = qkv.split(3, 2);
            NDArray q = split.get(0).reshape(b, t, nHead, hs).transpose(0, 2, 1, 3);  // (B,nh,T,hs)
            NDArray k = split.get(1).reshape(b, t, nHead, hs).transpose(0, 2, 1, 3);
            NDArray v = split.get(2).reshape(b, t, nHead, hs).transpose(0, 2, 1, 3);
            NDArray wei = q.matMul(k.transpose(0, 1, 3, 2)).mul((float) Math.pow(hs, -0.5));  // (B,nh,T,T)
            wei = wei.add(mask).softmax(-1);
            wei = Dropout.dropout(wei, dropout, training).singletonOrThrow();
            NDArray att = wei.matMul(v).transpose(0, 2, 1, 3).reshape(b, t, nEmbd);  // concat heads
            NDArray sa = Linear.linear(att, ps.getValue(wproj, d, training), ps.getValue(bproj, d, training))
                    .singletonOrThrow();
            sa = Dropout.dropout(sa, dropout, training).singletonOrThrow();
            x = x.add(sa);

            // ---- feed-forward
            h = layerNorm(x, ps.getValue(ln2g, d, training), ps.getValue(ln2b, d, training), nEmbd);
            h = Activation.relu(Linear.linear(h, ps.getValue(wfc1, d, training), ps.getValue(bfc1, d, training))
                    .singletonOrThrow());
            h = Linear.linear(h, ps.getValue(wfc2, d, training), ps.getValue(bfc2, d, training)).singletonOrThrow();
            h = Dropout.dropout(h, dropout, training).singletonOrThrow();
            return new NDList(x.add(h), mask);
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return inputShapes;
        }
    }

    /** The whole GPT: embeddings, blocks, final LayerNorm and lm_head; input (B, T) int64 token ids. */
    static final class Gpt extends AbstractBlock {
        private final Config cfg;
        private final Parameter wte, wpe, lnfg, lnfb, wHead, bHead;
        private final List<TransformerBlock> blocks = new ArrayList<>();
        private NDArray causalMask;

        Gpt(Config cfg) {
            this.cfg = cfg;
            wte = addParameter(weight("token_embedding", VOCAB, cfg.nEmbd()));
            wpe = addParameter(weight("position_embedding", cfg.blockSize(), cfg.nEmbd()));
            for (int i = 0; i < cfg.nLayer(); i++) {
                blocks.add(addChildBlock("block" + i, new TransformerBlock(cfg.nEmbd(), cfg.nHead(), cfg.dropout())));
            }
            lnfg = addParameter(gamma("lnf_gamma", cfg.nEmbd()));
            lnfb = addParameter(beta("lnf_beta", cfg.nEmbd()));
            wHead = addParameter(weight("lm_head_weight", VOCAB, cfg.nEmbd()));
            bHead = addParameter(bias("lm_head_bias", VOCAB));
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            Shape x = new Shape(inputShapes[0].get(0), inputShapes[0].get(1), cfg.nEmbd());
            Shape m = new Shape(inputShapes[0].get(1), inputShapes[0].get(1));
            for (TransformerBlock blk : blocks) {
                blk.initialize(manager, dataType, x, m);
            }
            int t = cfg.blockSize();
            float[] mask = new float[t * t];
            for (int i = 0; i < t; i++) {
                for (int j = i + 1; j < t; j++) {
                    mask[i * t + j] = Float.NEGATIVE_INFINITY;
                }
            }
            causalMask = manager.create(mask, new Shape(t, t));
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
                                         PairList<String, Object> params) {
            NDArray idx = inputs.singletonOrThrow();  // (B, T) int64
            Device d = idx.getDevice();
            long t = idx.getShape().get(1);
            NDArray pos = idx.getManager().arange(0L, t, 1L, DataType.INT64);
            NDArray tok = Embedding.embedding(idx, ps.getValue(wte, d, training), SparseFormat.DENSE).singletonOrThrow();
            NDArray pe = Embedding.embedding(pos, ps.getValue(wpe, d, training), SparseFormat.DENSE).singletonOrThrow();
            NDArray x = tok.add(pe);  // (B, T, C)
            NDArray mask = t == cfg.blockSize() ? causalMask
                    : causalMask.get("0:" + t + ", 0:" + t);
            NDList hidden = new NDList(x, mask);
            for (TransformerBlock blk : blocks) {
                hidden = blk.forward(ps, hidden, training);
            }
            x = layerNorm(hidden.get(0), ps.getValue(lnfg, d, training), ps.getValue(lnfb, d, training), cfg.nEmbd());
            NDArray logits = Linear.linear(x, ps.getValue(wHead, d, training), ps.getValue(bHead, d, training))
                    .singletonOrThrow();  // (B, T, vocab)
            return new NDList(logits.reshape(-1, VOCAB));  // (B*T, vocab), as gpt.py's logits.view(B*T, C)
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return new Shape[] {new Shape(inputShapes[0].get(0) * inputShapes[0].get(1), VOCAB)};
        }
    }

    // ------------------------------------------------------------------------------------------ checks

    /**
     * -Dgpt.verify=true: (1) causality: logits at positions before the last do not change when only the last
     * input token changes (inference mode, so dropout is off); (2) backward and AdamW work: 30 steps on one
     * fixed batch must drive the loss well below ln(65) = 4.17.
     */
    static void verify(Config cfg, Trainer trainer, Random rnd) {
        int b = cfg.batch(), t = cfg.blockSize();
        long[] x = new long[b * t];
        long[] y = new long[x.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = rnd.nextInt(VOCAB);
            y[i] = rnd.nextInt(VOCAB);
        }
        try (NDManager m = trainer.getManager().newSubManager()) {
            long[] x2 = x.clone();
            for (int r = 0; r < b; r++) {
                x2[r * t + t - 1] = (x2[r * t + t - 1] + 1) % VOCAB;
            }
            ParameterStore ps = new ParameterStore(m, false);
            NDArray l1 = trainer.getModel().getBlock().forward(ps, new NDList(m.create(x, new Shape(b, t))), false)
                    .singletonOrThrow().reshape(b, t, VOCAB);
            NDArray l2 = trainer.getModel().getBlock().forward(ps, new NDList(m.create(x2, new Shape(b, t))), false)
                    .singletonOrThrow().reshape(b, t, VOCAB);
            float before = l1.get(":, 0:" + (t - 1)).sub(l2.get(":, 0:" + (t - 1))).abs().max().getFloat();
            float last = l1.get(":, " + (t - 1)).sub(l2.get(":, " + (t - 1))).abs().max().getFloat();
            System.out.printf(Locale.ROOT, "causality: max |dlogits| before last position %.3g (must be 0), at last %.3g"
                    + " (must be > 0) %s%n", before, last, before == 0f && last > 0f ? "OK" : "FAIL");
        }
        float first = 0, loss = 0;
        for (int s = 0; s < 30; s++) {
            try (NDManager m = trainer.getManager().newSubManager();
                 GradientCollector gc = trainer.newGradientCollector()) {
                NDList logits = trainer.forward(new NDList(m.create(x, new Shape(b, t))));
                NDArray l = trainer.getLoss().evaluate(new NDList(m.create(y, new Shape((long) x.length))), logits);
                gc.backward(l);
                loss = l.getFloat();
                if (s == 0) {
                    first = loss;
                }
            }
            trainer.step();
        }
        System.out.printf(Locale.ROOT, "overfit one batch: loss %.4f -> %.4f after 30 AdamW steps %s%n", first, loss,
                loss < first - 0.5f ? "OK" : "FAIL");
    }

    // ------------------------------------------------------------------------------------------ main

    public static void main(String[] args) {
        Config cfg = config(args.length > 0 ? args[0] : "small");
        if (args.length > 1) {
            String threads = args[1];
            if (System.getProperty("ai.djl.pytorch.num_threads") == null) {
                System.setProperty("ai.djl.pytorch.num_threads", threads);
            }
            if (System.getProperty("ai.djl.pytorch.num_interop_threads") == null) {
                System.setProperty("ai.djl.pytorch.num_interop_threads", threads);
            }
        }
        int warmup = args.length > 2 ? Integer.parseInt(args[2]) : cfg.warmup();
        int timed = args.length > 3 ? Integer.parseInt(args[3]) : cfg.timed();

        Engine engine = Engine.getEngine("PyTorch");
        System.out.printf(Locale.ROOT, "engine %s %s, libtorch from %s%n", engine.getEngineName(),
                engine.getVersion(), ai.djl.pytorch.jni.LibUtils.getLibtorchPath());
        System.out.printf(Locale.ROOT, "libtorch threads: intra-op %d, inter-op %d (requested -Dai.djl.pytorch.num_threads=%s,"
                        + " num_interop_threads=%s, OMP_NUM_THREADS=%s)%n",
                ai.djl.pytorch.jni.JniUtils.getNumThreads(), ai.djl.pytorch.jni.JniUtils.getNumInteropThreads(),
                System.getProperty("ai.djl.pytorch.num_threads"), System.getProperty("ai.djl.pytorch.num_interop_threads"),
                System.getenv("OMP_NUM_THREADS"));
        engine.setRandomSeed(1337);

        System.out.printf(Locale.ROOT, "config %s: B=%d T=%d C=%d n_head=%d n_layer=%d dropout=%.1f vocab=%d;"
                        + " AdamW lr=%g wd=0.01 betas=0.9/0.999 eps=1e-8%n",
                cfg.name(), cfg.batch(), cfg.blockSize(), cfg.nEmbd(), cfg.nHead(), cfg.nLayer(), cfg.dropout(),
                VOCAB, cfg.lr());

        try (Model model = Model.newInstance("gpt-" + cfg.name(), Device.cpu(), "PyTorch")) {
            model.setBlock(new Gpt(cfg));
            Optimizer adamw = Optimizer.adamW()
                    .optLearningRateTracker(Tracker.fixed(cfg.lr()))
                    .optWeightDecays(0.01f)
                    .optBeta1(0.9f).optBeta2(0.999f).optEpsilon(1e-8f)
                    .build();
            DefaultTrainingConfig tc = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                    .optOptimizer(adamw)
                    .optDevices(new Device[] {Device.cpu()})
                    .optInitializer(new NormalInitializer(0.02f), Parameter.Type.WEIGHT);
            try (Trainer trainer = model.newTrainer(tc)) {
                trainer.initialize(new Shape(cfg.batch(), cfg.blockSize()));
                long nParams = 0;
                for (var p : model.getBlock().getParameters()) {
                    nParams += p.getValue().getArray().size();
                }
                System.out.printf(Locale.ROOT, "parameters: %,d (expected %,d) %s%n", nParams, cfg.expectedParams(),
                        nParams == cfg.expectedParams() ? "OK" : "MISMATCH");

                Random rnd = new Random(42);
                NDManager root = trainer.getManager();
                if (Boolean.getBoolean("gpt.verify")) {
                    verify(cfg, trainer, rnd);
                    return;
                }
                long[] stepNanos = new long[warmup + timed];
                var os = (com.sun.management.OperatingSystemMXBean)
                        java.lang.management.ManagementFactory.getOperatingSystemMXBean();
                long cpu0 = 0;
                long wall0 = 0;
                for (int s = 0; s < warmup + timed; s++) {
                    long[] x = new long[cfg.batch() * cfg.blockSize()];
                    long[] y = new long[x.length];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = rnd.nextInt(VOCAB);
                        y[i] = rnd.nextInt(VOCAB);
                    }
                    if (s == warmup) {
                        cpu0 = os.getProcessCpuTime();
                        wall0 = System.nanoTime();
                    }
                    try (NDManager stepMgr = root.newSubManager()) {
                        NDArray xb = stepMgr.create(x, new Shape(cfg.batch(), cfg.blockSize()));
                        NDArray yb = stepMgr.create(y, new Shape((long) x.length));
                        long t0 = System.nanoTime();
                        float loss;
                        try (GradientCollector gc = trainer.newGradientCollector()) {
                            NDList logits = trainer.forward(new NDList(xb));
                            NDArray l = trainer.getLoss().evaluate(new NDList(yb), logits);
                            gc.backward(l);
                            loss = l.getFloat();
                        }
                        trainer.step();  // AdamW update of every parameter (zeroes the gradients)
                        stepNanos[s] = System.nanoTime() - t0;
                        System.out.printf(Locale.ROOT, "%s step %2d: loss %.4f  %.2f ms%n", s < warmup ? "warm-up" : "timed  ",
                                s, loss, stepNanos[s] / 1e6);
                    }
                }
                // process CPU time / wall time over the timed steps: about the number of busy threads
                double cpuPerWall = (os.getProcessCpuTime() - cpu0) / (double) (System.nanoTime() - wall0);
                double[] ms = Arrays.stream(stepNanos, warmup, warmup + timed).mapToDouble(n -> n / 1e6).sorted().toArray();
                double median = ms.length % 2 == 1 ? ms[ms.length / 2] : (ms[ms.length / 2 - 1] + ms[ms.length / 2]) / 2;
                System.out.printf(Locale.ROOT, "RESULT config=%s threads(intra=%d,inter=%d) params=%d timed=%d "
                                + "median=%.2f ms/step min=%.2f max=%.2f cpu/wall=%.2f%n",
                        cfg.name(), ai.djl.pytorch.jni.JniUtils.getNumThreads(),
                        ai.djl.pytorch.jni.JniUtils.getNumInteropThreads(), nParams, timed, median, ms[0],
                        ms[ms.length - 1], cpuPerWall);
            }
        }
    }
}
