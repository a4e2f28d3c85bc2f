package org.gptjvm.tornado;

import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.Launch;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * One parameter's AdamW update as recorded, before it becomes a task. The model records one per
 * parameter; the values, gradients and moments of all parameters lie in four blocks (see
 * GptParams), so consecutive updates over neighbouring ranges with the same scalars merge into one
 * task over the whole parameter block, as llm.c updates its parameters.
 */
record AdamWStep(int p, int g, int m, int v, FloatBuf hyper, int n) implements Launch {

    @Override
    public String kernel() {
        return "adamw";
    }

    /** Whether {@code next} continues this update's ranges (then the two are one update). */
    boolean continuedBy(AdamWStep next) {
        return next.hyper == hyper && next.p == p + n && next.g == g + n && next.m == m + n && next.v == v + n;
    }

    /**
     * The launches as the plan runs them: every run of neighbouring AdamW updates merged into one,
     * which {@code task} makes a task.
     */
    static List<TaskGraphPlan.TLaunch> merged(List<Launch> launches, Function<AdamWStep, TaskGraphPlan.TLaunch> task) {
        List<TaskGraphPlan.TLaunch> out = new ArrayList<>();
        AdamWStep run = null;
        for (Launch l : launches) {
            if (l instanceof AdamWStep step) {
                if (run != null && run.continuedBy(step)) {
                    run = new AdamWStep(run.p, run.g, run.m, run.v, run.hyper, run.n + step.n);
                    continue;
                }
                if (run != null) {
                    out.add(task.apply(run));
                }
                run = step;
            } else {
                if (run != null) {
                    out.add(task.apply(run));
                    run = null;
                }
                out.add((TaskGraphPlan.TLaunch) l);
            }
        }
        if (run != null) {
            out.add(task.apply(run));
        }
        return out;
    }
}
