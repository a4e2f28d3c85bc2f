package org.gptjvm.engine;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The backends are found through ServiceLoader alone, and the registry only repeats what they report. */
class BackendsTest {

    @Test
    void serviceLoaderAloneFindsTheReferenceAndCpuBackends() {
        List<String> names = new ArrayList<>();
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            names.add(p.name());
            assertNull(p.absence(), p.name() + " should run in this JVM");
        }
        assertTrue(names.contains("reference") && names.contains("cpu"), names::toString);
        for (String name : List.of("reference", "cpu")) {
            try (Backend be = Backends.create(name, 2)) {
                assertEquals(name, be.name());
                assertEquals(2, ((org.gptjvm.engine.host.HostBackend) be).threads());
            }
        }
    }

    @Test
    void theDefaultIsTheFastestPresentAndNamesAreListedFastestFirst() {
        List<String> names = Backends.names();
        assertEquals("cpu", Backends.defaultName());
        assertTrue(names.indexOf("cpu") < names.indexOf("reference"), names::toString);
    }

    @Test
    void aWrongNameOrDeviceIsAOneLineError() {
        String problem = Backends.unknown("gpu9");
        assertTrue(problem.startsWith("unknown backend 'gpu9'; available: ") && problem.contains("reference"), problem);
        assertNull(Backends.unknown("cpu"));
        GptException e = assertThrows(GptException.class, () -> Backends.create("cpu", 1, "0"));
        assertTrue(e.getMessage().contains("runs on this machine's CPU cores"), e::getMessage);
        assertThrows(GptException.class, () -> Backends.create("reference", 0));
    }
}
