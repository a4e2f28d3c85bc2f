package org.gptjvm.model.parity;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.gptjvm.engine.Backend;
import org.gptjvm.engine.GptException;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.GptParams;
import org.gptjvm.model.Memory;
import org.gptjvm.model.io.SafeTensors;
import org.gptjvm.model.train.Checkpoint;
import org.gptjvm.model.train.Optimizer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Recomputes what a PyTorch reference file holds (made by shared/tools/torch_reference.py): logits
 * and loss of its batch, every parameter gradient, and the losses of AdamW steps on that batch.
 */
public final class Parity {
    private Parity() {
    }

    public static ParityReport run(Backend backend, Path file) {
        SafeTensors.Contents c = SafeTensors.read(file);
        Map<String, String> meta = c.metadata();
        if (!meta.containsKey("config")) {
            throw new GptException(file + ": not a reference file (no config in its metadata)");
        }
        if (!c.tensors().containsKey("idx") && Checkpoint.FORMAT.equals(meta.get("format"))) {
            throw new GptException(file + " is a model checkpoint, not a reference file: verify needs one made by "
                    + "torch_reference.py (a batch and the expected.* tensors)");
        }
        GptConfig config;
        try {
            config = GptConfig.fromJson(meta.get("config"));
        } catch (GptException e) {
            throw new GptException(file + ": " + e.getMessage());
        }
        JsonObject adam = json(meta, "adamw", file);
        JsonObject torchErr = meta.containsKey("torch_fp32_error") ? json(meta, "torch_fp32_error", file) : new JsonObject();
        int[] shape = c.get("idx", file).shape();
        if (shape.length != 2 || shape[0] < 1 || shape[1] < 1 || shape[1] > config.blockSize()) {
            throw new GptException(file + ": idx has shape " + java.util.Arrays.toString(shape) + ", expected (B, T) with "
                    + "1 <= T <= block_size " + config.blockSize());
        }
        int B = shape[0], T = shape[1];
        int[] idx = tokens(c, "idx", shape, config.vocabSize(), file);
        int[] targets = tokens(c, "targets", shape, config.vocabSize(), file);

        // a reference batch may be shorter than block_size: run it in a model of block T with the
        // first T position embeddings, which is exactly what PyTorch does for a (B, T) input
        GptConfig runConfig = new GptConfig(config.kind(), config.vocabSize(), T, config.nEmbd(), config.nHead(),
                config.nLayer(), 0f);
        Map<String, GptParams.Tensor> weights = Checkpoint.floatTensors(c, file);
        if (T < config.blockSize() && weights.containsKey("position_embedding_table.weight")) {
            GptParams.Tensor wpe = weights.get("position_embedding_table.weight");
            float[] cut = java.util.Arrays.copyOf(wpe.data(), T * config.nEmbd());
            weights = new java.util.LinkedHashMap<>(weights);
            weights.put("position_embedding_table.weight", new GptParams.Tensor(new int[]{T, config.nEmbd()}, cut));
        }
        try {
            runConfig.checkBatch(B);
        } catch (GptException e) {
            throw new GptException(file + ": its batch of " + B + ": " + e.getMessage());
        }
        if (Memory.onHeap(backend)) {
            Memory.of(Memory.Use.STEP, runConfig, B, 0, Runtime.getRuntime().availableProcessors(), 0)
                    .require(Memory.heapLimit(), s -> file + ": " + s.name().toLowerCase(java.util.Locale.ROOT));
        }
        Gpt gpt = new Gpt(backend, runConfig);
        gpt.params.loadStateDict(weights, file.toString());
        // the AdamW steps' optimizer, made before anything runs (a device backend plans its programs then)
        boolean hasSteps = c.tensors().containsKey("expected.step_losses");
        double lr = !hasSteps ? 0 : adam == null ? 1e-3 : number(adam, "lr", file);
        Optimizer opt = hasSteps ? new Optimizer(gpt, settings(adam, file)) : null;

        List<ParityReport.Row> rows = new ArrayList<>();
        ParityReport.Steps steps = null;
        float loss = gpt.forwardBackward(idx, targets, 0);
        float[] logits = new float[B * T * config.vocabSize()];
        backend.read(gpt.batchGraph(B).logitsBuf, logits);
        rows.add(row("logits", logits, expected(c, "expected.logits", file), torchErr, "logits"));
        rows.add(row("loss", new float[]{loss}, expected(c, "expected.loss", file), torchErr, "loss"));
        Map<String, GptParams.Tensor> grads = gpt.params.gradDict();
        for (Map.Entry<String, GptParams.Tensor> g : grads.entrySet()) {
            float[] truth = expected(c, "expected.grad." + g.getKey(), file);
            float[] ours = g.getValue().data();
            if (g.getKey().equals("position_embedding_table.weight") && ours.length < truth.length) {
                // positions at and beyond T get no gradient from a batch of length T
                ours = java.util.Arrays.copyOf(ours, truth.length);
            }
            rows.add(row("grad." + g.getKey(), ours, truth, torchErr, "grads_max"));
        }
        if (hasSteps) {
            float[] expected = expected(c, "expected.step_losses", file);
            float[] ours = new float[expected.length];
            for (int s = 0; s < expected.length; s++) {
                ours[s] = s == 0 ? loss : gpt.forwardBackward(idx, targets, 0);
                opt.step(s + 1, lr, 1.0);
            }
            ParityReport.Row row = row("step_losses", ours, expected, torchErr, "step_losses_max_abs");
            rows.add(row);
            steps = new ParityReport.Steps(ours, expected, row.torchFp32(), reluMargins(meta, file));
        }
        return new ParityReport(file.toString(), backend.name(), rows, grads.size(), steps);
    }

