package org.gptjvm.cli;

import java.io.Console;
import java.io.PrintStream;
import java.util.Locale;

/** What the CLI prints that is for a person at a terminal only: a progress bar, questions. */
final class Terminal {
    private Terminal() {
    }

    /**
     * Whether whoever read {@code out} (a stream over System.out) has gone away, as {@code | head}
     * does after its lines: checking flushes what is pending.
     */
    static boolean readerGone(PrintStream out) {
        return out.checkError() || System.out.checkError();
    }

    static boolean stdoutIsTerminal() {
        Console c = System.console();
        return c != null && c.isTerminal();
    }

    /** A one-line progress bar with iterations/s and ETA, redrawn in place at most ~5 times a second. */
    static final class Progress {
        private final PrintStream out;
        private final boolean enabled;
        private long lastDraw;
        private boolean drawn;

        Progress(PrintStream out, boolean enabled) {
            this.out = out;
            this.enabled = enabled;
        }

        void update(int iter, int total, float loss, double itPerSec) {
            if (!enabled) {
                return;
            }
            long now = System.nanoTime();
            if (now - lastDraw < 200_000_000L && iter < total) {
                return;
            }
            lastDraw = now;
            int width = 30;
            int filled = total == 0 ? width : (int) ((long) width * iter / total);
            double eta = itPerSec > 0 ? (total - iter) / itPerSec : 0;
            out.print(String.format(Locale.ROOT, "\r[%s%s] %d/%d loss %.4f  %.1f it/s  ETA %s ",
                    "#".repeat(filled), ".".repeat(width - filled), iter, total, loss, itPerSec, clock(eta)));
            out.flush();
            drawn = true;
        }

        /** Erases the bar so the next line prints cleanly. */
        void clear() {
            if (enabled && drawn) {
                out.print("\r\033[2K");
                out.flush();
                drawn = false;
            }
        }

        static String clock(double seconds) {
            long s = Math.round(seconds);
            return s >= 3600 ? String.format("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                    : String.format("%02d:%02d", s / 60, s % 60);
        }
    }
}
