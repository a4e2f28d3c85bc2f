package org.gptjvm.model.train;

import com.google.gson.JsonObject;
import org.gptjvm.engine.GptException;
import org.gptjvm.model.GptConfig;

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
 * a resumed run appends to it.
 */
public final class MetricsLog implements AutoCloseable {
    private final Path file;
    private final BufferedWriter out;

    private MetricsLog(Path file, BufferedWriter out) {
        this.file = file;
        this.out = out;
    }

    /**
     * Opens {@code file} to append ({@code resume}) or to start afresh. A file there must be one of
     * ours (its first line a metrics event), unless {@code force}; never a directory or device.
     */
    public static MetricsLog open(Path file, boolean resume, boolean force) {
        try {
            if (Files.exists(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                if (!Files.isRegularFile(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    throw new GptException(file + " exists and is not a regular file: not writing the run's metrics there");
                }
                if (!force && !isMetrics(file)) {
                    throw new GptException(file + " exists and is not a metrics file of gpt train: move it, or pass --force");
                }
                if (!force && !resume && Files.size(file) > 0) { // a run whose checkpoint is gone: its record stays
                    throw new GptException(file + " holds the metrics of an earlier run: move it, or pass --force to "
                            + "start it anew");
                }
            }
            Path dir = file.toAbsolutePath().getParent();
            if (dir != null) {
                Files.createDirectories(dir);
            }
            BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE, resume ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING);
            return new MetricsLog(file, w);
        } catch (IOException e) {
            throw new GptException("cannot write " + file + ": " + e.getMessage());
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
        o.addProperty(Metrics.TIME, Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        o.addProperty(Metrics.BACKEND, backend);
        if (processes > 1) {
            o.addProperty(Metrics.PROCESSES, processes);
        }
        o.add(Metrics.MODEL, model.toJson());
        o.add(Metrics.TRAIN_OPTIONS, options.toJson());
        write(o);
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

    private void write(JsonObject o) {
        try {
            out.write(o.toString());
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            throw new GptException("cannot write " + file + ": " + e.getMessage());
        }
    }

    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new GptException("cannot write " + file + ": " + e.getMessage());
        }
    }
}
