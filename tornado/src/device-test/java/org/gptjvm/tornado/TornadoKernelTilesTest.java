package org.gptjvm.tornado;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The products' choice of kernel by shape ({@link Gemm#tile}, {@link Gemm#whole}) and the column sums'
 * row chunks ({@link Grids#chunks}); computes nothing.
 * Beside the backend's classes (src/device-test), which only a build with TornadoVM compiles.
 */
class TornadoKernelTilesTest {

    /**
     * Which kernel a launch's products get and whether it stages whole slices, by shape (the tests set
     * gpt.tornado.wideMinGroups to 1, so the work-group counts do not decide here): 128 x 128 tiles where
     * every C fills them; 128 x 64 where every C has more than 64 rows (lm_head's weight gradient, as many
     * rows as the vocabulary, included); else 64 x 64. Whole slices where every K and split-K slice is a
     * multiple of the kernel's slice depth (16, or 8 for wide tiles).
     */
    @Test
    void tilesAndWholeSlicesFollowTheShapes() {
        Gemm.Call lmHeadDw = new Gemm.Call().shape(65, 384, 16384), lmHeadDinp = new Gemm.Call().shape(16384, 384, 65);
        Gemm.Call perHead = new Gemm.Call().shape(256, 64, 256), narrow = new Gemm.Call().shape(64, 384, 1536);
        assertEquals(Gemm.TALL, Gemm.tile(List.of(lmHeadDw)));
        assertEquals(Gemm.WIDE, Gemm.tile(List.of(lmHeadDinp)));
        assertEquals(Gemm.TALL, Gemm.tile(List.of(perHead)));
        assertEquals(Gemm.TILE, Gemm.tile(List.of(narrow)));
        assertEquals(Gemm.TILE, Gemm.tile(List.of(perHead, narrow)));
        assertEquals(1, Gemm.whole(List.of(lmHeadDw), Gemm.TALL));
        assertEquals(0, Gemm.whole(List.of(lmHeadDinp), Gemm.WIDE));
        assertEquals(1, Gemm.whole(List.of(new Gemm.Call().shape(256, 256, 24)), Gemm.WIDE)); // 3 slices of 8
        assertEquals(0, Gemm.whole(List.of(new Gemm.Call().shape(256, 64, 24)), Gemm.TALL)); // 16 + 8
        assertEquals(0, Gemm.whole(List.of(lmHeadDw, new Gemm.Call().shape(70, 64, 70)), Gemm.TALL));
        Gemm.Call split = new Gemm.Call().shape(65, 384, 16384);
        split.kSlice = 200; // slices of 200 k: 12 whole slices and a half each
        assertEquals(0, Gemm.whole(List.of(split), Gemm.TALL));
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
}
