package org.gptjvm.engine;

/**
 * A compiled schedule of launches (a forward pass, a whole training step). A host backend runs the
 * launches in order; a device backend may turn it into task graphs that stay resident.
 */
public interface Program {
    String name();

    void run();
}
