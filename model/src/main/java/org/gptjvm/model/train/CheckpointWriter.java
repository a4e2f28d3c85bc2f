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
 * in order, so the last one saved is the last one written. A failed write is reported by the next
 * {@link #save} or by {@link #flush}.
 */
public final class CheckpointWriter implements AutoCloseable {
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "checkpoint-writer");
        t.setDaemon(true);
        return t;
    });
    private Future<?> pending;
    private double waitedSeconds;

    /** Queues the snapshot for writing, after waiting for the previous one. */
    public void save(Checkpoint.Snapshot snapshot) {
        flush();
        pending = thread.submit(snapshot::write);
    }

    /** Waits until every queued checkpoint is on disk; rethrows what went wrong writing it. */
    public void flush() {
        if (pending == null) {
            return;
        }
        long t0 = System.nanoTime();
        try {
            pending.get();
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
