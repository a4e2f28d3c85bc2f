package org.gptjvm.model;


import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBlock;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.Program;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The model's computation for one batch shape (B, T): the activation buffers and the programs that
 * run over them. Everything is allocated and recorded here, once; running a program afterwards
 * allocates nothing, and the host only writes the batch and a few scalars and reads the loss.
 *
 * <p>Programs: {@link #loss} (forward, no dropout: estimate_loss), {@link #zeroGrads} (the
 * parameters' gradients to zero), {@link #forwardBackward} (forward with dropout, loss, all
 * gradients added to the parameters' gradients), {@link #gradNorm} (their sum of squares), and
 * {@link #logits} (forward to the logits only, for sampling). AdamW's program is the
 * optimizer's (train.Optimizer).
 *
 * <p>A graph built to {@link Mode#EVALUATE} has only {@link #loss}: no dropout, no gradients, and one
 * buffer per kind of activation shared by all layers (nothing is kept for a backward pass), so it
 * can take many batches in one pass for the memory of a few.
 */
public final class GptGraph {

    /** What a graph is for: training (every program) or evaluating (forward and loss only). */
    public enum Mode { TRAIN, EVALUATE }

    public final int B, T;
    public final IntBuf idx, targets;
    /** Two ints: the 64-bit dropout seed of the current step. */
    public final IntBuf dropoutSeed;
    /** The logits, each row's loss, their mean, and the gradients' sum of squares. */
    public final FloatBuf logitsBuf, lossesBuf, lossBuf, gradSquares;
    /** Null in a graph built to {@link Mode#EVALUATE} but {@link #loss}. */
    public final Program loss, zeroGrads, forwardBackward, gradNorm, logits;

    private final Backend be;
    private final GptParams params;
    private final GptConfig cfg;
    private final int N, C, V, NH;

    // forward activations, per layer where backward needs them
    private final Mode mode;
    private FloatBuf encoded, lnf, lnfMean, lnfRstd, probs;
    private Block.Activations[] blocks;
    /** Each block's output: the next block's input (the residual stream after it). */
    private FloatBuf[] res3;
    private FloatBuf[] att;
    // gradients of activations: the residual stream's (summed into in place), the logits', and one
    // layer's, written by the launch that computes each (Backend: the Linear layers and attention write
    // their input gradients); the first two are zeroed together before each backward pass
    private FloatBlock activationGrads;
    private FloatBuf dres, dlogits, dlnf;
    private Block.Gradients layerGrads;

    public GptGraph(Backend backend, GptParams params, int B, int T) {
        this(backend, params, B, T, Mode.TRAIN);
    }

    public GptGraph(Backend backend, GptParams params, int B, int T, Mode mode) {
        this.be = backend;
        this.mode = mode;
        this.params = params;
        this.cfg = params.config;
        this.B = B;
        this.T = T;
        this.N = B * T;
        this.C = cfg.nEmbd();
        this.V = cfg.vocabSize();
        this.NH = cfg.nHead();
        idx = be.allocInt("idx", N);
        targets = be.allocInt("targets", N);
        dropoutSeed = be.allocInt("dropout_seed", org.gptjvm.engine.DropoutMask.SEED_INTS);
        logitsBuf = be.allocFloat("logits", N * V);
        lossBuf = be.allocFloat("loss", 1);
        probs = be.allocFloat("probs", N * V);
        lossesBuf = be.allocFloat("losses", N);
        allocateActivations();

        List<Launch> l = new ArrayList<>();
        forward(l, 0f);
        lossLaunches(l);
        loss = be.compile(mode == Mode.TRAIN ? "loss" : "evaluate", l);
        if (mode == Mode.EVALUATE) {
            gradSquares = null;
            zeroGrads = forwardBackward = gradNorm = logits = null;
            return;
        }
        gradSquares = be.allocFloat("grad_squares", 1);

        l = new ArrayList<>();
        forward(l, 0f);
        logits = be.compile("logits", l);

        zeroGrads = be.compile("zero_grads", List.of(be.zero(params.grads)));
        gradNorm = be.compile("grad_norm", List.of(be.sumOfSquares(gradSquares, params.grads)));

        l = new ArrayList<>();
        l.add(be.zero(activationGrads));
        forward(l, cfg.dropout());
        lossLaunches(l);
        backward(l, cfg.dropout());
        forwardBackward = be.compile("forward_backward", l);
    }

    /** One buffer per layer; when evaluating, one buffer that every layer overwrites in turn. */
    private FloatBuf[] perLayer(String name, int size) {
        FloatBuf[] a = new FloatBuf[cfg.nLayer()];
        if (mode == Mode.EVALUATE) {
            Arrays.fill(a, be.allocFloat("blocks.*." + name, size));
            return a;
        }
        for (int l = 0; l < a.length; l++) {
            a[l] = be.allocFloat("blocks." + l + "." + name, size);
        }
        return a;
    }

    private void allocateActivations() {
        if (mode == Mode.TRAIN) {
            activationGrads = cfg.isBigram() ? be.allocBlock("activation_grads", List.of("d.logits"), new int[]{N * V})
                    : be.allocBlock("activation_grads", List.of("d.logits", "d.residual"), new int[]{N * V, N * C});
            dlogits = activationGrads.part(0);
            dres = cfg.isBigram() ? null : activationGrads.part(1);
        }
        if (cfg.isBigram()) {
            return;
        }
        encoded = be.allocFloat("encoded", N * C);
        FloatBuf[] ln1 = perLayer("ln1", N * C), ln1Mean = perLayer("ln1.mean", N), ln1Rstd = perLayer("ln1.rstd", N);
        FloatBuf[] qkv = perLayer("qkv", N * 3 * C);
        att = perLayer("att", B * NH * T * T);
        FloatBuf[] atty = perLayer("atty", N * C), res2 = perLayer("res2", N * C), ln2 = perLayer("ln2", N * C);
        FloatBuf[] ln2Mean = perLayer("ln2.mean", N), ln2Rstd = perLayer("ln2.rstd", N);
        FloatBuf[] fcRelu = perLayer("fc_relu", N * 4 * C);
        res3 = perLayer("res3", N * C);
        blocks = new Block.Activations[cfg.nLayer()];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = new Block.Activations(ln1[i], ln1Mean[i], ln1Rstd[i], qkv[i], atty[i], res2[i], ln2[i], ln2Mean[i],
                    ln2Rstd[i], fcRelu[i]);
        }
        lnf = be.allocFloat("ln_f", N * C);
        lnfMean = be.allocFloat("ln_f.mean", N);
        lnfRstd = be.allocFloat("ln_f.rstd", N);
        if (mode == Mode.EVALUATE) {
            return;
        }
        dlnf = be.allocFloat("d.ln_f", N * C);
        FloatBuf dFc = be.allocFloat("d.fc", N * 4 * C);
        FloatBuf dLn2 = be.allocFloat("d.ln2", N * C);
        FloatBuf dAtty = be.allocFloat("d.atty", N * C);
        FloatBuf dQkv = be.allocFloat("d.qkv", N * 3 * C);
        FloatBuf dLn1 = be.allocFloat("d.ln1", N * C);
        layerGrads = new Block.Gradients(dFc, dLn2, dAtty, dQkv, dLn1);
    }

    /** The input of layer i: the embeddings, or the previous block's output. */
    private FloatBuf blockInput(int i) {
        return i == 0 ? encoded : res3[i - 1];
    }

    private void forward(List<Launch> l, float p) {
        Param wte = params.wte;
        if (cfg.isBigram()) {
            // the lecture's BigramLanguageModel: logits are a row of the embedding table
            l.add(be.encoderForward(logitsBuf, idx, wte.value(), null, B, T, V));
            return;
        }
        l.add(be.encoderForward(encoded, idx, wte.value(), params.wpe.value(), B, T, C));
        for (int i = 0; i < cfg.nLayer(); i++) {
            FloatBuf a = att[i];
            int salt = Block.salt(i, Block.ATTENTION);
            Block.forward(be, l, params.layers[i], blocks[i], blockInput(i), res3[i],
                    (atty, qkv) -> be.attentionForward(atty, a, qkv, dropoutSeed, p, salt, B, T, C, NH), dropoutSeed, p,
                    i, N, C);
        }
        FloatBuf last = res3[cfg.nLayer() - 1];
        l.add(be.layerNormForward(lnf, lnfMean, lnfRstd, last, params.lnfW.value(), params.lnfB.value(), N, C));
        l.add(be.matmulForward(logitsBuf, lnf, params.lmW.value(), params.lmB.value(), N, C, V));
    }

    private void lossLaunches(List<Launch> l) {
        l.add(be.crossEntropyForward(lossesBuf, probs, logitsBuf, targets, N, V));
        l.add(be.meanLoss(lossBuf, lossesBuf, N));
    }

    private void backward(List<Launch> l, float p) {
        l.add(be.crossEntropyBackward(dlogits, probs, targets, N, V));
        if (cfg.isBigram()) {
            l.add(be.encoderBackward(params.wte.grad(), null, dlogits, idx, B, T, V));
            return;
        }
        l.add(be.matmulBackward(dlnf, params.lmW.grad(), params.lmB.grad(), dlogits, lnf, params.lmW.value(), N, C, V));
        FloatBuf last = res3[cfg.nLayer() - 1];
        l.add(be.layerNormBackward(dres, params.lnfW.grad(), params.lnfB.grad(), dlnf, last, params.lnfW.value(),
                lnfMean, lnfRstd, N, C));
        // dres holds the gradient of the residual stream; each block's branches sum their input gradients into it
        for (int i = cfg.nLayer() - 1; i >= 0; i--) {
            FloatBuf a = att[i], q = blocks[i].qkv();
            int salt = Block.salt(i, Block.ATTENTION);
            Block.backward(be, l, params.layers[i], blocks[i], layerGrads, blockInput(i), dres,
                    (dqkv, datty) -> be.attentionBackward(dqkv, datty, q, a, dropoutSeed, p, salt, B, T, C, NH),
                    dropoutSeed, p, i, N, C);
        }
        l.add(be.encoderBackward(params.wte.grad(), params.wpe.grad(), dres, idx, B, T, C));
    }
}
