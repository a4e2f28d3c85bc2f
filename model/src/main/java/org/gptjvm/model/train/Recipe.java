package org.gptjvm.model.train;

import com.google.gson.JsonObject;
import org.gptjvm.engine.GptException;
import org.gptjvm.model.io.JsonNumbers;

/**
 * How a run trains beyond the model and the batch: nanoGPT's training knobs, the optimizer's
 * {@link Optimizer.Schedule} and {@link Optimizer.Settings} plus gradient clipping and accumulation.
 * {@link #LECTURE} is what the lecture's gpt.py does (torch.optim.AdamW's defaults, constant rate,
 * no clipping, one batch per step) and changes no number of a run; {@link #NANOGPT} is nanoGPT's
 * {@code train_shakespeare_char} (cosine decay with warmup, beta2 0.99, weight decay 0.1 on 2-D
 * weights only, gradients clipped to norm 1).
 *
 * @param gradClip  the gradients' global L2 norm is clipped to this (0: no clipping)
 * @param gradAccum micro-batches whose gradients make one AdamW step
 */
public record Recipe(Optimizer.Schedule schedule, Optimizer.Settings adamw, double gradClip, int gradAccum) {

    /** The lecture's: torch.optim.AdamW(lr) and nothing else. */
    public static final Recipe LECTURE = new Recipe(Optimizer.Schedule.CONSTANT, Optimizer.Settings.PYTORCH, 0, 1);
    /** nanoGPT's config/train_shakespeare_char.py with train.py's defaults, for 5000 iterations. */
    public static final Recipe NANOGPT = new Recipe(new Optimizer.Schedule(Optimizer.Schedule.Kind.cosine, 100, 5000, 1e-4),
            new Optimizer.Settings(0.9, 0.99, Optimizer.EPS, 0.1, true), 1.0, 1);

    /** The most micro-batches per step: nanoGPT's largest recipe takes 40; a million is a typo, not a run. */
    public static final int MAX_GRAD_ACCUM = 1_000_000;

    public Recipe validate() {
        schedule.validate();
        adamw.validate();
        if (!(gradClip >= 0 && gradClip < Double.POSITIVE_INFINITY)) {
            throw new GptException("--grad-clip must be a number of 0 or more (0: off), got " + gradClip);
        }
        if (gradAccum < 1) {
            throw new GptException("--grad-accum must be 1 or more, got " + gradAccum);
        }
        if (gradAccum > MAX_GRAD_ACCUM) {
            throw new GptException("--grad-accum must be at most " + MAX_GRAD_ACCUM + " (micro-batches per step: a step "
                    + "of more would not end in any reasonable time), got " + gradAccum);
        }
        return this;
    }

    /** This recipe with the rates and horizon its schedule's defaults stand for made explicit. */
    public Recipe resolve(double lr, int maxIters) {
        return new Recipe(schedule.resolve(lr, maxIters), adamw, gradClip, gradAccum);
    }

    /** {@code coef} of torch.nn.utils.clip_grad_norm_: what the gradients are multiplied by. */
    public double clipCoefficient(double norm) {
        if (gradClip <= 0) {
            return 1.0;
        }
        return Math.min(1.0, gradClip / (norm + 1e-6));
    }

    public Recipe withSchedule(Optimizer.Schedule.Kind s, Integer warmup, Integer decayIters, Double min) {
        return new Recipe(schedule.with(s, warmup, decayIters, min), adamw, gradClip, gradAccum);
    }

    public Recipe withOptimizer(Double b1, Double b2, Double wd, Boolean matricesOnly, Double clip, Integer accum) {
        return new Recipe(schedule, adamw.with(b1, b2, wd, matricesOnly), clip != null ? clip : gradClip,
                accum != null ? accum : gradAccum);
    }

    void addTo(JsonObject o) {
        o.addProperty("lr_schedule", schedule.kind().name());
        o.addProperty("warmup_iters", schedule.warmupIters());
        o.addProperty("lr_decay_iters", schedule.lrDecayIters());
        if (!Double.isNaN(schedule.minLr())) {
            o.addProperty("min_lr", schedule.minLr());
        }
        o.addProperty("beta1", adamw.beta1());
        o.addProperty("beta2", adamw.beta2());
        o.addProperty("weight_decay", adamw.weightDecay());
        o.addProperty("decay_matrices_only", adamw.decayMatricesOnly());
        o.addProperty("grad_clip", gradClip);
        o.addProperty("gradient_accumulation_steps", gradAccum);
    }

    /** The recipe saved by {@link #addTo}; a checkpoint from before the knobs existed ran {@link #LECTURE}. */
    static Recipe fromJson(JsonObject o) {
        if (!o.has("lr_schedule")) {
            return LECTURE;
        }
        Optimizer.Schedule schedule = new Optimizer.Schedule(Optimizer.Schedule.Kind.valueOf(o.get("lr_schedule").getAsString()),
                JsonNumbers.wholeInt(o, "warmup_iters", 0, Integer.MAX_VALUE),
                JsonNumbers.wholeInt(o, "lr_decay_iters", 0, Integer.MAX_VALUE),
                o.has("min_lr") ? o.get("min_lr").getAsDouble() : Double.NaN);
        Optimizer.Settings adamw = new Optimizer.Settings(o.get("beta1").getAsDouble(), o.get("beta2").getAsDouble(),
                Optimizer.EPS, o.get("weight_decay").getAsDouble(), o.get("decay_matrices_only").getAsBoolean());
        return new Recipe(schedule, adamw, o.get("grad_clip").getAsDouble(), JsonNumbers.wholeInt(o, "gradient_accumulation_steps", 1, MAX_GRAD_ACCUM))
                .validate();
    }
}
