package org.gptjvm.model;

import org.gptjvm.engine.FloatBuf;

/**
 * One trainable tensor with its gradient and AdamW moments, all backend buffers.
 *
 * @param name  our name (PyTorch's state_dict name where the layouts agree)
 * @param shape its shape, row-major, PyTorch's layout
 * @param init  how {@link GptParams#initialize} fills it
 */
public record Param(String name, int[] shape, Init init, FloatBuf value, FloatBuf grad, FloatBuf m, FloatBuf v) {

    public enum Init { NORMAL, ZEROS, ONES }

    public int size() {
        return value.size();
    }
}
