package org.gptjvm.engine;

/**
 * One recorded kernel launch: a kernel bound to its buffers and sizes. Launches are created once,
 * when the model builds its schedule, and then run many times; running one allocates nothing.
 */
public interface Launch {
    /** Kernel name, for profiles and error messages. */
    String kernel();
}
