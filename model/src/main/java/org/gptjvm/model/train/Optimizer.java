package org.gptjvm.model.train;

import org.gptjvm.engine.AdamW;
import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBlock;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.GptException;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.ParamBlocks;
import org.gptjvm.engine.Program;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptParams;
import org.gptjvm.model.Param;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The optimizer, in one place: torch.optim.AdamW over the model's parameters, driven as nanoGPT
 * drives it ({@code configure_optimizers}: weight decay on the matrices only, if asked; {@code get_lr}:
 * the {@link Schedule}). It owns AdamW's two moments (blocks shaped as the parameters), the scalars
 * the host writes each step and the update program, and puts its state into a checkpoint under
 * PyTorch's optimizer names and takes it back from one. The kernel that applies an update and the
 * layout of its scalars are the engine's ({@link AdamW}).
 */
public final class Optimizer {
    /** torch.optim.AdamW's eps, the one every run here uses. */
    public static final double EPS = 1e-8;
    /** Where a checkpoint keeps the moments: {@code optimizer.exp_avg.NAME}, {@code optimizer.exp_avg_sq.NAME}. */
    public static final String PREFIX = "optimizer.";

    /** AdamW's hyper-parameters but the rate; {@code decayMatricesOnly}: decay only 2-D weights, as nanoGPT. */
    public record Settings(double beta1, double beta2, double eps, double weightDecay, boolean decayMatricesOnly) {
        /** torch.optim.AdamW's defaults. */
        public static final Settings PYTORCH = new Settings(0.9, 0.999, EPS, 0.01, false);

        public Settings validate() {
            if (!(beta1 >= 0 && beta1 < 1)) {
                throw new GptException("--beta1 must be in [0, 1), got " + beta1);
            }
            if (!(beta2 >= 0 && beta2 < 1)) {
                throw new GptException("--beta2 must be in [0, 1), got " + beta2);
            }
            if (!(eps > 0 && eps < Double.POSITIVE_INFINITY)) {
                throw new GptException("AdamW's eps must be a positive number, got " + eps);
            }
            if (!(weightDecay >= 0 && weightDecay < Double.POSITIVE_INFINITY)) {
                throw new GptException("--weight-decay must be a number of 0 or more, got " + weightDecay);
            }
            return this;
        }

        public Settings with(Double b1, Double b2, Double wd, Boolean matricesOnly) {
            return new Settings(b1 != null ? b1 : beta1, b2 != null ? b2 : beta2, eps, wd != null ? wd : weightDecay,
                    matricesOnly != null ? matricesOnly : decayMatricesOnly);
        }
    }

    /**
     * The learning rate step by step: nanoGPT's get_lr. {@code constant} is the rate after a warmup
     * (exactly the rate without one); {@code cosine} decays to {@code minLr} at {@code lrDecayIters}.
     *
     * @param warmupIters  iterations of linear warmup (0: none)
     * @param lrDecayIters cosine: the iteration where the rate reaches {@code minLr}; 0 means max_iters
     * @param minLr        cosine: the rate after the decay; NaN means a tenth of the peak rate
     */
    public record Schedule(Kind kind, int warmupIters, int lrDecayIters, double minLr) {
        public enum Kind { constant, cosine }

        /** The lecture's: a constant rate. */
        public static final Schedule CONSTANT = new Schedule(Kind.constant, 0, 0, Double.NaN);

        public Schedule validate() {
            if (warmupIters < 0) {
                throw new GptException("--warmup-iters must not be negative, got " + warmupIters);
            }
            if (lrDecayIters < 0) {
                throw new GptException("--lr-decay-iters must not be negative, got " + lrDecayIters);
            }
            if (kind == Kind.cosine && lrDecayIters > 0 && lrDecayIters <= warmupIters) {
                throw new GptException("--lr-decay-iters (" + lrDecayIters + ") must be above --warmup-iters ("
                        + warmupIters + ")");
            }
            if (!Double.isNaN(minLr) && !(minLr >= 0 && minLr < Double.POSITIVE_INFINITY)) {
                throw new GptException("--min-lr must be a number of 0 or more, got " + minLr);
            }
            return this;
        }

        /**
         * The rate of the step taken at iteration {@code it} (0-based, steps done so far), for a peak
         * rate {@code lr} over a run of {@code maxIters}:
         *
         * <pre>
         *   it &lt; warmup:         lr * (it + 1) / (warmup + 1)
         *   it &gt; decay_iters:    min_lr
         *   else:               min_lr + (lr - min_lr) * (1 + cos(pi * (it - warmup) / (decay_iters - warmup))) / 2
         * </pre>
         */
        public double learningRate(double lr, int it, int maxIters) {
            if (it < warmupIters) {
                return lr * (it + 1) / (warmupIters + 1);
            }
            if (kind == Kind.constant) {
                return lr;
            }
            double min = minLr(lr);
            int decay = decayIters(maxIters);
            if (it > decay) {
                return min;
            }
            if (decay <= warmupIters) {
                return min; // a run no longer than its warmup: nothing left to decay over
            }
            double ratio = (double) (it - warmupIters) / (decay - warmupIters);
            return min + 0.5 * (1.0 + Math.cos(Math.PI * ratio)) * (lr - min);
        }

        /** This schedule with the rate and horizon its defaults stand for made explicit, so a resumed run keeps them. */
        public Schedule resolve(double lr, int maxIters) {
            return kind != Kind.cosine ? this : new Schedule(kind, warmupIters, decayIters(maxIters), minLr(lr));
        }

