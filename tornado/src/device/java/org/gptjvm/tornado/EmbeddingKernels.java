package org.gptjvm.tornado;

import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/** Token and position embeddings: forward, backward, and one token for decoding. */
public final class EmbeddingKernels {
    private EmbeddingKernels() {
    }

    public static void encoderForward(FloatArray mem, int out, IntArray idx, int wte, int wpe, int BT, int T, int C, int hasPos) {
        for (@Parallel int bt = 0; bt < BT; bt++) {
            for (@Parallel int c = 0; c < C; c++) {
                float pos = hasPos == 1 ? mem.get(wpe + (bt % T) * C + c) : 0f;
                mem.set(out + bt * C + c, mem.get(wte + idx.get(bt) * C + c) + pos);
            }
        }
    }

    /**
     * dwte[v, c] += the sum of dout over the rows whose token is v, rows in order: one work-item per
     * (token, channel). {@code byToken} is the batch grouped by token, made by the host: V + 1
     * offsets, then the row numbers of token 0, of token 1, ... each in increasing order.
     */
    public static void encoderBackwardWte(FloatArray mem, int dwte, int dout, IntArray byToken, int V, int C) {
        for (@Parallel int v = 0; v < V; v++) {
            for (@Parallel int c = 0; c < C; c++) {
                float s = 0f;
                for (int k = byToken.get(v); k < byToken.get(v + 1); k++) {
                    s += mem.get(dout + byToken.get(V + 1 + k) * C + c);
                }
                mem.set(dwte + v * C + c, mem.get(dwte + v * C + c) + s);
            }
        }
    }

    public static void encoderBackwardWpe(FloatArray mem, int dwpe, int dout, int B, int T, int C) {
        for (@Parallel int t = 0; t < T; t++) {
            for (@Parallel int c = 0; c < C; c++) {
                float s = mem.get(dwpe + t * C + c);
                for (int b = 0; b < B; b++) {
                    s += mem.get(dout + (b * T + t) * C + c);
                }
                mem.set(dwpe + t * C + c, s);
            }
        }
    }

    public static void embedToken(FloatArray mem, int out, IntArray tokPos, int wte, int wpe, int C, int hasPos) {
        for (@Parallel int c = 0; c < C; c++) {
            int tok = tokPos.get(0);
            float pos = hasPos == 1 ? mem.get(wpe + tokPos.get(1) * C + c) : 0f;
            mem.set(out + c, mem.get(wte + tok * C + c) + pos);
        }
    }
}
