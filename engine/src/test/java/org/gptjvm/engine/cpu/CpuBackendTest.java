package org.gptjvm.engine.cpu;

import static org.gptjvm.engine.cpu.CpuTestSupport.buf;
import static org.gptjvm.engine.cpu.CpuTestSupport.minus;
import static org.gptjvm.engine.cpu.CpuTestSupport.randn;
import static org.gptjvm.engine.cpu.CpuTestSupport.read;
import static org.gptjvm.engine.cpu.CpuTestSupport.relErr;
import static org.gptjvm.engine.cpu.CpuTestSupport.run;
import static org.gptjvm.engine.cpu.CpuTestSupport.seedBuf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The cpu backend's overridden kernels (matmul and attention, forward and backward) against the
 * reference backend on identical random inputs, over the model's real shapes and awkward ones; and
 * bit-identical results for 1..4 threads. Backward kernels accumulate, so every gradient buffer
 * starts from the same random non-zero contents; both the total and the increment are compared.
 */
class CpuBackendTest {
    static final double TOL = 1e-5;
    static final long DROPOUT_SEED = 0x5DEECE66DL * 31 + 17;
    static final int SALT = 13;

    record MM(int N, int C, int OC) {
    }

    record AT(int B, int T, int C, int NH) {
    }

    static final List<MM> MATMULS = List.of(new MM(512, 64, 192), new MM(512, 64, 65), new MM(512, 256, 64),
            new MM(7, 12, 9), new MM(5, 3, 17), new MM(33, 100, 1), new MM(1, 16, 16),
            new MM(1, 384, 1536), new MM(3, 65, 13), new MM(2, 1536, 384));
    static final List<AT> ATTENTIONS = List.of(new AT(2, 5, 12, 3), new AT(4, 32, 64, 4), new AT(1, 1, 8, 2),
            new AT(3, 17, 36, 6), new AT(2, 64, 64, 1), new AT(1, 40, 24, 2));
    static final float[] DROPOUTS = {0f, 0.25f};

    static final CpuTestSupport.MaxErrors MAX = new CpuTestSupport.MaxErrors();

    @BeforeAll
    static void vectorApiIsOn() {
        // otherwise CpuBackend silently runs the reference kernels and the comparison proves nothing
        assertTrue(CpuProvider.vectorApiPresent(), "jdk.incubator.vector is not in the boot layer");
    }

    @AfterAll
    static void printWorst() {
        MAX.print("cpu-vs-ref");
    }

    @Test
    void zeroClearsBuffersSplitAcrossThreads() {
        // more floats than one thread's grain, in odd lengths, so the split falls inside buffers
        int[] lengths = {1, 40_000, 3, 70_001, 17, 65_536};
        for (int threads : new int[]{1, 2, 3}) {
            Backend be = new CpuBackend(threads);
            Random rnd = new Random(threads);
            List<FloatBuf> bufs = new ArrayList<>();
            for (int n : lengths) {
                bufs.add(buf(be, "z" + bufs.size(), randn(rnd, n, 1)));
            }
            FloatBuf untouched = buf(be, "keep", randn(rnd, 999, 1));
            float[] before = read(be, untouched);
            run(be, be.zero(bufs));
            for (FloatBuf z : bufs) {
                for (float x : read(be, z)) {
                    assertEquals(0f, x, threads + " threads");
                }
            }
            assertTrue(Arrays.equals(before, read(be, untouched)), "a buffer not named was changed");
            be.close();
        }
    }

    /**
     * matmulReluForward gives relu(matmulForward) bit for bit, on the batched and the few-rows
     * (decoding) paths of the cpu backend and on the reference backend.
     */
    @Test
    void matmulReluIsReluOfMatmulBitForBit() {
        for (MM s : MATMULS) {
            for (Backend be : List.of(new CpuBackend(2), new ReferenceBackend(2))) {
                try (be) {
                    Random rnd = new Random(s.hashCode());
                    int N = s.N(), C = s.C(), OC = s.OC();
                    FloatBuf x = buf(be, "x", randn(rnd, N * C, 1)), w = buf(be, "w", randn(rnd, OC * C, 0.5));
                    FloatBuf b = buf(be, "b", randn(rnd, OC, 1));
                    FloatBuf plain = buf(be, "plain", randn(rnd, N * OC, 3)), fused = buf(be, "fused", randn(rnd, N * OC, 3));
                    run(be, be.matmulForward(plain, x, w, b, N, C, OC), be.matmulReluForward(fused, x, w, b, N, C, OC));
                    float[] want = read(be, plain), got = read(be, fused);
                    int positive = 0;
                    for (int i = 0; i < want.length; i++) {
                        float r = want[i] > 0f ? want[i] : 0f;
                        positive += want[i] > 0f ? 1 : 0;
                        assertEquals(Float.floatToRawIntBits(r), Float.floatToRawIntBits(got[i]), be.name() + " " + s + " @" + i);
                    }
                    assertTrue(positive > 0 && (positive < want.length || want.length < 4), "both signs occur: " + s);
                }
            }
        }
    }

