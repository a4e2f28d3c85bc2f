package org.gptjvm.engine;

import java.util.List;

/** A way to create a backend, found by name; registered with {@link java.util.ServiceLoader}. */
public interface BackendProvider {
    String name();

    /** Higher is faster; the default backend is the fastest one present. */
    int speedRank();

    Backend create(int threads);

    /**
     * A backend on the device selected by {@code device} (as listed by {@link #devices()}); null
     * means the default one. Host backends have no devices to choose from.
     */
    default Backend create(int threads, String device) {
        if (device != null) {
            throw new GptException("the " + name() + " backend runs on this machine's CPU cores; --device is for the "
                    + "tornado backend");
        }
        return create(threads);
    }

    /** One line per device this backend can run on, in selection order (for {@code gpt devices}). */
    default List<String> devices() {
        return List.of("this machine's CPU: " + Runtime.getRuntime().availableProcessors() + " cores");
    }
}
