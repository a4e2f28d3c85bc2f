package org.gptjvm.model;

import com.google.gson.JsonObject;
import org.gptjvm.engine.GptException;

/**
 * How the optimizer is driven, beyond the lecture's constant-rate AdamW: nanoGPT's training knobs.
 * {@link #LECTURE} is what the lecture's gpt.py does (torch.optim.AdamW's defaults, constant rate,
 * no clipping, one batch per step) and changes no number of a run; {@link #NANOGPT} is nanoGPT's
 * {@code train_shakespeare_char} (cosine decay with warmup, beta2 0.99, weight decay 0.1 on 2-D
 * weights only, gradients clipped to norm 1).
 *
 * @param schedule          {@code constant} or {@code cosine} (nanoGPT's get_lr)
 * @param warmupIters       iterations of linear warmup (0: none)
 * @param lrDecayIters      cosine: the iteration where the rate reaches {@code minLr}; 0 means max_iters
 * @param minLr             cosine: the rate after the decay; NaN means a tenth of the peak rate
 * @param gradClip          the gradients' global L2 norm is clipped to this (0: no clipping)
 * @param gradAccum         micro-batches whose gradients make one AdamW step
 * @param decayMatricesOnly weight decay on 2-D weights only (matrices and embeddings), as nanoGPT
 */