    /**
     * matmulResidualForward and matmulDropoutBackward give the bits of the launches they stand for
     * (matmul, dropout, residual add; dropout backward into a zeroed buffer, then matmul backward), on
     * both host backends, with and without dropout, on the batched and the few-rows paths.
     */
    @Test
    void fusedResidualBranchIsItsLaunchesBitForBit() {
        for (MM s : MATMULS) {
            for (float p : DROPOUTS) {
                for (Backend be : List.of(new CpuBackend(2), new ReferenceBackend(2))) {
                    try (be) {
                        int N = s.N(), C = s.C(), OC = s.OC();
                        Random rnd = new Random(s.hashCode() + (long) (p * 100));
                        FloatBuf x = buf(be, "x", randn(rnd, N * C, 1)), w = buf(be, "w", randn(rnd, OC * C, 0.5));
                        FloatBuf b = buf(be, "b", randn(rnd, OC, 1)), r = buf(be, "r", randn(rnd, N * OC, 1));
                        FloatBuf d = buf(be, "d", randn(rnd, N * OC, 1));
                        IntBuf seed = seedBuf(be, DROPOUT_SEED);
                        float[] dx0 = randn(rnd, N * C, 1), dw0 = randn(rnd, OC * C, 1), db0 = randn(rnd, OC, 1);
                        FloatBuf tmp = be.allocFloat("tmp", N * OC), plain = be.allocFloat("plain", N * OC);
                        FloatBuf fused = buf(be, "fused", randn(rnd, N * OC, 3)), g = be.allocFloat("g", N * OC);
                        FloatBuf dx1 = buf(be, "dx1", dx0), dw1 = buf(be, "dw1", dw0), db1 = buf(be, "db1", db0);
                        FloatBuf dx2 = buf(be, "dx2", dx0), dw2 = buf(be, "dw2", dw0), db2 = buf(be, "db2", db0);
                        List<org.gptjvm.engine.Launch> launches = new ArrayList<>();
                        launches.add(be.matmulForward(tmp, x, w, b, N, C, OC));
                        if (p > 0f) {
                            launches.add(be.dropoutForward(tmp, tmp, seed, p, SALT, N * OC));
                        }
                        launches.add(be.residualForward(plain, r, tmp, N * OC));
                        launches.add(be.matmulResidualForward(fused, r, x, w, b, seed, p, SALT, N, C, OC));
                        launches.add(be.zero(List.of(g)));
                        launches.add(be.dropoutBackward(g, d, seed, p, SALT, N * OC));
                        launches.add(be.matmulBackward(dx1, dw1, db1, g, x, w, N, C, OC));
                        launches.add(be.matmulDropoutBackward(dx2, dw2, db2, d, seed, p, SALT, x, false, w, N, C, OC));
                        run(be, launches.toArray(org.gptjvm.engine.Launch[]::new));
                        String what = be.name() + " " + s + " p=" + p;
                        assertBits(read(be, plain), read(be, fused), what + " forward");
                        assertBits(read(be, dx1), read(be, dx2), what + " dinp");
                        assertBits(read(be, dw1), read(be, dw2), what + " dweight");
                        assertBits(read(be, db1), read(be, db2), what + " dbias");
                    }
                }
            }
        }
    }

