package org.gptjvm.model.train;

import com.google.gson.Gson;
import com.google.gson.JsonParser;
import org.gptjvm.engine.Backend;
import org.gptjvm.engine.GptException;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.GptParams;
import org.gptjvm.model.data.CharTokenizer;
import org.gptjvm.model.io.AtomicFile;
import org.gptjvm.model.io.SafeTensors;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A model on disk: one safetensors file whose tensors are the lecture's PyTorch state_dict (so
 * {@code model.load_state_dict(...)} of gpt.py takes them), plus, when saved by training, the
 * optimizer's state ({@link Optimizer#state}) and the run's state as JSON in the metadata.
 */
public final class Checkpoint {
    public static final String FORMAT = "gpt-jvm/1";

    public final GptConfig config;
    public final CharTokenizer tokenizer;
    public final Map<String, GptParams.Tensor> weights;
    /** The run that saved it; null for a file of weights only, or one whose training state is unreadable. */
    public final TrainState train;
    /** Why the training state could not be read; null when it was, or there is none. */
    public final String trainProblem;

    private Checkpoint(GptConfig config, CharTokenizer tokenizer, Map<String, GptParams.Tensor> weights, TrainState train,
                       String trainProblem) {
        this.config = config;
        this.tokenizer = tokenizer;
        this.weights = weights;
        this.train = train;
        this.trainProblem = trainProblem;
    }

    /** Whether a file of gpt-jvm's own is at {@code file}: a model saved by {@link #save}. */
    public static boolean isOurs(Path file) {
        Map<String, String> meta = java.nio.file.Files.isRegularFile(file) ? SafeTensors.metadataOrNull(file) : null;
        return meta != null && FORMAT.equals(meta.get("format"));
    }

    /** Fails early, before any training, when {@code file} could not be written (see {@link AtomicFile#checkTarget}). */
    public static void checkWritable(Path file) {
        AtomicFile.checkTarget(file);
    }

    /**
     * Writes weights (PyTorch names) and, from a run ({@code optimizer} and {@code trainState}, else
     * both null), the optimizer's state and the run's; atomically replaces {@code file}.
     */
    public static void save(Path file, Gpt gpt, Optimizer optimizer, CharTokenizer tokenizer, TrainState trainState) {
        snapshot(file, gpt, optimizer, tokenizer, trainState).write();
    }

    /**
     * What {@link #save} writes, copied out of the backend now: the copy can be written later, on
     * another thread, while training goes on ({@link CheckpointWriter}).
     */
    public record Snapshot(Path file, Map<String, SafeTensors.Out> tensors, Map<String, String> metadata) {
        /** Writes the file atomically (temporary file, forced to disk, renamed). */
        public void write() {
            SafeTensors.write(file, tensors, metadata);
        }
    }

