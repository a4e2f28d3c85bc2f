package org.gptjvm.cli;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.GptException;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.Memory;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.dist.Collective;
import org.gptjvm.model.data.DataFiles;
import org.gptjvm.model.data.TextData;
import org.gptjvm.model.sample.Sampler;
import org.gptjvm.model.train.Checkpoint;
import org.gptjvm.model.train.Metrics;
import org.gptjvm.model.train.Optimizer;
import org.gptjvm.model.train.Preset;
import org.gptjvm.model.train.Recipe;
import org.gptjvm.model.train.RunLock;
import org.gptjvm.model.train.TrainOptions;
import org.gptjvm.model.train.Trainer;
import org.gptjvm.model.train.TrainingRun;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "train", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
        description = {"Train the lecture's GPT on a text file, print the losses as the lecture does, "
                + "save the model and print a sample.",
                "Defaults: the video's small model (--config small); --config lecture is its 10.8M model; "
                + "--config nanogpt is nanoGPT's train_shakespeare_char recipe on the lecture's model.",
                "Writes the model, its metrics (NAME.metrics.jsonl) and loss curves (NAME.loss.png)."})
final class TrainCommand implements Callable<Integer> {

    enum ModelKind { gpt, bigram }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--config", paramLabel = "NAME", description = "Preset: ${COMPLETION-CANDIDATES} (default: small).")
    Preset preset = Preset.small;
    @Option(names = "--model", paramLabel = "KIND", description = "gpt, or bigram: the lecture's first model (default: gpt).")
    ModelKind model = ModelKind.gpt;
    @Option(names = "--batch-size", paramLabel = "B", description = "Sequences per batch (small 16, lecture 64).")
    Integer batchSize;
    @Option(names = "--block-size", paramLabel = "T", description = "Context length (small 32, lecture 256).")
    Integer blockSize;
    @Option(names = "--n-embd", paramLabel = "C", description = "Embedding width (small 64, lecture 384).")
    Integer nEmbd;
    @Option(names = "--n-head", paramLabel = "H", description = "Attention heads (small 4, lecture 6).")
    Integer nHead;
    @Option(names = "--n-layer", paramLabel = "L", description = "Transformer blocks (small 4, lecture 6).")
    Integer nLayer;
    @Option(names = "--dropout", paramLabel = "P", description = "Dropout probability (small 0.0, lecture 0.2).")
    Float dropout;
    @Option(names = "--lr", paramLabel = "LR", description = "AdamW learning rate (small 1e-3, lecture 3e-4).")
    Double lr;
    @Option(names = "--iters", paramLabel = "N", description = "Training iterations (default " + Preset.ITERS + ").")
    Integer iters;
    @Option(names = "--eval-interval", paramLabel = "N", description = "Evaluate every N iterations (small 100, lecture 500).")
    Integer evalInterval;
    @Option(names = "--eval-iters", paramLabel = "N", description = "Batches per split in each evaluation (default " + Preset.EVAL_ITERS + ").")
    Integer evalIters;
    @Option(names = "--lr-schedule", paramLabel = "KIND", description = "constant or cosine: nanoGPT's warmup and "
            + "cosine decay (small, lecture: constant; nanogpt: cosine).")
    Optimizer.Schedule.Kind lrSchedule;
    @Option(names = "--warmup-iters", paramLabel = "N", description = "Iterations of linear warmup (default 0; nanogpt 100).")
    Integer warmupIters;
    @Option(names = "--lr-decay-iters", paramLabel = "N", description = "Cosine: iteration where the rate reaches "
            + "--min-lr (default: --iters).")
    Integer lrDecayIters;
    @Option(names = "--min-lr", paramLabel = "LR", description = "Cosine: the rate after the decay (default: --lr / 10).")
    Double minLr;
    @Option(names = "--grad-clip", paramLabel = "NORM", description = "Clip the gradients' global L2 norm to NORM; "
            + "0: off (default 0; nanogpt 1.0).")
    Double gradClip;
    @Option(names = "--grad-accum", paramLabel = "N", description = "Micro-batches of --batch-size per AdamW step, "
            + "their gradients averaged (default 1).")
    Integer gradAccum;
    @Option(names = "--beta1", paramLabel = "B1", description = "AdamW beta1 (default 0.9).")
    Double beta1;
    @Option(names = "--beta2", paramLabel = "B2", description = "AdamW beta2 (default 0.999; nanogpt 0.99).")
    Double beta2;
    @Option(names = "--weight-decay", paramLabel = "WD", description = "AdamW weight decay (default 0.01, PyTorch's; "
            + "nanogpt 0.1).")
    Double weightDecay;
    @Option(names = "--decay-matrices-only", negatable = true, description = "Weight decay on 2-D weights only, "
            + "not biases and LayerNorms, as nanoGPT (default: off; nanogpt: on).")
    Boolean decayMatricesOnly;
    @Option(names = "--log-interval", paramLabel = "N", description = "Write the training loss to the metrics file "
            + "every N iterations (default 10).")
    int logInterval = 10;
    @Option(names = "--seed", paramLabel = "S", description = "Seed for init, batches, dropout, sampling (default " + Preset.SEED + ").")
    long seed = Preset.SEED;
    @Option(names = "--data", paramLabel = "FILE", converter = FileArg.class,
            description = "UTF-8 training text (default: $GPT_DATA, else data/tinyshakespeare.txt).")
    Path data;
    @Option(names = "--download", description = "Download Tiny Shakespeare into data/ if no data file is found.")
    boolean download;
    @Option(names = "--out", paramLabel = "FILE", converter = FileArg.class,
            description = "Where to save the model (default: the --resume file, else out/gpt.safetensors).")
    Path out;
    @Option(names = "--resume", paramLabel = "FILE", converter = FileArg.class,
            description = "Continue the run saved in FILE (a checkpoint of 'gpt train') up to --iters iterations in all.")
    Path resume;
    @Option(names = "--force", description = "Replace an existing --out file, and resume on a text other than the run's.")
    boolean force;
    @Option(names = "--sample-tokens", paramLabel = "N", description = "Characters to generate after training (default 500; 0: none).")
    long sampleTokens = 500;
    @Option(names = "--raw", description = "Print the sample's control characters as generated even to a terminal "
            + "(there, by default, all but newline and tab show as escapes such as \\x1b).")
    boolean rawSample;
    @Mixin
    EngineOptions engine;

