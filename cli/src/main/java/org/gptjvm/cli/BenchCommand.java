package org.gptjvm.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import org.gptjvm.engine.Backend;
import org.gptjvm.engine.BackendProvider;
import org.gptjvm.engine.Backends;
import org.gptjvm.engine.KernelProfile;
import org.gptjvm.model.Flops;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.io.AtomicFile;
import org.gptjvm.model.train.Preset;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
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

    @Option(names = "--config", paramLabel = "NAME", description = "Preset: ${COMPLETION-CANDIDATES} (default small).")
    Preset preset = Preset.small;
    @Option(names = "--backend", paramLabel = "NAMES", split = ",", hideParamSyntax = true, // no "[,NAMES...]" to wrap at its comma
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
    @Option(names = "--device", paramLabel = "N", description = "Device of a backend with devices of its own (see gpt devices).")
    String device;
    @Option(names = "--eval", description = {"Also time estimate_loss's forward passes: ms per evaluation batch, one "
            + "batch per pass (the training graph's loss program) and as many as gpt train puts in one forward-only pass."})
    boolean eval;
    @Option(names = "--products", description = {"Time the Linear layers' matrix products alone instead of a step: each "
            + "layer shape's forward and backward, in ms and GFLOP/s (with --profile, each kernel's share)."})
    boolean products;

    @Option(names = "--gemm", paramLabel = "NAME", description = {"The Linear layers' products in the steps timed: own "
            + "(each backend's kernels), or a library a backend offers: cublas, cublas-tf32 (see gpt train --help). "
            + "Default: $GPT_GEMM, else own. --products times every library offered beside the own kernels anyway."})
    String gemm;

    static final int MAX_STEPS = 1_000_000;

    @Override
    public Integer call() throws IOException {
        // by default the host backends; a device backend is timed when asked for (its first steps compile kernels);
        // a plan is a device backend's
        List<String> names = backends != null ? backends : Backends.providers().stream()
                .filter(p -> p.absence() == null && p.hasDevices() == plan).map(BackendProvider::name).toList();
        check(names);
        int nThreads = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        if (json != null) {
            Outputs.checkNotInput(json, "--json", org.gptjvm.model.data.DataFiles.choose(data, System.getenv("GPT_DATA")),
                    "--data");
            Outputs.checkReport(json, "backends", force);
        }
        BatchSource source = BatchSource.choose(data, System.getenv("GPT_DATA"));
        GptConfig cfg = preset.config(source.vocabSize());
        if (source.text() != null) { // a batch needs block_size + 1 characters (too few was an internal error)
            source.text().checkBlockSize(cfg.blockSize(), "bench needs more text than the --config's block size");
        }
        int B = preset.batchSize;
        // a step's buffers on a host backend come from this JVM's heap: refuse a preset that cannot fit
        boolean host = names.stream().anyMatch(n -> !Backends.provider(n).hasDevices());
        MemoryCheck.require(org.gptjvm.model.Memory.of(org.gptjvm.model.Memory.Use.STEP, cfg, B, 0, nThreads, 0), host && !products,
                s -> "the --config " + preset + " preset's " + s.name().toLowerCase(Locale.ROOT));
        double flops = Flops.trainingStep(cfg, B);

        JsonObject machine = Machine.describe();
        System.out.printf("machine: %s, %s cores, Java %s, %s%n", machine.get("cpu").getAsString(),
                machine.get("cores").getAsInt(), machine.get("java").getAsString(), machine.get("vector").getAsString());
        System.out.println("data: " + source.describe());
        System.out.printf(Locale.ROOT, "config: %s, batch %d (%d tokens/step, %.2f GFLOP/step); %d threads, %d warm-up + %d timed steps%n",
                preset, B, B * cfg.blockSize(), flops / 1e9, nThreads, warmup, iters);
        JsonArray results = new JsonArray();
        if (products) {
            timeProducts(names, nThreads, cfg, B, results);
        } else if (plan && !profile) {
            for (String name : names) {
                try (Backend be = create(name, 1)) {
                    StepPlan p = StepBench.planOnly(be, cfg, B);
                    System.out.println("plan of one training step on " + name + " (" + be.device() + "); nothing was run:");
                    p.print(System.out, flops, null);
                    JsonObject r = new JsonObject();
                    r.addProperty("name", name);
                    r.addProperty("device", be.device());
                    r.add("plan", p.toJson(null));
                    results.add(r);
                }
            }
        } else {
            timeSteps(names, nThreads, cfg, B, source, flops, results);
        }
        writeJson(machine, source, cfg, flops, B, results);
        return 0;
    }

    /** Usage errors (exit 2) before any work: unknown backends, --plan on a host backend, bad numbers. */
    private void check(List<String> names) {
        if (names.isEmpty()) {
            throw usage("--plan describes the launches of a device backend, and none can run here (see gpt devices)");
        }
        for (String n : names) {
            String problem = Backends.unknown(n);
            if (problem == null && plan && !Backends.provider(n).hasDevices()) {
                problem = "--plan describes the launches of a device backend; " + n + " runs on the host (see gpt devices)";
            }
            if (problem != null) {
                throw usage(problem);
            }
        }
        if (device != null && names.stream().noneMatch(n -> Backends.provider(n).hasDevices())) {
            // with a device backend among several (cpu and a device one) --device is that one's; with none it is a mistake
            throw usage(Backends.deviceFlagProblem(String.join(",", names)));
        }
        String problem = EngineOptions.threadsProblem(threads);
        if (problem == null && iters < 1) {
            problem = "--iters must be at least 1, got " + iters;
        }
        if (problem == null && warmup < 0) {
            problem = "--warmup must not be negative, got " + warmup;
        }
        // each timed step's time is kept: a bench of more steps than this is a typo, not a measurement
        if (problem == null && (iters > MAX_STEPS || warmup > MAX_STEPS)) {
            problem = (iters > MAX_STEPS ? "--iters" : "--warmup") + " must be at most " + MAX_STEPS + ", got "
                    + Math.max(iters, warmup);
        }
        if (problem == null && products && (plan || eval)) {
            problem = "--products times the products alone: it does not go with --" + (plan ? "plan" : "eval");
        }
        if (problem != null) {
            throw usage(problem);
        }
    }

    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }

    /** Backend {@code name} with {@code threads} threads, on --device where it has devices. */
    private Backend create(String name, int threads) {
        Backend be = Backends.create(name, threads, Backends.provider(name).hasDevices() ? device : null);
        return products ? be : EngineOptions.withProducts(be, gemm);
    }

    /** Each backend's steps, timed one backend after the other, as a table with a line or two of detail each. */
    private void timeSteps(List<String> names, int nThreads, GptConfig cfg, int B, BatchSource source, double flops,
                           JsonArray results) {
        System.out.printf("%-10s %10s %10s %10s %10s %12s %9s %8s%n", "backend", "median ms", "mean ms", "min ms", "max ms",
                "tokens/s", "GFLOP/s", "ratio");
        double first = 0;
        for (String name : names) {
            System.gc(); // the previous backend's buffers must not count in this one's peak
            for (var pool : java.lang.management.ManagementFactory.getMemoryPoolMXBeans()) {
                pool.resetPeakUsage();
            }
            StepBench.Timing t;
            try (Backend be = create(name, nThreads)) {
                t = StepBench.time(be, cfg, B, source, warmup, iters, profile, plan, eval);
            }
            double median = t.median();
            if (first == 0) {
                first = median;
            }
            double tokens = B * cfg.blockSize() / (median / 1000);
            double gflops = flops / (median / 1000) / 1e9;
            System.out.printf(Locale.ROOT, "%-10s %10.2f %10.2f %10.2f %10.2f %12.0f %9.2f %7.2fx%n", name, median, t.mean(),
                    t.min(), t.max(), tokens, gflops, first / median);
            System.out.println("    device: " + t.device());
            double peak = t.peakGflops();
            if (!Double.isNaN(peak)) {
                System.out.printf(Locale.ROOT, "    peak: %.1f GFLOP/s, measured (independent vector multiply-adds on every "
                        + "thread, no memory traffic); the step ran at %.0f%% of it%n", peak, 100 * gflops / peak);
            }
            JsonObject r = new JsonObject();
            r.addProperty("name", name);
            r.addProperty("device", t.device());
            r.addProperty("threads", nThreads);
            JsonObject m = new JsonObject();
            m.addProperty("median", median);
            m.addProperty("min", t.min());
            m.addProperty("max", t.max());
            m.addProperty("mean", t.mean()); // what gpt train's ms/iteration is: a mean, stalls included
            r.add("ms_per_step", m);
            r.addProperty("tokens_per_s", tokens);
            r.addProperty("gflops", gflops);
            r.addProperty("speedup_vs_first", first / median);
            if (!Double.isNaN(peak)) {
                r.addProperty("peak_gflops", peak);
            }
            r.addProperty("buffer_bytes", t.bufferBytes());
            r.addProperty("param_state_bytes", t.paramStateBytes());
            r.addProperty("heap_peak_bytes", heapPeak());
            results.add(r);
            System.out.printf(Locale.ROOT, "    memory: %.1f MiB in buffers (parameters, gradients and AdamW moments %.1f MiB;"
                    + " activations and scratch %.1f MiB); JVM heap peak %.1f MiB%n", t.bufferBytes() / 1048576.0,
                    t.paramStateBytes() / 1048576.0, (t.bufferBytes() - t.paramStateBytes()) / 1048576.0,
                    heapPeak() / 1048576.0);
            if (t.eval() != null) {
                StepBench.EvalTiming e = t.eval();
                double evalGflops = flops / 3 / (e.batched() / 1000) / 1e9; // a forward is a third of a step
                System.out.printf(Locale.ROOT, "    evaluation: %.2f ms per batch in passes of %d batches (%.2f GFLOP/s%s), "
                        + "%.2f ms one batch per pass%n", e.batched(), e.perPass(), evalGflops,
                        Double.isNaN(peak) ? "" : String.format(Locale.ROOT, ", %.0f%% of the peak", 100 * evalGflops / peak),
                        e.single());
                JsonObject ej = new JsonObject();
                ej.addProperty("single", e.single());
                ej.addProperty("batched", e.batched());
                ej.addProperty("batches_per_pass", e.perPass());
                ej.addProperty("gflops", evalGflops);
                r.add("eval_ms_per_batch", ej);
            }
            StepPlan.Measured measured = t.measured();
            if (plan) {
                System.out.println("    plan of one training step, with the time of each kernel over " + (warmup + iters)
                        + " steps:");
                t.plan().print(System.out, flops, measured);
                r.add("plan", t.plan().toJson(measured));
            } else if (profile) {
                long total = measured.kernels().totalNanos();
                for (KernelProfile.Entry e : measured.kernels().entries()) {
                    System.out.printf(Locale.ROOT, "    %-24s %6.1f%% %10.3f ms/step%n", e.kernel(),
                            100.0 * e.nanos() / total, e.nanos() / 1e6 / (warmup + iters));
                }
                StepPlan.printStages(System.out, measured);
                if (!measured.stages().isEmpty()) {
                    r.add("ms_per_step_by_stage", StepPlan.stagesJson(measured));
                }
            }
        }
    }

    /** --products: each backend's table of the config's Linear products, into {@code results}. */
    private void timeProducts(List<String> names, int nThreads, GptConfig cfg, int B, JsonArray results) {
        List<Flops.Linear> layers = Flops.linearLayers(cfg, B);
        for (String name : names) {
            try (Backend be = create(name, nThreads)) {
                KernelProfile kernels = new KernelProfile();
                if (profile) {
                    be.profile(kernels);
                }
                ProductBench.Table table = ProductBench.time(be, layers, warmup, iters);
                System.out.printf("%s (%s): the Linear products, median of %d runs after %d, each run %d products%n", name,
                        be.device(), iters, warmup, ProductBench.REPS);
                ProductBench.print(System.out, table);
                JsonObject r = new JsonObject();
                r.addProperty("name", name);
                r.addProperty("device", be.device());
                r.addProperty("threads", nThreads);
                ProductBench.addTo(r, table);
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

    private void writeJson(JsonObject machine, BatchSource source, GptConfig cfg, double flops, int B, JsonArray results)
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

    private static long heapPeak() {
        long sum = 0;
        for (var pool : java.lang.management.ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == java.lang.management.MemoryType.HEAP && pool.getPeakUsage() != null) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }
}