    /**
     * matmulDropoutBackward with reluInput gives the bits of the launches it stands for: dropout
     * backward into a zeroed buffer, matmul backward from it, and the ReLU's backward from that into
     * a zeroed dinp, on both host backends, with and without dropout. dinp holds garbage before (it is
     * written) and the input has both signs, so the gate matters.
     */
    @Test
    void fusedReluInputBackwardIsItsLaunchesBitForBit() {
        for (MM s : MATMULS) {
            for (float p : DROPOUTS) {
                for (Backend be : List.of(new CpuBackend(2), new ReferenceBackend(2))) {
                    try (be) {
                        int N = s.N(), C = s.C(), OC = s.OC();
                        Random rnd = new Random(s.hashCode() + 7 + (long) (p * 100));
                        float[] xs = randn(rnd, N * C, 1);
                        FloatBuf x = buf(be, "x", xs), w = buf(be, "w", randn(rnd, OC * C, 0.5));
                        FloatBuf d = buf(be, "d", randn(rnd, N * OC, 1));
                        IntBuf seed = seedBuf(be, DROPOUT_SEED);
                        float[] dx0 = randn(rnd, N * C, 1), dw0 = randn(rnd, OC * C, 1), db0 = randn(rnd, OC, 1);
                        FloatBuf g = be.allocFloat("g", N * OC), t = be.allocFloat("t", N * C);
                        FloatBuf dx1 = buf(be, "dx1", dx0), dw1 = buf(be, "dw1", dw0), db1 = buf(be, "db1", db0);
                        FloatBuf dx2 = buf(be, "dx2", dx0), dw2 = buf(be, "dw2", dw0), db2 = buf(be, "db2", db0);
                        run(be, be.zero(List.of(g)), be.dropoutBackward(g, d, seed, p, SALT, N * OC),
                                be.matmulBackward(t, dw1, db1, g, x, w, N, C, OC), be.zero(List.of(dx1)),
                                be.reluBackward(dx1, x, t, N * C),
                                be.matmulDropoutBackward(dx2, dw2, db2, d, seed, p, SALT, x, true, w, N, C, OC));
                        String what = be.name() + " " + s + " p=" + p;
                        float[] want = read(be, dx1), got = read(be, dx2);
                        assertBits(want, got, what + " dinp");
                        assertBits(read(be, dw1), read(be, dw2), what + " dweight");
                        assertBits(read(be, db1), read(be, db2), what + " dbias");
                        int kept = 0;
                        for (int i = 0; i < xs.length; i++) {
                            if (xs[i] > 0f) {
                                kept++;
                            } else {
                                assertEquals(Float.floatToRawIntBits(0f), Float.floatToRawIntBits(got[i]),
                                        what + " dinp where the input is not positive @" + i);
                            }
                        }
                        assertTrue(kept > 0 && kept < xs.length, "both signs occur: " + what);
                    }
                }
            }
        }
    }

