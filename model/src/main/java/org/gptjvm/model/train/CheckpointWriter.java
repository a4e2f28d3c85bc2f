package org.gptjvm.model.train;

import org.gptjvm.engine.GptException;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Writes a run's checkpoints on a thread of their own, so that training does not wait for the disk
 * (a checkpoint is forced to disk before its rename). The weights are copied out of the backend
 * when {@link #save} is called ({@link Checkpoint#snapshot}); the files are written one at a time,
 * in order, so the last one saved is the last one written. A failed write is reported once: by
 * {@link #poll} as soon as it has failed (a run polls at every step, tells the user and goes on), or
 * else by the next {@link #save} or {@link #flush}.
 */
public final class CheckpointWriter implements AutoCloseable {
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "checkpoint-writer");
        t.setDaemon(true);
        return t;
    });
    private Future<?> pending;
    /** The iteration of the pending write, and of the last one that reached the disk (-1: none). */
    private int pendingIteration = -1, written = -1;
    private double waitedSeconds;

    /** Queues the snapshot for writing, after waiting for the previous one. */
    public void save(Checkpoint.Snapshot snapshot) {
        save(snapshot, -1);
    }

    /** Queues the snapshot of iteration {@code iteration} for writing, after waiting for the previous one. */
    public void save(Checkpoint.Snapshot snapshot, int iteration) {
        flush();
        pending = thread.submit(snapshot::write);
        pendingIteration = iteration;
    }

    /**
     * Without waiting: the message of a write that has failed since the last call, once; null when
     * none has (the pending one may still be going).
     */
    public String poll() {
        if (pending == null || !pending.isDone()) {
            return null;
        }
        try {
            flush();
            return null;
        } catch (GptException e) {
            return e.getMessage();
        }
    }

    /** The iteration of the last checkpoint known to be on disk (-1: none yet), as {@link #save} named it. */
    public int written() {
        return written;
    }

    /** Waits until every queued checkpoint is on disk; rethrows what went wrong writing it. */
    public void flush() {
        if (pending == null) {
            return;
        }
        long t0 = System.nanoTime();
        try {
            pending.get();
            written = pendingIteration;
        } catch (ExecutionException e) {
            throw e.getCause() instanceof GptException g ? g
                    : new GptException("cannot save a checkpoint: " + e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GptException("interrupted while saving a checkpoint");
        } finally {
            pending = null;
            waitedSeconds += (System.nanoTime() - t0) / 1e9;
        }
    }

    /** Seconds the caller spent waiting for writes to finish. */
    public double waitedSeconds() {
        return waitedSeconds;
    }

    /** Writes what is queued, then stops the thread. */
    @Override
    public void close() {
        try {
            flush();
        } finally {
            thread.shutdown();
        }
    }
}
