package org.gptjvm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * In a build with the tornado backend, run with TornadoVM's JVM flags: TornadoVM starts only when
 * the tornado backend is used or listed. Runs in the tornado suite (a -Ptornado build with
 * TORNADOVM_HOME set); skipped elsewhere.
 */
class TornadoLazyStartTest {
    /** A class TornadoVM loads when it starts (its runtime, which finds the devices). */
    static final String STARTED = "uk.ac.manchester.tornado.runtime.TornadoCoreRuntime";

    @TempDir
    Path tmp;

    /** The classes the child JVM loaded while running gpt {@code args}, one per line. */
    private String loadedClasses(String name, String... args) throws Exception {
        String home = System.getenv("TORNADOVM_HOME");
        assumeTrue(home != null && Files.exists(Path.of(home, "tornado-argfile")), "skipped: TORNADOVM_HOME is not set");
        assumeTrue(getClass().getClassLoader().getResource("org/gptjvm/tornado/TornadoVmRuntime.class") != null,
                "skipped: a build without the tornado backend (-Ptornado)");
        Path argfile = tmp.resolve("argfile");
        Files.writeString(argfile, Files.readString(Path.of(home, "tornado-argfile")).replace("--module-path .:", "--module-path "));
        Path log = tmp.resolve(name + ".classes");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "@" + argfile, "-Xmx1g", "--add-modules", "jdk.incubator.vector", "-Xlog:class+load=info:file=" + log,
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(tmp.toFile()).redirectErrorStream(true)
                .redirectOutput(tmp.resolve(name + ".out").toFile()).start();
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "gpt " + String.join(" ", args) + " did not finish");
        assertEquals(0, p.exitValue(), () -> read(tmp.resolve(name + ".out")));
        return read(log);
    }

    private static String read(Path f) {
        try {
            return Files.readString(f);
        } catch (java.io.IOException e) {
            return "";
        }
    }

    @Test
    void trainingOnTheCpuBackendDoesNotStartTornadoVM() throws Exception {
        String data = SharedData.tinyShakespeare().toString();
        String cpu = loadedClasses("cpu", "train", "--backend", "cpu", "--data", data, "--n-embd", "16", "--n-head", "2",
                "--n-layer", "1", "--block-size", "8", "--batch-size", "2", "--iters", "3", "--eval-iters", "1",
                "--sample-tokens", "10", "--threads", "1", "--out", tmp.resolve("m.safetensors").toString());
        assertFalse(cpu.contains(STARTED), "gpt train --backend cpu started TornadoVM");
        // the control: listing the devices does start it, so the log would show it
        String listed = loadedClasses("devices", "devices");
        assertTrue(listed.contains(STARTED), "the class that shows TornadoVM started was not seen: " + STARTED);
    }
}
