package org.gptjvm.engine.host;

import org.gptjvm.engine.GptException;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of threads that split a range [0, n) into equal contiguous parts, one per thread.
 * The split is static and each output element is owned by one part, so the kernels' results do not
 * depend on the thread count or on scheduling. A launch allocates nothing: the task object is
 * created once when the launch is recorded. Workers spin briefly between launches (kernels come
 * back to back in a step) and then park.
 *
 * <p>One caller at a time: a backend runs its program from a single thread.
 */
public final class WorkerPool implements AutoCloseable {

    /** The body of a parallel loop over [from, to). */
    @FunctionalInterface
    public interface RangeTask {
        void run(int from, int to);
    }

    /** The body of a parallel loop that also learns which part (0..threads-1) it runs, to pick its scratch. */
    @FunctionalInterface
    public interface PartTask {
        void run(int part, int from, int to);
    }

    private static final long SPIN_NANOS = 200_000;

    private final int threads;
    private final Worker[] workers;
    private final AtomicInteger remaining = new AtomicInteger();
    private volatile Thread caller;
    private volatile Throwable failure;
    private volatile boolean closed;

    public WorkerPool(int threads) {
        if (threads < 1) {
            throw new GptException("threads must be at least 1, got " + threads);
        }
        this.threads = threads;
        this.workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker();
            Thread t = new Thread(workers[i], "gpt-worker-" + (i + 1));
            t.setDaemon(true);
            workers[i].thread = t;
            t.start();
        }
    }

    public int threads() {
        return threads;
    }

    /** Runs {@code task} over [0, n) split into up to {@code threads} parts; returns when all are done. */
    public void parallelFor(int n, RangeTask task) {
        parallelFor(n, 1, task);
    }

    /**
     * As {@link #parallelFor(int, RangeTask)}, but with at least {@code grain} items per part: waking a
     * thread costs microseconds, more than a small loop is worth. Results never depend on the split.
     */
    public void parallelFor(int n, int grain, RangeTask task) {
        int parts = (int) Math.min(threads, Math.max(1, n / (long) Math.max(1, grain)));
        if (parts <= 1) {
            if (n > 0) {
                task.run(0, n);
            }
            return;
        }
        forParts(n, parts, task, null);
    }

    /** As {@link #parallelFor}, telling each range its part number (at most {@link #threads()} parts). */
    public void parallelForParts(int n, PartTask task) {
        int parts = Math.min(threads, n);
        if (parts <= 1) {
            if (n > 0) {
                task.run(0, 0, n);
            }
            return;
        }
        forParts(n, parts, null, task);
    }

    private void forParts(int n, int parts, RangeTask task, PartTask partTask) {
        caller = Thread.currentThread();
        failure = null;
        remaining.set(parts - 1);
        for (int p = 1; p < parts; p++) {
            workers[p - 1].submit(task, partTask, p, lo(n, p, parts), lo(n, p + 1, parts));
        }
        Throwable own = null;
        try {
            if (task != null) {
                task.run(0, lo(n, 1, parts));
            } else {
                partTask.run(0, 0, lo(n, 1, parts));
            }
        } catch (Throwable t) {
            own = t;
        }
        long start = System.nanoTime();
        while (remaining.get() != 0) {
            if (System.nanoTime() - start < SPIN_NANOS) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(this, 100_000);
            }
        }
        Throwable t = own != null ? own : failure;
        if (t instanceof RuntimeException re) {
            throw re;
        } else if (t instanceof Error e) {
            throw e;
        } else if (t != null) {
            throw new GptException("kernel failed", t);
        }
    }

    private static int lo(int n, int part, int parts) {
        return (int) ((long) n * part / parts);
    }

    @Override
    public void close() {
        closed = true;
        for (Worker w : workers) {
            LockSupport.unpark(w.thread);
        }
    }

    private final class Worker implements Runnable {
        Thread thread;
        private volatile int generation;
        private RangeTask task;
        private PartTask partTask;
        private int part, from, to;

        void submit(RangeTask task, PartTask partTask, int part, int from, int to) {
            this.task = task;
            this.partTask = partTask;
            this.part = part;
            this.from = from;
            this.to = to;
            generation++; // volatile write publishes the fields above
            LockSupport.unpark(thread);
        }

        @Override
        public void run() {
            int seen = 0;
            while (!closed) {
                long start = System.nanoTime();
                while (generation == seen && !closed) {
                    if (System.nanoTime() - start < SPIN_NANOS) {
                        Thread.onSpinWait();
                    } else {
                        LockSupport.park(this);
                    }
                }
                if (closed) {
                    return;
                }
                seen = generation;
                try {
                    if (task != null) {
                        task.run(from, to);
                    } else {
                        partTask.run(part, from, to);
                    }
                } catch (Throwable t) {
                    failure = t;
                }
                if (remaining.decrementAndGet() == 0) {
                    LockSupport.unpark(caller);
                }
            }
        }
    }
}
