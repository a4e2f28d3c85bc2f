package org.gptjvm.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import static org.gptjvm.engine.cpu.Gemm.L;
import static org.gptjvm.engine.cpu.Gemm.S;

/**
 * ReLU without a branch: the sign of a pre-activation is a coin flip, so the reference loop's
 * branch mispredicts half the time. A lane-wise select and a masked add compute the same values.
 */
final class Relu {
    private Relu() {
    }

    /** out = max(inp, 0) on [from, to); the same values as the reference's branch (-0 and NaN give 0). */
    static void forward(float[] out, float[] inp, int from, int to) {
        int i = from;
        FloatVector zero = FloatVector.zero(S);
        for (; i + L <= to; i += L) {
            FloatVector x = FloatVector.fromArray(S, inp, i);
            zero.blend(x, x.compare(VectorOperators.GT, 0f)).intoArray(out, i);
        }
        for (; i < to; i++) {
            out[i] = inp[i] > 0f ? inp[i] : 0f;
        }
    }

    /**
     * d = 0 where out is not positive, on [from, to): a gradient of the ReLU's output made, in place,
     * that of its input (where out > 0, d stays as it is).
     */
    static void gate(float[] d, float[] out, int from, int to) {
        int i = from;
        FloatVector zero = FloatVector.zero(S);
        for (; i + L <= to; i += L) {
            var keep = FloatVector.fromArray(S, out, i).compare(VectorOperators.GT, 0f);
            zero.blend(FloatVector.fromArray(S, d, i), keep).intoArray(d, i);
        }
        for (; i < to; i++) {
            if (!(out[i] > 0f)) {
                d[i] = 0f;
            }
        }
    }
}
