package org.gptjvm.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import org.gptjvm.engine.Backend;
import org.gptjvm.engine.BackendProvider;
import org.gptjvm.engine.Backends;
import org.gptjvm.engine.GptException;
import org.gptjvm.engine.KernelProfile;
import org.gptjvm.engine.Program;
import org.gptjvm.model.AtomicFile;
import org.gptjvm.model.DataFiles;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.GptGraph;
import org.gptjvm.model.Preset;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.TextData;
import org.gptjvm.model.Rng;
import org.gptjvm.model.Trainer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "bench", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
        description = {"Time whole training steps (forward, backward, AdamW) per backend on batches of text "
                + "(of uniformly random tokens of Tiny Shakespeare's vocabulary when there is no text file), "
                + "side by side in one run: ms/step (median, mean, min, max), tokens/s, GFLOP/s, ratio to the first.",
                "With --plan, print the launches of a device backend's step instead (with --profile: after timing it)."})
final class BenchCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--config", paramLabel = "NAME", description = "small or lecture (default small).")
    Preset preset = Preset.small;
    @Option(names = "--backend", paramLabel = "LIST", split = ",",
            description = "Backends to compare, comma-separated (default: all present).")
    List<String> backends;
    @Option(names = "--threads", paramLabel = "N", description = "CPU threads (default: all cores).")
    Integer threads;
    @Option(names = "--iters", paramLabel = "N", description = "Timed steps per backend (default 20).")
    int iters = 20;
    @Option(names = "--warmup", paramLabel = "N", description = "Untimed steps first (default 5).")
    int warmup = 5;
    @Option(names = "--data", paramLabel = "FILE", converter = FileArg.class, description = "Text for the batches (default: $GPT_DATA, else data/tinyshakespeare.txt, "
            + "else random tokens of its 65 characters).")
    Path data;
    @Option(names = "--json", paramLabel = "FILE", converter = FileArg.class,
            description = "Also write the results as JSON (replacing only an earlier report of gpt bench).")
    Path json;
    @Option(names = "--force", description = "Replace the --json file whatever it holds.")
    boolean force;
    @Option(names = "--profile", description = "Also print the time spent in each kernel.")
    boolean profile;
    @Option(names = "--plan", description = {"Print every launch of one training step of a device backend: kernel, global "
            + "and local work sizes, work-items, FLOPs, bytes, local memory, share of the step. Runs no step unless "
            + "--profile is given, which adds each kernel's measured time."})
    boolean plan;
    @Option(names = "--device", paramLabel = "N", description = "Device of the tornado backend (see gpt devices).")
    String device;
    @Option(names = "--eval", description = {"Also time estimate_loss's forward passes: ms per evaluation batch, one "
            + "batch per pass (the training graph's loss program) and as many as gpt train puts in one forward-only pass."})
    boolean eval;
    @Option(names = "--products", description = {"Time the Linear layers' matrix products alone instead of a step: each "
            + "layer shape's forward and backward, in ms and GFLOP/s (with --profile, each kernel's share)."})
    boolean products;

    @Override
    public Integer call() throws IOException {
        // by default the host backends; a device backend is timed when asked for (its first steps compile kernels);
        // a plan is a device backend's
        List<String> names = backends != null ? backends : Backends.providers().stream()
                .filter(p -> p.absence() == null && p.hasDevices() == plan).map(BackendProvider::name).toList();
        if (names.isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--plan describes the launches of a device backend, "
                    + "and none can run here (see gpt devices)");
        }
        for (String n : names) {
            String problem = Backends.unknown(n);
            if (problem == null && plan && !Backends.provider(n).hasDevices()) {
                problem = "--plan describes the launches of a device backend; " + n + " runs on the host (see gpt devices)";
            }
            if (problem != null) {
                throw new CommandLine.ParameterException(spec.commandLine(), problem);
            }
        }
        if (device != null && names.stream().noneMatch(n -> Backends.provider(n).hasDevices())) {
            // with a device backend among several (cpu,tornado) --device is that one's; with none it is a mistake
            throw new CommandLine.ParameterException(spec.commandLine(), "--device is for the tornado backend; "
                    + String.join(",", names) + " runs on this machine's CPU cores");
        }
        int nThreads = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        String problem = EngineOptions.threadsProblem(threads);
        if (problem == null && iters < 1) {
            problem = "--iters must be at least 1, got " + iters;
        }
        if (problem == null && warmup < 0) {
            problem = "--warmup must not be negative, got " + warmup;
        }
        if (problem == null && products && (plan || eval)) {
            problem = "--products times the products alone: it does not go with --" + (plan ? "plan" : "eval");
        }
        if (problem != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), problem);
        }
        if (json != null) {
            Outputs.checkReport(json, "backends", force);
        }
        Source source = Source.choose(data, System.getenv("GPT_DATA"));
        GptConfig cfg = preset.config(source.vocabSize());
        if (source.text() != null) { // a batch needs block_size + 1 characters (too few was an internal error)
            source.text().checkBlockSize(cfg.blockSize(), "bench needs more text than the --config's block size");
        }
        int B = preset.batchSize;
        double flops = flopsPerStep(cfg, B);

        JsonObject machine = Machine.describe();
        System.out.printf("machine: %s, %s cores, Java %s, %s%n", machine.get("cpu").getAsString(),
                machine.get("cores").getAsInt(), machine.get("java").getAsString(), machine.get("vector").getAsString());
        System.out.println("data: " + source.describe());
        System.out.printf(Locale.ROOT, "config: %s, batch %d (%d tokens/step, %.2f GFLOP/step); %d threads, %d warm-up + %d timed steps%n",
                preset, B, B * cfg.blockSize(), flops / 1e9, nThreads, warmup, iters);
        JsonArray results = new JsonArray();
        if (products) {
            timeProducts(names, nThreads, cfg, B, results);
            writeJson(machine, source, cfg, flops, B, results);
            return 0;
        }
        if (plan && !profile) {
            for (String name : names) {
                StepPlan p = planOnly(name, cfg, B);
                System.out.println("plan of one training step on " + name + " (" + lastDevice + "); nothing was run:");
                p.print(System.out, flops, null, 0);
                JsonObject r = new JsonObject();
                r.addProperty("name", name);
                r.addProperty("device", lastDevice);
                r.add("plan", p.toJson(null, 0));
                results.add(r);
            }
            writeJson(machine, source, cfg, flops, B, results);
            return 0;
        }
        System.out.printf("%-10s %10s %10s %10s %10s %12s %9s %8s%n", "backend", "median ms", "mean ms", "min ms", "max ms",
                "tokens/s", "GFLOP/s", "ratio");
        double first = 0;
        for (String name : names) {
            System.gc(); // the previous backend's buffers must not count in this one's peak
            for (var pool : java.lang.management.ManagementFactory.getMemoryPoolMXBeans()) {
                pool.resetPeakUsage();
            }
            double[] ms = time(name, nThreads, cfg, B, source);
            double[] sorted = ms.clone();
            Arrays.sort(sorted);
            double median = median(sorted), mean = Arrays.stream(ms).average().orElse(Double.NaN);
            if (first == 0) {
                first = median;
            }
            double tokens = B * cfg.blockSize() / (median / 1000);
            double gflops = flops / (median / 1000) / 1e9;
            System.out.printf(Locale.ROOT, "%-10s %10.2f %10.2f %10.2f %10.2f %12.0f %9.2f %7.2fx%n", name, median, mean,
                    sorted[0], sorted[sorted.length - 1], tokens, gflops, first / median);
            System.out.println("    device: " + lastDevice);
            if (!Double.isNaN(lastPeak)) {
                System.out.printf(Locale.ROOT, "    peak: %.1f GFLOP/s, measured (independent vector multiply-adds on every "
                        + "thread, no memory traffic); the step ran at %.0f%% of it%n", lastPeak, 100 * gflops / lastPeak);
            }
            JsonObject r = new JsonObject();
            r.addProperty("name", name);
            r.addProperty("device", lastDevice);
            r.addProperty("threads", nThreads);
            JsonObject m = new JsonObject();
            m.addProperty("median", median);
            m.addProperty("min", sorted[0]);
            m.addProperty("max", sorted[sorted.length - 1]);
            m.addProperty("mean", mean); // what gpt train's ms/iteration is: a mean, stalls included
            r.add("ms_per_step", m);
            r.addProperty("tokens_per_s", tokens);
            r.addProperty("gflops", gflops);
            r.addProperty("speedup_vs_first", first / median);
            if (!Double.isNaN(lastPeak)) {
                r.addProperty("peak_gflops", lastPeak);
            }
            r.addProperty("buffer_bytes", lastBufferBytes);
            r.addProperty("param_state_bytes", lastParamStateBytes);
            r.addProperty("heap_peak_bytes", heapPeak());
            results.add(r);
            System.out.printf(Locale.ROOT, "    memory: %.1f MiB in buffers (parameters, gradients and AdamW moments %.1f MiB;"
                    + " activations and scratch %.1f MiB); JVM heap peak %.1f MiB%n", lastBufferBytes / 1048576.0,
                    lastParamStateBytes / 1048576.0, (lastBufferBytes - lastParamStateBytes) / 1048576.0,
                    heapPeak() / 1048576.0);
            if (lastEval != null) {
                double evalGflops = flops / 3 / (lastEval.batched() / 1000) / 1e9; // a forward is a third of a step
                System.out.printf(Locale.ROOT, "    evaluation: %.2f ms per batch in passes of %d batches (%.2f GFLOP/s%s), "
                        + "%.2f ms one batch per pass%n", lastEval.batched(), lastEval.perPass(), evalGflops,
                        Double.isNaN(lastPeak) ? "" : String.format(Locale.ROOT, ", %.0f%% of the peak", 100 * evalGflops / lastPeak),
                        lastEval.single());
                JsonObject e = new JsonObject();
                e.addProperty("single", lastEval.single());
                e.addProperty("batched", lastEval.batched());
                e.addProperty("batches_per_pass", lastEval.perPass());
                e.addProperty("gflops", evalGflops);
                r.add("eval_ms_per_batch", e);
            }
            if (plan) {
                System.out.println("    plan of one training step, with the time of each kernel over " + (warmup + iters)
                        + " steps:");
                lastPlan.print(System.out, flops, lastProfile, warmup + iters);
                r.add("plan", lastPlan.toJson(lastProfile, warmup + iters));
            } else if (profile) {
                long total = lastProfile.totalNanos();
                for (KernelProfile.Entry e : lastProfile.entries()) {
                    System.out.printf(Locale.ROOT, "    %-24s %6.1f%% %10.3f ms/step%n", e.kernel(),
                            100.0 * e.nanos() / total, e.nanos() / 1e6 / (warmup + iters));
                }
                StepPlan.printStages(System.out, lastProfile, warmup + iters);
                if (!lastProfile.stages().isEmpty()) {
                    r.add("ms_per_step_by_stage", StepPlan.stagesJson(lastProfile, warmup + iters));
                }
            }
        }
        writeJson(machine, source, cfg, flops, B, results);
        return 0;
    }

    /** --products: each backend's table of the config's Linear products, into {@code results}. */
    private void timeProducts(List<String> names, int nThreads, GptConfig cfg, int B, JsonArray results) {
        List<ProductBench.Layer> layers = ProductBench.layers(cfg, B);
        for (String name : names) {
            try (Backend be = Backends.create(name, nThreads, Backends.provider(name).hasDevices() ? device : null)) {
                KernelProfile kernels = new KernelProfile();
                if (profile) {
                    be.profile(kernels);
                }
                List<ProductBench.Result> table = ProductBench.time(be, layers, warmup, iters);
                System.out.printf("%s (%s): the Linear products, median of %d runs after %d, each run %d products%n", name,
                        be.device(), iters, warmup, ProductBench.REPS);
                ProductBench.print(System.out, table, cfg.nLayer());
                JsonObject r = new JsonObject();
                r.addProperty("name", name);
                r.addProperty("device", be.device());
                r.addProperty("threads", nThreads);
                r.add("products", ProductBench.toJson(table));
                if (profile) {
                    long total = kernels.totalNanos();
                    JsonObject byKernel = new JsonObject();
                    for (KernelProfile.Entry e : kernels.entries()) {
                        System.out.printf(Locale.ROOT, "    %-28s %6.1f%% of the kernels' time%n", e.kernel(),
                                100.0 * e.nanos() / total);
                        byKernel.addProperty(e.kernel(), (double) e.nanos() / total);
                    }
                    r.add("share_by_kernel", byKernel);
                }
                results.add(r);
            }
        }
    }

    private void writeJson(JsonObject machine, Source source, GptConfig cfg, double flops, int B, JsonArray results)
            throws IOException {
        if (json != null) {
            JsonObject root = new JsonObject();
            root.add("machine", machine);
            root.add("data", source.toJson());
            JsonObject c = cfg.toJson();
            c.addProperty("name", preset.name());
            c.addProperty("batch_size", B);
            c.addProperty("gflop_per_step", flops / 1e9);
            c.addProperty("warmup", warmup);
            c.addProperty("iters", iters);
            root.add("config", c);
            root.add("backends", results);
            byte[] report = new GsonBuilder().setPrettyPrinting().create().toJson(root).getBytes(StandardCharsets.UTF_8);
            AtomicFile.write(json, os -> os.write(report));
        }
    }

    /**
     * Where the batches come from: the text of --data, $GPT_DATA or data/tinyshakespeare.txt as
     * training draws them, or, when none was named and the default file is absent (a fresh clone),
     * uniformly random tokens of Tiny Shakespeare's vocabulary, so the benchmark runs anywhere. A
     * step's time does not depend on the token values, only on the shapes, so both time the same work.
     */
    record Source(TextData text, Path file) {
        static Source choose(Path flag, String env) {
            Path file = DataFiles.choose(flag, env);
            if (flag == null && (env == null || env.isBlank()) && !Files.exists(file)) {
                return new Source(null, null);
            }
            return new Source(TextData.load(file), file); // a named file that is missing stays an error
        }

        int vocabSize() {
            return text != null ? text.tokenizer().vocabSize() : DataFiles.TINY_SHAKESPEARE_VOCAB_SIZE;
        }

        String describe() {
            return text != null ? file + " (vocabulary " + vocabSize() + ")"
                    : "random tokens (vocabulary " + vocabSize() + "; no data file)";
        }

        JsonObject toJson() {
            JsonObject d = new JsonObject();
            d.addProperty("source", text != null ? "file" : "random tokens");
            if (text != null) {
                d.addProperty("file", file.toString());
                d.addProperty("bytes", text.identity().bytes());
                d.addProperty("sha256", text.identity().sha256());
            }
            d.addProperty("vocab_size", vocabSize());
            return d;
        }

        /**
         * One batch into x and y (B*T each): get_batch on the text's training split, or B rows of
         * T + 1 uniformly random tokens, x the first T of each and y the last T, as get_batch shifts.
         */
        void batch(Rng rng, int B, int T, int[] x, int[] y) {
            if (text != null) {
                text.batch(TextData.Split.TRAIN, rng, B, T, x, y);
                return;
            }
            int V = vocabSize();
            for (int b = 0; b < B; b++) {
                int prev = rng.nextInt(V);
                for (int t = 0; t < T; t++) {
                    x[b * T + t] = prev;
                    prev = rng.nextInt(V);
                    y[b * T + t] = prev;
                }
            }
        }
    }

    private long lastBufferBytes, lastParamStateBytes;
    private String lastDevice;
    private KernelProfile lastProfile;
    private StepPlan lastPlan;
    private EvalTiming lastEval;
    /** The backend's {@link Backend#peakGflops()}, measured after its steps (NaN: it has none). */
    private double lastPeak;

    /** The launches of one training step (forward, backward, AdamW) as the backend records them. */
    private static StepPlan stepPlan(Backend be, Gpt gpt, int B) {
        GptGraph g = gpt.batchGraph(B);
        List<StepPlan.Row> rows = new ArrayList<>();
        for (Program p : List.of(g.zeroGrads, g.forwardBackward, g.update)) {
            p.plan().forEach(l -> rows.add(new StepPlan.Row(p.name(), l)));
        }
        if (rows.isEmpty()) {
            throw new GptException("the " + be.name() + " backend does not describe its launches: --plan is for device "
                    + "backends (see gpt devices)");
        }
        return new StepPlan(rows, be.allocatedBytes());
    }

    /** The plan of a step, recorded without running anything. */
    private StepPlan planOnly(String name, GptConfig cfg, int B) {
        try (Backend be = Backends.create(name, 1, Backends.provider(name).hasDevices() ? device : null)) {
            lastDevice = be.device();
            return stepPlan(be, new Gpt(be, cfg), B);
        }
    }

    private static long heapPeak() {
        long sum = 0;
        for (var pool : java.lang.management.ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == java.lang.management.MemoryType.HEAP && pool.getPeakUsage() != null) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }

    private double[] time(String name, int nThreads, GptConfig cfg, int B, Source source) {
        try (Backend be = Backends.create(name, nThreads, Backends.provider(name).hasDevices() ? device : null)) {
            lastProfile = new KernelProfile();
            if (profile) {
                be.profile(lastProfile);
            }
            Gpt gpt = new Gpt(be, cfg);
            lastDevice = be.device();
            lastParamStateBytes = 4 * 4 * gpt.params.count();
            gpt.params.initialize(Seeds.init(1337));
            Rng rng = Seeds.data(1337);
            int[] x = new int[B * cfg.blockSize()], y = new int[x.length];
            Gpt.Optimizer opt = Gpt.Optimizer.pytorchDefaults(1e-3);
            double[] ms = new double[iters];
            for (int i = 0; i < warmup + iters; i++) {
                source.batch(rng, B, cfg.blockSize(), x, y);
                long t0 = System.nanoTime();
                gpt.forwardBackward(x, y, i);
                gpt.update(opt, i + 1);
                if (i >= warmup) {
                    ms[i - warmup] = (System.nanoTime() - t0) / 1e6;
                }
            }
            lastBufferBytes = be.allocatedBytes();
            lastPlan = plan ? stepPlan(be, gpt, B) : null;
            lastEval = eval ? timeEvaluation(gpt, cfg, B, source, rng) : null;
            lastPeak = be.peakGflops();
            return ms;
        }
    }

    /** What --eval measured: ms per batch one at a time, ms per batch in passes of {@code perPass}. */
    record EvalTiming(double single, double batched, int perPass) {
    }

    /**
     * Times the evaluation's forward passes at the default eval_iters: {@code max(iters, 3)} passes
     * each way after one untimed pass (which builds the forward-only graph).
     */
    private EvalTiming timeEvaluation(Gpt gpt, GptConfig cfg, int B, Source source, Rng rng) {
        int rows = B * cfg.blockSize(), k = Trainer.evalBatchesPerPass(Preset.EVAL_ITERS, rows);
        int[] x = new int[k * rows], y = new int[k * rows];
        for (int j = 0; j < k; j++) {
            int[] bx = new int[rows], by = new int[rows];
            source.batch(rng, B, cfg.blockSize(), bx, by);
            System.arraycopy(bx, 0, x, j * rows, rows);
            System.arraycopy(by, 0, y, j * rows, rows);
        }
        int passes = Math.max(iters, 3);
        double[] ms = new double[2];
        int[] perPass = {1, k};
        for (int w = 0; w < 2; w++) {
            int batches = perPass[w];
            int[] px = java.util.Arrays.copyOf(x, batches * rows), py = java.util.Arrays.copyOf(y, batches * rows);
            gpt.batchLosses(px, py, batches, rows);
            long t0 = System.nanoTime();
            for (int i = 0; i < passes; i++) {
                gpt.batchLosses(px, py, batches, rows);
            }
            ms[w] = (System.nanoTime() - t0) / 1e6 / passes / batches;
        }
        return new EvalTiming(ms[0], ms[1], k);
    }

    /** The median of {@code sorted} (ascending). */
    static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /**
     * Model FLOPs of one training step: 6 per weight per token for the Linear layers (forward 2,
     * backward 4) and 12 * n_layer * T * C per token for attention (PaLM's convention).
     */
    static double flopsPerStep(GptConfig c, int B) {
        double tokens = (double) B * c.blockSize();
        if (c.isBigram()) {
            return 0;
        }
        double C = c.nEmbd();
        double linear = c.nLayer() * (3 * C * C + C * C + 8 * C * C) + C * c.vocabSize();
        return 6 * tokens * linear + 12.0 * c.nLayer() * c.blockSize() * C * tokens;
    }

    /** The header of a benchmark: what it ran on. */
    static final class Machine {
        static JsonObject describe() {
            JsonObject m = new JsonObject();
            m.addProperty("cpu", cpuModel());
            m.addProperty("cores", Runtime.getRuntime().availableProcessors());
            m.addProperty("java", Runtime.version().toString());
            m.addProperty("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
            m.addProperty("vector", ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
                    ? "Vector API on" : "Vector API off (scalar)");
            m.addProperty("max_heap_gib", Runtime.getRuntime().maxMemory() / (double) (1L << 30));
            return m;
        }

        private static String cpuModel() {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                    if (line.startsWith("model name")) {
                        return line.substring(line.indexOf(':') + 1).trim();
                    }
                }
            } catch (IOException | RuntimeException ignored) {
                // not Linux
            }
            return System.getProperty("os.arch");
        }
    }
}
