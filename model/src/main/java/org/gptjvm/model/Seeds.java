package org.gptjvm.model;

/**
 * One user seed, four independent streams: parameter init, batch offsets (shared by training and
 * estimate_loss, as the lecture's global torch RNG is), dropout masks and sampling. Separate streams
 * mean that, say, evaluating more often never changes the initial weights.
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

    public static Rng sample(long seed) {
        return new Rng(derive(seed, 4));
    }
}