    GptConfig modelConfig(int vocab) {
        if (model == ModelKind.bigram) {
            CommandLine.ParseResult given = spec.commandLine().getParseResult();
            for (String gptOnly : List.of("--n-embd", "--n-head", "--n-layer", "--dropout")) {
                if (given.hasMatchedOption(gptOnly)) {
                    throw usage(gptOnly + " sets the GPT model; the bigram model (--model bigram) is one embedding table");
                }
            }
            return new GptConfig(GptConfig.BIGRAM, vocab, or(blockSize, preset.blockSize), vocab, 1, 0, 0f);
        }
        return new GptConfig(GptConfig.GPT, vocab, or(blockSize, preset.blockSize), or(nEmbd, preset.nEmbd),
                or(nHead, preset.nHead), or(nLayer, preset.nLayer), dropout != null ? dropout : preset.dropout);
    }

    TrainOptions trainOptions() {
        if (minLr != null && Double.isNaN(minLr)) { // NaN is the recipe's "not given": it cannot be given
            throw new GptException("--min-lr must be a number of 0 or more, got NaN");
        }
        if (lrDecayIters != null && lrDecayIters < 1) { // 0 is the recipe's "not given" (--iters)
            throw new GptException("--lr-decay-iters must be 1 or more (default: --iters), got " + lrDecayIters);
        }
        TrainOptions base = preset.trainOptions();
        Recipe recipe = base.recipe().withSchedule(lrSchedule, warmupIters, lrDecayIters, minLr)
                .withOptimizer(beta1, beta2, weightDecay, decayMatricesOnly, gradClip, gradAccum);
        TrainOptions given = new TrainOptions(or(batchSize, base.batchSize()), lr != null ? lr : base.lr(),
                or(iters, base.iters()), or(evalInterval, base.evalInterval()), or(evalIters, base.evalIters()), seed, recipe)
                .validate();
        Optimizer.Schedule s = recipe.schedule();
        if (s.kind() == Optimizer.Schedule.Kind.cosine && s.lrDecayIters() == 0 && given.iters() <= s.warmupIters()) {
            // the horizon was not given: it is --iters, and the error says so rather than name a flag never given
            throw new GptException("--iters (" + given.iters() + ") must be above --warmup-iters (" + s.warmupIters()
                    + "): the cosine schedule decays from the end of the warmup to --lr-decay-iters, whose default is "
                    + "--iters (or give --lr-decay-iters)");
        }
        TrainOptions o = given.resolved();
        double floor = o.recipe().schedule().minLr(o.lr());
        if (o.recipe().schedule().kind() == Optimizer.Schedule.Kind.cosine && floor > o.lr()) {
            throw new GptException("--min-lr (" + num(floor) + ") must be at most --lr (" + num(o.lr()) + "): the cosine schedule "
                    + "decays from --lr to it");
        }
        return o;
    }

