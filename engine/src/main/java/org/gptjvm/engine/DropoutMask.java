package org.gptjvm.engine;

/**
 * Dropout masks as a pure function of (seed, salt, index): a counter-based generator (the
 * SplitMix64 finaliser over a 64-bit key). Nothing is stored between forward and backward, any
 * thread or device work-item can compute any element, and the result never depends on the order of
 * evaluation, which keeps runs bit-for-bit reproducible for any thread count.
 */
public final class DropoutMask {
    private DropoutMask() {
    }

    /**
     * The seed buffer's ints: the seed's low and high words, then the row of the combined batch that
     * row 0 of this process's batch is (0 in one process; rank * B * T in a data-parallel run), so
     * that every process draws the masks one process on the combined batch would: element i of a
     * (rows, width) tensor has index firstRow * width + i, attention weight i (B,NH,T,T) index
     * {@link #attentionBase} + i.
     */
    public static final int SEED_INTS = 3, FIRST_ROW = 2;

    /** The mask index of a process's first attention weight: its first sequence's in the combined batch. */
    public static int attentionBase(int firstRow, int T, int NH) {
        return firstRow / T * NH * T * T;
    }

    /** The 64-bit seed stored in a two-int seed buffer (low word first). */
    public static long seed(int lo, int hi) {
        return ((long) hi << 32) | (lo & 0xffffffffL);
    }

    /** Uniform in [0, 1) with 24 random bits. */
    public static float uniform(long seed, int salt, int index) {
        long z = seed + 0x9E3779B97F4A7C15L * ((((long) salt) << 32) ^ (index & 0xffffffffL) ^ 0x632BE59BD9B4E019L);
        // x >>> k spelled (x >> k) & mask: the same bits in Java, and still right where a device
        // backend's generated code shifts signed longs arithmetically (device kernels call this too)
        z = (z ^ ((z >> 30) & 0x3FFFFFFFFL)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ ((z >> 27) & 0x1FFFFFFFFFL)) * 0x94D049BB133111EBL;
        z = z ^ ((z >> 31) & 0x1FFFFFFFFL);
        return (int) ((z >> 40) & 0xFFFFFFL) * 0x1.0p-24f;
    }

    /** The factor an element is multiplied by: 0 when dropped, 1/(1-p) when kept. */
    public static float scale(long seed, int salt, int index, float p) {
        return uniform(seed, salt, index) >= p ? 1.0f / (1.0f - p) : 0.0f;
    }
}
