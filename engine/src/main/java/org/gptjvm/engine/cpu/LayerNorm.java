package org.gptjvm.engine.cpu;

import jdk.incubator.vector.FloatVector;
import org.gptjvm.engine.ref.RefKernels;

import static org.gptjvm.engine.cpu.Gemm.L;
import static org.gptjvm.engine.cpu.Gemm.S;
import static org.gptjvm.engine.cpu.VectorMath.sumLanes;

/**
 * LayerNorm forward and backward in float vectors: every sum runs in lanes and then adds the lanes
 * in order (see {@link VectorMath#sumLanes}), so each row or channel has one summation order.
 */
final class LayerNorm {
    private LayerNorm() {
    }

    /**
     * LayerNorm rows [from, to) with float vector sums (lanes, then the lanes in order), as RefKernels does
     * it in double: mean, biased variance, (x - mean) * rstd * w + b. Each row has one owner.
     */
    static void forward(float[] out, float[] mean, float[] rstd, float[] inp, float[] w, float[] b, int C,
                                 int from, int to) {
        int cv = C - C % L;
        for (int n = from; n < to; n++) {
            int x = n * C;
            FloatVector acc = FloatVector.zero(S);
            for (int c = 0; c < cv; c += L) {
                acc = acc.add(FloatVector.fromArray(S, inp, x + c));
            }
            float sum = sumLanes(acc);
            for (int c = cv; c < C; c++) {
                sum += inp[x + c];
            }
            float m = sum / C;
            FloatVector mv = FloatVector.broadcast(S, m);
            FloatVector sq = FloatVector.zero(S);
            for (int c = 0; c < cv; c += L) {
                FloatVector d = FloatVector.fromArray(S, inp, x + c).sub(mv);
                sq = d.fma(d, sq);
            }
            float var = sumLanes(sq);
            for (int c = cv; c < C; c++) {
                float d = inp[x + c] - m;
                var += d * d;
            }
            float s = (float) (1.0 / Math.sqrt(var / C + RefKernels.LN_EPS));
            FloatVector sv = FloatVector.broadcast(S, s);
            for (int c = 0; c < cv; c += L) {
                FloatVector.fromArray(S, inp, x + c).sub(mv).mul(sv).fma(FloatVector.fromArray(S, w, c),
                        FloatVector.fromArray(S, b, c)).intoArray(out, x + c);
            }
            for (int c = cv; c < C; c++) {
                out[x + c] = (inp[x + c] - m) * s * w[c] + b[c];
            }
            mean[n] = m;
            rstd[n] = s;
        }
    }

    /** LayerNorm's input gradient for rows [from, to) (the reference's, in float lanes). */
    static void backwardInput(float[] dinp, float[] dout, float[] inp, float[] w, float[] mean, float[] rstd,
                                       int C, int from, int to) {
        int cv = C - C % L;
        for (int n = from; n < to; n++) {
            int x = n * C;
            float m = mean[n], s = rstd[n];
            FloatVector mv = FloatVector.broadcast(S, m), sv = FloatVector.broadcast(S, s);
            FloatVector a1 = FloatVector.zero(S), a2 = FloatVector.zero(S);
            for (int c = 0; c < cv; c += L) {
                FloatVector norm = FloatVector.fromArray(S, inp, x + c).sub(mv).mul(sv);
                FloatVector dnorm = FloatVector.fromArray(S, w, c).mul(FloatVector.fromArray(S, dout, x + c));
                a1 = a1.add(dnorm);
                a2 = dnorm.fma(norm, a2);
            }
            float sumDnorm = sumLanes(a1);
            float sumDnormNorm = sumLanes(a2);
            for (int c = cv; c < C; c++) {
                float norm = (inp[x + c] - m) * s;
                float dnorm = w[c] * dout[x + c];
                sumDnorm += dnorm;
                sumDnormNorm += dnorm * norm;
            }
            float dnormMean = sumDnorm / C, dnormNormMean = sumDnormNorm / C;
            FloatVector dm = FloatVector.broadcast(S, dnormMean), dnm = FloatVector.broadcast(S, dnormNormMean);
            for (int c = 0; c < cv; c += L) {
                FloatVector norm = FloatVector.fromArray(S, inp, x + c).sub(mv).mul(sv);
                FloatVector dnorm = FloatVector.fromArray(S, w, c).mul(FloatVector.fromArray(S, dout, x + c));
                dnorm.sub(dm).sub(norm.mul(dnm)).fma(sv, FloatVector.fromArray(S, dinp, x + c)).intoArray(dinp, x + c);
            }
            for (int c = cv; c < C; c++) {
                float norm = (inp[x + c] - m) * s;
                float dnorm = w[c] * dout[x + c];
                dinp[x + c] += (dnorm - dnormMean - norm * dnormNormMean) * s;
            }
        }
    }

    /**
     * LayerNorm's weight and bias gradients for channels [from, to): rows summed in order, a vector
     * of channels at a time (so every channel's sum has one order whatever the split).
     */
    static void backwardParams(float[] dw, float[] db, float[] dout, float[] inp, float[] mean, float[] rstd,
                                        int N, int C, int from, int to) {
        int c = from;
        for (; c + L <= to; c += L) {
            FloatVector sw = FloatVector.zero(S), sb = FloatVector.zero(S);
            for (int n = 0; n < N; n++) {
                FloatVector d = FloatVector.fromArray(S, dout, n * C + c);
                FloatVector norm = FloatVector.fromArray(S, inp, n * C + c).sub(mean[n]).mul(rstd[n]);
                sw = d.fma(norm, sw);
                sb = sb.add(d);
            }
            FloatVector.fromArray(S, dw, c).add(sw).intoArray(dw, c);
            FloatVector.fromArray(S, db, c).add(sb).intoArray(db, c);
        }
        for (; c < to; c++) {
            float sw = 0f, sb = 0f;
            for (int n = 0; n < N; n++) {
                float d = dout[n * C + c];
                sw = Math.fma(d, (inp[n * C + c] - mean[n]) * rstd[n], sw);
                sb += d;
            }
            dw[c] += sw;
            db[c] += sb;
        }
    }
}
