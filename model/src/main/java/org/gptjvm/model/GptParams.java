package org.gptjvm.model;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBlock;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.GptException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The model's parameters and their gradients, as two backend blocks with a part per parameter, in
 * the order of the lecture's state_dict (AdamW's moments are the optimizer's). Each block's per-head
 * key/query/value projections are stored as one fused (3C, C) matrix, rows [query; key; value] with
 * head h at rows h*hs..(h+1)*hs of each part: the same numbers as the lecture's separate heads, but
 * one matmul instead of 3 * n_head. {@link #stateDict} and {@link #loadStateDict} convert to and from
 * PyTorch's names and layout.
 */
public final class GptParams {
    public final GptConfig config;
    public final List<Param> all = new ArrayList<>();
    /** The parameters' values and their gradients: part i of each is parameter i of {@link #all}. */
    public final FloatBlock values, grads;
    public final Param wte, wpe, lnfW, lnfB, lmW, lmB;
    public final Layer[] layers;
    private final Backend backend;

    /** One transformer block's parameters. */
    public record Layer(Param ln1W, Param ln1B, Param qkvW, Param projW, Param projB, Param ln2W, Param ln2B,
                        Param fcW, Param fcB, Param fcProjW, Param fcProjB) {
    }

    public GptParams(Backend backend, GptConfig config) {
        this.backend = backend;
        this.config = config;
        List<Spec> specs = specs(config);
        values = allocate(specs, "params", "");
        grads = allocate(specs, "grads", "grad.");
        Map<String, Param> byName = new LinkedHashMap<>();
        for (int i = 0; i < specs.size(); i++) {
            Spec sp = specs.get(i);
            Param p = new Param(sp.name(), sp.shape(), sp.init(), values.part(i), grads.part(i));
            all.add(p);
            byName.put(sp.name(), p);
        }
        if (config.isBigram()) {
            wte = byName.get("token_embedding_table.weight");
            wpe = lnfW = lnfB = lmW = lmB = null;
            layers = new Layer[0];
            return;
        }
        wte = byName.get("token_embedding_table.weight");
        wpe = byName.get("position_embedding_table.weight");
        layers = new Layer[config.nLayer()];
        for (int l = 0; l < layers.length; l++) {
            String p = "blocks." + l + ".";
            layers[l] = new Layer(byName.get(p + "ln1.weight"), byName.get(p + "ln1.bias"), byName.get(p + "sa.qkv.weight"),
                    byName.get(p + "sa.proj.weight"), byName.get(p + "sa.proj.bias"), byName.get(p + "ln2.weight"),
                    byName.get(p + "ln2.bias"), byName.get(p + "ffwd.net.0.weight"), byName.get(p + "ffwd.net.0.bias"),
                    byName.get(p + "ffwd.net.2.weight"), byName.get(p + "ffwd.net.2.bias"));
        }
        lnfW = byName.get("ln_f.weight");
        lnfB = byName.get("ln_f.bias");
        lmW = byName.get("lm_head.weight");
        lmB = byName.get("lm_head.bias");
    }

    /** A parameter to create: name, how it starts, shape. */
    private record Spec(String name, Param.Init init, int[] shape) {
        int size() {
            return Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        }
    }

    /** Every parameter of the model, in the order of the lecture's state_dict (per block: sa, ffwd, ln1, ln2). */
    private static List<Spec> specs(GptConfig config) {
        int V = config.vocabSize(), C = config.nEmbd(), T = config.blockSize();
        List<Spec> s = new ArrayList<>();
        if (config.isBigram()) {
            s.add(new Spec("token_embedding_table.weight", Param.Init.NORMAL, new int[]{V, V}));
            return s;
        }
        s.add(new Spec("token_embedding_table.weight", Param.Init.NORMAL, new int[]{V, C}));
        s.add(new Spec("position_embedding_table.weight", Param.Init.NORMAL, new int[]{T, C}));
        for (int l = 0; l < config.nLayer(); l++) {
            String p = "blocks." + l + ".";
            s.add(new Spec(p + "sa.qkv.weight", Param.Init.NORMAL, new int[]{3 * C, C}));
            s.add(new Spec(p + "sa.proj.weight", Param.Init.NORMAL, new int[]{C, C}));
            s.add(new Spec(p + "sa.proj.bias", Param.Init.ZEROS, new int[]{C}));
            s.add(new Spec(p + "ffwd.net.0.weight", Param.Init.NORMAL, new int[]{4 * C, C}));
            s.add(new Spec(p + "ffwd.net.0.bias", Param.Init.ZEROS, new int[]{4 * C}));
            s.add(new Spec(p + "ffwd.net.2.weight", Param.Init.NORMAL, new int[]{C, 4 * C}));
            s.add(new Spec(p + "ffwd.net.2.bias", Param.Init.ZEROS, new int[]{C}));
            s.add(new Spec(p + "ln1.weight", Param.Init.ONES, new int[]{C}));
            s.add(new Spec(p + "ln1.bias", Param.Init.ZEROS, new int[]{C}));
            s.add(new Spec(p + "ln2.weight", Param.Init.ONES, new int[]{C}));
            s.add(new Spec(p + "ln2.bias", Param.Init.ZEROS, new int[]{C}));
        }
        s.add(new Spec("ln_f.weight", Param.Init.ONES, new int[]{C}));
        s.add(new Spec("ln_f.bias", Param.Init.ZEROS, new int[]{C}));
        s.add(new Spec("lm_head.weight", Param.Init.NORMAL, new int[]{V, C}));
        s.add(new Spec("lm_head.bias", Param.Init.ZEROS, new int[]{V}));
        return s;
    }

    /** One block with a part per parameter, named {@code prefix} + the parameter's name. */
    private FloatBlock allocate(List<Spec> specs, String name, String prefix) {
        return backend.allocBlock(name, specs.stream().map(s -> prefix + s.name()).toList(),
                specs.stream().mapToInt(Spec::size).toArray());
    }

    /** Another block of the parameters' shape (AdamW's moments), parts named {@code prefix} + the parameter's name. */
    public FloatBlock allocateLike(String name, String prefix) {
        return backend.allocBlock(name, all.stream().map(p -> prefix + p.name()).toList(),
                all.stream().mapToInt(Param::size).toArray());
    }

    public long count() {
        return all.stream().mapToLong(Param::size).sum();
    }

    /** PyTorch's init for the lecture's model: normal(0, 0.02) weights, zero biases, LayerNorm 1/0. */
    public void initialize(Rng rng) {
        for (Param p : all) {
            float[] a = new float[p.size()];
            switch (p.init()) {
                case NORMAL -> {
                    for (int i = 0; i < a.length; i++) {
                        a[i] = (float) (0.02 * rng.nextGaussian());
                    }
                }
                case ONES -> Arrays.fill(a, 1f);
                case ZEROS -> {
                }
            }
            backend.write(p.value(), a);
        }
    }

    /** Reads a buffer back to the host. */
    public float[] read(org.gptjvm.engine.FloatBuf b) {
        float[] a = new float[b.size()];
        backend.read(b, a);
        return a;
    }

    /** A tensor in PyTorch layout: shape and row-major data. */
    public record Tensor(int[] shape, float[] data) {
    }

    /** All parameters under the lecture's PyTorch state_dict names, in its order. */
    public Map<String, Tensor> stateDict() {
        return toPyTorch(p -> read(p.value()));
    }

    /** The gradients under the parameters' PyTorch names. */
    public Map<String, Tensor> gradDict() {
        return toPyTorch(p -> read(p.grad()));
    }

    private Map<String, Tensor> toPyTorch(java.util.function.Function<Param, float[]> get) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        int C = config.nEmbd(), hs = config.isBigram() ? 0 : config.headSize();
        for (Param p : all) {
            if (p.name().endsWith(".sa.qkv.weight")) {
                float[] qkv = get.apply(p);
                String prefix = p.name().substring(0, p.name().length() - "qkv.weight".length());
                for (int h = 0; h < config.nHead(); h++) {
                    for (int part = 0; part < 3; part++) {
                        // the lecture's Head declares key, query, value in this order
                        int which = new int[]{1, 0, 2}[part];
                        String kind = new String[]{"key", "query", "value"}[part];
                        float[] rows = Arrays.copyOfRange(qkv, (which * C + h * hs) * C, (which * C + (h + 1) * hs) * C);
                        out.put(prefix + "heads." + h + "." + kind + ".weight", new Tensor(new int[]{hs, C}, rows));
                    }
                }
            } else {
                out.put(p.name(), new Tensor(p.shape(), get.apply(p)));
            }
        }
        return out;
    }

    /**
     * Visits the name and shape of every tensor of {@code config}'s PyTorch state_dict, in its order,
     * until {@code visit} returns false. Nothing is listed ahead, so a config of a billion layers costs
     * only the visits made.
     */
    public static void visitStateDict(GptConfig config, java.util.function.BiPredicate<String, int[]> visit) {
        int V = config.vocabSize(), C = config.nEmbd(), T = config.blockSize();
        if (config.isBigram()) {
            visit.test("token_embedding_table.weight", new int[]{V, V});
            return;
        }
        if (!visit.test("token_embedding_table.weight", new int[]{V, C})
                || !visit.test("position_embedding_table.weight", new int[]{T, C})) {
            return;
        }
        int hs = config.headSize();
        for (int l = 0; l < config.nLayer(); l++) {
            String p = "blocks." + l + ".";
            for (int h = 0; h < config.nHead(); h++) {
                for (String kind : new String[]{"key", "query", "value"}) {
                    if (!visit.test(p + "sa.heads." + h + "." + kind + ".weight", new int[]{hs, C})) {
                        return;
                    }
                }
            }
            if (!visit.test(p + "sa.proj.weight", new int[]{C, C}) || !visit.test(p + "sa.proj.bias", new int[]{C})
                    || !visit.test(p + "ffwd.net.0.weight", new int[]{4 * C, C}) || !visit.test(p + "ffwd.net.0.bias", new int[]{4 * C})
                    || !visit.test(p + "ffwd.net.2.weight", new int[]{C, 4 * C}) || !visit.test(p + "ffwd.net.2.bias", new int[]{C})
                    || !visit.test(p + "ln1.weight", new int[]{C}) || !visit.test(p + "ln1.bias", new int[]{C})
                    || !visit.test(p + "ln2.weight", new int[]{C}) || !visit.test(p + "ln2.bias", new int[]{C})) {
                return;
            }
        }
        if (visit.test("ln_f.weight", new int[]{C}) && visit.test("ln_f.bias", new int[]{C})
                && visit.test("lm_head.weight", new int[]{V, C})) {
            visit.test("lm_head.bias", new int[]{V});
        }
    }

    /**
     * Loads every parameter from PyTorch-named tensors; a missing tensor or a wrong shape is an
     * error naming it, and nothing is written to the model until all of them are checked.
     */
    public void loadStateDict(Map<String, Tensor> tensors, String source) {
        int C = config.nEmbd(), hs = config.isBigram() ? 0 : config.headSize();
        Map<Param, float[]> staged = new LinkedHashMap<>();
        for (Param p : all) {
            if (p.name().endsWith(".sa.qkv.weight")) {
                float[] qkv = new float[p.size()];
                String prefix = p.name().substring(0, p.name().length() - "qkv.weight".length());
                for (int h = 0; h < config.nHead(); h++) {
                    String[] kinds = {"query", "key", "value"};
                    for (int which = 0; which < 3; which++) {
                        String name = prefix + "heads." + h + "." + kinds[which] + ".weight";
                        float[] rows = take(tensors, name, new int[]{hs, C}, source);
                        System.arraycopy(rows, 0, qkv, (which * C + h * hs) * C, rows.length);
                    }
                }
                staged.put(p, qkv);
            } else {
                staged.put(p, take(tensors, p.name(), p.shape(), source));
            }
        }
        staged.forEach((p, a) -> backend.write(p.value(), a));
    }

    private static float[] take(Map<String, Tensor> tensors, String name, int[] shape, String source) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new GptException(source + ": missing tensor " + name);
        }
        if (!Arrays.equals(t.shape(), shape)) {
            throw new GptException(source + ": tensor " + name + " has shape " + Arrays.toString(t.shape())
                    + ", the config needs " + Arrays.toString(shape));
        }
        requireFinite(t.data(), source + ": tensor " + name);
        return t.data();
    }

    /** Throws "{@code what} holds NaN or infinite values" when one of {@code a} is not finite. */
    public static void requireFinite(float[] a, String what) {
        for (float x : a) {
            if (!Float.isFinite(x)) {
                throw new GptException(what + " holds NaN or infinite values");
            }
        }
    }
}