    private static void assertBits(float[] want, float[] got, String what) {
        for (int i = 0; i < want.length; i++) {
            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), what + " @" + i);
        }
    }

    // ---------------------------------------------------------------- drivers

    /**
     * Every matmul variant on one shape. Keys "init.X" hold the initial contents of accumulated
     * gradient X (identical for every backend by construction).
     */
    static Map<String, float[]> runMatmul(Backend be, MM s) {
        int N = s.N(), C = s.C(), OC = s.OC();
        Random rnd = new Random(31L * N + 7L * C + OC);
        Map<String, float[]> res = new LinkedHashMap<>();
        FloatBuf x = buf(be, "x", randn(rnd, N * C, 1));
        FloatBuf w = buf(be, "w", randn(rnd, OC * C, 0.5));
        FloatBuf b = buf(be, "b", randn(rnd, OC, 1));
        FloatBuf d = buf(be, "dout", randn(rnd, N * OC, 1));
        // outputs start as garbage: forward must overwrite every element
        FloatBuf out = buf(be, "out", randn(rnd, N * OC, 3)), out2 = buf(be, "out2", randn(rnd, N * OC, 3));
        float[] dx0 = randn(rnd, N * C, 1), dw0 = randn(rnd, OC * C, 1), db0 = randn(rnd, OC, 1);
        float[] dx20 = randn(rnd, N * C, 1), dw20 = randn(rnd, OC * C, 1);
        float[] dw30 = randn(rnd, OC * C, 1), db30 = randn(rnd, OC, 1);
        FloatBuf dx = buf(be, "dx", dx0), dw = buf(be, "dw", dw0), db = buf(be, "db", db0);
        FloatBuf dx2 = buf(be, "dx2", dx20), dw2 = buf(be, "dw2", dw20);
        FloatBuf dw3 = buf(be, "dw3", dw30), db3 = buf(be, "db3", db30);
        run(be, be.matmulForward(out, x, w, b, N, C, OC), be.matmulForward(out2, x, w, null, N, C, OC),
                be.matmulBackward(dx, dw, db, d, x, w, N, C, OC),
                be.matmulBackward(dx2, dw2, null, d, x, w, N, C, OC),
                be.matmulBackward(null, dw3, db3, d, x, w, N, C, OC));
        res.put("matmul_fwd.out(bias)", read(be, out));
        res.put("matmul_fwd.out(no bias)", read(be, out2));
        res.put("matmul_bwd.dinp", read(be, dx)); // written: it started as garbage too
        put(res, "matmul_bwd.dweight", read(be, dw), dw0);
        put(res, "matmul_bwd.dbias", read(be, db), db0);
        res.put("matmul_bwd(null dbias).dinp", read(be, dx2));
        put(res, "matmul_bwd(null dbias).dweight", read(be, dw2), dw20);
        put(res, "matmul_bwd(null dinp).dweight", read(be, dw3), dw30);
        put(res, "matmul_bwd(null dinp).dbias", read(be, db3), db30);
        return res;
    }

    /**
     * Attention forward, then backward on this backend's own att; and, when {@code sharedAtt} is
     * given, a second backward on that att (so the backward kernel is compared on identical inputs).
     */
    static Map<String, float[]> runAttention(Backend be, AT s, float p, float[] sharedAtt) {
        int B = s.B(), T = s.T(), C = s.C(), NH = s.NH();
        Random rnd = new Random(1000003L * B + 1009L * T + 31L * C + NH + (p > 0 ? 77 : 0));
        String tag = "(p=" + p + ")";
        Map<String, float[]> res = new LinkedHashMap<>();
        IntBuf seed = seedBuf(be, DROPOUT_SEED);
        FloatBuf qkv = buf(be, "qkv", randn(rnd, B * T * 3 * C, 1));
        FloatBuf out = buf(be, "out", randn(rnd, B * T * C, 3)), att = buf(be, "att", randn(rnd, B * NH * T * T, 3));
        FloatBuf d = buf(be, "dout", randn(rnd, B * T * C, 1));
        float[] dq0 = randn(rnd, B * T * 3 * C, 1), dq20 = randn(rnd, B * T * 3 * C, 1);
        FloatBuf dqkv = buf(be, "dqkv", dq0);
        run(be, be.attentionForward(out, att, qkv, seed, p, SALT, B, T, C, NH),
                be.attentionBackward(dqkv, d, qkv, att, seed, p, SALT, B, T, C, NH));
        res.put("attention_fwd" + tag + ".out", read(be, out));
        res.put("attention_fwd" + tag + ".att", read(be, att));
        res.put("attention_bwd" + tag + ".dqkv", read(be, dqkv)); // written: it started as garbage
        if (sharedAtt != null) {
            FloatBuf att2 = buf(be, "att2", sharedAtt), dqkv2 = buf(be, "dqkv2", dq20);
            run(be, be.attentionBackward(dqkv2, d, qkv, att2, seed, p, SALT, B, T, C, NH));
            res.put("attention_bwd" + tag + ".dqkv(same att)", read(be, dqkv2));
        }
        return res;
    }

    private static void put(Map<String, float[]> res, String key, float[] value, float[] init) {
        res.put(key, value);
        res.put("init." + key, init);
    }

    /** Compares every result of {@code cpu} with {@code ref}; returns failures (empty when all pass). */
    static List<String> compare(String shape, Map<String, float[]> cpu, Map<String, float[]> ref) {
        assertEquals(ref.keySet(), cpu.keySet());
        List<String> bad = new ArrayList<>();
        for (Map.Entry<String, float[]> e : ref.entrySet()) {
            String k = e.getKey();
            if (k.startsWith("init.")) {
                continue;
            }
            double err = relErr(cpu.get(k), e.getValue());
            String line = String.format("%-20s %-42s total %.3e", shape, k, err);
            MAX.add(k, err);
            boolean ok = err < TOL;
            float[] init = ref.get("init." + k);
            if (init != null) {
                // the increment alone: the accumulation must not hide an error in the kernel's own sum
                double inc = relErr(minus(cpu.get(k), init), minus(e.getValue(), init));
                line += String.format("  increment %.3e", inc);
                MAX.add(k + " [increment]", inc);
                ok &= inc < TOL;
            }
            System.out.println("[cpu-vs-ref] " + line);
            if (!ok) {
                bad.add(line);
            }
        }
        return bad;
    }

    // ---------------------------------------------------------------- parity with the reference

    @Test
    void matmulMatchesReference() {
        List<String> bad = new ArrayList<>();
        try (Backend ref = new ReferenceBackend(2); Backend cpu = new CpuBackend(2)) {
            for (MM s : MATMULS) {
                bad.addAll(compare(s.toString(), runMatmul(cpu, s), runMatmul(ref, s)));
            }
        }
        assertTrue(bad.isEmpty(), "relative error >= " + TOL + ":\n" + String.join("\n", bad));
    }

    @Test
    void attentionMatchesReference() {
        List<String> bad = new ArrayList<>();
        try (Backend ref = new ReferenceBackend(2); Backend cpu = new CpuBackend(2)) {
            for (AT s : ATTENTIONS) {
                for (float p : DROPOUTS) {
                    // forward, then backward on each backend's own att (the chained result)
                    Map<String, float[]> r = runAttention(ref, s, p, null);
                    Map<String, float[]> c = runAttention(cpu, s, p, null);
                    bad.addAll(compare(s.toString(), c, r));
                    // the masked (future) half of att is exactly zero, as in the reference
                    float[] catt = c.get("attention_fwd(p=" + p + ").att");
                    for (int row = 0; row < s.B() * s.NH() * s.T(); row++) {
                        int t = row % s.T();
                        for (int t2 = t + 1; t2 < s.T(); t2++) {
                            assertEquals(0f, catt[row * s.T() + t2], s + " att future position");
                        }
                    }
                }
            }
        }
        assertTrue(bad.isEmpty(), "relative error >= " + TOL + ":\n" + String.join("\n", bad));
    }

    /** Attention backward alone: both backends given the reference's att as input. */
    @Test
    void attentionBackwardOnIdenticalAttMatchesReference() {
        List<String> bad = new ArrayList<>();
        try (Backend ref = new ReferenceBackend(2); Backend cpu = new CpuBackend(2)) {
            for (AT s : ATTENTIONS) {
                for (float p : DROPOUTS) {
                    float[] refAtt = runAttention(ref, s, p, null).get("attention_fwd(p=" + p + ").att");
                    Map<String, float[]> r = runAttention(ref, s, p, refAtt);
                    Map<String, float[]> c = runAttention(cpu, s, p, refAtt);
                    String k = "attention_bwd(p=" + p + ").dqkv(same att)";
                    bad.addAll(compare(s.toString(), Map.of(k, c.get(k)), Map.of(k, r.get(k))));
                }
            }
        }
        assertTrue(bad.isEmpty(), "relative error >= " + TOL + ":\n" + String.join("\n", bad));
    }

    // ---------------------------------------------------------------- determinism

    /** Everything on one backend (so attention scratch is grown and reused across shapes). */
    static Map<String, float[]> runEverything(Backend be) {
        Map<String, float[]> all = new LinkedHashMap<>();
        for (MM s : MATMULS) {
            runMatmul(be, s).forEach((k, v) -> all.put(s + " " + k, v));
        }
        for (AT s : ATTENTIONS) {
            for (float p : DROPOUTS) {
                float[] att = null;
                if (p > 0) {
                    // a fixed att for the second backward: the one this backend computed without dropout
                    att = all.get(s + " attention_fwd(p=0.0).att");
                }
                runAttention(be, s, p, att).forEach((k, v) -> all.put(s + " " + k, v));
            }
        }
        return all;
    }

    @Test
    void bitIdenticalForOneToFourThreads() {
        Map<String, float[]> one;
        try (Backend be = new CpuBackend(1)) {
            one = runEverything(be);
        }
        for (int threads = 2; threads <= 4; threads++) {
            Map<String, float[]> other;
            try (Backend be = new CpuBackend(threads)) {
                assertEquals(threads, be.threads());
                other = runEverything(be);
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
    void rerunningAProgramIsBitIdentical() {
        // a compiled program run twice on the same buffers: the forward results must not depend on
        // state left by the first run (scratch, transposed weights)
        try (Backend be = new CpuBackend(3)) {
            for (AT s : ATTENTIONS) {
                Map<String, float[]> a = runAttention(be, s, 0.25f, null), b = runAttention(be, s, 0.25f, null);
                for (String k : a.keySet()) {
                    assertTrue(Arrays.equals(a.get(k), b.get(k)), s + " " + k);
                }
            }
            MM s = MATMULS.get(0);
            Random rnd = new Random(5);
            FloatBuf x = buf(be, "x", randn(rnd, s.N() * s.C(), 1)), w = buf(be, "w", randn(rnd, s.OC() * s.C(), 1));
            FloatBuf out = be.allocFloat("out", s.N() * s.OC());
            org.gptjvm.engine.Program prog = be.compile("mm", List.of(be.matmulForward(out, x, w, null, s.N(), s.C(), s.OC())));
            prog.run();
            float[] first = read(be, out);
            // new weights between runs (as after an optimizer step): the launch must see them
            float[] w2 = randn(rnd, s.OC() * s.C(), 1);
            be.write(w, w2);
            prog.run();
            float[] second = read(be, out);
            be.write(w, read(be, w)); // no-op, keeps the buffer in use
            try (Backend ref = new ReferenceBackend(1)) {
                FloatBuf rx = buf(ref, "x", read(be, x)), rw = buf(ref, "w", w2);
                FloatBuf ro = ref.allocFloat("out", s.N() * s.OC());
                run(ref, ref.matmulForward(ro, rx, rw, null, s.N(), s.C(), s.OC()));
                double err = relErr(second, read(ref, ro));
                assertTrue(err < TOL, "matmul after a weight update: " + err);
                assertTrue(relErr(first, read(ref, ro)) > 0.1, "the first run used the old weights");
            }
        }
    }

    /**
     * One row at a time (the decode path, a matrix-vector product) gives the same bits as the same
     * row inside a batched product (register-tiled GEMM): each element is one FMA chain either way.
     */
    @Test
    void fewRowsMatchTheBatchedProductBitForBit() {
        int N = 150, C = 300, OC = 77; // 150 rows: packed B panels, and more than one block of A rows
        Random rnd = new Random(8);
        float[] x = randn(rnd, N * C, 1), w = randn(rnd, OC * C, 0.3), bias = randn(rnd, OC, 1);
        try (Backend be = new CpuBackend(2)) {
            FloatBuf bx = buf(be, "x", x), bw = buf(be, "w", w), bb = buf(be, "b", bias);
            FloatBuf all = be.allocFloat("all", N * OC);
            run(be, be.matmulForward(all, bx, bw, bb, N, C, OC));
            float[] batched = read(be, all);
            for (int n : new int[]{0, 1, 17, 127, 128, N - 1}) {
                for (int rows = 1; rows < Linear.FEW_ROWS && n + rows <= N; rows++) {
                    float[] part = java.util.Arrays.copyOfRange(x, n * C, (n + rows) * C);
                    FloatBuf px = buf(be, "px", part), out = be.allocFloat("out", rows * OC);
                    run(be, be.matmulForward(out, px, bw, bb, rows, C, OC));
                    float[] got = read(be, out);
                    for (int i = 0; i < rows * OC; i++) {
                        assertEquals(Float.floatToRawIntBits(batched[n * OC + i]), Float.floatToRawIntBits(got[i]),
                                "row " + n + " + " + i / OC + ", channel " + i % OC);
                    }
                }
            }
        }
    }

    /** The vectorised ReLU gives the reference's bits, including -0, exact zeros and a scalar tail. */
    @Test
    void reluMatchesTheReferenceBitForBit() {
        int n = 16 * 37 + 5;
        Random rnd = new Random(3);
        float[] x = randn(rnd, n, 1), d = randn(rnd, n, 1), g0 = randn(rnd, n, 1);
        x[0] = -0f;
        x[1] = 0f;
        x[n - 1] = -0f;
        Map<String, float[]> got = new java.util.HashMap<>(), want = new java.util.HashMap<>();
        for (Backend be : new Backend[]{new CpuBackend(2), new ReferenceBackend(1)}) {
            try (be) {
                FloatBuf in = buf(be, "x", x), out = be.allocFloat("out", n), dout = buf(be, "d", d), g = buf(be, "g", g0);
                run(be, be.reluForward(out, in, n), be.reluBackward(g, out, dout, n));
                Map<String, float[]> m = be instanceof CpuBackend ? got : want;
                m.put("relu_forward", read(be, out));
                m.put("relu_backward", read(be, g));
            }
        }
        for (String k : want.keySet()) {
            float[] a = want.get(k), b = got.get(k);
            for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]), k + "[" + i + "]");
            }
        }
    }

    /** Vectorised LayerNorm (float sums) against the reference (double sums), widths with a scalar tail. */
    @Test
    void layerNormMatchesTheReference() {
        for (int C : new int[]{5, 37, 64, 100, 384}) {
            int N = 23;
            Random rnd = new Random(C);
            float[] x = randn(rnd, N * C, 2), w = randn(rnd, C, 1), b = randn(rnd, C, 1), d = randn(rnd, N * C, 1);
            float[] dx0 = randn(rnd, N * C, 1), dw0 = randn(rnd, C, 1), db0 = randn(rnd, C, 1);
            Map<String, float[]> got = new java.util.HashMap<>(), want = new java.util.HashMap<>();
            for (Backend be : new Backend[]{new CpuBackend(3), new ReferenceBackend(1)}) {
                try (be) {
                    FloatBuf bx = buf(be, "x", x), bw = buf(be, "w", w), bb = buf(be, "b", b), bd = buf(be, "d", d);
                    FloatBuf out = be.allocFloat("out", N * C), mean = be.allocFloat("m", N), rstd = be.allocFloat("r", N);
                    FloatBuf dx = buf(be, "dx", dx0), dw = buf(be, "dw", dw0), db = buf(be, "db", db0);
                    run(be, be.layerNormForward(out, mean, rstd, bx, bw, bb, N, C),
                            be.layerNormBackward(dx, dw, db, bd, bx, bw, mean, rstd, N, C));
                    Map<String, float[]> m = be instanceof CpuBackend ? got : want;
                    m.put("out", read(be, out));
                    m.put("rstd", read(be, rstd));
                    m.put("dinp", minus(read(be, dx), dx0));
                    m.put("dw", minus(read(be, dw), dw0));
                    m.put("db", minus(read(be, db), db0));
                }
            }
            for (String k : want.keySet()) {
                double err = relErr(got.get(k), want.get(k));
                assertTrue(err < TOL, "C=" + C + " " + k + ": " + err);
            }
        }
    }

    /**
     * The same launch gives the same bits before and after the JIT compiles it: a reduction whose
     * order the Vector API leaves open (reduceLanes) once made whole runs differ from run to run.
     */
    @Test
    void resultsDoNotChangeWhenTheJitCompilesTheKernels() {
        int N = 4, C = 64;
        Random rnd = new Random(9);
        try (Backend be = new CpuBackend(1)) {
            FloatBuf x = buf(be, "x", randn(rnd, N * C, 2)), w = buf(be, "w", randn(rnd, C, 1)), b = buf(be, "b", randn(rnd, C, 1));
            FloatBuf d = buf(be, "d", randn(rnd, N * C, 1)), out = be.allocFloat("out", N * C);
            FloatBuf mean = be.allocFloat("m", N), rstd = be.allocFloat("r", N), dx = be.allocFloat("dx", N * C);
            FloatBuf dw = be.allocFloat("dw", C), db = be.allocFloat("db", C);
            org.gptjvm.engine.Program p = be.compile("ln", List.of(be.zero(List.of(dx, dw, db)),
                    be.layerNormForward(out, mean, rstd, x, w, b, N, C),
                    be.layerNormBackward(dx, dw, db, d, x, w, mean, rstd, N, C)));
            p.run();
            float[][] first = {read(be, out), read(be, dx), read(be, dw)};
            for (int i = 0; i < 30_000; i++) {
                p.run();
            }
            float[][] later = {read(be, out), read(be, dx), read(be, dw)};
            for (int k = 0; k < first.length; k++) {
                assertTrue(Arrays.equals(first[k], later[k]), "output " + k + " changed after warm-up");
            }
        }
    }
}
