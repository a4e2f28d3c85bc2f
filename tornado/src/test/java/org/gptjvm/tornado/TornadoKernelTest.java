package org.gptjvm.tornado;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.Backends;
import org.gptjvm.engine.FloatBlock;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.Program;
import org.gptjvm.engine.conformance.Conformance;
import org.gptjvm.engine.conformance.Conformance.Case;
import org.gptjvm.engine.conformance.Conformance.Shape;
import org.gptjvm.engine.conformance.KernelConformance;
import org.gptjvm.engine.device.DeviceDiagnostics;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What is the tornado backend's own beyond the conformance suite (which every backend runs, see
 * TornadoKernelConformanceTest): where the second passes of long sums that wait for later launches
 * run. Runs with -Dtornado.recover.bailout=False, so a kernel TornadoVM cannot compile fails here
 * instead of running on the JVM.
 */
class TornadoKernelTest {

    @BeforeAll
    static void runtime() {
        assertTrue(System.getProperty("tornado.load.runtime.implementation") != null, "not running under TornadoVM's flags");
    }

    /**
     * When the tornado backend runs the second passes of long sums that wait for later launches: once
     * for a backward over distinct gradients, and before a launch that adds into a gradient a waiting
     * pass writes (two launches into one gradient race otherwise, which PoCL's two threads hardly show),
     * or that runs again. Reads the recorded plan; runs nothing.
     */
    @Test
    void waitingSumsRunBeforeWhatTouchesTheirGradients() {
        Shape s = new Shape(2, 256, 64, 4, 65); // 512 rows: the weight gradients are split along k
        int N = s.B() * s.T(), C = s.C(), OC = 3 * C + 1;
        try (Backend be = Backends.create("tornado", 1)) {
            Case c = new Case(be, 7);
            FloatBuf x = c.in("x", N * C, 1), w = c.in("w", OC * C, 0.3), d = c.in("dout", N * OC, 1);
            FloatBlock grads = c.outBlock("grads", OC * C, OC, OC * C, OC);
            FloatBuf dw1 = grads.part(0), db1 = grads.part(1), dw2 = grads.part(2), db2 = grads.part(3);
            FloatBuf dx = c.out("dx", N * C);
            FloatBuf lnW = c.in("ln.w", C, 1), mean = c.out("ln.mean", N), rstd = c.out("ln.rstd", N);
            Launch a = be.matmulBackward(dx, dw1, db1, d, x, w, N, C, OC);
            Launch other = be.matmulBackward(null, dw2, db2, d, x, w, N, C, OC);
            Launch same = be.matmulBackward(null, dw1, db1, d, x, w, N, C, OC);
            Launch ln = be.layerNormBackward(c.out("ln.dx", N * C), c.out("ln.dw", C), c.out("ln.db", C), dx, x, lnW,
                    mean, rstd, N, C);
            assertEquals(1, sumsLaunches(be, be.compile("distinct", List.of(a, ln, other))));
            assertEquals(2, sumsLaunches(be, be.compile("one gradient twice", List.of(a, same))));
            assertEquals(2, sumsLaunches(be, be.compile("run twice", List.of(a, a))));
            assertEquals(2, sumsLaunches(be, be.compile("norm between", List.of(a, be.sumOfSquares(c.out("sq", 1), grads),
                    other))));
        }
    }

    private static long sumsLaunches(Backend be, Program p) {
        return ((DeviceDiagnostics) be).plan(p).stream().filter(l -> l.kernel().equals("backward_sums")).count();
    }


    /**
     * The products as the PTX route compiles them, on this device: the wide GEMM multiplies 4 k of a
     * slice per pass of its loop (Gemm.kStep: by route, and this device's OpenCL takes 2), and every
     * staged read's index is masked (Gemm.masksIndices: by route, none on OpenCL). Every kernel against
     * the reference on the suite's shapes that have wide and tall products (their edges, and K of 65 and
     * 100, included).
     */
    @Test
    void thePtxRoutesProductsGiveTheReferencesResults() {
        System.setProperty("gpt.tornado.wideKStep", "4");
        System.setProperty("gpt.tornado.indexMask", "true");
        try {
            for (Shape s : List.of(new Shape(2, 256, 384, 6, 65), new Shape(3, 70, 100, 5, 65), new Shape(1, 136, 48, 2, 65))) {
                Conformance.assertMatchesReference("tornado", s + " PTX route's products", s.hashCode(),
                        c -> KernelConformance.everything(c, s));
            }
        } finally {
            System.clearProperty("gpt.tornado.wideKStep");
            System.clearProperty("gpt.tornado.indexMask");
        }
    }

    /**
     * Attention's scratch rows (dropout(att), dS) are written past the diagonal only as far as its
     * triangular products read them: an attention of shorter rows after a longer one, whose values are
     * left in the shared scratch where the shorter rows' layout puts nothing, gives the reference's
     * results (rows of 150 after 200: 128-row tiles, rows before 128 written to 128 only).
     */
    @Test
    void attentionReadsNoScratchPastWhatItWrote() {
        Conformance.assertMatchesReference("tornado", "attention after a longer one", 77, c -> {
            List<Launch> l = new ArrayList<>();
            for (int T : new int[]{200, 150}) {
                int B = 1, C = 48, NH = 2, N = B * T;
                FloatBuf qkv = c.in("qkv T" + T, N * 3 * C, 1), d = c.in("dout T" + T, N * C, 1);
                IntBuf seed = c.ints("seed T" + T, new int[]{0x1234567, 0x7654321, 0});
                FloatBuf att = c.out("att T" + T, B * NH * T * T);
                l.add(c.be.attentionForward(c.out("out T" + T, N * C), att, qkv, seed, 0.25f, 5, B, T, C, NH));
                l.add(c.be.attentionBackward(c.out("dqkv T" + T, N * 3 * C), d, qkv, att, seed, 0.25f, 5, B, T, C, NH));
            }
            return l;
        });
    }

    /** The device's memory, for checking a model against before it is allocated: what the driver reports. */
    @Test
    void theDeviceReportsItsMemory() {
        try (Backend be = Backends.create("tornado", 1)) {
            long bytes = be.deviceMemory();
            assertTrue(bytes > (1L << 20) && bytes < Long.MAX_VALUE, "device memory " + bytes);
        }
    }
}
