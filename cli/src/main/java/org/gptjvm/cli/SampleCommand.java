package org.gptjvm.cli;

import org.gptjvm.engine.GptException;
import org.gptjvm.engine.Backend;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.Memory;
import org.gptjvm.model.Rng;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.sample.Sampler;
import org.gptjvm.model.train.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import java.util.function.UnaryOperator;

@Command(name = "sample", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
        description = "Generate text from a trained model; the output streams as it is generated.")
final class SampleCommand implements Callable<Integer> {
    /** The line between two samples of --num-samples, nanoGPT's sample.py's. */
    static final String SEPARATOR = "---------------";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    ModelOptions model;
    @Option(names = "--tokens", paramLabel = "N", description = "Characters to generate (default 500).")
    long tokens = 500;
    @Option(names = "--prompt", paramLabel = "TEXT", description = "Text to continue (default: the lecture's single newline token).")
    String prompt;
    @Option(names = "--temperature", paramLabel = "T", description = "Divide the logits by T (default 1.0; 0: always the likeliest).")
    double temperature = 1.0;
    @Option(names = "--top-k", paramLabel = "K", description = "Sample among the K likeliest characters only (default: all).")
    int topK = 0;
    @Option(names = "--top-p", paramLabel = "P", description = "Sample among the fewest likeliest characters whose "
            + "probabilities reach P, after the temperature and --top-k (nucleus sampling; default 1: all).")
    double topP = 1.0;
    @Option(names = "--num-samples", paramLabel = "N", description = "Independent samples from the same prompt, one after "
            + "the other from the one seeded generator, separated by a line of dashes (default 1).")
    int numSamples = 1;
    @Option(names = "--block-size", paramLabel = "T", description = "Crop the context to T characters (default and maximum: the model's).")
    Integer blockSize;
    @Option(names = "--seed", paramLabel = "S", description = "Sampling seed (default 1337).")
    long seed = 1337;
    @Option(names = "--no-kv-cache", negatable = false, description = "Recompute the whole context for every token, "
            + "as the lecture does, instead of caching keys and values (same tokens, slower).")
    boolean noKvCache;
    @Option(names = "--quiet", description = "Do not print the tokens/s summary to stderr.")
    boolean quiet;
    @Option(names = "--raw", description = "Print control characters as generated even to a terminal (there, "
            + "by default, all but newline and tab show as escapes such as \\x1b; a file or pipe always gets them raw).")
    boolean raw;
    @Mixin
    EngineOptions engine;

    @Override
    public Integer call() {
        engine.check(spec);
        if (tokens < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--tokens must not be negative");
        }
        if (!(temperature >= 0 && temperature < Double.POSITIVE_INFINITY)) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--temperature must be a number of 0 or more (0: always the likeliest), got " + temperature);
        }
        if (topK < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--top-k must not be negative");
        }
        if (!(topP > 0 && topP <= 1)) { // also refuses NaN
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--top-p must be a number above 0 and at most 1 (1: all characters), got " + topP);
        }
        if (numSamples < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--num-samples must be at least 1, got " + numSamples);
        }
        Checkpoint ckpt = Checkpoint.load(model.checkpoint);
        int block = ckpt.config.blockSize();
        if (blockSize != null) {
            if (blockSize <= 0 || blockSize > block) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--block-size must be between 1 and the model's "
                        + block + ", got " + blockSize);
            }
            block = blockSize;
        }
        MemoryCheck.require(Memory.of(Memory.Use.SAMPLE, ckpt.config, 1, 0, engine.threadCount(), ckpt.floats()),
                engine.onHeap(), MemoryCheck.keysOf(model.checkpoint, "batch"));
        if (prompt != null && prompt.indexOf('\uFFFD') >= 0 && !FileArg.argumentsAreUtf8()) {
            // the JVM decoded the argument with a locale that is not UTF-8: its characters were lost before gpt saw them
            throw new GptException("--prompt holds characters this JVM could not decode: arguments are read as "
                    + System.getProperty("sun.jnu.encoding") + " under this locale; run with a UTF-8 one, e.g. LC_ALL=C.UTF-8 "
                    + "(./gpt does)");
        }
        int[] context = prompt == null || prompt.isEmpty() ? new int[]{0} : ckpt.tokenizer.encode(prompt);
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        UnaryOperator<String> shown = Terminal.generatedText(raw);
        String start = shown.apply(prompt != null ? prompt : ckpt.tokenizer.decode(0));
        long elapsed, made = 0;
        String device;
        boolean closed = false;
        try (Backend backend = engine.create()) {
            MemoryCheck.requireOnDevice(backend);
            Gpt gpt = ckpt.toModel(backend, model.checkpoint);
            device = backend.device();
            Sampler sampler = new Sampler(gpt, block, !noKvCache);
            // one generator for all samples: sample k continues its stream, so the whole output is a
            // function of the seed, and sample 1 is the text of a run with --num-samples 1
            Rng rng = Seeds.sample(seed);
            sampler.prepare(context.length, tokens); // a device backend compiles here: not part of tokens/s
            long t0 = System.nanoTime();
            for (int k = 0; k < numSamples && !closed; k++) {
                if (k > 0) {
                    out.println(SEPARATOR);
                }
                out.print(start); // each sample is printed whole, prompt first, as nanoGPT's sample.py does
                made += sampler.stream(context, tokens, temperature, topK, topP, rng, t -> {
                    out.print(shown.apply(ckpt.tokenizer.decode(t)));
                    return !Terminal.readerGone(out);
                });
                closed = Terminal.readerGone(out);
                if (!closed) {
                    out.println();
                }
            }
            elapsed = System.nanoTime() - t0;
        }
        if (closed) {
            return 0; // nobody reads any more: nothing more to say
        }
        if (!quiet) {
            System.err.printf("gpt: %d tokens%s in %.2f s, %.0f tokens/s (%s; %s)%n", made,
                    numSamples > 1 ? " (" + numSamples + " samples)" : "", elapsed / 1e9,
                    made / Math.max(elapsed / 1e9, 1e-9), noKvCache ? "no KV cache" : "KV cache", device);
        }
        return 0;
    }
}
