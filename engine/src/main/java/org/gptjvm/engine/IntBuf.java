package org.gptjvm.engine;

/** An int buffer owned by a {@link Backend} (token ids, targets, RNG seeds). */
public interface IntBuf {
    String name();

    int size();
}
