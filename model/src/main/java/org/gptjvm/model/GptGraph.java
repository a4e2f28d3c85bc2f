package org.gptjvm.model;

import org.gptjvm.engine.AdamW;
import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.Program;

import java.util.ArrayList;
import java.util.List;

/**
 * The model's computation for one batch shape (B, T): the activation buffers and the programs that
 * run over them. Everything is allocated and recorded here, once; running a program afterwards
 * allocates nothing, and the host only writes the batch and a few scalars and reads the loss.
 *
 * <p>Programs: {@link #loss} (forward, no dropout: estimate_loss), {@link #zeroGrads} (the
 * parameters' gradients to zero), {@link #forwardBackward} (forward with dropout, loss, all
 * gradients added to the parameters' gradients), {@link #gradNorm} (their sum of squares),
 * {@link #update} and {@link #updateMatricesOnly} (AdamW on every parameter; the second reads
 * {@link #hyperVectors} for the 1-D ones), and {@link #logits} (forward to the logits only, for
 * sampling).
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
    /** AdamW's per-step scalars, {@link AdamW} layout; for the 1-D parameters in {@link #updateMatricesOnly}. */
    public final FloatBuf hyper, hyperVectors;
    /** The logits, each row's loss, their mean, and the gradients' sum of squares. */
    public final FloatBuf logitsBuf, lossesBuf, lossBuf, gradSquares;
    /** Null in a graph built to {@link Mode#EVALUATE} but {@link #loss}. */
    public final Program loss, zeroGrads, forwardBackward, gradNorm, update, updateMatricesOnly, logits;

    private final Backend be;
    private final GptParams params;
    private final GptConfig cfg;
    private final int N, C, V, NH;

    // forward activations, per layer where backward needs them
    private final Mode mode;
    private FloatBuf encoded, lnf, lnfMean, lnfRstd, probs;
    private FloatBuf[] ln1, ln1Mean, ln1Rstd, qkv, att, atty, res2, ln2, ln2Mean, ln2Rstd, fcRelu, res3;
    // gradients of activations: the residual stream's (summed into in place) and one layer's, written by
    // the launch that computes each (Backend: the Linear layers and attention write their input gradients)
    private FloatBuf dres, dlogits, dlnf, dFc, dLn2, dAtty, dQkv, dLn1;

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
        dropoutSeed = be.allocInt("dropout_seed", 2);
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
            hyper = hyperVectors = gradSquares = null;
            zeroGrads = forwardBackward = gradNorm = update = updateMatricesOnly = logits = null;
            return;
        }
        hyper = be.allocFloat("adamw_hyper", AdamW.SIZE);
        hyperVectors = be.allocFloat("adamw_hyper_vectors", AdamW.SIZE);
        gradSquares = be.allocFloat("grad_squares", 1);
        be.hostInput(hyper);
        be.hostInput(hyperVectors);

        l = new ArrayList<>();
        forward(l, 0f);
        logits = be.compile("logits", l);

        zeroGrads = be.compile("zero_grads", List.of(be.zero(paramGrads())));
        gradNorm = be.compile("grad_norm", List.of(be.sumOfSquares(gradSquares, paramGrads())));

        l = new ArrayList<>();
        l.add(be.zero(activationGrads()));
        forward(l, cfg.dropout());
        lossLaunches(l);
        backward(l, cfg.dropout());
        forwardBackward = be.compile("forward_backward", l);

        update = be.compile("adamw", updates(false));
        updateMatricesOnly = be.compile("adamw_matrices_decayed", updates(true));
    }

    /** AdamW on every parameter; with {@code vectorsApart} the 1-D ones read {@link #hyperVectors}. */
    private List<Launch> updates(boolean vectorsApart) {
        List<Launch> l = new ArrayList<>();
        for (Param p : params.all) {
            FloatBuf h = vectorsApart && p.shape().length < 2 ? hyperVectors : hyper;
            l.add(be.adamw(p.value(), p.grad(), p.m(), p.v(), h, p.size()));
        }
        return l;
    }

    /** One buffer per layer; when evaluating, one buffer that every layer overwrites in turn. */
    private FloatBuf[] perLayer(String name, int size) {
        FloatBuf[] a = new FloatBuf[cfg.nLayer()];
        if (mode == Mode.EVALUATE) {
            java.util.Arrays.fill(a, be.allocFloat("blocks.*." + name, size));
            return a;
        }
        for (int l = 0; l < a.length; l++) {
            a[l] = be.allocFloat("blocks." + l + "." + name, size);
        }
        return a;
    }

    private void allocateActivations() {
        if (mode == Mode.TRAIN) {
            dlogits = be.allocFloat("d.logits", N * V);
            if (!cfg.isBigram()) { // beside dlogits: a device backend zeroes neighbours as one range
                dres = be.allocFloat("d.residual", N * C);
            }
        }
        if (cfg.isBigram()) {
            return;
        }
        encoded = be.allocFloat("encoded", N * C);
        ln1 = perLayer("ln1", N * C);
        ln1Mean = perLayer("ln1.mean", N);
        ln1Rstd = perLayer("ln1.rstd", N);
        qkv = perLayer("qkv", N * 3 * C);
        att = perLayer("att", B * NH * T * T);
        atty = perLayer("atty", N * C);
        res2 = perLayer("res2", N * C);
        ln2 = perLayer("ln2", N * C);
        ln2Mean = perLayer("ln2.mean", N);
        ln2Rstd = perLayer("ln2.rstd", N);
        fcRelu = perLayer("fc_relu", N * 4 * C);
        res3 = perLayer("res3", N * C);
        lnf = be.allocFloat("ln_f", N * C);
        lnfMean = be.allocFloat("ln_f.mean", N);
        lnfRstd = be.allocFloat("ln_f.rstd", N);
        if (mode == Mode.EVALUATE) {
            return;
        }

        dlnf = be.allocFloat("d.ln_f", N * C);
        dFc = be.allocFloat("d.fc", N * 4 * C);
        dLn2 = be.allocFloat("d.ln2", N * C);
        dAtty = be.allocFloat("d.atty", N * C);
        dQkv = be.allocFloat("d.qkv", N * 3 * C);
        dLn1 = be.allocFloat("d.ln1", N * C);
    }

    /** The parameters' gradients, in the order of the parameter block. */
    private List<FloatBuf> paramGrads() {
        return params.all.stream().map(Param::grad).toList();
    }

    /** The activation gradients the backward pass accumulates into, zeroed at the start of each pass. */
    private List<FloatBuf> activationGrads() {
        return cfg.isBigram() ? List.of(dlogits) : List.of(dlogits, dres);
    }

    /** Salts keep the dropout masks of different sites independent. */
    private static int salt(int layer, int site) {
        return layer * 4 + site;
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
            GptParams.Layer w = params.layers[i];
            FloatBuf x = i == 0 ? encoded : res3[i - 1];
            // x = x + dropout(proj(attention(ln1(x))))
            l.add(be.layerNormForward(ln1[i], ln1Mean[i], ln1Rstd[i], x, w.ln1W().value(), w.ln1B().value(), N, C));
            l.add(be.matmulForward(qkv[i], ln1[i], w.qkvW().value(), null, N, C, 3 * C));
            l.add(be.attentionForward(atty[i], att[i], qkv[i], dropoutSeed, p, salt(i, 0), B, T, C, NH));
            l.add(be.matmulResidualForward(res2[i], x, atty[i], w.projW().value(), w.projB().value(), dropoutSeed, p,
                    salt(i, 1), N, C, C));
            // x = x + dropout(fc2(relu(fc1(ln2(x)))))
            l.add(be.layerNormForward(ln2[i], ln2Mean[i], ln2Rstd[i], res2[i], w.ln2W().value(), w.ln2B().value(), N, C));
            l.add(be.matmulReluForward(fcRelu[i], ln2[i], w.fcW().value(), w.fcB().value(), N, C, 4 * C));
            l.add(be.matmulResidualForward(res3[i], res2[i], fcRelu[i], w.fcProjW().value(), w.fcProjB().value(),
                    dropoutSeed, p, salt(i, 2), N, 4 * C, C));
        }
        FloatBuf last = res3[cfg.nLayer() - 1];
        l.add(be.layerNormForward(lnf, lnfMean, lnfRstd, last, params.lnfW.value(), params.lnfB.value(), N, C));
        l.add(be.matmulForward(logitsBuf, lnf, params.lmW.value(), params.lmB.value(), N, C, V));
    }

    private void lossLaunches(List<Launch> l) {
        l.add(be.crossEntropyForward(lossesBuf, probs, logitsBuf, targets, N, V));
        l.add(be.meanLoss(lossBuf, lossesBuf, N));
    }

    /**
     * The backward of a {@link Backend#matmulResidualForward} Linear layer (C in, OC out) from dres; with
     * {@code reluInput}, on through the ReLU that made its input.
     */
    private Launch branchBackward(FloatBuf dinp, Param weight, Param bias, FloatBuf inp, boolean reluInput, float p,
                                  int salt, int C, int OC) {
        return be.matmulDropoutBackward(dinp, weight.grad(), bias.grad(), dres, dropoutSeed, p, salt, inp, reluInput,
                weight.value(), N, C, OC);
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
        // dres holds the gradient of the residual stream; each branch's input gradient is summed into it
        for (int i = cfg.nLayer() - 1; i >= 0; i--) {
            GptParams.Layer w = params.layers[i];
            FloatBuf x = i == 0 ? encoded : res3[i - 1];
            // the residual branches' last layers: dres (the residual stream's gradient) through their dropout;
            // the feed-forward's on through the ReLU between its two Linear layers
            l.add(branchBackward(dFc, w.fcProjW(), w.fcProjB(), fcRelu[i], true, p, salt(i, 2), 4 * C, C));
            l.add(be.matmulBackward(dLn2, w.fcW().grad(), w.fcB().grad(), dFc, ln2[i], w.fcW().value(), N, C, 4 * C));
            l.add(be.layerNormBackward(dres, w.ln2W().grad(), w.ln2B().grad(), dLn2, res2[i], w.ln2W().value(),
                    ln2Mean[i], ln2Rstd[i], N, C));
            l.add(branchBackward(dAtty, w.projW(), w.projB(), atty[i], false, p, salt(i, 1), C, C));
            l.add(be.attentionBackward(dQkv, dAtty, qkv[i], att[i], dropoutSeed, p, salt(i, 0), B, T, C, NH));
            l.add(be.matmulBackward(dLn1, w.qkvW().grad(), null, dQkv, ln1[i], w.qkvW().value(), N, C, 3 * C));
            l.add(be.layerNormBackward(dres, w.ln1W().grad(), w.ln1B().grad(), dLn1, x, w.ln1W().value(),
                    ln1Mean[i], ln1Rstd[i], N, C));
        }
        l.add(be.encoderBackward(params.wte.grad(), params.wpe.grad(), dres, idx, B, T, C));
    }
}
