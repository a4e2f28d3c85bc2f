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
 * reads the logits. Each layer is the same {@link Block} as in training, its attention the one-token
 * kind; the kernels repeat the batched forward's arithmetic row for row, so the logits equal
 * {@link GptGraph#logits}' at that position bit for bit (tested).
 *
 * <p>It serves the lecture's generate() only while the context fits: once it is cropped to the
 * last block_size tokens, every token moves to a new position, the position embeddings change and
 * all cached keys and values are stale, so the sampler recomputes the window from then on.
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
        // the residual stream after each layer, and in the middle of one: x -> res2 -> x
        FloatBuf x = be.allocFloat("decode.x", C), res2 = be.allocFloat("decode.res2", C);
        FloatBuf ln = be.allocFloat("decode.ln", C), mean = be.allocFloat("decode.mean", 1);
        FloatBuf rstd = be.allocFloat("decode.rstd", 1), qkv = be.allocFloat("decode.qkv", 3 * C);
        FloatBuf atty = be.allocFloat("decode.atty", C), fcRelu = be.allocFloat("decode.fc_relu", 4 * C);
        // one set of activations that every layer overwrites in turn (the two LayerNorms share theirs too)
        Block.Activations a = new Block.Activations(ln, mean, rstd, qkv, atty, res2, ln, mean, rstd, fcRelu);
        l.add(be.embedToken(x, tokPos, params.wte.value(), params.wpe.value(), C));
        for (int i = 0; i < cfg.nLayer(); i++) {
            FloatBuf kCache = be.allocFloat("decode.blocks." + i + ".k_cache", T * C);
            FloatBuf vCache = be.allocFloat("decode.blocks." + i + ".v_cache", T * C);
            Block.forward(be, l, params.layers[i], a, x, x,
                    (out, in) -> be.attentionDecode(out, in, kCache, vCache, tokPos, T, C, NH), null, 0f, i, 1, C);
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
