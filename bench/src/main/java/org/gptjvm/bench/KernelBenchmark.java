package org.gptjvm.bench;

import org.gptjvm.engine.AdamW;
import org.gptjvm.engine.FloatBlock;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.ParamBlocks;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.train.Optimizer;
import org.gptjvm.model.train.Preset;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Every kernel the model launches but the Linear layers' (see {@link MatmulBenchmark}), forward and
 * backward, at the shapes one layer of the small and the lecture config gives it: encoder, layernorm,
 * attention, softmax + cross-entropy, and AdamW over all of the model's parameters as one block.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx8g"})
public class KernelBenchmark extends ProgramBenchmark {
    @Param({"reference", "cpu"})
    public String backend;
    @Param({"small", "lecture"})
    public String config;
    @Param({"encoder", "layernorm", "attention", "crossentropy", "adamw"})
    public String kernel;
    @Param({"2"})
    public int threads;


    @Setup(Level.Trial)
    public void setup() {
        Preset preset = Preset.valueOf(config);
        int V = 65;
        GptConfig cfg = preset.config(V);
        int B = preset.batchSize, T = cfg.blockSize(), C = cfg.nEmbd(), NH = cfg.nHead();
        long params = cfg.parameterCount();
        int N = B * T;
        be = BenchBackends.create(backend, threads);
        IntBuf seed = be.allocInt("seed", 2);
        be.write(seed, new int[]{12345, 678});
        List<Launch> fwd, bwd;
        switch (kernel) {
            case "encoder" -> {
                IntBuf idx = tokens("idx", N, 31, V);
                FloatBuf wte = random("wte", V * C), wpe = random("wpe", T * C), out = random("out", N * C);
                fwd = List.of(be.encoderForward(out, idx, wte, wpe, B, T, C));
                bwd = List.of(be.encoderBackward(random("dwte", V * C), random("dwpe", T * C), out, idx, B, T, C));
            }
            case "layernorm" -> {
                FloatBuf x = random("x", N * C), w = random("w", C), b = random("b", C), out = random("out", N * C);
                FloatBuf mean = random("mean", N), rstd = random("rstd", N);
                fwd = List.of(be.layerNormForward(out, mean, rstd, x, w, b, N, C));
                bwd = List.of(be.layerNormBackward(random("dx", N * C), random("dw", C), random("db", C), out, x, w,
                        mean, rstd, N, C));
            }
            case "attention" -> {
                FloatBuf qkv = random("qkv", N * 3 * C), att = random("att", B * NH * T * T), out = random("out", N * C);
                float p = cfg.dropout();
                fwd = List.of(be.attentionForward(out, att, qkv, seed, p, 1, B, T, C, NH));
                bwd = List.of(be.attentionBackward(random("dqkv", N * 3 * C), out, qkv, att, seed, p, 1, B, T, C, NH));
            }
            case "crossentropy" -> {
                IntBuf targets = tokens("targets", N, 7, V);
                FloatBuf logits = random("logits", N * V), probs = random("probs", N * V), losses = random("losses", N);
                fwd = List.of(be.crossEntropyForward(losses, probs, logits, targets, N, V),
                        be.meanLoss(random("loss", 1), losses, N));
                bwd = List.of(be.crossEntropyBackward(random("dlogits", N * V), probs, targets, N, V));
            }
            case "adamw" -> {
                // the model's parameters as one block of one part: the kernel's work is the same
                int n = (int) params;
                FloatBuf hyper = be.allocFloat("hyper", AdamW.SIZE);
                be.hostInput(hyper);
                float[] h = new float[AdamW.SIZE];
                AdamW.fill(h, 1e-3, 0.9, 0.999, Optimizer.EPS, 0.01, 10);
                be.write(hyper, h);
                ParamBlocks blocks = new ParamBlocks(block("p", n, true), block("g", n, true), block("m", n, true),
                        block("v", n, false)); // second moments start at zero, as in training
                fwd = List.of(be.adamw(blocks, 0, 1, hyper));
                bwd = fwd; // the optimizer has no backward: both report the update
            }
            default -> throw new IllegalArgumentException("unknown kernel " + kernel);
        }
        forward = be.compile("fwd", fwd);
        backward = be.compile("bwd", bwd);
        firstRuns();
    }

    /** A block of one part of n floats, random or zero. */
    private FloatBlock block(String name, int n, boolean random) {
        FloatBlock b = be.allocBlock(name, List.of(name), new int[]{n});
        if (random) {
            be.write(b.part(0), read(random(name + ".init", n)));
        }
        return b;
    }

    private float[] read(FloatBuf b) {
        float[] a = new float[b.size()];
        be.read(b, a);
        return a;
    }

    /** n token ids spread over the vocabulary: (i * step) mod V. */
    private IntBuf tokens(String name, int n, int step, int V) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = (i * step) % V;
        }
        IntBuf buf = be.allocInt(name, n);
        be.write(buf, ids);
        return buf;
    }
}
