package org.gptjvm.tornado;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.BackendProvider;
import org.gptjvm.engine.Backends;
import org.gptjvm.engine.GptException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The default-backend rule, on a stubbed TornadoVM: tornado when TornadoVM reports a device that is
 * not a CPU, else the fastest host backend. Needs no TornadoVM: it runs in every build.
 */
class TornadoProviderTest {

    /** TornadoVM as a list of device types. */
    record Stub(List<String> types) implements TornadoRuntime {
        @Override
        public Backend create(String spec) {
            throw new UnsupportedOperationException();
        }

        @Override
        public List<String> devices() {
            List<String> lines = new ArrayList<>();
            for (int i = 0; i < types.size(); i++) {
                lines.add(i + ": " + types.get(i));
            }
            return lines;
        }

        @Override
        public boolean hasAccelerator() {
            return types.stream().anyMatch(t -> !t.equals("CPU"));
        }
    }

    private static List<BackendProvider> with(TornadoProvider tornado) {
        List<BackendProvider> all = new ArrayList<>(Backends.providers());
        all.removeIf(p -> p.name().equals("tornado"));
        all.add(tornado);
        all.sort((a, b) -> Integer.compare(b.speedRank(), a.speedRank()));
        return all;
    }

    @Test
    void aGpuMakesTornadoTheDefault() {
        TornadoProvider gpu = new TornadoProvider(new Stub(List.of("CPU", "GPU")));
        assertTrue(gpu.acceleratesHere());
        assertEquals("tornado", Backends.defaultOf(with(gpu)).name());
    }

    @Test
    void withOnlyCpuDevicesTheCpuBackendStaysTheDefault() {
        TornadoProvider pocl = new TornadoProvider(new Stub(List.of("CPU")));
        assertFalse(pocl.acceleratesHere());
        assertEquals("cpu", Backends.defaultOf(with(pocl)).name());
        assertEquals(List.of("0: CPU"), pocl.devices());
    }

    @Test
    void inThisBuildTheProviderSaysWhyItCannotRunWithoutStartingAnything() {
        BackendProvider real = Backends.provider("tornado");
        assertTrue(real.hasDevices());
        if (real.absence() != null) { // a build without the backend, or a JVM without TornadoVM's runtime
            assertFalse(Backends.names().contains("tornado"));
            assertFalse(real.acceleratesHere());
            assertEquals("cpu", Backends.defaultName());
        }
    }

    @Test
    void aTornadoVmThatCannotStartLeavesTheDefaultToTheCpuBackend() {
        TornadoProvider broken = new TornadoProvider(new TornadoRuntime() {
            @Override
            public Backend create(String spec) {
                throw new UnsupportedOperationException();
            }

            @Override
            public List<String> devices() {
                return List.of();
            }

            @Override
            public boolean hasAccelerator() {
                throw new GptException("TornadoVM could not start: UnsatisfiedLinkError: libcuda.so.1");
            }
        });
        assertFalse(broken.acceleratesHere());
        assertEquals("cpu", Backends.defaultOf(with(broken)).name());
    }
}
