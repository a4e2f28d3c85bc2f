package org.gptjvm.bench;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import org.gptjvm.model.Flops;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.train.Preset;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The table of a JMH run of this module, derived from the JSON JMH wrote ({@code -rf json}), which
 * stays the source: a row per benchmark and parameters with JMH's score, error and unit, and where
 * the work of one operation is known ({@link #work}), tokens/s, GFLOP/s and GB/s, and the ratio of
 * the row to the fastest row doing the same work in the same run (a training step of one config on
 * every backend, as {@code gpt bench} gives; a product of one shape; a kernel of one config): 1.00x
 * is the fastest, 0.50x takes twice as long. JMH writes {@code "NaN"} or {@code "Infinity"} as
 * strings where it has no number (the error of too few iterations), may leave the error out, and
 * adds secondary metrics with {@code -prof} (gc, say): all are read, the secondary metrics listed
 * under their row. Where the run noted its devices ({@link Devices}: X.devices beside X.json, as
 * {@code bench/run-all.sh} has each trial write), a line per backend under the table names what it
 * ran on, so a tornado row reads as the GPU it was, or as OpenCL on the CPU.
 *
 * <pre>
 *   java -cp bench/target/benchmarks.jar org.gptjvm.bench.JmhReport out/jmh.json [more.json ...]
 * </pre>
 */
public final class JmhReport {
    private JmhReport() {
    }

    /** A score as JMH reports it: value, error (NaN: none), unit. */
    record Score(double value, double error, String unit) {
    }

    /**
     * What one operation of a benchmark does: tokens (0: none), FLOPs and bytes it must move (0: not
     * counted), and the group of rows that do the same work, ranked against the fastest (null: none).
     */
    record Work(double tokens, double flops, double bytes, String group) {
        static final Work NONE = new Work(0, 0, 0, null);
    }

    /** One benchmark with its parameters, its primary score, its secondary metrics, and its work per operation. */
    record Row(String benchmark, Map<String, String> params, Score score, Map<String, Score> secondary, Work work) {
        /** Seconds per operation, from the score and its unit (NaN where the unit is neither time per op nor ops per time). */
        double seconds() {
            return secondsPerOp(score.value(), score.unit());
        }
    }

    /** The rows of JMH JSON files, in their order. */
    static List<Row> read(List<Path> files) throws IOException {
        List<Row> rows = new ArrayList<>();
        for (Path f : files) {
            if (!Files.isRegularFile(f)) {
                throw new IOException(f + ": no such file");
            }
            JsonElement root;
            try {
                root = JsonParser.parseString(Files.readString(f, StandardCharsets.UTF_8));
            } catch (JsonParseException e) {
                throw new IOException(f + ": not JSON (" + e.getMessage() + ")");
            }
            if (!root.isJsonArray()) {
                throw new IOException(f + ": not a JMH result (a JSON array of benchmarks)");
            }
            int i = 0;
            for (JsonElement e : root.getAsJsonArray()) {
                i++;
                if (!e.isJsonObject() || !e.getAsJsonObject().has("benchmark")
                        || !e.getAsJsonObject().has("primaryMetric") || !e.getAsJsonObject().get("primaryMetric").isJsonObject()) {
                    throw new IOException(f + ": entry " + i + " is not a JMH benchmark result");
                }
                rows.add(row(e.getAsJsonObject()));
            }
        }
        return rows;
    }

    static Row row(JsonObject b) {
        String name = b.get("benchmark").getAsString();
        String[] parts = name.split("\\.");
        String shortName = parts.length >= 2 ? parts[parts.length - 2].replace("Benchmark", "") + "." + parts[parts.length - 1]
                : name;
        Map<String, String> params = new TreeMap<>();
        if (b.has("params") && b.get("params").isJsonObject()) {
            b.getAsJsonObject("params").entrySet().forEach(p -> params.put(p.getKey(), p.getValue().getAsString()));
        }
        Map<String, Score> secondary = new LinkedHashMap<>();
        if (b.has("secondaryMetrics") && b.get("secondaryMetrics").isJsonObject()) {
            b.getAsJsonObject("secondaryMetrics").entrySet().stream().filter(m -> m.getValue().isJsonObject())
                    .forEach(m -> secondary.put(m.getKey(), score(m.getValue().getAsJsonObject())));
        }
        return new Row(shortName, params, score(b.getAsJsonObject("primaryMetric")), secondary, work(shortName, params));
    }

    private static Score score(JsonObject m) {
        return new Score(number(m.get("score")), number(m.get("scoreError")),
                m.has("scoreUnit") ? m.get("scoreUnit").getAsString() : "");
    }

    /** A JSON number, or JMH's "NaN" / "Infinity" / "-Infinity" strings; NaN where there is none. */
    static double number(JsonElement e) {
        if (e == null || e.isJsonNull() || !e.isJsonPrimitive()) {
            return Double.NaN;
        }
        try {
            return e.getAsJsonPrimitive().isNumber() ? e.getAsDouble() : Double.parseDouble(e.getAsString().trim());
        } catch (NumberFormatException ex) {
            return Double.NaN;
        }
    }

    /** Seconds per operation from a score in {@code unit} (s/op, ms/op, us/op, ns/op, or ops/s, ops/ms, ...). */
    static double secondsPerOp(double score, String unit) {
        String[] u = unit.split("/");
        if (u.length != 2) {
            return Double.NaN;
        }
        if (u[1].equals("op")) {
            return score * seconds(u[0]);
        }
        if (u[0].equals("ops")) {
            return seconds(u[1]) / score;
        }
        return Double.NaN;
    }

    private static double seconds(String unit) {
        return switch (unit) {
            case "s" -> 1;
            case "ms" -> 1e-3;
            case "us" -> 1e-6;
            case "ns" -> 1e-9;
            case "min" -> 60;
            default -> Double.NaN;
        };
    }

    /**
     * The work of one operation of this module's benchmarks, from their parameters. A training step
     * and a product count the model FLOPs ({@link Flops}); the other kernels count an operation per
     * element they compute and the bytes they must move (each input read once, each output written
     * once), as the GPU launch plan counts them: most of them are bound by memory, so their GB/s is
     * the figure to read.
     */
    static Work work(String benchmark, Map<String, String> params) {
        try {
            String[] name = benchmark.split("\\.");
            String method = name[1];
            return switch (name[0]) {
                case "TrainingStep", "LibtorchStep" -> {
                    Preset p = Preset.valueOf(params.get("config"));
                    GptConfig cfg = p.config(VOCAB);
                    yield new Work((double) p.batchSize * cfg.blockSize(), Flops.trainingStep(cfg, p.batchSize), 0,
                            "step " + params.get("config"));
                }
                case "Matmul", "OpenBlasMatmul" -> {
                    String[] s = params.get("shape").split("x");
                    double n = Integer.parseInt(s[0]), c = Integer.parseInt(s[1]), oc = Integer.parseInt(s[2]);
                    double product = 2 * n * c * oc; // one product; backward holds two (input and weight gradient)
                    yield new Work(0, method.equals("backward") ? 2 * product : product, 0,
                            method + " " + params.get("shape"));
                }
                case "Kernel" -> kernel(params.get("kernel"), Preset.valueOf(params.get("config")),
                        method.equals("backward"), method + " " + params.get("kernel") + " " + params.get("config"));
                default -> Work.NONE;
            };
        } catch (RuntimeException e) {
            return Work.NONE; // a benchmark or parameters this report does not know: JMH's figures alone
        }
    }

    /** The vocabulary the benchmarks use (Tiny Shakespeare's). */
    private static final int VOCAB = 65;

    /** One launch of {@link KernelBenchmark}: its kernel at one layer of {@code preset}'s shapes. */
    private static Work kernel(String kernel, Preset preset, boolean backward, String group) {
        GptConfig cfg = preset.config(VOCAB);
        double B = preset.batchSize, T = cfg.blockSize(), C = cfg.nEmbd(), V = VOCAB, N = B * T;
        double flops, read, written;
        switch (kernel) {
            case "encoder" -> { // token and position rows added; backward adds each row of dout into both tables
                flops = backward ? 2 * N * C : N * C;
                read = backward ? 4 * N * C + 4 * N + 4 * (V + T) * C : 8 * N * C + 4 * N;
                written = backward ? 4 * (V + T) * C : 4 * N * C;
            }
            case "layernorm" -> { // backward: dx accumulated, dw and db summed over the rows
                flops = backward ? 15 * N * C : 8 * N * C;
                read = backward ? 12 * N * C + 8 * N + 12 * C : 4 * N * C + 8 * C;
                written = backward ? 4 * N * C + 8 * C : 4 * N * C + 8 * N;
            }
            case "attention" -> { // the two products per head over the T x T square (a third forward, two backward)
                double products = Flops.attention(cfg, preset.batchSize) / cfg.nLayer();
                flops = backward ? 2 * products / 3 : products / 3;
                double qkv = 12 * N * C, att = 4 * B * cfg.nHead() * T * T, out = 4 * N * C;
                read = backward ? out + qkv + att : qkv; // backward reads dout, qkv, att
                written = backward ? qkv : att + out;
            }
            case "crossentropy" -> { // softmax and loss per row, then the mean; backward: probs - one-hot into dlogits
                flops = backward ? 3 * N * V : 4 * N * V + N;
                read = backward ? 8 * N * V + 4 * N : 4 * N * V + 8 * N;
                written = backward ? 4 * N * V : 4 * N * V + 4 * N + 4;
            }
            case "adamw" -> { // every parameter: read p, g, m, v; write p, m, v (both methods run the update)
                double n = cfg.parameterCount();
                flops = 12 * n;
                read = 16 * n;
                written = 12 * n;
            }
            default -> {
                return Work.NONE;
            }
        }
        return new Work(0, flops, read + written, group);
    }

    /** The table: one line per row, its secondary metrics under it. */
    static void print(PrintStream out, List<Row> rows) {
        Map<String, Double> fastest = new HashMap<>();
        for (Row r : rows) {
            if (r.work().group() != null && r.seconds() > 0 && Double.isFinite(r.seconds())) {
                fastest.merge(r.work().group(), r.seconds(), Math::min);
            }
        }
        int w1 = Math.max(9, rows.stream().mapToInt(r -> r.benchmark().length()).max().orElse(0));
        int w2 = Math.max(10, rows.stream().mapToInt(r -> params(r).length()).max().orElse(0));
        String line = "%-" + w1 + "s  %-" + w2 + "s  %12s  %10s  %-7s  %10s  %9s  %8s  %10s%n";
        out.printf(Locale.ROOT, line, "benchmark", "parameters", "score", "error", "unit", "tokens/s", "GFLOP/s", "GB/s",
                "vs fastest");
        for (Row r : rows) {
            double s = r.seconds();
            boolean timed = s > 0 && Double.isFinite(s);
            String tokens = timed && r.work().tokens() > 0 ? String.format(Locale.ROOT, "%.0f", r.work().tokens() / s) : "-";
            String gflops = timed && r.work().flops() > 0 ? String.format(Locale.ROOT, "%.2f", r.work().flops() / s / 1e9)
                    : "-";
            String gbs = timed && r.work().bytes() > 0 ? String.format(Locale.ROOT, "%.2f", r.work().bytes() / s / 1e9) : "-";
            Double best = r.work().group() == null ? null : fastest.get(r.work().group());
            String ratio = timed && best != null ? String.format(Locale.ROOT, "%.2fx", best / s) : "-";
            out.printf(Locale.ROOT, line, r.benchmark(), params(r), value(r.score().value()), error(r.score().error()),
                    r.score().unit(), tokens, gflops, gbs, ratio);
            r.secondary().forEach((name, m) -> out.printf(Locale.ROOT, "%-" + w1 + "s    %s: %s %s%s%n", "", name,
                    value(m.value()), m.unit(), Double.isNaN(m.error()) ? "" : " (error " + error(m.error()) + ")"));
        }
    }

    /** A line per backend and what it ran on, under the table; nothing where none were noted. */
    static void printDevices(PrintStream out, List<Devices.Device> devices) {
        if (devices.isEmpty()) {
            return;
        }
        out.println();
        int w = devices.stream().mapToInt(d -> d.backend().length()).max().orElse(0);
        for (Devices.Device d : devices) {
            out.printf(Locale.ROOT, "device  %-" + w + "s  %s%n", d.backend(), d.description());
        }
    }

    private static String params(Row r) {
        StringBuilder sb = new StringBuilder();
        r.params().forEach((k, v) -> sb.append(sb.isEmpty() ? "" : " ").append(k).append('=').append(v));
        return sb.toString();
    }

    private static String value(double v) {
        if (Double.isNaN(v)) {
            return "n/a";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "inf" : "-inf";
        }
        double a = Math.abs(v);
        return a >= 1e6 || (a < 1 && a > 0) ? String.format(Locale.ROOT, "%.4g", v) : String.format(Locale.ROOT, "%.3f", v);
    }

    private static String error(double e) {
        return Double.isNaN(e) ? "n/a" : value(e);
    }

    /** Prints the table of {@code files} to {@code out}; 0, or 1 with one line on {@code err} where a file cannot be read or holds no result. */
    static int run(List<Path> files, PrintStream out, PrintStream err) {
        try {
            List<Row> rows = read(files);
            if (rows.isEmpty()) {
                err.println("JmhReport: no benchmark results in " + files + " (did every benchmark fail?)");
                return 1;
            }
            print(out, rows);
            List<Devices.Device> devices = new ArrayList<>();
            for (Path f : files) {
                Devices.read(Devices.of(f)).stream().filter(d -> !devices.contains(d)).forEach(devices::add);
            }
            printDevices(out, devices);
            return 0;
        } catch (IOException | RuntimeException e) {
            err.println("JmhReport: " + e.getMessage());
            return 1;
        }
    }

    public static void main(String[] args) {
        if (args.length == 0) {
            System.err.println("usage: java -cp benchmarks.jar org.gptjvm.bench.JmhReport JMH.json [more.json ...]");
            System.exit(2);
        }
        System.exit(run(Arrays.stream(args).map(Path::of).toList(), System.out, System.err));
    }
}
