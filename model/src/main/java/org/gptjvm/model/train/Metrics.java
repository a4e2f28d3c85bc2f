package org.gptjvm.model.train;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import org.gptjvm.engine.GptException;
import org.gptjvm.model.io.AtomicFile;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * A training run's metrics file: JSON lines, one event per line, written by {@code gpt train} beside
 * the model ({@link #metricsFileFor}) and read by {@code gpt plot}. The key names are the constants
 * below, for the writer and the reader alike. Events:
 * <pre>
 * {"event":"start","iter":0,"time":"2026-11-30T12:00:00Z","backend":"cpu backend, 2 thread(s)","model":{...},"train":{...}}
 * {"event":"train","iter":120,"loss":2.31,"lr":0.001,"grad_norm":0.83,"tokens_per_s":81234.5,"elapsed_s":3.2}
 * {"event":"eval","iter":500,"train_loss":1.91,"val_loss":2.02,"lr":0.001,"elapsed_s":12.5}
 * {"event":"end","iter":5000,"elapsed_s":87.0,"train_s":40.6,"eval_s":46.7,"stopped":false}
 * </pre>
 * Resumes: a resumed run appends to the same file, starting with a new "start" line whose iter is the
 * iteration it resumes at. Its checkpoint may be older than the last lines of the file (a run killed
 * between two checkpoints), so the resumed run redoes those iterations: every train and eval line
 * <em>above</em> that start line whose iter is at or past the start's {@code rolled_back_from} is
 * rolled back, replaced by the lines that follow. The resume's start says so itself:
 * <pre>
 * {"event":"start","iter":400,"rolled_back_from":400,"rolled_back_lines":52,...}
 * </pre>
 * {@code rolled_back_from} (the same as iter) is on every start appended to earlier lines (a resume),
 * and {@code rolled_back_lines} counts the train and eval lines it rolls back (0: none; absent when
 * they could not be counted). A start without {@code rolled_back_from} (a fresh run, or a file
 * written before the key existed) rolls back from its iter all the same. To read the raw lines
 * (pandas, jq): walk them from the last to the first, keeping the smallest {@code rolled_back_from}
 * (else iter) of the start lines passed so far; a train or eval line at or past it is rolled back.
 * <p>
 * Reading ({@link #scan}, {@link #read}) applies the resumes: the points that stand, in file order.
 * The file is streamed, never held whole. It may be read while a run writes it, so an unparsable last
 * line is ignored; an unparsable line anywhere else is an error. Lines of an unknown event are
 * skipped. A number that is absent where optional, or {@code null}, reads as {@code NaN}.
 */
public final class Metrics {
    /** The suffix of a metrics file, replacing the model's {@code .safetensors}. */
    public static final String SUFFIX = ".metrics.jsonl";
    /** The suffix of the loss plot, replacing the model's {@code .safetensors}. */
    public static final String PLOT_SUFFIX = ".loss.png";
    /** The suffix of model files, which {@link #SUFFIX} and {@link #PLOT_SUFFIX} replace. */
    public static final String MODEL_SUFFIX = ".safetensors";

    // event names: the value of EVENT
    public static final String START = "start";
    public static final String TRAIN = "train";
    public static final String EVAL = "eval";
    public static final String END = "end";

    // keys
    /** Every event: its name, one of START, TRAIN, EVAL, END. */
    public static final String EVENT = "event";
    /** How every line of a metrics file begins (MetricsLog writes the event's name first). */
    static final String LINE_START = "{\"" + EVENT + "\":";
    /** Every event: the iteration (for start, the one the run starts or resumes at). */
    public static final String ITER = "iter";
    /** start: wall-clock time, ISO-8601. */
    public static final String TIME = "time";
    /** start: the run's name (made when it starts, kept by its resumes; absent in older files). */
    public static final String RUN = "run";
    /** start: the backend, in words. */
    public static final String BACKEND = "backend";
    /** start: the model's configuration, an object. */
    public static final String MODEL = "model";
    /** start: the training options, an object (same name as the TRAIN event). */
    public static final String TRAIN_OPTIONS = "train";
    /** train: the step's loss. */
    public static final String LOSS = "loss";
    /** train, eval: the learning rate. */
    public static final String LR = "lr";
    /** train: the gradient's global norm; absent or null when not measured. */
    public static final String GRAD_NORM = "grad_norm";
    /** train: throughput. */
    public static final String TOKENS_PER_S = "tokens_per_s";
    /** A data-parallel run: the gradients' all-reduce per step, and the number of processes. */
    public static final String ALLREDUCE_MS = "allreduce_ms", PROCESSES = "processes";
    /** train, eval, end: seconds since the run (this start) began. */
    public static final String ELAPSED_S = "elapsed_s";
    /** eval: estimate_loss on the training split. */
    public static final String TRAIN_LOSS = "train_loss";
    /** eval: estimate_loss on the validation split. */
    public static final String VAL_LOSS = "val_loss";
    /** end: seconds spent training. */
    public static final String TRAIN_S = "train_s";
    /** end: seconds spent evaluating. */
    public static final String EVAL_S = "eval_s";
    /** end: whether the run was stopped (interrupted) before its last iteration. */
    public static final String STOPPED = "stopped";
    /**
     * start of a resume: train and eval lines above it at or past this iteration are rolled back
     * (absent: its iter).
     */
    public static final String ROLLED_BACK_FROM = "rolled_back_from";
    /** start of a resume: how many train and eval lines above it it rolls back. */
    public static final String ROLLED_BACK_LINES = "rolled_back_lines";

    private Metrics() {
    }

    /** One line of the file. */
    public sealed interface Event permits Start, Train, Eval, End {
        int iter();
    }

    /**
     * A run starts, or resumes at {@code iter}; {@code model} and {@code train} may be null. Earlier
     * points at or past {@code rolledBackFrom} are rolled back.
     */
    public record Start(int iter, String time, String backend, JsonObject model, JsonObject train, int rolledBackFrom)
            implements Event {
        public Start(int iter, String time, String backend, JsonObject model, JsonObject train) {
            this(iter, time, backend, model, train, iter);
        }
    }

    /** A training step; {@code gradNorm} is NaN when not measured, so are other absent numbers. */
    public record Train(int iter, double loss, double lr, double gradNorm, double tokensPerS, double elapsedS)
            implements Event {
        public boolean hasGradNorm() {
            return !Double.isNaN(gradNorm);
        }
    }

    /** An evaluation (estimate_loss on both splits). */
    public record Eval(int iter, double trainLoss, double valLoss, double lr, double elapsedS) implements Event {
    }

    /** The run ended, at its last iteration or stopped. */
    public record End(int iter, double elapsedS, double trainS, double evalS, boolean stopped) implements Event {
    }

    /**
     * What a metrics file holds once resumes are applied: every start, the train and eval points in
     * file order, and the end of the last run ({@code null} while it runs or if it was killed).
     */
    public record Run(List<Start> starts, List<Train> train, List<Eval> evals, End end) {
        public Run {
            starts = List.copyOf(starts);
            train = List.copyOf(train);
            evals = List.copyOf(evals);
        }

        /** Train and eval points together. */
        public int points() {
            return train.size() + evals.size();
        }

        /** The lowest iteration of a point; only when {@link #points()} > 0. */
        public int firstIter() {
            int min = Integer.MAX_VALUE;
            for (Train t : train) {
                min = Math.min(min, t.iter());
            }
            for (Eval e : evals) {
                min = Math.min(min, e.iter());
            }
            return min;
        }

        /** The highest iteration of a point; only when {@link #points()} > 0. */
        public int lastIter() {
            int max = Integer.MIN_VALUE;
            for (Train t : train) {
                max = Math.max(max, t.iter());
            }
            for (Eval e : evals) {
                max = Math.max(max, e.iter());
            }
            return max;
        }

        /** The last evaluation, or null. */
        public Eval lastEval() {
            return evals.isEmpty() ? null : evals.getLast();
        }
    }

    /** The metrics file of a model file: {@code out/gpt.safetensors} gives {@code out/gpt.metrics.jsonl}. */
    public static Path metricsFileFor(Path model) {
        return sibling(model, MODEL_SUFFIX, SUFFIX);
    }

    /** The loss plot of a model file: {@code out/gpt.safetensors} gives {@code out/gpt.loss.png}. */
    public static Path plotFileFor(Path model) {
        return sibling(model, MODEL_SUFFIX, PLOT_SUFFIX);
    }

    /** The loss plot of a metrics file: {@code out/gpt.metrics.jsonl} gives {@code out/gpt.loss.png}. */
    public static Path plotFileForMetrics(Path metrics) {
        String name = metrics.getFileName().toString();
        return sibling(metrics, name.endsWith(SUFFIX) ? SUFFIX : ".jsonl", PLOT_SUFFIX);
    }

    /** {@code file} with {@code suffix} replaced by {@code replacement} (appended when it has no such suffix). */
    private static Path sibling(Path file, String suffix, String replacement) {
        String name = file.getFileName().toString();
        String base = name.endsWith(suffix) && name.length() > suffix.length()
                ? name.substring(0, name.length() - suffix.length()) : name;
        return file.resolveSibling(base + replacement);
    }

    /**
     * Reads a metrics file. Errors (one line, as a GptException): the file is missing or unreadable, a
     * line other than the last is not an event, or there is no train or eval point.
     */
    public static Run read(Path file) {
        Collector c = new Collector();
        scan(file, c);
        Run run = c.run();
        if (run.points() == 0) {
            throw new GptException(file + " holds no training points yet");
        }
        return run;
    }

    /**
     * Parses the lines of a metrics file ({@code source} names it in errors). Unlike {@link #read}, a
     * file without points is no error here.
     */
    public static Run parse(List<String> lines, String source) {
        Collector c = new Collector();
        try {
            scan(() -> new BufferedReader(new StringReader(String.join("\n", lines))), source, c);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a StringReader does not fail
        }
        return c.run();
    }

    /**
     * Streams a metrics file into {@code sink} with the resumes applied, in file order: every start and
     * end, and the train and eval points that stand (not rolled back by a later start). Memory does not
     * grow with the file. Errors as {@link #read}'s, except that a file without points is none.
     */
    public static void scan(Path file, Consumer<Event> sink) {
        try {
            // decoded with replacement: a last line cut inside a character is just an unparsable line
            scan(() -> new BufferedReader(new InputStreamReader(Files.newInputStream(file), StandardCharsets.UTF_8),
                    1 << 16), file.toString(), sink);
        } catch (NoSuchFileException e) {
            throw new GptException("no metrics file " + file + " (gpt train writes it beside the model)");
        } catch (IOException e) {
            throw new GptException("cannot read " + file + ": " + AtomicFile.describe(e));
        }
    }

    private interface Lines {
        BufferedReader open() throws IOException;
    }

    /**
     * Two passes: the first finds the starts (and how many lines there are, so that lines a running
     * run appends meanwhile are left to the next reading), the second hands on the events, leaving
     * out each point that a later start rolls back.
     */
    private static void scan(Lines lines, String source, Consumer<Event> sink) throws IOException {
        List<int[]> starts = new ArrayList<>(); // {line, rolled back from}
        int count = 0, last = -1;
        try (BufferedReader r = lines.open()) {
            for (String line; (line = r.readLine()) != null; count++) {
                if (line.isBlank()) {
                    continue;
                }
                last = count;
                if (line.contains("\"" + START + "\"")) {
                    try {
                        if (event(line) instanceof Start s) {
                            starts.add(new int[]{count, s.rolledBackFrom()});
                        }
                    } catch (BadLine e) {
                        // reported by the second pass
                    }
                }
            }
        }
        // the smallest iteration rolled back by a start at or after each start
        int[] startLine = new int[starts.size()];
        int[] rollback = new int[starts.size()];
        int min = Integer.MAX_VALUE;
        for (int k = starts.size() - 1; k >= 0; k--) {
            startLine[k] = starts.get(k)[0];
            min = Math.min(min, starts.get(k)[1]);
            rollback[k] = min;
        }
        int next = 0; // the first start below the current line
        try (BufferedReader r = lines.open()) {
            String line;
            for (int i = 0; i <= last && (line = r.readLine()) != null; i++) {
                while (next < startLine.length && startLine[next] <= i) {
                    next++;
                }
                if (line.isBlank()) {
                    continue;
                }
                Event event;
                try {
                    event = event(line);
                } catch (BadLine e) {
                    if (i == last && (i > 0 || LINE_START.startsWith(line) || line.startsWith(LINE_START))) {
                        break; // being written, or cut short by a kill: the lines before it stand
                    }
                    throw new GptException(source + ": line " + (i + 1) + " is not a metrics event (" + e.getMessage() + ")");
                }
                if (event == null) {
                    continue; // an event of a later version
                }
                int rolledBackFrom = next < rollback.length ? rollback[next] : Integer.MAX_VALUE;
                if ((event instanceof Train || event instanceof Eval) && event.iter() >= rolledBackFrom) {
                    continue;
                }
                sink.accept(event);
            }
        }
    }

    /** Collects a {@link Run} from the events {@link #scan} hands on. */
    private static final class Collector implements Consumer<Event> {
        final List<Start> starts = new ArrayList<>();
        final List<Train> train = new ArrayList<>();
        final List<Eval> evals = new ArrayList<>();
        End end;

        @Override
        public void accept(Event event) {
            switch (event) {
                case Start s -> {
                    starts.add(s);
                    end = null;
                }
                case Train t -> train.add(t);
                case Eval e -> evals.add(e);
                case End e -> end = e;
            }
        }

        Run run() {
            return new Run(starts, train, evals, end);
        }
    }

    /** A line that is not an event. */
    private static final class BadLine extends Exception {
        BadLine(String message) {
            super(message, null, false, false);
        }
    }

    /** The event on one line; null for an event of an unknown name. */
    private static Event event(String line) throws BadLine {
        JsonObject o = object(line);
        String name = string(o, EVENT, true);
        int iter = iter(o);
        return switch (name) {
            case START -> new Start(iter, string(o, TIME, false), string(o, BACKEND, false),
                    objectOrNull(o, MODEL), objectOrNull(o, TRAIN_OPTIONS), rolledBackFrom(o, iter));
            case TRAIN -> new Train(iter, number(o, LOSS, true), number(o, LR, false), number(o, GRAD_NORM, false),
                    number(o, TOKENS_PER_S, false), number(o, ELAPSED_S, false));
            case EVAL -> new Eval(iter, number(o, TRAIN_LOSS, true), number(o, VAL_LOSS, true), number(o, LR, false),
                    number(o, ELAPSED_S, false));
            case END -> new End(iter, number(o, ELAPSED_S, false), number(o, TRAIN_S, false), number(o, EVAL_S, false),
                    bool(o, STOPPED));
            default -> null;
        };
    }

    private static JsonObject object(String line) throws BadLine {
        try {
            JsonReader reader = new JsonReader(new StringReader(line));
            // lenient for NaN and Infinity, which a diverged run's loss may be written as
            reader.setStrictness(Strictness.LENIENT);
            JsonElement e = JsonParser.parseReader(reader);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new BadLine("text after the object");
            }
            if (!e.isJsonObject()) {
                throw new BadLine("not a JSON object");
            }
            return e.getAsJsonObject();
        } catch (RuntimeException | IOException e) {
            throw new BadLine("not JSON: " + firstLine(e.getMessage()));
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unreadable";
        }
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).strip();
    }

    private static String string(JsonObject o, String key, boolean required) throws BadLine {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            if (required) {
                throw new BadLine("no \"" + key + "\"");
            }
            return null;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new BadLine("\"" + key + "\" is not a string");
        }
        return e.getAsString();
    }

    private static int iter(JsonObject o) throws BadLine {
        return iteration(o, ITER, true);
    }

    private static int rolledBackFrom(JsonObject o, int iter) throws BadLine {
        return o.has(ROLLED_BACK_FROM) && !o.get(ROLLED_BACK_FROM).isJsonNull() ? iteration(o, ROLLED_BACK_FROM, true) : iter;
    }

    private static int iteration(JsonObject o, String key, boolean required) throws BadLine {
        double v = number(o, key, required);
        if (Double.isNaN(v) || v != Math.rint(v) || v < 0 || v > Integer.MAX_VALUE) {
            throw new BadLine("\"" + key + "\" is not an iteration");
        }
        return (int) v;
    }

    /** A number; a required one must be present (null reads as NaN, as a diverged loss may be written). */
    private static double number(JsonObject o, String key, boolean required) throws BadLine {
        JsonElement e = o.get(key);
        if (e == null) {
            if (required) {
                throw new BadLine("no \"" + key + "\"");
            }
            return Double.NaN;
        }
        if (e.isJsonNull()) {
            return Double.NaN;
        }
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
            return e.getAsDouble();
        }
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) {
            // a diverged run's NaN or Infinity, which lenient JSON reads as an unquoted string
            switch (e.getAsString()) {
                case "NaN" -> {
                    return Double.NaN;
                }
                case "Infinity" -> {
                    return Double.POSITIVE_INFINITY;
                }
                case "-Infinity" -> {
                    return Double.NEGATIVE_INFINITY;
                }
                default -> {
                }
            }
        }
        throw new BadLine("\"" + key + "\" is not a number");
    }

    private static boolean bool(JsonObject o, String key) throws BadLine {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            return false;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw new BadLine("\"" + key + "\" is not true or false");
        }
        return e.getAsBoolean();
    }

    private static JsonObject objectOrNull(JsonObject o, String key) throws BadLine {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (!e.isJsonObject()) {
            throw new BadLine("\"" + key + "\" is not an object");
        }
        return e.getAsJsonObject();
    }
}
