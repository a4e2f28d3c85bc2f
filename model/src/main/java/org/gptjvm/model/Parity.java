package org.gptjvm.model;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.gptjvm.engine.Backend;
import org.gptjvm.engine.GptException;

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
        GptConfig config;
        try {
            config = GptConfig.fromJson(meta.get("config"));
        } catch (GptException e) {
            throw new GptException(file + ": " + e.getMessage());
        }
        JsonObject adam = meta.containsKey("adamw") ? JsonParser.parseString(meta.get("adamw")).getAsJsonObject() : null;
        JsonObject torchErr = meta.containsKey("torch_fp32_error")
                ? JsonParser.parseString(meta.get("torch_fp32_error")).getAsJsonObject() : new JsonObject();
        int[] idx = c.get("idx", file).ints();
        int[] targets = c.get("targets", file).ints();
        int[] shape = c.get("idx", file).shape();
        int B = shape[0], T = shape[1];

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
        Gpt gpt = new Gpt(backend, runConfig);
        gpt.params.loadStateDict(weights, file.toString());

        List<ParityReport.Row> rows = new ArrayList<>();
        float loss = gpt.forwardBackward(idx, targets, 0);
        float[] logits = new float[B * T * config.vocabSize()];
        backend.read(gpt.batchGraph(B).logitsBuf, logits);
        rows.add(row("logits", logits, c.get("expected.logits", file).floats(), torchErr, "logits"));
        rows.add(row("loss", new float[]{loss}, c.get("expected.loss", file).floats(), torchErr, "loss"));
        Map<String, GptParams.Tensor> grads = gpt.params.gradDict();
        for (Map.Entry<String, GptParams.Tensor> g : grads.entrySet()) {
            float[] truth = c.get("expected.grad." + g.getKey(), file).floats();
            float[] ours = g.getValue().data();
            if (g.getKey().equals("position_embedding_table.weight") && ours.length < truth.length) {
                // positions at and beyond T get no gradient from a batch of length T
                ours = java.util.Arrays.copyOf(ours, truth.length);
            }
            rows.add(row("grad." + g.getKey(), ours, truth, torchErr, "grads_max"));
        }
        if (c.tensors().containsKey("expected.step_losses")) {
            float[] expected = c.get("expected.step_losses", file).floats();
            Gpt.Optimizer opt = adam == null ? Gpt.Optimizer.pytorchDefaults(1e-3) : new Gpt.Optimizer(
                    adam.get("lr").getAsDouble(), adam.get("beta1").getAsDouble(), adam.get("beta2").getAsDouble(),
                    adam.get("eps").getAsDouble(), adam.get("weight_decay").getAsDouble());
            float[] ours = new float[expected.length];
            for (int s = 0; s < expected.length; s++) {
                ours[s] = s == 0 ? loss : gpt.forwardBackward(idx, targets, 0);
                gpt.update(opt, s + 1);
            }
            rows.add(row("step_losses", ours, expected, torchErr, "step_losses_max_abs"));
        }
        return new ParityReport(file.toString(), backend.name(), rows, grads.size());
    }

    private static ParityReport.Row row(String name, float[] ours, float[] truth, JsonObject torchErr, String key) {
        if (ours.length != truth.length) {
            throw new GptException("reference " + name + " has " + truth.length + " values, we computed " + ours.length);
        }
        Double t = torchErr.has(key) ? torchErr.get(key).getAsDouble() : null;
        return new ParityReport.Row(name, ParityReport.relative(ours, truth), ParityReport.maxAbs(ours, truth), t);
    }
}
