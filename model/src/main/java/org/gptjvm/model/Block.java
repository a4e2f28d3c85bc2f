package org.gptjvm.model;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.Launch;

import java.util.List;

/**
 * One transformer block of the lecture's GPT as launches, forward and backward, the one definition
 * that training, evaluating and decoding all record:
 *
 * <pre>
 *   x = x + dropout(proj(attention(ln1(x))))
 *   x = x + dropout(fc2(relu(fc1(ln2(x)))))
 * </pre>
 *
 * Attention is the one part that differs: over a whole batch of sequences ({@link GptGraph}), or one
 * new token against a KV cache ({@link DecodeGraph}); the caller passes it in.
 */
final class Block {
    private Block() {
    }

    /**
     * A block's activations, over N rows of C: kept per layer for a backward pass, or one set that
     * every layer overwrites in turn where there is none.
     */
    record Activations(FloatBuf ln1, FloatBuf ln1Mean, FloatBuf ln1Rstd, FloatBuf qkv, FloatBuf atty, FloatBuf res2,
                       FloatBuf ln2, FloatBuf ln2Mean, FloatBuf ln2Rstd, FloatBuf fcRelu) {
    }

    /**
     * A block's attention, one way: forward, {@code out} = atty (N x C) from {@code in} = qkv (N x 3C);
     * backward, {@code out} = d.qkv from {@code in} = d.atty.
     */
    interface Attention {
        Launch launch(FloatBuf out, FloatBuf in);
    }

    /** Dropout sites: each layer's attention weights, its projection, its feed-forward output. */
    static final int ATTENTION = 0, PROJECTION = 1, FEED_FORWARD = 2;

    /** Salts keep the dropout masks of different sites independent. */
    static int salt(int layer, int site) {
        return layer * 4 + site;
    }

    /**
     * Layer {@code layer}'s forward from {@code x} into {@code out} (which may be x: x is read only
     * before the last launch, which writes out), with dropout {@code p}
     * on its two residual branches (mask from {@code seed}; p = 0: none, and seed may be null).
     */
    static void forward(Backend be, List<Launch> l, GptParams.Layer w, Activations a, FloatBuf x, FloatBuf out,
                        Attention attention, IntBuf seed, float p, int layer, int N, int C) {
        l.add(be.layerNormForward(a.ln1(), a.ln1Mean(), a.ln1Rstd(), x, w.ln1W().value(), w.ln1B().value(), N, C));
        l.add(be.matmulForward(a.qkv(), a.ln1(), w.qkvW().value(), null, N, C, 3 * C));
        l.add(attention.launch(a.atty(), a.qkv()));
        l.add(be.matmulResidualForward(a.res2(), x, a.atty(), w.projW().value(), w.projB().value(), seed, p,
                salt(layer, PROJECTION), N, C, C));
        l.add(be.layerNormForward(a.ln2(), a.ln2Mean(), a.ln2Rstd(), a.res2(), w.ln2W().value(), w.ln2B().value(), N, C));
        l.add(be.matmulReluForward(a.fcRelu(), a.ln2(), w.fcW().value(), w.fcB().value(), N, C, 4 * C));
        l.add(be.matmulResidualForward(out, a.res2(), a.fcRelu(), w.fcProjW().value(), w.fcProjB().value(), seed, p,
                salt(layer, FEED_FORWARD), N, 4 * C, C));
    }

    /** Scratch gradients of one layer's activations, shared by every layer: each has one writer. */
    record Gradients(FloatBuf dFc, FloatBuf dLn2, FloatBuf dAtty, FloatBuf dQkv, FloatBuf dLn1) {
    }

    /**
     * Layer {@code layer}'s backward. {@code dres} holds the gradient of the residual stream after the
     * block and is left holding the one before it: each branch's input gradient is summed into it.
     * {@code attentionBackward} launches the backward of the layer's attention.
     */
    static void backward(Backend be, List<Launch> l, GptParams.Layer w, Activations a, Gradients d, FloatBuf x,
                         FloatBuf dres, Attention attentionBackward, IntBuf seed, float p, int layer, int N, int C) {
        // the residual branches' last layers: dres through their dropout; the feed-forward's on through the
        // ReLU between its two Linear layers
        l.add(be.matmulDropoutBackward(d.dFc(), w.fcProjW().grad(), w.fcProjB().grad(), dres, seed, p,
                salt(layer, FEED_FORWARD), a.fcRelu(), true, w.fcProjW().value(), N, 4 * C, C));
        l.add(be.matmulBackward(d.dLn2(), w.fcW().grad(), w.fcB().grad(), d.dFc(), a.ln2(), w.fcW().value(), N, C, 4 * C));
        l.add(be.layerNormBackward(dres, w.ln2W().grad(), w.ln2B().grad(), d.dLn2(), a.res2(), w.ln2W().value(),
                a.ln2Mean(), a.ln2Rstd(), N, C));
        l.add(be.matmulDropoutBackward(d.dAtty(), w.projW().grad(), w.projB().grad(), dres, seed, p,
                salt(layer, PROJECTION), a.atty(), false, w.projW().value(), N, C, C));
        l.add(attentionBackward.launch(d.dQkv(), d.dAtty()));
        l.add(be.matmulBackward(d.dLn1(), w.qkvW().grad(), null, d.dQkv(), a.ln1(), w.qkvW().value(), N, C, 3 * C));
        l.add(be.layerNormBackward(dres, w.ln1W().grad(), w.ln1B().grad(), d.dLn1(), x, w.ln1W().value(), a.ln1Mean(),
                a.ln1Rstd(), N, C));
    }
}
