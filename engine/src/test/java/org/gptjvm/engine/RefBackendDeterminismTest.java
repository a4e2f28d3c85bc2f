package org.gptjvm.engine;

import org.gptjvm.engine.ref.ReferenceBackend;

import static org.gptjvm.engine.KernelTestSupport.buf;
import static org.gptjvm.engine.KernelTestSupport.ibuf;
import static org.gptjvm.engine.KernelTestSupport.randInt;
import static org.gptjvm.engine.KernelTestSupport.randn;
import static org.gptjvm.engine.KernelTestSupport.read;
import static org.gptjvm.engine.KernelTestSupport.run;
import static org.gptjvm.engine.KernelTestSupport.seedBuf;
import static org.gptjvm.engine.KernelTestSupport.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The same launches on 1, 2 and 3 threads give bit-identical results for every forward and backward
 * kernel (gradients accumulated onto non-zero contents, so the accumulation is covered too). Shapes
 * are chosen so that every split dimension divides unevenly among 2 and 3 threads.
 */
class RefBackendDeterminismTest {

    static final int B = 3, T = 7, C = 12, NH = 3, OC = 9, V = 11;
    static final int N = B * T;
    static final long SEED = 0xDEADBEEFCAFEF00DL;

    /** Runs every kernel once on fresh seeded data; returns every buffer a kernel wrote, by name. */
    static Map<String, float[]> runAll(Backend be) {
        Random rnd = new Random(2024);
        Map<String, float[]> res = new LinkedHashMap<>();
        IntBuf seed = seedBuf(be, SEED);

        // zero
        FloatBuf z1 = buf(be, "z1", randn(rnd, 17, 1)), z2 = buf(be, "z2", randn(rnd, 5, 1));
        run(be, be.zero(List.of(z1, z2)));
        res.put("zero.z1", read(be, z1));
        res.put("zero.z2", read(be, z2));

        // encoder
        int[] idx = randInt(rnd, N, V);
        IntBuf ib = ibuf(be, "idx", idx);
        FloatBuf wte = buf(be, "wte", randn(rnd, V * C, 1)), wpe = buf(be, "wpe", randn(rnd, T * C, 1));
        FloatBuf encOut = be.allocFloat("enc.out", N * C), encOut2 = be.allocFloat("enc.out2", N * C);
        FloatBuf dwte = buf(be, "dwte", randn(rnd, V * C, 1)), dwpe = buf(be, "dwpe", randn(rnd, T * C, 1));
        FloatBuf dwte2 = buf(be, "dwte2", randn(rnd, V * C, 1));
        FloatBuf dEnc = buf(be, "enc.dout", randn(rnd, N * C, 1));
        run(be, be.encoderForward(encOut, ib, wte, wpe, B, T, C), be.encoderForward(encOut2, ib, wte, null, B, T, C),
                be.encoderBackward(dwte, dwpe, dEnc, ib, B, T, C), be.encoderBackward(dwte2, null, dEnc, ib, B, T, C));
        res.put("encoder.out", read(be, encOut));
        res.put("encoder.out(no wpe)", read(be, encOut2));
        res.put("encoder.dwte", read(be, dwte));
        res.put("encoder.dwpe", read(be, dwpe));
        res.put("encoder.dwte(no wpe)", read(be, dwte2));

        // layernorm
        FloatBuf lx = buf(be, "ln.x", randn(rnd, N * C, 2)), lw = buf(be, "ln.w", uniform(rnd, C, 0.5, 1.5));
        FloatBuf lb = buf(be, "ln.b", randn(rnd, C, 1));
        FloatBuf lo = be.allocFloat("ln.out", N * C), lm = be.allocFloat("ln.mean", N), ls = be.allocFloat("ln.rstd", N);
        FloatBuf ldx = buf(be, "ln.dx", randn(rnd, N * C, 1)), ldw = buf(be, "ln.dw", randn(rnd, C, 1));
        FloatBuf ldb = buf(be, "ln.db", randn(rnd, C, 1)), ld = buf(be, "ln.dout", randn(rnd, N * C, 1));
        run(be, be.layerNormForward(lo, lm, ls, lx, lw, lb, N, C),
                be.layerNormBackward(ldx, ldw, ldb, ld, lx, lw, lm, ls, N, C));
        res.put("layernorm.out", read(be, lo));
        res.put("layernorm.mean", read(be, lm));
        res.put("layernorm.rstd", read(be, ls));
        res.put("layernorm.dinp", read(be, ldx));
        res.put("layernorm.dweight", read(be, ldw));
        res.put("layernorm.dbias", read(be, ldb));

        // matmul, with and without bias
        FloatBuf mx = buf(be, "mm.x", randn(rnd, N * C, 1)), mw = buf(be, "mm.w", randn(rnd, OC * C, 1));
        FloatBuf mb = buf(be, "mm.b", randn(rnd, OC, 1));
        FloatBuf mo = be.allocFloat("mm.out", N * OC), mo2 = be.allocFloat("mm.out2", N * OC);
        FloatBuf mdx = buf(be, "mm.dx", randn(rnd, N * C, 1)), mdw = buf(be, "mm.dw", randn(rnd, OC * C, 1));
        FloatBuf mdb = buf(be, "mm.db", randn(rnd, OC, 1)), md = buf(be, "mm.dout", randn(rnd, N * OC, 1));
        FloatBuf mdx2 = buf(be, "mm.dx2", randn(rnd, N * C, 1)), mdw2 = buf(be, "mm.dw2", randn(rnd, OC * C, 1));
        run(be, be.matmulForward(mo, mx, mw, mb, N, C, OC), be.matmulForward(mo2, mx, mw, null, N, C, OC),
                be.matmulBackward(mdx, mdw, mdb, md, mx, mw, N, C, OC),
                be.matmulBackward(mdx2, mdw2, null, md, mx, mw, N, C, OC));
        res.put("matmul.out", read(be, mo));
        res.put("matmul.out(no bias)", read(be, mo2));
        res.put("matmul.dinp", read(be, mdx));
        res.put("matmul.dweight", read(be, mdw));
        res.put("matmul.dbias", read(be, mdb));
        res.put("matmul.dinp(no bias)", read(be, mdx2));
        res.put("matmul.dweight(no bias)", read(be, mdw2));

        // attention, without and with dropout
        for (float p : new float[] {0f, 0.3f}) {
            FloatBuf qkv = buf(be, "qkv", randn(rnd, N * 3 * C, 1));
            FloatBuf ao = be.allocFloat("att.out", N * C), att = be.allocFloat("att", B * NH * T * T);
            FloatBuf dqkv = buf(be, "dqkv", randn(rnd, N * 3 * C, 1)), ad = buf(be, "att.dout", randn(rnd, N * C, 1));
            run(be, be.attentionForward(ao, att, qkv, seed, p, 21, B, T, C, NH),
                    be.attentionBackward(dqkv, ad, qkv, att, seed, p, 21, B, T, C, NH));
            res.put("attention(p=" + p + ").out", read(be, ao));
            res.put("attention(p=" + p + ").att", read(be, att));
            res.put("attention(p=" + p + ").dqkv", read(be, dqkv));
        }

        // elementwise
        int n = N * C;
        FloatBuf ex = buf(be, "x", randn(rnd, n, 1)), ey = buf(be, "y", randn(rnd, n, 1));
        FloatBuf ed = buf(be, "dout", randn(rnd, n, 1));
        FloatBuf ro = be.allocFloat("relu.out", n), rdx = buf(be, "relu.dx", randn(rnd, n, 1));
        FloatBuf so = be.allocFloat("res.out", n), sda = buf(be, "res.da", randn(rnd, n, 1));
        FloatBuf sdb = buf(be, "res.db", randn(rnd, n, 1));
        FloatBuf dro = be.allocFloat("drop.out", n), ddx = buf(be, "drop.dx", randn(rnd, n, 1));
        run(be, be.reluForward(ro, ex, n), be.reluBackward(rdx, ro, ed, n),
                be.residualForward(so, ex, ey, n), be.residualBackward(sda, sdb, ed, n),
                be.dropoutForward(dro, ex, seed, 0.3f, 4, n), be.dropoutBackward(ddx, ed, seed, 0.3f, 4, n));
        res.put("relu.out", read(be, ro));
        res.put("relu.dinp", read(be, rdx));
        res.put("residual.out", read(be, so));
        res.put("residual.da", read(be, sda));
        res.put("residual.db", read(be, sdb));
        res.put("dropout.out", read(be, dro));
        res.put("dropout.dinp", read(be, ddx));

        // cross-entropy and mean loss
        FloatBuf logits = buf(be, "logits", randn(rnd, N * V, 2));
        IntBuf targets = ibuf(be, "targets", randInt(rnd, N, V));
        FloatBuf losses = be.allocFloat("losses", N), probs = be.allocFloat("probs", N * V);
        FloatBuf loss = be.allocFloat("loss", 1), dlogits = buf(be, "dlogits", randn(rnd, N * V, 1));
        run(be, be.crossEntropyForward(losses, probs, logits, targets, N, V), be.meanLoss(loss, losses, N),
                be.crossEntropyBackward(dlogits, probs, targets, N, V));
        res.put("crossentropy.losses", read(be, losses));
        res.put("crossentropy.probs", read(be, probs));
        res.put("meanloss.loss", read(be, loss));
        res.put("crossentropy.dlogits", read(be, dlogits));

        // AdamW, a few steps
        int pn = 101;
        FloatBuf pp = buf(be, "p", randn(rnd, pn, 1)), pg = be.allocFloat("g", pn);
        FloatBuf pm = be.allocFloat("m", pn), pv = be.allocFloat("v", pn), ph = be.allocFloat("hyper", AdamW.SIZE);
        Program step = be.compile("adamw", List.of(be.adamw(pp, pg, pm, pv, ph, pn)));
        float[] hyper = new float[AdamW.SIZE];
        for (int s = 1; s <= 3; s++) {
            be.write(pg, randn(rnd, pn, 1));
            AdamW.fill(hyper, 1e-3, 0.9, 0.95, 1e-8, 0.1, s);
            be.write(ph, hyper);
            step.run();
        }
        res.put("adamw.param", read(be, pp));
        res.put("adamw.m", read(be, pm));
        res.put("adamw.v", read(be, pv));
        return res;
    }

    @Test
    void everyKernelIsBitIdenticalAcrossThreadCounts() {
        Map<String, float[]> one;
        try (Backend be = new ReferenceBackend(1)) {
            one = runAll(be);
        }
        for (int threads : new int[] {2, 3}) {
            Map<String, float[]> other;
            try (Backend be = new ReferenceBackend(threads)) {
                assertEquals(threads, be.threads());
                other = runAll(be);
            }
            assertEquals(one.keySet(), other.keySet());
            List<String> differ = new ArrayList<>();
            for (Map.Entry<String, float[]> e : one.entrySet()) {
                if (!Arrays.equals(e.getValue(), other.get(e.getKey()))) {
                    differ.add(e.getKey());
                }
            }
            assertTrue(differ.isEmpty(), "differ between 1 and " + threads + " threads: " + differ);
        }
    }

    @Test
    void rerunningTheSameProgramIsBitIdentical() {
        try (Backend a = new ReferenceBackend(3); Backend b = new ReferenceBackend(3)) {
            Map<String, float[]> ra = runAll(a), rb = runAll(b);
            for (String k : ra.keySet()) {
                assertTrue(Arrays.equals(ra.get(k), rb.get(k)), k);
            }
        }
    }
}
