package org.gptjvm.cli;

import com.google.gson.JsonObject;
import org.gptjvm.engine.KernelProfile;
import org.gptjvm.engine.device.LaunchInfo;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The launch plan's two rules and its output, on hand-made launches. */
class StepPlanTest {

    static LaunchInfo launch(String kernel, long items, double flops, double bytes, long local) {
        return new LaunchInfo(kernel, new long[]{items, 1, 1}, new long[]{local > 0 ? 256 : 0, 1, 1}, flops, bytes / 2,
                bytes / 2, local);
    }

    static String print(StepPlan p, KernelProfile profile) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        p.print(new PrintStream(b, true, StandardCharsets.UTF_8), 1e9, measured(profile));
        return b.toString(StandardCharsets.UTF_8);
    }

    /** Kernel times over 2 steps (no stages: a profile of a host backend), or none. */
    static StepPlan.Measured measured(KernelProfile profile) {
        return profile == null ? null : new StepPlan.Measured(profile, List.of(), List.of(), 2);
    }

    @Test
    void aGoodPlanPassesBothRules() {
        StepPlan p = new StepPlan(List.of(
                new StepPlan.Row("step", launch("gemm", 1 << 20, 9e8, 1e8, 8192)),
                new StepPlan.Row("step", launch("rows", 1 << 16, 1e6, 5e7, 512)),
                // tiny work on few work-items is fine: under 1% of the FLOPs and of the bytes
                new StepPlan.Row("step", launch("total", 128, 1e3, 1e3, 0))), 3L << 20);
        assertTrue(p.problems().isEmpty(), p.problems().toString());
        String out = print(p, null);
        assertTrue(out.contains("program step:") && out.contains("local memory: yes"), out);
        assertTrue(out.contains("3 launches, ") && out.contains("; 3.0 MiB of buffers on the device"), out);
    }

    @Test
    void fewWorkItemsForALargeShareAndAProductWithoutTilesAreFlagged() {
        StepPlan p = new StepPlan(List.of(
                new StepPlan.Row("step", launch("gemm", 1 << 20, 9e8, 1e8, 8192)),
                new StepPlan.Row("step", launch("serial_sum", 384, 1e6, 4e7, 0)),
                new StepPlan.Row("step", launch("naive_matmul", 1 << 20, 2e8, 1e7, 0))), 0);
        List<String> problems = p.problems();
        assertEquals(2, problems.size(), problems.toString());
        assertTrue(problems.get(0).startsWith("#1 serial_sum: 384 work-items"), problems.get(0));
        assertTrue(problems.get(1).startsWith("#2 naive_matmul: 20 FLOPs per byte"), problems.get(1));
        String out = print(p, null);
        assertTrue(out.contains("local memory: no") && out.contains(" !"), out);
    }

    @Test
    void aProfileAddsTimesPerKernelAndTheJsonHoldsEveryLaunch() {
        StepPlan p = new StepPlan(List.of(new StepPlan.Row("fwd", launch("gemm", 1 << 20, 9e8, 1e8, 8192)),
                new StepPlan.Row("upd", launch("adamw", 1 << 20, 1e7, 1e8, 0))), 5L << 20);
        KernelProfile profile = new KernelProfile();
        profile.slot("gemm")[0] = 30_000_000;
        profile.slot("adamw")[0] = 10_000_000;
        String out = print(p, profile);
        assertTrue(out.contains("ms/step") && out.contains("15.000") && out.contains("75.0%"), out);
        JsonObject j = p.toJson(measured(profile));
        assertEquals(2, j.getAsJsonArray("launches").size());
        assertEquals(5L << 20, j.get("buffer_bytes").getAsLong());
        assertEquals(5.0, j.getAsJsonObject("ms_per_step_by_kernel").get("adamw").getAsDouble(), 1e-9);
    }
}