    /** The checkpoint {@link #save} would write, as a {@link Snapshot}; fails on non-finite weights. */
    public static Snapshot snapshot(Path file, Gpt gpt, Optimizer optimizer, CharTokenizer tokenizer,
                                    TrainState trainState) {
        if ((optimizer == null) != (trainState == null)) {
            throw new IllegalArgumentException("a run's checkpoint has both the optimizer's state and the run's");
        }
        Map<String, SafeTensors.Out> out = new LinkedHashMap<>();
        gpt.params.stateDict().forEach((name, t) -> {
            GptParams.requireFinite(t.data(), file + ": not saved: parameter " + name);
            out.put(name, SafeTensors.Out.f32(t.shape(), t.data()));
        });
        if (optimizer != null) {
            optimizer.state().forEach((name, t) -> out.put(name, SafeTensors.Out.f32(t.shape(), t.data())));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("config", gpt.config.toJson().toString());
        meta.put("chars", new Gson().toJson(tokenizer.vocabulary()));
        if (trainState != null) {
            meta.put("train", trainState.toJson().toString());
        }
        return new Snapshot(file, out, meta);
    }

    /**
     * Reads our checkpoints and weights-only files such as the PyTorch fixtures. The config and the
     * tensors the header lists are checked against each other (every tensor the config needs present,
     * of a float dtype, of its shape, within the file) before the data is read into memory.
     */
    public static Checkpoint load(Path file) {
        GptConfig[] config = new GptConfig[1];
        CharTokenizer[] tok = new CharTokenizer[1];
        SafeTensors.Contents c = SafeTensors.read(file, h -> {
            config[0] = config(h.metadata(), file);
            tok[0] = tokenizer(h.metadata(), config[0], file);
            checkTensors(h, config[0]);
        });
        Map<String, String> meta = c.metadata();
        // the weights are usable without the run's state: a damaged state only stops a resume
        TrainState train = null;
        String trainProblem = null;
        if (meta.containsKey("train")) {
            try {
                train = TrainState.fromJson(JsonParser.parseString(meta.get("train")).getAsJsonObject(), file.toString());
            } catch (GptException e) {
                trainProblem = e.getMessage();
            } catch (RuntimeException e) {
                trainProblem = file + ": bad training state in its metadata";
            }
        }
        return new Checkpoint(config[0], tok[0], floatTensors(c, file), train, trainProblem);
    }

    private static GptConfig config(Map<String, String> meta, Path file) {
        if (!meta.containsKey("config") || !meta.containsKey("chars")) {
            throw new GptException(file + ": not a gpt model file (its metadata has no config and chars)");
        }
        try {
            return GptConfig.fromJson(meta.get("config"));
        } catch (GptException e) {
            throw new GptException(file + ": config " + e.getMessage());
        }
    }

    private static CharTokenizer tokenizer(Map<String, String> meta, GptConfig config, Path file) {
        CharTokenizer tok;
        try {
            tok = CharTokenizer.fromVocabulary(new Gson().fromJson(meta.get("chars"), String.class));
        } catch (RuntimeException e) {
            throw new GptException(file + ": bad vocabulary in its metadata");
        }
        if (tok.vocabSize() != config.vocabSize()) {
            throw new GptException(file + ": vocabulary of " + tok.vocabSize() + " characters but vocab_size "
                    + config.vocabSize());
        }
        return tok;
    }

    /**
     * Refuses a file whose tensors do not make the model its config describes: one missing (as in a
     * config of a billion layers in a file of one tensor), of a dtype other than F32,
     * BF16 or F16 (converted to F32 as PyTorch's .float() does), or of another shape. The header's
     * byte ranges are already checked against the file ({@link SafeTensors#read}), so the weights a
     * file passes with are no larger than the file.
     */
    private static void checkTensors(SafeTensors.Header h, GptConfig config) {
        Path file = h.file();
        // the visit stops at the first tensor missing: a config of a billion layers in a small file costs a few visits
        GptParams.visitStateDict(config, (name, shape) -> {
            SafeTensors.Info t = h.tensors().get(name);
            if (t == null) {
                throw new GptException(file + ": missing tensor " + name + ", which its config (" + keys(config) + ") needs");
            }
            floatDtype(file, name, t.dtype());
            if (!java.util.Arrays.equals(t.shape(), shape)) {
                throw new GptException(file + ": tensor " + name + " has shape " + java.util.Arrays.toString(t.shape())
                        + ", its config (" + keys(config) + ") needs " + java.util.Arrays.toString(shape));
            }
            return true;
        });
        h.tensors().forEach((name, t) -> {
            if (name.startsWith("optimizer.")) {
                floatDtype(file, name, t.dtype());
            }
        });
    }

    private static void floatDtype(Path file, String name, String dtype) {
        if (!SafeTensors.isFloat16Or32(dtype)) {
            throw new GptException(file + ": tensor " + name + " is " + dtype + "; gpt loads weights of F32, BF16 or F16");
        }
    }

    /** The config's keys as the file names them, for errors. */
    private static String keys(GptConfig c) {
        return c.isBigram() ? "model bigram, vocab_size " + c.vocabSize()
                : "vocab_size " + c.vocabSize() + ", block_size " + c.blockSize() + ", n_embd " + c.nEmbd() + ", n_head "
                + c.nHead() + ", n_layer " + c.nLayer();
    }

    /** Floats this checkpoint holds in memory (its weights and, from a run, AdamW's moments). */
    public double floats() {
        return weights.values().stream().mapToDouble(t -> t.data().length).sum();
    }

    /** Whether the file holds an optimizer's state and a training state, so training can resume from it. */
    public boolean resumable() {
        return train != null && Optimizer.hasState(weights);
    }

    /** A model on {@code backend} with these weights; every tensor is checked before any is loaded. */
    public Gpt toModel(Backend backend, Path file) {
        Gpt gpt = new Gpt(backend, config);
        gpt.params.loadStateDict(weights, file.toString());
        return gpt;
    }

    /** Every float tensor of a file, by name (a reference file's int tensors, the batch, are left out). */
    public static Map<String, GptParams.Tensor> floatTensors(SafeTensors.Contents c, Path file) {
        Map<String, GptParams.Tensor> out = new LinkedHashMap<>();
        c.tensors().forEach((name, e) -> {
            if (SafeTensors.isFloat16Or32(e.dtype()) || e.dtype().equals("F64")) {
                out.put(name, new GptParams.Tensor(e.shape(), e.floats()));
            }
        });
        if (out.isEmpty()) {
            throw new GptException(file + ": holds no float tensors");
        }
        return out;
    }
}
