package org.gptjvm.bench;

import org.gptjvm.engine.Backend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The benchmarks' backends: a missing one is one line for JMH to print, and a trial notes its device. */
class BenchBackendsTest {
    private static void oneLine(BenchBackends.Problem p) {
        assertEquals(p.getMessage(), p.toString(), "JMH prints the exception: its message alone");
        assertEquals(0, p.getStackTrace().length);
        assertEquals(1, p.getMessage().lines().count(), p.getMessage());
    }

    @Test
    void aBackendNobodyHasIsOneLineNamingThoseThereAre() {
        BenchBackends.Problem p = assertThrows(BenchBackends.Problem.class, () -> BenchBackends.create("gpu", 1));
        oneLine(p);
        assertTrue(p.getMessage().startsWith("unknown backend 'gpu'; this jar has: "), p.getMessage());
        assertTrue(p.getMessage().contains("cpu") && p.getMessage().contains("reference"), p.getMessage());
    }

    /** This JVM has no TornadoVM flags: tornado, in this jar or not, cannot run, and the line says how to get it. */
    @Test
    void tornadoWithoutTornadovmIsOneLineThatPointsAtRunAll() {
        assumeTrue(System.getProperty("tornado.load.runtime.implementation") == null, "skipped: TornadoVM's runtime is here");
        BenchBackends.Problem p = assertThrows(BenchBackends.Problem.class, () -> BenchBackends.create("tornado", 1));
        oneLine(p);
        assertTrue(p.getMessage().startsWith("the tornado backend "), p.getMessage());
        assertTrue(p.getMessage().contains("bench/run-all.sh"), p.getMessage());
    }

    @Test
    void aTrialNotesItsBackendAndTheCpuWhereThePropertyNamesAFile(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("run.devices");
        Backend be = BenchBackends.create("cpu", 1); // no property: nothing written
        be.close();
        assertEquals(List.of(), Devices.read(file));
        System.setProperty(Devices.PROPERTY, file.toString());
        try {
            for (String name : new String[]{"cpu", "reference", "cpu"}) {
                BenchBackends.create(name, 1).close();
            }
        } finally {
            System.clearProperty(Devices.PROPERTY);
        }
        List<Devices.Device> devices = Devices.read(file);
        assertEquals(List.of("cpu", "reference"), devices.stream().map(Devices.Device::backend).toList(), "once each");
        String cpu = devices.getFirst().description();
        assertTrue(cpu.startsWith("cpu backend, 1 thread(s)") && cpu.contains("; CPU: ")
                && (cpu.endsWith(" cores") || cpu.endsWith(" core")), cpu);
    }
}
