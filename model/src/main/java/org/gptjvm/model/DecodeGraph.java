package org.gptjvm.model;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.Program;

import java.util.ArrayList;
import java.util.List;

/**
 * The forward pass for one new token with a KV cache: each layer keeps the keys and values of the
 * positions seen so far, so a token costs one row through every layer instead of the whole
 * context. Positions run 0, 1, 2, ... up to block_size - 1; the host writes [token, position] and
 * reads the logits. The kernels repeat the batched forward's arithmetic row for row, so the logits
 * equal {@link GptGraph#logits}' at that position bit for bit (tested).
 *
 * <p>It serves the lecture's generate() only while the context fits: once it is cropped to the
 * last block_size tokens, every token moves to a new position, the position embeddings change and
 * all cached keys and values are stale, so {@link Sampler} recomputes the window from then on.
 */
public final class DecodeGraph {
    private final Backend be;
    private final GptConfig cfg;
    private final int C, V, T;
    private final IntBuf tokPos;
    private final FloatBuf logits;
    private final Program step;
    private final int[] tokPosHost = new int[2];
    private final float[] logitsHost;

    public DecodeGraph(Backend backend, GptParams params) {
        this.be = backend;
        this.cfg = params.config;
        this.C = cfg.nEmbd();
        this.V = cfg.vocabSize();
        this.T = cfg.blockSize();
        this.logitsHost = new float[V];
        tokPos = be.allocInt("decode.tok_pos", 2);
        logits = be.allocFloat("decode.logits", V);
        List<Launch> l = new ArrayList<>();
        if (cfg.isBigram()) {
            l.add(be.embedToken(logits, tokPos, params.wte.value(), null, V));
        } else {
            layers(l, params);
        }
        step = be.compile("decode", l);
    }

    private void layers(List<Launch> l, GptParams params) {
        int NH = cfg.nHead();
        FloatBuf x = be.allocFloat("decode.x", C);
        FloatBuf ln = be.allocFloat("decode.ln", C), mean = be.allocFloat("decode.mean", 1);
        FloatBuf rstd = be.allocFloat("decode.rstd", 1), qkv = be.allocFloat("decode.qkv", 3 * C);
        FloatBuf atty = be.allocFloat("decode.atty", C), tmp = be.allocFloat("decode.tmp", C);
        FloatBuf fcRelu = be.allocFloat("decode.fc_relu", 4 * C);
        l.add(be.embedToken(x, tokPos, params.wte.value(), params.wpe.value(), C));
        for (int i = 0; i < cfg.nLayer(); i++) {
            GptParams.Layer w = params.layers[i];
            FloatBuf kCache = be.allocFloat("decode.blocks." + i + ".k_cache", T * C);
            FloatBuf vCache = be.allocFloat("decode.blocks." + i + ".v_cache", T * C);
            l.add(be.layerNormForward(ln, mean, rstd, x, w.ln1W().value(), w.ln1B().value(), 1, C));
            l.add(be.matmulForward(qkv, ln, w.qkvW().value(), null, 1, C, 3 * C));
            l.add(be.attentionDecode(atty, qkv, kCache, vCache, tokPos, T, C, NH));
            l.add(be.matmulForward(tmp, atty, w.projW().value(), w.projB().value(), 1, C, C));
            l.add(be.residualForward(x, x, tmp, C));
            l.add(be.layerNormForward(ln, mean, rstd, x, w.ln2W().value(), w.ln2B().value(), 1, C));
            l.add(be.matmulReluForward(fcRelu, ln, w.fcW().value(), w.fcB().value(), 1, C, 4 * C));
            l.add(be.matmulForward(tmp, fcRelu, w.fcProjW().value(), w.fcProjB().value(), 1, 4 * C, C));
            l.add(be.residualForward(x, x, tmp, C));
        }
        l.add(be.layerNormForward(ln, mean, rstd, x, params.lnfW.value(), params.lnfB.value(), 1, C));
        l.add(be.matmulForward(logits, ln, params.lmW.value(), params.lmB.value(), 1, C, V));
    }

    /**
     * Runs {@code token} at {@code position} and returns the logits for the next token (the array is
     * reused). Positions before it must have been run since the cache was last filled from 0.
     */
    public float[] step(int token, int position) {
        if (position < 0 || position >= T) {
            throw new IllegalArgumentException("position " + position + " outside the block of " + T);
        }
        if (token < 0 || token >= V) {
            throw new IllegalArgumentException("token " + token + " outside the vocabulary of " + V);
        }
        tokPosHost[0] = token;
        tokPosHost[1] = position;
        be.write(tokPos, tokPosHost);
        step.run();
        be.read(logits, logitsHost);
        return logitsHost;
    }
}
