package org.gptjvm.engine;

/** A way to create a backend, found by name; registered with {@link java.util.ServiceLoader}. */
public interface BackendProvider {
    String name();

    /** Higher is faster; the default backend is the fastest one present. */
    int speedRank();

    Backend create(int threads);
}
