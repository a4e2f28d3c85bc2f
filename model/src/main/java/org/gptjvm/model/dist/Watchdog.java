package org.gptjvm.model.dist;

/**
 * Ends this process when a collective call has waited longer than {@value #ENV} seconds (default
 * {@value #DEFAULT_SECONDS}): MPI has no timeout, and a job whose other processes stopped answering
 * without dying (a hung node, a stopped process) would otherwise wait forever. The launcher then ends
 * the rest of the job. A process that dies is noticed by the launcher itself, at once.
 */
final class Watchdog implements AutoCloseable {
    static final String ENV = "GPT_COLLECTIVE_TIMEOUT";
    static final int DEFAULT_SECONDS = 900;

    private final int rank;
    private final long limitNanos;
    private final Thread thread;
    private volatile long since = -1;
    private volatile String what = "";
    private volatile boolean closed;

    Watchdog(int rank) {
        this.rank = rank;
        this.limitNanos = (long) (seconds() * 1e9);
        thread = Thread.ofPlatform().daemon().name("gpt-collective-watchdog").start(this::watch);
    }

    static double seconds() {
        String v = System.getenv(ENV);
        if (v == null || v.isBlank()) {
            return DEFAULT_SECONDS;
        }
        try {
            double s = Double.parseDouble(v.trim());
            if (s > 0) {
                return s;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new org.gptjvm.engine.GptException(ENV + " must be a positive number of seconds, not '" + v + "'");
    }

    void enter(String what) {
        this.what = what;
        since = System.nanoTime();
    }

    void leave() {
        since = -1;
    }

    private void watch() {
        while (!closed) {
            long s = since;
            if (s >= 0 && System.nanoTime() - s > limitNanos) {
                System.err.printf("gpt: process %d waited %.0f s for the others in an %s: ending the job (%s sets the limit)%n",
                        rank, limitNanos / 1e9, what, ENV);
                Runtime.getRuntime().halt(3);
            }
            try {
                Thread.sleep(Math.min(1000, Math.max(10, limitNanos / 1_000_000 / 10)));
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
    }
}