public record Recipe(Schedule schedule, int warmupIters, int lrDecayIters, double minLr, double beta1, double beta2,
                     double weightDecay, boolean decayMatricesOnly, double gradClip, int gradAccum) {

    public enum Schedule { constant, cosine }

    /** The lecture's: torch.optim.AdamW(lr) and nothing else. */
    public static final Recipe LECTURE = new Recipe(Schedule.constant, 0, 0, Double.NaN, 0.9, 0.999, 0.01, false, 0, 1);
    /** nanoGPT's config/train_shakespeare_char.py with train.py's defaults, for 5000 iterations. */
    public static final Recipe NANOGPT = new Recipe(Schedule.cosine, 100, 5000, 1e-4, 0.9, 0.99, 0.1, true, 1.0, 1);

    public Recipe validate() {
        if (warmupIters < 0) {
            throw new GptException("--warmup-iters must not be negative, got " + warmupIters);
        }
        if (lrDecayIters < 0) {
            throw new GptException("--lr-decay-iters must not be negative, got " + lrDecayIters);
        }
        if (schedule == Schedule.cosine && lrDecayIters > 0 && lrDecayIters <= warmupIters) {
            throw new GptException("--lr-decay-iters (" + lrDecayIters + ") must be above --warmup-iters (" + warmupIters + ")");
        }
        if (!Double.isNaN(minLr) && !(minLr >= 0 && minLr < Double.POSITIVE_INFINITY)) {
            throw new GptException("--min-lr must be a number of 0 or more, got " + minLr);
        }
        if (!(beta1 >= 0 && beta1 < 1)) {
            throw new GptException("--beta1 must be in [0, 1), got " + beta1);
        }
        if (!(beta2 >= 0 && beta2 < 1)) {
            throw new GptException("--beta2 must be in [0, 1), got " + beta2);
        }
        if (!(weightDecay >= 0 && weightDecay < Double.POSITIVE_INFINITY)) {
            throw new GptException("--weight-decay must be a number of 0 or more, got " + weightDecay);
        }
        if (!(gradClip >= 0 && gradClip < Double.POSITIVE_INFINITY)) {
            throw new GptException("--grad-clip must be a number of 0 or more (0: off), got " + gradClip);
        }
        if (gradAccum < 1) {
            throw new GptException("--grad-accum must be 1 or more, got " + gradAccum);
        }
        return this;
    }

    /**
     * The learning rate of the step taken at iteration {@code it} (0-based, steps done so far), for
     * a peak rate {@code lr} over a run of {@code maxIters}: nanoGPT's get_lr.
     *
     * <pre>
     *   it &lt; warmup:         lr * (it + 1) / (warmup + 1)
     *   it &gt; decay_iters:    min_lr
     *   else:               min_lr + (lr - min_lr) * (1 + cos(pi * (it - warmup) / (decay_iters - warmup))) / 2
     * </pre>
     *
     * The constant schedule is {@code lr} after the warmup (exactly {@code lr} without one).
     */
    public double learningRate(double lr, int it, int maxIters) {
        if (it < warmupIters) {
            return lr * (it + 1) / (warmupIters + 1);
        }
        if (schedule == Schedule.constant) {
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

    /** This recipe with the rates and horizon its defaults stand for made explicit, so a resumed run keeps them. */
    public Recipe resolve(double lr, int maxIters) {
        if (schedule != Schedule.cosine) {
            return this;
        }
        return new Recipe(schedule, warmupIters, decayIters(maxIters), minLr(lr), beta1, beta2, weightDecay,
                decayMatricesOnly, gradClip, gradAccum);
    }

    public double minLr(double lr) {
        return Double.isNaN(minLr) ? lr / 10 : minLr;
    }

    public int decayIters(int maxIters) {
        return lrDecayIters > 0 ? lrDecayIters : maxIters;
    }

    /** {@code coef} of torch.nn.utils.clip_grad_norm_: what the gradients are multiplied by. */
    public double clipCoefficient(double norm) {
        if (gradClip <= 0) {
            return 1.0;
        }
        return Math.min(1.0, gradClip / (norm + 1e-6));
    }

    public Recipe withSchedule(Schedule s, Integer warmup, Integer decayIters, Double min) {
        return new Recipe(s != null ? s : schedule, warmup != null ? warmup : warmupIters,
                decayIters != null ? decayIters : lrDecayIters, min != null ? min : minLr, beta1, beta2, weightDecay,
                decayMatricesOnly, gradClip, gradAccum);
    }

    public Recipe withOptimizer(Double b1, Double b2, Double wd, Boolean matricesOnly, Double clip, Integer accum) {
        return new Recipe(schedule, warmupIters, lrDecayIters, minLr, b1 != null ? b1 : beta1, b2 != null ? b2 : beta2,
                wd != null ? wd : weightDecay, matricesOnly != null ? matricesOnly : decayMatricesOnly,
                clip != null ? clip : gradClip, accum != null ? accum : gradAccum);
    }

    void addTo(JsonObject o) {
        o.addProperty("lr_schedule", schedule.name());
        o.addProperty("warmup_iters", warmupIters);
        o.addProperty("lr_decay_iters", lrDecayIters);
        if (!Double.isNaN(minLr)) {
            o.addProperty("min_lr", minLr);
        }
        o.addProperty("beta1", beta1);
        o.addProperty("beta2", beta2);
        o.addProperty("weight_decay", weightDecay);
        o.addProperty("decay_matrices_only", decayMatricesOnly);
        o.addProperty("grad_clip", gradClip);
        o.addProperty("gradient_accumulation_steps", gradAccum);
    }

    /** The recipe saved by {@link #addTo}; a checkpoint from before the knobs existed ran {@link #LECTURE}. */
    static Recipe fromJson(JsonObject o) {
        if (!o.has("lr_schedule")) {
            return LECTURE;
        }
        return new Recipe(Schedule.valueOf(o.get("lr_schedule").getAsString()), o.get("warmup_iters").getAsInt(),
                o.get("lr_decay_iters").getAsInt(), o.has("min_lr") ? o.get("min_lr").getAsDouble() : Double.NaN,
                o.get("beta1").getAsDouble(), o.get("beta2").getAsDouble(), o.get("weight_decay").getAsDouble(),
                o.get("decay_matrices_only").getAsBoolean(), o.get("grad_clip").getAsDouble(),
                o.get("gradient_accumulation_steps").getAsInt()).validate();
    }
}
