package org.gptjvm.engine;

/**
 * A float buffer owned by a {@link Backend}. The model holds only these handles; the data lives
 * wherever the backend keeps it (a Java array, device memory), so a device backend never has to
 * copy per op.
 */
public interface FloatBuf {
    String name();

    int size();
}
