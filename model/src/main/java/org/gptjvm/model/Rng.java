package org.gptjvm.model;

/**
 * SplitMix64: a tiny, fast generator whose whole state is one long, so it can be saved in a
 * checkpoint and resumed exactly. Used for initialisation, batch offsets, dropout seeds and sampling;
 * each use has its own generator so that, say, sampling more text never changes the training data.
 */
public final class Rng {
    private long state;

    public Rng(long seed) {
        this.state = seed;
    }

    public long state() {
        return state;
    }

    public void setState(long state) {
        this.state = state;
    }

    public long nextLong() {
        long z = (state += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Uniform in [0, bound), without modulo bias (rejection sampling over 63-bit draws). */
    public int nextInt(int bound) {
        if (bound <= 0) {
            throw new IllegalArgumentException("bound must be positive: " + bound);
        }
        while (true) {
            long r = nextLong() >>> 1;
            long m = r % bound;
            if (r - m + (bound - 1) >= 0) { // the draw's bucket is complete: no bias
                return (int) m;
            }
        }
    }

    /** Uniform in [0, 1) with 53 random bits. */
    public double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    /** Standard normal by Box-Muller; uses two draws per value so the state stays a single long. */
    public double nextGaussian() {
        double u1 = 1.0 - nextDouble(); // (0, 1]: log is finite
        double u2 = nextDouble();
        return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2);
    }
}
