package org.gptjvm.model;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.ReferenceBackend;
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
            if (r.quantity().equals("step_losses")) {
                assertTrue(r.maxAbs() <= TOL, r.quantity() + " max abs " + r.maxAbs());
            } else {
                assertTrue(r.relative() <= TOL, r.quantity() + " relative error " + r.relative());
            }
        }
        assertEquals(2 + report.gradCount() + 1, report.rows().size());
    }
}
