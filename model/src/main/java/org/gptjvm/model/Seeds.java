package org.gptjvm.model;

/**
 * One user seed, independent streams: parameter init, training batch offsets, dropout masks,
 * sampling, and the batches of each evaluation. The lecture draws everything from torch's one global
 * generator, so there evaluating more often changes the training batches; here estimate_loss at step
 * k uses its own stream, a function of (seed, k), so evaluations never perturb training, and a run
 * resumed from a checkpoint prints the same losses as an uninterrupted one.
 */
public final class Seeds {
    private Seeds() {
    }

    private static long derive(long seed, long stream) {
        return new Rng(seed ^ (stream * 0xD1B54A32D192ED03L)).nextLong();
    }

    public static Rng init(long seed) {
        return new Rng(derive(seed, 1));
    }

    public static Rng data(long seed) {
        return new Rng(derive(seed, 2));
    }

    public static Rng dropout(long seed) {
        return new Rng(derive(seed, 3));
    }

    /** The batches of the evaluation before training step {@code step}. */
    public static Rng evaluation(long seed, int step) {
        return new Rng(derive(derive(seed, 5), step));
    }

    public static Rng sample(long seed) {
        return new Rng(derive(seed, 4));
    }
}
