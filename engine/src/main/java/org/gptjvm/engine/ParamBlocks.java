package org.gptjvm.engine;

/**
 * What {@link Backend#adamw} updates: the parameters, their gradients and AdamW's two moments, four
 * {@link FloatBlock}s whose part i belongs to parameter i.
 */
public record ParamBlocks(FloatBlock values, FloatBlock grads, FloatBlock m, FloatBlock v) {

    public ParamBlocks {
        if (!values.sameShape(grads) || !values.sameShape(m) || !values.sameShape(v)) {
            throw new IllegalArgumentException("parameter blocks of different shapes: " + values.name() + ", "
                    + grads.name() + ", " + m.name() + ", " + v.name());
        }
    }

    /** Parameters in each block. */
    public int count() {
        return values.parts().size();
    }
}
