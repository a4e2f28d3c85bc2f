package org.gptjvm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A second signal quits at once, exit 130, with a line saying nothing more was saved and what the checkpoint holds. */
class SecondSignalTest {
    @TempDir
    Path tmp;

    @Test
    void aSecondSignalSaysItQuitsWithoutSavingAndWhatTheCheckpointHolds() throws Exception {
        Path err = tmp.resolve("stderr");
        // SIGINT at its default, as a terminal starts a run (a shell running us in the background leaves it ignored,
        // which the JVM honours); see ResumeAndInterruptTest
        ProcessBuilder pb = new ProcessBuilder("/usr/bin/python3", "-c", "import os,signal,sys\n"
                + "signal.signal(signal.SIGINT, signal.SIG_DFL)\nos.execvp(sys.argv[1], sys.argv[1:])",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), SecondSignalProbe.class.getName()).redirectError(err.toFile());
        Process p = pb.start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            assertEquals("ready", out.readLine());
            for (int k = 0; k < 2; k++) {
                new ProcessBuilder("kill", "-INT", String.valueOf(p.pid())).start().waitFor();
                Thread.sleep(300);
            }
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "still running after two signals");
        } finally {
            p.destroyForcibly();
        }
        String e = Files.readString(err);
        assertEquals(130, p.exitValue(), e);
        assertTrue(e.contains("interrupted: saving a checkpoint after this step (SIGINT; again to quit now)"), e);
        assertTrue(e.contains("gpt: quit at once (a second SIGINT): nothing more was saved; out/gpt.safetensors holds "
                + "iteration 7"), e);
    }
}