        public double minLr(double lr) {
            return Double.isNaN(minLr) ? lr / 10 : minLr;
        }

        public int decayIters(int maxIters) {
            return lrDecayIters > 0 ? lrDecayIters : maxIters;
        }

        public Schedule with(Kind k, Integer warmup, Integer decayIters, Double min) {
            return new Schedule(k != null ? k : kind, warmup != null ? warmup : warmupIters,
                    decayIters != null ? decayIters : lrDecayIters, min != null ? min : minLr);
        }
    }

    private final Backend be;
    private final GptParams params;
    private final Settings settings;
    /** AdamW's first and second moments, part i for parameter i. */
    private final FloatBlock m, v;
    /** The update's scalars ({@link AdamW}'s layout); for the 1-D parameters when only matrices decay. */
    private final FloatBuf hyper, hyperNoDecay;
    private final float[] hostHyper = new float[AdamW.SIZE], hostHyperNoDecay = new float[AdamW.SIZE];
    private final Program update;

    /** AdamW over {@code gpt}'s parameters, with moments at zero (PyTorch's start). */
    public Optimizer(Gpt gpt, Settings settings) {
        this.be = gpt.backend;
        this.params = gpt.params;
        this.settings = settings.validate();
        this.m = params.allocateLike("adam_m", "adam_m.");
        this.v = params.allocateLike("adam_v", "adam_v.");
        this.hyper = be.allocFloat("adamw_hyper", AdamW.SIZE);
        be.hostInput(hyper);
        if (settings.decayMatricesOnly()) {
            hyperNoDecay = be.allocFloat("adamw_hyper_no_decay", AdamW.SIZE);
            be.hostInput(hyperNoDecay);
        } else {
            hyperNoDecay = null;
        }
        // one launch per run of neighbouring parameters that read the same scalars: one for all of
        // them, unless only the matrices decay
        ParamBlocks blocks = new ParamBlocks(params.values, params.grads, m, v);
        List<Launch> launches = new ArrayList<>();
        int n = params.all.size();
        for (int from = 0, i = 1; i <= n; i++) {
            if (i == n || scalarsOf(i) != scalarsOf(from)) {
                launches.add(be.adamw(blocks, from, i, scalarsOf(from)));
                from = i;
            }
        }
        this.update = be.compile("adamw", launches);
    }

    /** The scalars parameter i is updated with: without decay for a vector when only matrices decay. */
    private FloatBuf scalarsOf(int i) {
        return hyperNoDecay != null && params.all.get(i).shape().length < 2 ? hyperNoDecay : hyper;
    }

    public Settings settings() {
        return settings;
    }

    /** The update's program (for a step's launch plan). */
    public Program program() {
        return update;
    }

    /**
     * Update number {@code t} (1-based, PyTorch's {@code state['step']}) at rate {@code lr}, from the
     * gradients in the model's grad block times {@code gradScale} (the mean over accumulated
     * micro-batches and the clipping coefficient; 1 leaves them as they are, exactly).
     */
    public void step(long t, double lr, double gradScale) {
        AdamW.fill(hostHyper, lr, settings.beta1(), settings.beta2(), settings.eps(), settings.weightDecay(), t,
                gradScale);
        be.write(hyper, hostHyper);
        if (hyperNoDecay != null) {
            AdamW.fill(hostHyperNoDecay, lr, settings.beta1(), settings.beta2(), settings.eps(), 0, t, gradScale);
            be.write(hyperNoDecay, hostHyperNoDecay);
        }
        update.run();
    }

    /** The moments under PyTorch's optimizer names, parameter by parameter, for a checkpoint. */
    public Map<String, GptParams.Tensor> state() {
        Map<String, GptParams.Tensor> out = new LinkedHashMap<>();
        for (int i = 0; i < params.all.size(); i++) {
            Param p = params.all.get(i);
            out.put(PREFIX + "exp_avg." + p.name(), new GptParams.Tensor(p.shape(), params.read(m.part(i))));
            out.put(PREFIX + "exp_avg_sq." + p.name(), new GptParams.Tensor(p.shape(), params.read(v.part(i))));
        }
        return out;
    }

    /**
     * Loads the moments that {@link #state} saved, from {@code tensors} (a checkpoint's); every one is
     * checked before any is written, and a missing or wrong one is an error naming it.
     */
    public void restore(Map<String, GptParams.Tensor> tensors, Path file) {
        List<float[]> staged = new ArrayList<>();
        for (Param p : params.all) {
            for (String kind : new String[]{"exp_avg.", "exp_avg_sq."}) {
                String name = PREFIX + kind + p.name();
                GptParams.Tensor t = tensors.get(name);
                if (t == null) {
                    throw new GptException(file + ": cannot resume: missing " + name);
                }
                if (t.data().length != p.size()) {
                    throw new GptException(file + ": cannot resume: " + name + " has " + t.data().length
                            + " values, expected " + p.size());
                }
                GptParams.requireFinite(t.data(), file + ": cannot resume: " + name);
                staged.add(t.data());
            }
        }
        for (int i = 0; i < params.all.size(); i++) {
            be.write(m.part(i), staged.get(2 * i));
            be.write(v.part(i), staged.get(2 * i + 1));
        }
    }

    /** Whether {@code tensors} hold an optimizer's state (a checkpoint saved by training). */
    public static boolean hasState(Map<String, ?> tensors) {
        return tensors.keySet().stream().anyMatch(n -> n.startsWith(PREFIX));
    }
}
