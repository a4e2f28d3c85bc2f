package org.gptjvm.engine;

import java.util.List;

/**
 * Float buffers allocated together by {@link Backend#allocBlock}, as llm.c keeps all parameters in
 * one block: a backend with one memory (a device's arena) lays the parts end to end, so a launch over
 * the block, or over a run of its parts, touches one range. The model's parameters, their gradients
 * and AdamW's moments are four blocks of the same parts; the activation gradients zeroed together
 * each step are another.
 */
public record FloatBlock(String name, List<FloatBuf> parts) {

    public FloatBlock {
        parts = List.copyOf(parts);
    }

    public FloatBuf part(int i) {
        return parts.get(i);
    }

    /** Floats in all parts. */
    public long size() {
        return parts.stream().mapToLong(FloatBuf::size).sum();
    }

    /** Whether {@code other} has parts of the same sizes, in the same order. */
    public boolean sameShape(FloatBlock other) {
        if (other.parts.size() != parts.size()) {
            return false;
        }
        for (int i = 0; i < parts.size(); i++) {
            if (other.parts.get(i).size() != parts.get(i).size()) {
                return false;
            }
        }
        return true;
    }
}
