package org.gptjvm.tornado;

import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.IntBuf;
import org.gptjvm.tornado.DeviceLaunch.Task;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.ArrayList;
import java.util.List;

import static org.gptjvm.tornado.Grids.dims;
import static org.gptjvm.tornado.Grids.perElement;
import static org.gptjvm.tornado.OpContext.o;
import static org.gptjvm.tornado.OpContext.spans;

/**
 * Token and position embeddings: forward, backward, and one token for decoding, one work-item per
 * element. The backward sums each token's rows in order from the batch grouped by token, which the
 * host makes from the token ids it writes.
 */
final class EmbeddingOp {
    private EmbeddingOp() {
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
     * (token, channel). {@code byToken} is the batch grouped by token ({@link #groupByToken}).
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

    /** into = V + 1 offsets, then the rows of each token in increasing order (a counting sort). */
    static void groupByToken(int[] ids, int V, IntArray into) {
        int[] start = new int[V + 1];
        for (int id : ids) {
            start[id + 1]++;
        }
        for (int v = 0; v < V; v++) {
            start[v + 1] += start[v];
        }
        for (int v = 0; v <= V; v++) {
            into.set(v, start[v]);
        }
        for (int bt = 0; bt < ids.length; bt++) {
            into.set(V + 1 + start[ids[bt]]++, bt);
        }
    }

    static DeviceLaunch forward(OpContext ctx, FloatBuf out, IntBuf idx, FloatBuf wte, FloatBuf wpe, int B, int T, int C) {
        int ou = o(out), e = o(wte), p = wpe == null ? 0 : o(wpe), hasPos = wpe == null ? 0 : 1;
        IntArray ix = OpContext.ints(idx);
        return new DeviceLaunch("encoder_forward", List.of(new Task(
                (g, id, mem, args) -> g.task(id, EmbeddingOp::encoderForward, mem, ou, ix, e, p, B * T, T, C, hasPos), null,
                perElement("encoder_forward", dims((long) B * T, C, 1), (double) B * T * C, 4.0 * B * T * C * (1 + hasPos),
                        4.0 * B * T * C))), List.of(ix), spans(wte, wpe), spans(out));
    }

    static DeviceLaunch backward(OpContext ctx, FloatBuf dwte, FloatBuf dwpe, FloatBuf dout, IntBuf idx, int B, int T, int C) {
        int de = o(dwte), d = o(dout), V = dwte.size() / C, BT = B * T;
        // the batch grouped by token, from the host's token ids at every write: no work-item walks the batch
        IntArray byToken = ctx.arena.derive(idx, "by_token", V + 1 + BT, (ids, into) -> groupByToken(ids, V, into));
        List<Task> tasks = new ArrayList<>();
        tasks.add(new Task((g, id, mem, args) -> g.task(id, EmbeddingOp::encoderBackwardWte, mem, de, d, byToken, V, C), null,
                perElement("encoder_backward_wte", dims(V, C, 1), (double) BT * C, 4.0 * BT * C + 4.0 * V * C, 4.0 * V * C)));
        if (dwpe != null) {
            int dp = o(dwpe);
            tasks.add(new Task((g, id, mem, args) -> g.task(id, EmbeddingOp::encoderBackwardWpe, mem, dp, d, B, T, C), null,
                    perElement("encoder_backward_wpe", dims(T, C, 1), (double) BT * C, 4.0 * BT * C, 4.0 * T * C)));
        }
        return new DeviceLaunch("encoder_backward", tasks, List.of(byToken), spans(dout, dwte, dwpe), spans(dwte, dwpe));
    }

    static DeviceLaunch token(OpContext ctx, FloatBuf out, IntBuf tokPos, FloatBuf wte, FloatBuf wpe, int C) {
        int ou = o(out), e = o(wte), p = wpe == null ? 0 : o(wpe), hasPos = wpe == null ? 0 : 1;
        IntArray tp = OpContext.ints(tokPos);
        return new DeviceLaunch("embed_token", List.of(new Task((g, id, mem, args) -> g.task(id, EmbeddingOp::embedToken, mem,
                ou, tp, e, p, C, hasPos), null, perElement("embed_token", dims(C, 1, 1), C, 8.0 * C, 4.0 * C))), List.of(tp),
                spans(wte, wpe), spans(out));
    }
}
