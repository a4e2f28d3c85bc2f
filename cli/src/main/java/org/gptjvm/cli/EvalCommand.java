package org.gptjvm.cli;

import org.gptjvm.engine.Backend;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.Memory;
import org.gptjvm.model.data.DataFiles;
import org.gptjvm.model.data.TextData;
import org.gptjvm.model.train.Checkpoint;
import org.gptjvm.model.train.Preset;
import org.gptjvm.model.train.TrainOptions;
import org.gptjvm.model.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "eval", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
        description = "Print estimate_loss (mean loss over random batches of each split) for a trained model.")
final class EvalCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    ModelOptions model;
    @Option(names = "--data", paramLabel = "FILE", converter = FileArg.class, description = "UTF-8 text (default: $GPT_DATA, else data/tinyshakespeare.txt).")
    Path data;
    @Option(names = "--eval-iters", paramLabel = "N", description = "Batches per split (default " + Preset.EVAL_ITERS + ").")
    int evalIters = Preset.EVAL_ITERS;
    @Option(names = "--batch-size", paramLabel = "B", description = "Sequences per batch (default: the training run's, else 16).")
    Integer batchSize;
    @Option(names = "--seed", paramLabel = "S", description = "Seed for the batch offsets (default " + Preset.SEED + ").")
    long seed = Preset.SEED;
    @Mixin
    EngineOptions engine;

    @Override
    public Integer call() {
        engine.check(spec);
        if (evalIters <= 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--eval-iters must be positive, got " + evalIters);
        }
        if (batchSize != null && batchSize <= 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--batch-size must be positive, got " + batchSize);
        }
        if (evalIters > TrainOptions.MAX_EVAL_ITERS) {
            throw new CommandLine.ParameterException(spec.commandLine(), TrainOptions.EVAL_ITERS_BOUND + ", got " + evalIters);
        }
        Checkpoint ckpt = Checkpoint.load(model.checkpoint);
        Path file = DataFiles.choose(data, System.getenv("GPT_DATA"));
        TextData td = TextData.load(file, ckpt.tokenizer);
        td.checkBlockSize(ckpt.config.blockSize(), "eval needs more text than the model's block size");
        int B = batchSize != null ? batchSize : trainedBatchSize(ckpt);
        // the batch size is the user's flag, else the run's saved one: an error names whichever it was
        String batchName = batchSize != null ? "--batch-size" : model.checkpoint + ": batch_size (the run's; set --batch-size)";
        try {
            ckpt.config.checkBatch(B);
        } catch (org.gptjvm.engine.GptException e) {
            if (batchSize != null) {
                throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
            }
            throw new org.gptjvm.engine.GptException(batchName + " " + B + ": " + e.getMessage());
        }
        MemoryCheck.require(Memory.of(Memory.Use.EVALUATE, ckpt.config, B, evalIters, engine.threadCount(), ckpt.floats()),
                engine.onHeap(), MemoryCheck.keysOf(model.checkpoint, batchName));
        try (Backend backend = engine.create()) {
            MemoryCheck.requireOnDevice(backend);
            Gpt gpt = ckpt.toModel(backend, model.checkpoint);
            Trainer t = new Trainer(gpt, td, new TrainOptions(B, 1e-3, 0, 1, evalIters, seed));
            org.gptjvm.model.Rng rng = org.gptjvm.model.Seeds.data(seed);
            float train = t.estimateLoss(TextData.Split.TRAIN, rng);
            float val = t.estimateLoss(TextData.Split.VAL, rng);
            System.out.printf(Locale.ROOT, "train loss %.4f, val loss %.4f%n", train, val);
        }
        return 0;
    }

    /** The batch size the model was trained with, else the small preset's. */
    private static int trainedBatchSize(Checkpoint ckpt) {
        return ckpt.train != null ? ckpt.train.options().batchSize() : Preset.small.batchSize;
    }
}
