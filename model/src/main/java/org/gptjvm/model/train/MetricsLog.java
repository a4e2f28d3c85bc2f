package org.gptjvm.model.train;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.gptjvm.engine.GptException;
import org.gptjvm.model.GptConfig;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;

/**
 * Writes a run's {@link Metrics} file as it goes, one JSON line per event, each line flushed so
 * that {@code gpt plot} can read the file while the run is going. A new run starts the file afresh;
 * a resumed run appends to its own record (the start events name the run).
 */
public final class MetricsLog implements AutoCloseable {
    private final Path file;
    private final BufferedWriter out;
    /** The run's name, recorded in its start events; null: none. */
    private final String run;
    private final String note;
    /** The first failed write's message (nothing is written after it), and whether it is yet to be told. */
    private String failure;
    private boolean unreported;

    private MetricsLog(Path file, BufferedWriter out, String run, String note) {
        this.file = file;
        this.out = out;
        this.run = run;
        this.note = note;
    }

    /**
     * Opens the metrics file of the run named {@code run} (see {@link TrainState#run}), which starts
     * afresh or resumes the checkpoint {@code resumedFrom}'s run. A file there that gpt train did not
     * write is never replaced, {@code force} or not; a file of another run is replaced only with
     * {@code force}, and said so ({@link #note}). A resumed run appends to its own record; resumed
     * into a new file, it copies the record of the file it resumed first, so the file tells the whole
     * run. Never a directory or device.
     */
    public static MetricsLog open(Path file, String run, Path resumedFrom, boolean force) {
        try {
            String note = null;
            boolean append = false;
            Path copyFrom = null;
            if (Files.exists(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                if (!Files.isRegularFile(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    throw new GptException(file + " exists and is not a regular file: not writing the run's metrics there");
                }
                if (!isMetrics(file)) {
                    throw new GptException(file + " exists and was not written by gpt train: move it to keep it "
                            + "(--force replaces gpt's own files only), or choose another --out");
                }
            }
            boolean empty = !Files.exists(file) || Files.size(file) == 0;
            if (resumedFrom == null) {
                if (!empty) {
                    if (!force) { // a run whose checkpoint is gone: its record stays
                        throw new GptException(file + " holds the metrics of an earlier run: move it, or pass --force to "
                                + "start it anew");
                    }
                    note = file + " held the metrics of an earlier run: started anew (--force)";
                }
            } else if (!empty) {
                Path own = Metrics.metricsFileFor(resumedFrom);
                String owner = lastRun(file);
                boolean same = run != null && owner != null ? run.equals(owner) : sameFile(file, own);
                if (same) {
                    append = true;
                } else if (!force) {
                    throw new GptException(file + " holds the metrics of another run" + (owner != null ? " (" + owner + ")" : "")
                            + ", not of " + resumedFrom + "'s: choose another --out, or pass --force to start it anew");
                } else {
                    note = file + " held the metrics of another run: started anew (--force)";
                    copyFrom = ownRecord(own, run);
                }
            } else {
                copyFrom = ownRecord(Metrics.metricsFileFor(resumedFrom), run);
                if (copyFrom != null && sameFile(copyFrom, file)) {
                    copyFrom = null;
                }
            }
            if (copyFrom != null) {
                note = (note != null ? note + "; " : "") + file + " begins with the record of " + copyFrom;
            }
            Path dir = file.toAbsolutePath().getParent();
            if (dir != null) {
                Files.createDirectories(dir);
            }
            if (copyFrom != null) {
                copyWholeLines(copyFrom, file);
                append = true;
            }
            BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE, append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING);
            return new MetricsLog(file, w, run, note);
        } catch (IOException e) {
            throw new GptException("cannot write " + file + ": " + e.getMessage());
        }
    }

    /** {@code metrics}, when it is a record of the run named {@code run} (or of a run with no name): null if not. */
    private static Path ownRecord(Path metrics, String run) throws IOException {
        if (!Files.isRegularFile(metrics) || Files.size(metrics) == 0 || !isMetrics(metrics)) {
            return null;
        }
        String owner = lastRun(metrics);
        return owner == null || run == null || owner.equals(run) ? metrics : null;
    }

    /** Copies {@code from} to {@code to} up to its last whole line (a run may be writing it). */
    private static void copyWholeLines(Path from, Path to) throws IOException {
        Files.copy(from, to, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(to, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            long end = ch.size();
            java.nio.ByteBuffer one = java.nio.ByteBuffer.allocate(1);
            while (end > 0) {
                one.clear();
                ch.read(one, end - 1);
                if (one.get(0) == '\n') {
                    break;
                }
                end--;
            }
            ch.truncate(end);
        }
    }

    /** The run named by the last start event of a metrics file that names one; null if none does. */
    static String lastRun(Path file) throws IOException {
        String run = null;
        String startLine = Metrics.LINE_START + "\"" + Metrics.START + "\"";
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            for (String line; (line = in.readLine()) != null; ) {
                if (line.startsWith(startLine)) {
                    try {
                        JsonObject o = JsonParser.parseString(line).getAsJsonObject();
                        run = o.has(Metrics.RUN) ? o.get(Metrics.RUN).getAsString() : null;
                    } catch (RuntimeException e) {
                        // a line cut short by a killed run names nothing
                    }
                }
            }
        } catch (java.nio.charset.MalformedInputException e) {
            return null;
        }
        return run;
    }

    /** Whether two paths name one file (the same path, where either is not there yet). */
    static boolean sameFile(Path a, Path b) {
        try {
            return Files.exists(a) && Files.exists(b) ? Files.isSameFile(a, b)
                    : a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
        } catch (IOException e) {
            return false;
        }
    }

    /** Whether the file is empty or begins with a line of ours. */
    private static boolean isMetrics(Path file) throws IOException {
        if (Files.size(file) == 0) {
            return true;
        }
        try (var lines = Files.lines(file, StandardCharsets.UTF_8)) {
            List<String> first = lines.limit(1).toList();
            return !first.isEmpty() && first.getFirst().startsWith(Metrics.LINE_START);
        } catch (UncheckedIOException e) {
            return false; // not UTF-8 text
        }
    }

    /** What the user should be told about the file (another run's replaced, a record copied); null: nothing. */
    public String note() {
        return note;
    }

    public Path file() {
        return file;
    }

    private static JsonObject event(String name, int iter) {
        JsonObject o = new JsonObject();
        o.addProperty(Metrics.EVENT, name);
        o.addProperty(Metrics.ITER, iter);
        return o;
    }

    /** A number as JSON: non-finite ones (a diverged loss) as null. */
    private static void put(JsonObject o, String key, double v) {
        if (Double.isFinite(v)) {
            o.addProperty(key, v);
        } else {
            o.add(key, com.google.gson.JsonNull.INSTANCE);
        }
    }

    public void start(int iter, String backend, GptConfig model, TrainOptions options) {
        start(iter, backend, model, options, 1);
    }

    /** The run's start; {@code processes}: a data-parallel job's size (recorded when above 1). */
    public void start(int iter, String backend, GptConfig model, TrainOptions options, int processes) {
        JsonObject o = event(Metrics.START, iter);
        rollback(o, iter);
        o.addProperty(Metrics.TIME, Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        if (run != null) {
            o.addProperty(Metrics.RUN, run);
        }
        o.addProperty(Metrics.BACKEND, backend);
        if (processes > 1) {
            o.addProperty(Metrics.PROCESSES, processes);
        }
        o.add(Metrics.MODEL, model.toJson());
        o.add(Metrics.TRAIN_OPTIONS, options.toJson());
        write(o);
    }

    /**
     * A start appended to earlier lines (a resume) says which of them it rolls back: those at or past
     * {@code iter}, and how many there are ({@link Metrics#ROLLED_BACK_FROM}).
     */
    private void rollback(JsonObject o, int iter) {
        try {
            if (Files.size(file) == 0) {
                return;
            }
        } catch (IOException e) {
            return;
        }
        o.addProperty(Metrics.ROLLED_BACK_FROM, iter);
        try {
            long[] lines = {0};
            Metrics.scan(file, e -> {
                if ((e instanceof Metrics.Train || e instanceof Metrics.Eval) && e.iter() >= iter) {
                    lines[0]++;
                }
            });
            o.addProperty(Metrics.ROLLED_BACK_LINES, lines[0]);
        } catch (GptException e) {
            // an unreadable earlier line: the count is left out, the rollback stands
        }
    }

    public void train(Trainer.StepReport s, double tokensPerSecond) {
        train(s, tokensPerSecond, Double.NaN);
    }

    /** A training log line; {@code allReduceMs}: the gradients' all-reduce per step (data-parallel), NaN: none. */
    public void train(Trainer.StepReport s, double tokensPerSecond, double allReduceMs) {
        JsonObject o = event(Metrics.TRAIN, s.iter());
        put(o, Metrics.LOSS, s.loss());
        put(o, Metrics.LR, s.lr());
        put(o, Metrics.GRAD_NORM, s.gradNorm());
        put(o, Metrics.TOKENS_PER_S, tokensPerSecond);
        if (!Double.isNaN(allReduceMs)) {
            put(o, Metrics.ALLREDUCE_MS, allReduceMs);
        }
        put(o, Metrics.ELAPSED_S, s.elapsedSeconds());
        write(o);
    }

    public void eval(int iter, float trainLoss, float valLoss, double lr, double elapsedSeconds) {
        JsonObject o = event(Metrics.EVAL, iter);
        put(o, Metrics.TRAIN_LOSS, trainLoss);
        put(o, Metrics.VAL_LOSS, valLoss);
        put(o, Metrics.LR, lr);
        put(o, Metrics.ELAPSED_S, elapsedSeconds);
        write(o);
    }

    public void end(int iter, double elapsedSeconds, double trainSeconds, double evalSeconds, boolean stopped) {
        JsonObject o = event(Metrics.END, iter);
        put(o, Metrics.ELAPSED_S, elapsedSeconds);
        put(o, Metrics.TRAIN_S, trainSeconds);
        put(o, Metrics.EVAL_S, evalSeconds);
        o.addProperty(Metrics.STOPPED, stopped);
        write(o);
    }

    /**
     * Writes a line. A write that fails (a full disk) does not end the run: the metrics stop there,
     * and {@link #pollFailure} says so once.
     */
    private void write(JsonObject o) {
        if (failure != null) {
            return;
        }
        try {
            out.write(o.toString());
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            fail(e);
        }
    }

    private void fail(IOException e) {
        failure = "cannot write " + file + ": " + org.gptjvm.model.io.AtomicFile.describe(e)
                + "; its record of the run stops here (training goes on)";
        unreported = true;
    }

    /** The message of a failed write, once; null when none failed or it was told already. */
    public String pollFailure() {
        if (!unreported) {
            return null;
        }
        unreported = false;
        return failure;
    }

    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException e) {
            if (failure == null) {
                fail(e);
            }
        }
    }
}
