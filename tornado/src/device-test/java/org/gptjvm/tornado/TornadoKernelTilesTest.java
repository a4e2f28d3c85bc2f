package org.gptjvm.tornado;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The products' choice of kernel by shape ({@link Gemm#tile}), their index mask
 * ({@link Gemm#indexMask}) and the column sums' row chunks ({@link Grids#chunks}); computes nothing.
 * Beside the backend's classes (src/device-test), which only a build with TornadoVM compiles.
 */
class TornadoKernelTilesTest {

    /**
     * Which kernel a launch's products get, by shape (the tests set
     * gpt.tornado.wideMinGroups to 1, so the work-group counts do not decide here): 128 x 128 tiles where
     * every C fills them; 128 x 64 where every C has more than 64 rows (lm_head's weight gradient, as many
     * rows as the vocabulary, included); else 64 x 64.
     */
    @Test
    void tilesFollowTheShapes() {
        Gemm.Call lmHeadDw = new Gemm.Call().shape(65, 384, 16384), lmHeadDinp = new Gemm.Call().shape(16384, 384, 65);
        Gemm.Call perHead = new Gemm.Call().shape(256, 64, 256), narrow = new Gemm.Call().shape(64, 384, 1536);
        assertEquals(Gemm.TALL, Gemm.tile(List.of(lmHeadDw)));
        assertEquals(Gemm.WIDE, Gemm.tile(List.of(lmHeadDinp)));
        assertEquals(Gemm.TALL, Gemm.tile(List.of(perHead)));
        assertEquals(Gemm.TILE, Gemm.tile(List.of(narrow)));
        assertEquals(Gemm.TILE, Gemm.tile(List.of(perHead, narrow)));
    }

    /**
     * A column sum's kernels take ceil(N / chunks) rows a chunk and count the chunks again from that;
     * the launch's count must be theirs, else partial sums go unwritten or land in the next job's
     * (LayerNorm's bias gradient was wrong for 520 rows of 520 channels: 126 chunks launched, 104 written).
     */
    @Test
    void columnSumChunksAreTheKernelsCount() {
        assertEquals(104, Grids.chunks(520, 520));
        assertEquals(171, Grids.chunks(16384, 384));
        assertEquals(964, Grids.chunks(16384, 65));
        for (int n = 1; n <= 3000; n += 7) {
            for (int cols : new int[]{1, 3, 64, 65, 100, 384, 520, 1536, 100_000}) {
                int chunks = Grids.chunks(n, cols), rows = (n + chunks - 1) / chunks;
                assertEquals(chunks, (n + rows - 1) / rows, n + " rows of " + cols);
            }
        }
    }

    /** The index mask holds every index of an arena and no more bits than that needs (at most 31). */
    @Test
    void theIndexMaskCoversTheArena() {
        assertEquals(1, Gemm.indexMask(1));
        assertEquals(1, Gemm.indexMask(2));
        assertEquals(3, Gemm.indexMask(3));
        assertEquals(0x3fffffff, Gemm.indexMask(1L << 30));
        assertEquals(0x7fffffff, Gemm.indexMask((1L << 30) + 1));
        assertEquals(0x7fffffff, Gemm.indexMask(Integer.MAX_VALUE));
        for (long floats : new long[]{5, 1000, 1 << 20, 967_000_000L}) {
            int mask = Gemm.indexMask(floats);
            assertEquals(floats - 1, (floats - 1) & mask, "mask " + mask + " for " + floats);
            assertTrue(mask >>> 1 < floats - 1, "mask " + mask + " is not the least for " + floats);
        }
    }
}
