package org.gptjvm.model;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.Backends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.URISyntaxException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Shapes the shared fixtures do not cover, made with shared/tools/torch_reference.py and committed
 * under src/test/resources/fixtures (see the README there for the commands).
 */
class ExtraFixturesParityTest {

    @ParameterizedTest(name = "{0} on {1}")
    @CsvSource({
            "ref_short_seq, reference", "ref_short_seq, cpu",
            "ref_one_layer_one_head, reference", "ref_one_layer_one_head, cpu",
            "ref_odd, reference", "ref_odd, cpu"})
    void matchesPyTorch(String fixture, String backend) throws URISyntaxException {
        Path file = Path.of(getClass().getResource("/fixtures/" + fixture + ".safetensors").toURI());
        ParityReport report;
        try (Backend be = Backends.create(backend, 2)) {
            report = Parity.run(be, file);
        }
        System.out.println(fixture + " on " + backend + ":\n" + report.table());
        for (ParityReport.Row r : report.rows()) {
            assertTrue(r.relative() <= 1e-5, fixture + " " + r.quantity() + " relative error " + r.relative());
        }
    }
}
