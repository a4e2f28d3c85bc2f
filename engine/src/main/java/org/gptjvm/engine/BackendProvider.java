package org.gptjvm.engine;

import java.util.List;

/**
 * A backend as {@link Backends} finds it: registered with {@link java.util.ServiceLoader}, it says
 * what it is, whether it can run in this JVM, how it ranks, and creates it. Asking any of this
 * except {@link #create} and {@link #devices} must not start a device runtime.
 */
public interface BackendProvider {

    /** Why a backend cannot run here: a short status for listings and the one-line error with the remedy. */
    record Absence(String status, String message) {
    }

    /** Short name as used on the command line. */
    String name();

    /** Higher is faster; {@link Backends#defaultProvider} is the fastest one present. */
    int speedRank();

    /** Null when this backend can be created in this JVM, else why not and how to get it. */
    default Absence absence() {
        return null;
    }

    /**
     * Whether this backend has an accelerator to run on here (a GPU, not a CPU): such a backend is
     * the default, ahead of the fastest host backend. Asked only when no backend is named; it may
     * start the device runtime.
     */
    default boolean acceleratesHere() {
        return false;
    }

    /**
     * Whether this backend runs on devices of its own (chosen with {@code --device}) rather than on
     * the host's cores.
     */
    default boolean hasDevices() {
        return false;
    }

    /**
     * A backend with {@code threads} host threads on the device {@code device} (as listed by
     * {@link #devices()}; null: its default). Only called when {@link #absence()} is null.
     */
    Backend create(int threads, String device);

    /** One line per device this backend can run on, in selection order (for {@code gpt devices}). */
    List<String> devices();
}