    private static int or(Integer v, int dflt) {
        return v != null ? v : dflt;
    }

    private static double or2(Double v, double dflt) {
        return v != null ? v : dflt;
    }

    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }

    @Override
    public Integer call() {
        engine.check(spec);
        // one of several processes (mpirun, srun): a data-parallel run, where process 0 alone prints and writes;
        // every process's errors still reach stderr
        Collective world = Collective.fromEnvironment();
        PrintStream stdout = world.leader() ? new PrintStream(System.out, true, StandardCharsets.UTF_8)
                : new PrintStream(java.io.OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8);
        if (sampleTokens < 0) {
            throw usage("--sample-tokens must not be negative");
        }
        if (logInterval <= 0) {
            throw usage("--log-interval must be positive");
        }
        Checkpoint resumed = resume != null ? loadForResume() : null;
        Path target = out != null ? out : resume != null ? resume : Path.of("out", "gpt.safetensors");
        // sizes first: a usage error should not wait for the data to load
        TrainOptions opts;
        try {
            opts = (resumed != null ? resumed.train.options().with(iters, evalInterval, evalIters) : trainOptions()).validate();
        } catch (GptException e) {
            throw usage(e.getMessage());
        }
        if (resumed != null) {
            try {
                resumed.config.checkBatch(opts.batchSize());
            } catch (GptException e) {
                throw new GptException(resume + ": its batch_size " + opts.batchSize() + " and config: " + e.getMessage());
            }
            checkMemory(resumed.config, opts, resumed);
        } else {
            try {
                // the vocabulary is known once the data is read: these checks use one character, and the
                // model is checked again with the real vocabulary before it is built
                GptConfig shape = modelConfig(1).validate();
                shape.checkBatch(opts.batchSize());
                checkMemory(shape, opts, null);
            } catch (GptException e) {
                throw usage(e.getMessage());
            }
        }
        if (resumed != null && opts.iters() < resumed.train.iteration()) {
            throw new GptException(resume + " has trained " + resumed.train.iteration() + " iterations already: --iters "
                    + opts.iters() + " is below that (--iters counts from the start of the run)");
        }
        // one writer per run: taken before any work, held to the end (process 0 of a job writes alone)
        try (RunLock lock = world.leader() ? RunLock.acquire(target, "gpt train") : null) {
            return train(world, stdout, resumed, target, opts);
        }
    }

    private int train(Collective world, PrintStream stdout, Checkpoint resumed, Path target, TrainOptions opts) {
        if (world.leader()) { // process 0 alone writes, and so alone tries the target (two would race to create it)
            Outputs.checkModel(target, resume, force);
        }
        Path dataFile = findData(stdout);
        checkNotAnOutput(dataFile, target);
        Terminal.Progress progress = new Terminal.Progress(stdout, Terminal.stdoutIsTerminal(), opts.evalInterval());
        try {
            return train(world, stdout, resumed, target, opts, dataFile, progress);
        } catch (RuntimeException e) {
            progress.clear(); // the error's line starts a line of its own
            throw e;
        }
    }

    private int train(Collective world, PrintStream stdout, Checkpoint resumed, Path target, TrainOptions opts, Path dataFile,
                      Terminal.Progress progress) {
        progress.status("reading the text");
        TextData text = TextData.load(dataFile, resumed != null ? resumed.tokenizer : null);
        if (resumed != null) {
            checkSameText(resumed, dataFile, text.identity());
        }
        GptConfig config = resumed != null ? resumed.config : modelConfig(text.tokenizer().vocabSize());
        text.checkBlockSize(config.blockSize());
        if (resumed == null) {
            try {
                config.validate().checkBatch(opts.batchSize());
            } catch (GptException e) {
                throw new GptException(e.getMessage() + " (with the " + config.vocabSize() + " characters of " + dataFile + ")");
            }
            try {
                checkMemory(config, opts, null);
            } catch (GptException e) { // the settings' fault, as the check before the text was read: a usage error
                throw usage(e.getMessage());
            }
        }

        progress.status("building the model");
        try (Backend backend = engine.create()) {
            MemoryCheck.requireOnDevice(backend);
            Gpt gpt = new Gpt(backend, config);
            TrainingRun run = new TrainingRun(gpt, text, opts, resumed, resume, target, logInterval, force, world);
            progress.clear();
            stdout.printf(Locale.ROOT, "%s M parameters%n", new java.math.BigDecimal(gpt.params.count())
                    .movePointLeft(6).toPlainString());
            stdout.printf("model: %s; batch %d, lr %s, %d iterations; backend %s%n", config, opts.batchSize(),
                    opts.lr(), opts.iters(), backend.device());
            if (world.size() > 1) {
                stdout.printf("data-parallel: %d processes of %d rows each, one batch of %d rows a step%n", world.size(),
                        opts.batchSize(), world.size() * opts.batchSize());
            }
            if (!opts.recipe().equals(Recipe.LECTURE)) {
                stdout.println("recipe: " + describe(opts));
            }
            if (resumed != null) {
                stdout.printf("resuming %s at iteration %d%n", resume, run.trainer().iteration());
            }
            if (run.metricsNote() != null) {
                stdout.println("metrics: " + run.metricsNote());
            }
            Runnable restoreSignals = Interrupts.onStop(run::requestStop, () -> "nothing more was saved; " + run.holds(),
                    world.leader());
            TrainingRun.Outcome outcome;
            try {
                outcome = run.run(new TrainingRun.Reporter() {
                    int evaluatingAt;

                    @Override
                    public void evaluating(int step) {
                        evaluatingAt = step;
                        progress.evaluating(step, opts.iters());
                    }

                    @Override
                    public void evaluationProgress(int done, int total) {
                        progress.evaluationProgress(evaluatingAt, done, total);
                    }

                    @Override
                    public void evaluated(int step, float trainLoss, float valLoss) {
                        progress.evaluated();
                        progress.clear();
                        stdout.printf(Locale.ROOT, "step %d: train loss %.4f, val loss %.4f%n", step, trainLoss, valLoss);
                    }

                    @Override
                    public void stepped(Trainer.StepReport s) {
                        progress.update(s.iter(), s.total(), s.loss());
                    }

                    @Override
                    public void warn(String message) {
                        progress.clear();
                        System.err.println("gpt: warning: " + Main.printable(message));
                    }
                });
            } finally {
                progress.clear();
                restoreSignals.run();
            }
            Path metricsFile = run.metricsFile();
            String picture = world.leader() ? LossPlot.writeQuietly(metricsFile, Metrics.plotFileFor(target)) : "";
            if (outcome.stopped()) {
                stdout.printf("metrics: %s; loss curves: %s%n", metricsFile, picture);
                stdout.printf("interrupted at iteration %d; saved %s (continue with: %s%s)%n", outcome.iteration(), target,
                        world.size() > 1 ? Collective.launchCommand(world.size()) + " " : "", Launcher.command("train", "--resume", target.toString(), "--iters", String.valueOf(opts.iters()),
                                "--data", dataFile.toString()));
                world.close();
                return 130;
            }
            Trainer.Result r = outcome.result();
            stdout.printf(Locale.ROOT, "trained %d iterations in %.1f s (%.1f ms/iteration, %.1f s evaluating, %.1f s "
                            + "printing and saving); saved %s%n", r.iterations(), r.seconds(),
                    r.iterations() == 0 ? 0 : 1000 * r.trainSeconds() / r.iterations(), r.evalSeconds(), r.listenerSeconds(),
                    target);
            stdout.printf("metrics: %s; loss curves: %s%n", metricsFile, picture);
            if (run.stopAsked()) { // a signal as the run ended: it is whole and saved, and the sample is left out
                stdout.println("interrupted after the last iteration: nothing left to train, no sample");
                world.close();
                return 130;
            }
            if (sampleTokens > 0 && world.leader()) {
                stdout.println("--- sample ---");
                var shown = Terminal.generatedText(rawSample);
                stdout.print(shown.apply(text.tokenizer().decode(0)));
                new Sampler(gpt, config.blockSize()).stream(new int[]{0}, sampleTokens, 1.0, 0, Seeds.sample(opts.seed()),
                        t -> {
                            stdout.print(shown.apply(text.tokenizer().decode(t)));
                            return !Terminal.readerGone(stdout);
                        });
                stdout.println();
            }
        }
        world.close();
        return 0;
    }

    /** The training text must not be a file this run writes: --force or not, it is never replaced. */
    private void checkNotAnOutput(Path dataFile, Path target) {
        for (Path mine : List.of(target, Metrics.metricsFileFor(target), Metrics.plotFileFor(target))) {
            if (Outputs.same(dataFile, mine)) {
                throw new GptException("the training text " + dataFile + " is " + (mine.equals(target) ? "the --out file"
                        : "where the run writes its " + (mine.toString().endsWith(Metrics.SUFFIX) ? "metrics" : "loss curves"))
                        + ": choose another --out (--force never replaces the text a run reads)");
            }
        }
    }


    /**
     * Refuses a model whose training would not fit in this JVM, naming the flag (or, resumed, the
     * checkpoint's key) that makes it large.
     */
    private void checkMemory(GptConfig config, TrainOptions opts, Checkpoint resumed) {
        Memory.Estimate e = Memory.of(Memory.Use.TRAIN, config, opts.batchSize(), opts.evalIters(), engine.threadCount(),
                resumed == null ? 0 : resumed.floats());
        MemoryCheck.require(e, engine.onHeap(), resumed == null ? this::givenFlag
                : MemoryCheck.keysOf(resume, resume + ": batch_size"));
    }

    /** A model setting as the user gave it: its flag, or the preset's value of it ("--block-size (--config lecture's)"). */
    private String givenFlag(org.gptjvm.model.Memory.Setting s) {
        String name = MemoryCheck.flag(s);
        if (!name.startsWith("--") || spec.commandLine().getParseResult().hasMatchedOption(name)) {
            return name;
        }
        return name + " (--config " + preset + "'s)";
    }

    /**
     * The checkpoint named by --resume, if it holds a run to continue. The model and training flags
     * may be given again as they were: only a value that differs from the saved run is refused.
     */
    private Checkpoint loadForResume() {
        Checkpoint c = Checkpoint.load(resume);
        if (!c.resumable()) {
            throw new GptException(c.trainProblem != null ? c.trainProblem
                    : resume + ": holds no training state (AdamW moments, iteration) to resume from");
        }
        CommandLine.ParseResult given = spec.commandLine().getParseResult();
        GptConfig sc = c.config;
        TrainOptions so = c.train.options();
        boolean bigram = sc.isBigram();
        // what the command line asks for: a flag given, else the preset if --config was given
        boolean presetGiven = given.hasMatchedOption("--config");
        conflict(given.hasMatchedOption("--model"), "--model", model.name(), sc.kind());
        conflict(given.hasMatchedOption("--block-size") || presetGiven, flag("--block-size"), or(blockSize, preset.blockSize),
                sc.blockSize());
        if (bigram) {
            for (String gptOnly : List.of("--n-embd", "--n-head", "--n-layer", "--dropout")) {
                if (given.hasMatchedOption(gptOnly)) {
                    throw usage("--resume " + resume + ": " + gptOnly + " sets the GPT model, and the saved run is the "
                            + "bigram model (one embedding table)");
                }
            }
        } else {
            conflict(given.hasMatchedOption("--n-embd") || presetGiven, flag("--n-embd"), or(nEmbd, preset.nEmbd), sc.nEmbd());
            conflict(given.hasMatchedOption("--n-head") || presetGiven, flag("--n-head"), or(nHead, preset.nHead), sc.nHead());
            conflict(given.hasMatchedOption("--n-layer") || presetGiven, flag("--n-layer"), or(nLayer, preset.nLayer),
                    sc.nLayer());
            conflict(given.hasMatchedOption("--dropout") || presetGiven, flag("--dropout"),
                    dropout != null ? dropout : preset.dropout, sc.dropout());
        }
        conflict(given.hasMatchedOption("--batch-size") || presetGiven, flag("--batch-size"),
                or(batchSize, preset.batchSize), so.batchSize());
        conflict(given.hasMatchedOption("--lr") || presetGiven, flag("--lr"), lr != null ? lr : preset.lr, so.lr());
        conflict(given.hasMatchedOption("--seed"), "--seed", seed, so.seed());
        Recipe sr = so.recipe();
        Recipe want = presetGiven ? preset.recipe.resolve(or2(lr, preset.lr), so.iters()) : sr;
        Optimizer.Schedule ss = sr.schedule(), ws = want.schedule();
        Optimizer.Settings sa = sr.adamw(), wa = want.adamw();
        conflict(given.hasMatchedOption("--lr-schedule") || presetGiven, flag("--lr-schedule"),
                lrSchedule != null ? lrSchedule : ws.kind(), ss.kind());
        conflict(given.hasMatchedOption("--warmup-iters") || presetGiven, flag("--warmup-iters"),
                or(warmupIters, ws.warmupIters()), ss.warmupIters());
        conflict(given.hasMatchedOption("--lr-decay-iters"), "--lr-decay-iters", lrDecayIters, ss.decayIters(so.iters()));
        conflict(given.hasMatchedOption("--min-lr"), "--min-lr", minLr, ss.minLr(so.lr()));
        conflict(given.hasMatchedOption("--grad-clip") || presetGiven, flag("--grad-clip"),
                gradClip != null ? gradClip : want.gradClip(), sr.gradClip());
        conflict(given.hasMatchedOption("--grad-accum") || presetGiven, flag("--grad-accum"),
                or(gradAccum, want.gradAccum()), sr.gradAccum());
        conflict(given.hasMatchedOption("--beta1") || presetGiven, flag("--beta1"), beta1 != null ? beta1 : wa.beta1(),
                sa.beta1());
        conflict(given.hasMatchedOption("--beta2") || presetGiven, flag("--beta2"), beta2 != null ? beta2 : wa.beta2(),
                sa.beta2());
        conflict(given.hasMatchedOption("--weight-decay") || presetGiven, flag("--weight-decay"),
                weightDecay != null ? weightDecay : wa.weightDecay(), sa.weightDecay());
        conflict(given.hasMatchedOption("--decay-matrices-only") || presetGiven, flag("--decay-matrices-only"),
                decayMatricesOnly != null ? decayMatricesOnly : wa.decayMatricesOnly(), sa.decayMatricesOnly());
        return c;
    }

    /** The recipe in words, for the run's header. */
    private static String describe(TrainOptions o) {
        Recipe r = o.recipe();
        Optimizer.Schedule s = r.schedule();
        Optimizer.Settings a = r.adamw();
        String lr = s.kind() == Optimizer.Schedule.Kind.cosine
                ? "cosine lr " + num(o.lr()) + " -> " + num(s.minLr(o.lr())) + " over " + s.decayIters(o.iters()) + " iterations"
                : "constant lr " + num(o.lr());
        return lr + ", warmup " + s.warmupIters() + "; AdamW betas (" + num(a.beta1()) + ", " + num(a.beta2())
                + "), weight decay " + num(a.weightDecay()) + (a.decayMatricesOnly() ? " (matrices only)" : "")
                + "; grad clip " + (r.gradClip() > 0 ? num(r.gradClip()) : "off") + "; grad accum " + r.gradAccum();
    }

    /** A hyper-parameter as a person writes it: 0.0001, 1, 0.99. */
    private static String num(double v) {
        return java.math.BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
    }

    /** The flag a value came from: the flag itself when given, else --config (the preset's value). */
    private String flag(String name) {
        return spec.commandLine().getParseResult().hasMatchedOption(name) ? name : "--config " + preset + " (its " + name + ")";
    }

    private void conflict(boolean asked, String flag, Object wanted, Object saved) {
        if (asked && !wanted.equals(saved)) {
            throw usage("--resume " + resume + ": " + flag + " asks for " + wanted + ", but the saved run has " + saved
                    + " (a resumed run keeps its model and settings)");
        }
    }

    /** A resumed run goes on with the text it trained on, unless --force says otherwise. */
    private void checkSameText(Checkpoint c, Path dataFile, TextData.Identity now) {
        TextData.Identity then = c.train.data();
        if (force || then == null || then.equals(now)) {
            return;
        }
        throw new GptException(dataFile + " is not the text " + resume + " trained on (" + now.bytes() + " bytes, sha256 "
                + now.sha256().substring(0, 12) + "; the run's: " + then.bytes() + " bytes, sha256 "
                + then.sha256().substring(0, 12) + "): pass the same --data, or --force to go on with this text");
    }

    private Path findData(PrintStream stdout) {
        Path file = DataFiles.choose(data, System.getenv("GPT_DATA"));
        if (Files.exists(file) || data != null || !file.equals(DataFiles.DEFAULT)) {
            return file;
        }
        String url = System.getProperty("gpt.data.url", System.getenv().getOrDefault("GPT_DATA_URL",
                DataFiles.TINY_SHAKESPEARE_URL));
        boolean fetch = download;
        if (!fetch && Terminal.stdoutIsTerminal() && System.console() != null) {
            String answer = System.console().readLine("%s not found. Download Tiny Shakespeare (1.1 MB) from %s? [y/N] ",
                    file, url);
            fetch = answer != null && answer.trim().toLowerCase(Locale.ROOT).startsWith("y");
        }
        if (!fetch) {
            throw new GptException(file + " not found: pass --data FILE, set GPT_DATA, or add --download to fetch Tiny Shakespeare");
        }
        stdout.println("downloading " + url + " ...");
        DataFiles.download(url, System.getProperty("gpt.data.sha256", DataFiles.TINY_SHAKESPEARE_SHA256), file);
        stdout.println("saved " + file);
        return file;
    }
}
