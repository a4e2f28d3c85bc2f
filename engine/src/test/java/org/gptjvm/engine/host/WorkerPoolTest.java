package org.gptjvm.engine.host;

import org.gptjvm.engine.GptException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The static-split thread pool: exact coverage of [0, n) and exception propagation. */
class WorkerPoolTest {

    static final int[] SIZES = {0, 1, 2, 3, 7, 1000};

    private static void assertCoversOnce(WorkerPool pool, int n) {
        AtomicIntegerArray hits = new AtomicIntegerArray(n);
        AtomicInteger calls = new AtomicInteger();
        AtomicInteger badRange = new AtomicInteger();
        pool.parallelFor(n, (from, to) -> {
            calls.incrementAndGet();
            if (from < 0 || to > n || from >= to) {
                badRange.incrementAndGet();
                return;
            }
            for (int i = from; i < to; i++) {
                hits.incrementAndGet(i);
            }
        });
        assertEquals(0, badRange.get(), "ranges must be non-empty and inside [0," + n + ")");
        assertTrue(calls.get() <= pool.threads(), "at most one range per thread");
        assertTrue(calls.get() <= Math.max(n, 0));
        for (int i = 0; i < n; i++) {
            assertEquals(1, hits.get(i), "index " + i + " of n=" + n + " with " + pool.threads() + " threads");
        }
    }

    @Test
    void coversRangeExactlyOnce() {
        for (int threads = 1; threads <= 4; threads++) {
            try (WorkerPool pool = new WorkerPool(threads)) {
                assertEquals(threads, pool.threads());
                for (int n : SIZES) {
                    assertCoversOnce(pool, n);
                }
            }
        }
    }

    @Test
    void emptyRangeRunsNothing() {
        for (int threads = 1; threads <= 4; threads++) {
            try (WorkerPool pool = new WorkerPool(threads)) {
                AtomicInteger calls = new AtomicInteger();
                pool.parallelFor(0, (a, b) -> calls.incrementAndGet());
                assertEquals(0, calls.get());
            }
        }
    }

    @Test
    void manyBackToBackLaunches() {
        try (WorkerPool pool = new WorkerPool(4)) {
            AtomicLong sum = new AtomicLong();
            int rounds = 2000, n = 37;
            for (int r = 0; r < rounds; r++) {
                pool.parallelFor(n, (from, to) -> {
                    long s = 0;
                    for (int i = from; i < to; i++) {
                        s += i;
                    }
                    sum.addAndGet(s);
                });
            }
            assertEquals((long) rounds * n * (n - 1) / 2, sum.get());
        }
    }

    @Test
    void exceptionInAWorkersRangePropagates() {
        for (int threads = 1; threads <= 4; threads++) {
            try (WorkerPool pool = new WorkerPool(threads)) {
                int n = 1000;
                // the last index is in the last part: a worker thread's range whenever threads > 1
                IllegalStateException boom = new IllegalStateException("boom");
                IllegalStateException thrown = assertThrows(IllegalStateException.class,
                        () -> pool.parallelFor(n, (from, to) -> {
                            if (to == n) {
                                throw boom;
                            }
                        }));
                assertSame(boom, thrown);
                // the pool stays usable afterwards, and the failure does not leak into the next launch
                assertCoversOnce(pool, n);
                assertCoversOnce(pool, 7);
            }
        }
    }

    @Test
    void exceptionInTheCallersRangePropagates() {
        for (int threads = 1; threads <= 4; threads++) {
            try (WorkerPool pool = new WorkerPool(threads)) {
                AtomicInteger done = new AtomicInteger();
                IllegalArgumentException thrown = assertThrows(IllegalArgumentException.class,
                        () -> pool.parallelFor(1000, (from, to) -> {
                            if (from == 0) {
                                throw new IllegalArgumentException("first part");
                            }
                            done.incrementAndGet();
                        }));
                assertEquals("first part", thrown.getMessage());
                // the caller waits for the other parts before it rethrows
                assertEquals(threads - 1, done.get());
                assertCoversOnce(pool, 1000);
            }
        }
    }

    @Test
    void errorsPropagateAsIs() {
        try (WorkerPool pool = new WorkerPool(3)) {
            assertThrows(AssertionError.class, () -> pool.parallelFor(10, (from, to) -> {
                if (to == 10) {
                    throw new AssertionError("worker error");
                }
            }));
            assertCoversOnce(pool, 10);
        }
    }

    @Test
    void checkedExceptionsAreWrapped() {
        try (WorkerPool pool = new WorkerPool(3)) {
            IOException io = new IOException("io");
            GptException e = assertThrows(GptException.class, () -> pool.parallelFor(10, (from, to) -> {
                if (to == 10) {
                    sneakyThrow(io);
                }
            }));
            assertSame(io, e.getCause());
        }
    }

    @Test
    void rejectsFewerThanOneThread() {
        assertThrows(GptException.class, () -> new WorkerPool(0));
        assertThrows(GptException.class, () -> new WorkerPool(-2));
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> void sneakyThrow(Throwable t) throws T {
        throw (T) t;
    }
}
