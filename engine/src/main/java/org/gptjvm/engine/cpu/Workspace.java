package org.gptjvm.engine.cpu;

/**
 * One thread's scratch in the cpu backend: packed GEMM panels, and for attention K^T or V^T of a
 * head, a T x T gradient block, the T x T weights after dropout and their mask factors. Grown when
 * a launch is recorded, never while a program runs; the backend counts it in its memory figure.
 */
final class Workspace {
    float[] transposed = new float[0], grad = new float[0], dropped = new float[0], mask = new float[0];
    float[] panels = new float[0];
    /**
     * Attention by columns: Q^T of a head (rows padded to whole vectors), one block's weights with
     * a key per vector, and eight channels of its outputs.
     */
    float[] queries = new float[0], columns = new float[0], outputs = new float[0];
    /** Attention's backward by columns: one block's weights, weights after dropout, and mask factors. */
    float[] attColumns = new float[0], droppedColumns = new float[0], maskColumns = new float[0];

    /** T rounded up to whole vectors. */
    static int padded(int T) {
        return (T + Gemm.L - 1) / Gemm.L * Gemm.L;
    }

    /** Room for attention over T positions of head size hs. */
    void fit(int T, int hs) {
        if (transposed.length < hs * T) {
            transposed = new float[hs * T];
        }
        if (grad.length < T * T) {
            grad = new float[T * T];
            dropped = new float[T * T];
            mask = new float[T * T];
        }
        if (queries.length < hs * padded(T)) {
            queries = new float[hs * padded(T)];
        }
        if (columns.length < T * Gemm.L) {
            columns = new float[T * Gemm.L];
            outputs = new float[8 * Gemm.L];
            attColumns = new float[T * Gemm.L];
            droppedColumns = new float[T * Gemm.L];
            maskColumns = new float[T * Gemm.L];
        }
        fitPanels(Math.max(Gemm.panelFloats(hs, T), Gemm.panelFloats(T, hs)));
    }

    /** Room for {@code floats} of packed panels (see {@link Gemm#panelFloats}). */
    void fitPanels(int floats) {
        if (panels.length < floats) {
            panels = new float[floats];
        }
    }

    long bytes() {
        return 4L * (transposed.length + grad.length + dropped.length + mask.length + panels.length + queries.length
                + columns.length + outputs.length + attColumns.length + droppedColumns.length + maskColumns.length);
    }
}
