package org.gptjvm.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import static org.gptjvm.engine.cpu.Gemm.L;
import static org.gptjvm.engine.cpu.Gemm.S;

/**
 * Softmax and cross-entropy over the vocabulary, lanes at a time: the exp and the sum are
 * {@link VectorMath#expSum}'s, as in attention's softmax (not Math.exp once per logit, as the
 * reference's loop), so a row has one result on every thread count.
 */
final class Loss {
    private Loss() {
    }

    /**
     * Rows [from,to) of N: probs = softmax(logits) and losses = -log probs[target], the latter in the
     * log-sum-exp form (log sum - (logit - max)), exact even when the target's probability underflows.
     */
    static void crossEntropyForward(float[] losses, float[] probs, float[] logits, int[] targets, int V, int from,
                                    int to) {
        for (int n = from; n < to; n++) {
            int x = n * V;
            FloatVector mx = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (int v = 0; v < V; v += L) {
                VectorMask<Float> m = S.indexInRange(v, V);
                mx = mx.lanewise(VectorOperators.MAX, FloatVector.fromArray(S, logits, x + v, m), m);
            }
            float max = mx.reduceLanes(VectorOperators.MAX);
            float sum = VectorMath.expSum(logits, x, probs, x, V, max);
            VectorMath.scale(probs, x, V, 1f / sum);
            losses[n] = (float) (Math.log(sum) - (logits[x + targets[n]] - max));
        }
    }
}