    private static ParityReport.Row row(String name, float[] ours, float[] truth, JsonObject torchErr, String key) {
        if (ours.length != truth.length) {
            throw new GptException("reference " + name + " has " + truth.length + " values, we computed " + ours.length);
        }
        Double t = torchErr.has(key) ? torchErr.get(key).getAsDouble() : null;
        return new ParityReport.Row(name, ParityReport.relative(ours, truth), ParityReport.maxAbs(ours, truth), t);
    }

    /** The file's "relu_margin" (the parity sweep's files have it), or null. */
    private static double[] reluMargins(Map<String, String> meta, Path file) {
        if (!meta.containsKey("relu_margin")) {
            return null;
        }
        try {
            var a = JsonParser.parseString(meta.get("relu_margin")).getAsJsonArray();
            double[] m = new double[a.size()];
            for (int i = 0; i < m.length; i++) {
                m[i] = a.get(i).getAsDouble();
            }
            return m;
        } catch (RuntimeException e) {
            throw new GptException(file + ": bad relu_margin in its metadata");
        }
    }

    /** A JSON object of the metadata; null when the key is absent. */
    private static JsonObject json(Map<String, String> meta, String key, Path file) {
        if (!meta.containsKey(key)) {
            return null;
        }
        try {
            return JsonParser.parseString(meta.get(key)).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new GptException(file + ": bad " + key + " in its metadata (not a JSON object)");
        }
    }

    /** The file's torch.optim.AdamW settings (its "adamw" metadata), else PyTorch's defaults. */
    private static Optimizer.Settings settings(JsonObject adam, Path file) {
        if (adam == null) {
            return Optimizer.Settings.PYTORCH;
        }
        try {
            if (!(number(adam, "lr", file) > 0)) {
                throw new IllegalArgumentException();
            }
            return new Optimizer.Settings(number(adam, "beta1", file), number(adam, "beta2", file), number(adam, "eps", file),
                    number(adam, "weight_decay", file), false).validate();
        } catch (RuntimeException e) {
            throw badAdamW(file);
        }
    }

    private static double number(JsonObject adam, String key, Path file) {
        try {
            return adam.get(key).getAsDouble();
        } catch (RuntimeException e) {
            throw badAdamW(file);
        }
    }

    private static GptException badAdamW(Path file) {
        return new GptException(file + ": bad adamw in its metadata (lr, beta1, beta2, eps, weight_decay)");
    }

    /** Token ids of the batch: integers of the batch's shape, each in [0, vocab). */
    private static int[] tokens(SafeTensors.Contents c, String name, int[] shape, int vocab, Path file) {
        SafeTensors.Entry e = c.get(name, file);
        if (!java.util.Arrays.equals(e.shape(), shape)) {
            throw new GptException(file + ": " + name + " has shape " + java.util.Arrays.toString(e.shape())
                    + ", the batch is " + java.util.Arrays.toString(shape));
        }
        int[] ids;
        try {
            ids = e.ints();
        } catch (ArithmeticException ex) {
            throw new GptException(file + ": " + name + " holds a token id outside the vocabulary of " + vocab);
        } catch (GptException ex) {
            throw new GptException(file + ": " + name + ": " + ex.getMessage());
        }
        for (int id : ids) {
            if (id < 0 || id >= vocab) {
                throw new GptException(file + ": " + name + " holds token id " + id + ", outside the vocabulary of " + vocab);
            }
        }
        return ids;
    }

    /** An expected.* tensor: floats, all finite (their count is checked against ours by {@link #row}). */
    private static float[] expected(SafeTensors.Contents c, String name, Path file) {
        float[] a;
        try {
            a = c.get(name, file).floats();
        } catch (GptException ex) {
            throw ex.getMessage().startsWith(file.toString()) ? ex : new GptException(file + ": " + name + ": " + ex.getMessage());
        }
        GptParams.requireFinite(a, file + ": " + name);
        return a;
    }
}
