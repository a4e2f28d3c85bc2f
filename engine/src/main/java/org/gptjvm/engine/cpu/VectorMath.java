package org.gptjvm.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import static org.gptjvm.engine.cpu.Gemm.L;
import static org.gptjvm.engine.cpu.Gemm.S;

/**
 * The two lane operations whose obvious Vector API form would make runs differ: a lane sum in a
 * fixed order, and an exp with the same bits in every lane, interpreted or compiled; and the
 * softmax steps built on them that attention and the loss share.
 */
final class VectorMath {
    private VectorMath() {
    }

    /**
     * The lanes of {@code v} added in lane order. Not reduceLanes(ADD): its order of additions is
     * unspecified and does differ between the interpreter and C2, which made runs non-reproducible.
     */
    static float sumLanes(FloatVector v) {
        float s = 0f;
        for (int l = 0; l < L; l++) {
            s += v.lane(l);
        }
        return s;
    }

    // exp(x) in float as Cephes' expf computes it: x = n ln2 + r with |r| <= ln2/2, a degree-6
    // polynomial for e^r (within 2 ulp), times 2^n built in the exponent bits. Only IEEE adds,
    // multiplies, FMAs and exact conversions, which the interpreter and C2 compute alike, so the
    // result has the same bits before and after JIT compilation (Math.exp per lane would not vectorise).
    private static final float LOG2E = 1.44269504088896341f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float ROUND = 12582912f; // 1.5 * 2^23: adding it rounds to an integer
    private static final float EXP_MIN = -87.33654f; // below, e^x is under the smallest normal float: 0
    private static final float P0 = 1.9875691500E-4f, P1 = 1.3981999507E-3f, P2 = 8.3334519073E-3f,
            P3 = 4.1665795894E-2f, P4 = 1.6666665459E-1f, P5 = 5.0000001201E-1f;

    /** e^x for x <= 0 (softmax's x - max); 0 below {@link #EXP_MIN}. */
    static FloatVector exp(FloatVector x) {
        FloatVector n = x.fma(LOG2E, ROUND).sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(S, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = r.fma(P0, P1).fma(r, FloatVector.broadcast(S, P2)).fma(r, FloatVector.broadcast(S, P3))
                .fma(r, FloatVector.broadcast(S, P4)).fma(r, FloatVector.broadcast(S, P5));
        FloatVector y = p.fma(r.mul(r), r).add(1f);
        FloatVector scale = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23)
                .reinterpretAsFloats();
        return y.mul(scale).blend(0f, x.compare(VectorOperators.LT, EXP_MIN));
    }

    /**
     * dst[dOff, dOff+n) = e^(src[sOff, sOff+n) - max) for max at least every src value, lanes at a
     * time (the last, partial vector masked); returns their sum, in lanes and then the lanes in order.
     */
    static float expSum(float[] src, int sOff, float[] dst, int dOff, int n, float max) {
        FloatVector mv = FloatVector.broadcast(S, max);
        FloatVector acc = FloatVector.zero(S);
        for (int i = 0; i < n; i += L) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector e = exp(FloatVector.fromArray(S, src, sOff + i, m).sub(mv));
            e.intoArray(dst, dOff + i, m);
            acc = acc.add(e, m);
        }
        return sumLanes(acc);
    }

    /** a[off, off+n) *= s. */
    static void scale(float[] a, int off, int n, float s) {
        FloatVector sv = FloatVector.broadcast(S, s);
        for (int i = 0; i < n; i += L) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector.fromArray(S, a, off + i, m).mul(sv).intoArray(a, off + i, m);
        }
    }
}
