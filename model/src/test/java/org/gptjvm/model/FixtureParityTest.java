package org.gptjvm.model;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The reference backend against PyTorch's float64 truth in the shared fixtures. */
class FixtureParityTest {
    static final double TOL = 1e-5;

    @ParameterizedTest
    @ValueSource(strings = {"ref_tiny", "ref_small"})
    void logitsLossGradsAndAdamWStepsMatchPyTorch(String name) {
        Path file = Shared.require("fixtures/" + name + ".safetensors");
        ParityReport report;
        try (Backend be = new ReferenceBackend(2)) {
            report = Parity.run(be, file);
        }
        System.out.println(report.table());
        for (ParityReport.Row r : report.rows()) {
            // the step losses too. An earlier note here put their larger error down to AdamW amplifying
            // float32 rounding chaotically: that was wrong. It was the optimizer's moment coefficients
            // (see AdamW); the only real chaos is a ReLU input within float32 rounding of zero, as in
            // ref_small's PyTorch float32 run, which is 1.1e-5 off (see ParitySweepTest)
            assertTrue(r.relative() <= TOL, r.quantity() + " relative error " + r.relative());
        }
        assertEquals(2 + report.gradCount() + 1, report.rows().size());
    }
}
