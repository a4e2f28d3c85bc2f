package org.gptjvm.cli;

import java.io.Console;
import java.io.PrintStream;
import java.util.Locale;
import java.util.function.UnaryOperator;

/** What the CLI prints that is for a person at a terminal only: a progress bar, questions. */
final class Terminal {
    private Terminal() {
    }

    /**
     * Whether whoever read {@code out} (a stream over System.out) has gone away, as {@code | head}
     * does after its lines: checking flushes what is pending. A write that failed otherwise (a full
     * disk) is an error: see {@link Stdout#readerGone}.
     */
    static boolean readerGone(PrintStream out) {
        return Stdout.readerGone(out, "the sample");
    }

    /**
     * How generated text is shown: as it is with {@code raw} or when standard output is no terminal
     * (a file, a pipe), else with its control characters escaped ({@link Stdout#escapeControls}), so
     * that a model trained on text holding terminal escapes cannot drive the terminal.
     */
    static UnaryOperator<String> generatedText(boolean raw) {
        return raw || !stdoutIsTerminal() ? UnaryOperator.identity() : Stdout::escapeControls;
    }

    /**
     * Whether the terminal named by {@code term} (the TERM variable) understands cursor controls;
     * "dumb" (Emacs' shell, some CI logs), or none at all, does not.
     */
    static boolean capable(String term) {
        return term != null && !term.isBlank() && !term.equals("dumb");
    }

    static boolean stdoutIsTerminal() {
        Console c = System.console();
        return c != null && c.isTerminal();
    }

    /**
     * A one-line progress bar, redrawn in place at most ~5 times a second: the iteration, the loss,
     * the pace of training steps (evaluations and the first step, which pays for compiling, are not
     * counted) and an ETA that adds the evaluations still to come at the pace they have taken. Before
     * the first step and during evaluations it says what is going on ({@link #status}). On a terminal
     * without cursor controls (TERM=dumb) it is plain text: a carriage return and spaces erase it,
     * never an escape sequence.
     */
    static final class Progress {
        private final PrintStream out;
        private final boolean enabled;
        /** The terminal understands the erase-line escape. */
        private final boolean capable;
        private int drawnWidth;
        /** Iterations between evaluations, for the ETA. */
        private final int evalInterval;
        private long lastDraw;
        private boolean drawn;
        /** The first step seen (its time and iteration), and the evaluation time since then. */
        private long firstAt;
        private int firstIter = -1, lastIter, total;
        private float lastLoss = Float.NaN;
        private long evalStartedAt, evalNanosSinceFirst, evalNanos;
        private int evaluations;

        Progress(PrintStream out, boolean enabled, int evalInterval) {
            this(out, enabled, evalInterval, capable(System.getenv("TERM")));
        }

        /** {@code capable}: the terminal understands the erase-line escape. */
        Progress(PrintStream out, boolean enabled, int evalInterval, boolean capable) {
            this.out = out;
            this.enabled = enabled;
            this.evalInterval = Math.max(1, evalInterval);
            this.capable = capable;
        }

        /** Says what is going on (reading the data, building the model), until the next draw. */
        void status(String what) {
            if (!enabled) {
                return;
            }
            draw("\r" + what + " ... ");
        }

        /** An evaluation begins at iteration {@code step}. */
        void evaluating(int step, int total) {
            this.total = total;
            evalStartedAt = System.nanoTime();
            if (enabled) {
                draw(String.format(Locale.ROOT, "\r%s  evaluating at step %d ... ", bar(step, total), step));
            }
        }

        /** {@code done} of {@code batches} evaluation batches are through. */
        void evaluationProgress(int step, int done, int batches) {
            if (!enabled || System.nanoTime() - lastDraw < 200_000_000L) {
                return;
            }
            draw(String.format(Locale.ROOT, "\r%s  evaluating at step %d: %d/%d batches ", bar(step, total), step,
                    done, batches));
        }

        /** The evaluation that began is over. */
        void evaluated() {
            long spent = System.nanoTime() - evalStartedAt;
            evalNanos += spent;
            evaluations++;
            if (firstIter >= 0) {
                evalNanosSinceFirst += spent;
            }
            lastDraw = 0; // the bar comes back at the next step
        }

        void update(int iter, int total, float loss) {
            this.total = total;
            long now = System.nanoTime();
            if (firstIter < 0) {
                firstIter = iter;
                firstAt = now;
            }
            lastIter = iter;
            lastLoss = loss;
            if (!enabled || (now - lastDraw < 200_000_000L && iter < total)) {
                return;
            }
            double seconds = (now - firstAt - evalNanosSinceFirst) / 1e9;
            double itPerSec = iter > firstIter && seconds > 0 ? (iter - firstIter) / seconds : Double.NaN;
            draw(String.format(Locale.ROOT, "\r%s loss %.4f  %s  ETA %s ", bar(iter, total), loss,
                    Double.isNaN(itPerSec) ? "-- it/s" : String.format(Locale.ROOT, "%.1f it/s", itPerSec),
                    Double.isNaN(itPerSec) ? "--:--" : clock(eta(iter, total, itPerSec))));
        }

        /** Seconds left: the steps at their pace, and the evaluations to come at theirs. */
        private double eta(int iter, int total, double itPerSec) {
            double steps = (total - iter) / itPerSec;
            double perEval = evaluations > 0 ? evalNanos / 1e9 / evaluations : 0;
            return steps + evaluationsLeft(iter, total, evalInterval) * perEval;
        }

        /**
         * Evaluations still to come after {@code iter} steps (iter >= 1) of {@code total}: the trainer
         * evaluates before step j for each j in iter..total-1 that is a multiple of the interval or
         * the last.
         */
        static long evaluationsLeft(int iter, int total, int evalInterval) {
            if (iter > total - 1) {
                return 0;
            }
            return (total - 1) / evalInterval - (iter - 1) / evalInterval + ((total - 1) % evalInterval != 0 ? 1 : 0);
        }

        private static String bar(int iter, int total) {
            int width = 30;
            int filled = total <= 0 ? width : (int) ((long) width * Math.min(iter, total) / total);
            return "[" + "#".repeat(filled) + ".".repeat(width - filled) + "] " + iter + "/" + total;
        }

        private void draw(String line) {
            lastDraw = System.nanoTime();
            String text = line.substring(1);
            // without cursor controls, spaces cover the end of a longer line drawn before
            out.print(capable ? "\r\033[2K" + text : "\r" + text + " ".repeat(Math.max(0, drawnWidth - text.length())));
            out.flush();
            drawn = true;
            drawnWidth = Math.max(drawnWidth, text.length());
        }

        /** Erases the bar so the next line prints cleanly. */
        void clear() {
            if (enabled && drawn) {
                out.print(capable ? "\r\033[2K" : "\r" + " ".repeat(drawnWidth) + "\r");
                out.flush();
                drawn = false;
                drawnWidth = 0;
            }
        }

        static String clock(double seconds) {
            long s = Math.round(seconds);
            return s >= 3600 ? String.format("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                    : String.format("%02d:%02d", s / 60, s % 60);
        }
    }
}
