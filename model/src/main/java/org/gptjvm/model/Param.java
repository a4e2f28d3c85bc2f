package org.gptjvm.model;

import org.gptjvm.engine.FloatBuf;

/**
 * One trainable tensor and its gradient, parts of {@link GptParams}' two blocks.
 *
 * @param name  our name (PyTorch's state_dict name where the layouts agree)
 * @param shape its shape, row-major, PyTorch's layout
 * @param init  how {@link GptParams#initialize} fills it
 */
public record Param(String name, int[] shape, Init init, FloatBuf value, FloatBuf grad) {

    public enum Init { NORMAL, ZEROS, ONES }

    public int size() {
        return value.size();
    }
}
