package org.gptjvm.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import org.gptjvm.engine.DropoutMask;

/**
 * {@link DropoutMask}'s counter-based hash, a vector of keys at a time. The hash is three 64-bit
 * multiplies per element and attention hashes every weight of its causal triangle, forward and
 * backward, so one key at a time would dominate attention. Every operation here is exact integer
 * arithmetic or an exact conversion, so each lane is {@link DropoutMask#scale} bit for bit, in the
 * interpreter and once compiled.
 */
final class DropoutKernels {
    private static final VectorSpecies<Long> LS = LongVector.SPECIES_PREFERRED;
    /** Floats with as many lanes as LS: the hash's 24-bit results are converted lane for lane. */
    private static final VectorSpecies<Float> FS =
            VectorSpecies.of(float.class, VectorShape.forBitSize(LS.length() * Float.SIZE));
    private static final int N = LS.length();
    private static final LongVector IOTA = LongVector.zero(LS).addIndex(1);

    private DropoutKernels() {
    }

    /** The factors for elements index .. index + N - 1: 0 when dropped, 1/(1-p) when kept. */
    private static FloatVector scales(long seed, int salt, int index, float p, float keep) {
        LongVector key = IOTA.add(index & 0xffffffffL).lanewise(VectorOperators.XOR, (((long) salt) << 32) ^ 0x632BE59BD9B4E019L);
        LongVector z = key.mul(0x9E3779B97F4A7C15L).add(seed);
        z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 30)).mul(0xBF58476D1CE4E5B9L);
        z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 27)).mul(0x94D049BB133111EBL);
        z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 31));
        FloatVector u = ((FloatVector) z.lanewise(VectorOperators.LSHR, 40).convertShape(VectorOperators.L2F, FS, 0))
                .mul(0x1.0p-24f);
        return FloatVector.zero(FS).blend(keep, u.compare(VectorOperators.GE, p));
    }

    /** dst[off + i] = DropoutMask.scale(seed, salt, index + i, p) for i in [0, n). */
    static void scales(float[] dst, int off, int n, long seed, int salt, int index, float p) {
        float keep = 1.0f / (1.0f - p);
        int i = 0;
        for (; i + N <= n; i += N) {
            scales(seed, salt, index + i, p, keep).intoArray(dst, off + i);
        }
        for (; i < n; i++) {
            dst[off + i] = DropoutMask.scale(seed, salt, index + i, p);
        }
    }

    /** out = inp * mask on [from, to): RefKernels.dropoutForward. */
    static void forward(float[] out, float[] inp, long seed, int base, float p, int salt, int from, int to) {
        float keep = 1.0f / (1.0f - p);
        int i = from;
        for (; i + N <= to; i += N) {
            FloatVector.fromArray(FS, inp, i).mul(scales(seed, salt, base + i, p, keep)).intoArray(out, i);
        }
        for (; i < to; i++) {
            out[i] = inp[i] * DropoutMask.scale(seed, salt, base + i, p);
        }
    }

    /** dinp += dout * mask on [from, to): RefKernels.dropoutBackward. */
    static void backward(float[] dinp, float[] dout, long seed, int base, float p, int salt, int from, int to) {
        float keep = 1.0f / (1.0f - p);
        int i = from;
        for (; i + N <= to; i += N) {
            FloatVector d = FloatVector.fromArray(FS, dout, i).mul(scales(seed, salt, base + i, p, keep));
            FloatVector.fromArray(FS, dinp, i).add(d).intoArray(dinp, i);
        }
        for (; i < to; i++) {
            dinp[i] += dout[i] * DropoutMask.scale(seed, salt, base + i, p);
        }
    }
}
