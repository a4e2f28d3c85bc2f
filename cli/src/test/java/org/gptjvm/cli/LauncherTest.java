package org.gptjvm.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The ./gpt launcher, in a copy of its folder whose Maven is a stand-in that counts its builds and
 * "builds" {@link LauncherProbe}: java replaces the launcher (so signals reach it), two launchers
 * started together build once, and each flavour keeps its own jar.
 */
class LauncherTest {
    @TempDir
    static Path root;
    static Path repo, bin, builds, probeJar;

    @BeforeAll
    static void copyTheLauncher() throws IOException {
        assumeTrue(Files.isExecutable(Path.of("/bin/bash")), "skipped: no bash");
        Path project = Path.of("..").toAbsolutePath().normalize();
        repo = Files.createDirectories(root.resolve("repo"));
        Files.copy(project.resolve("gpt"), repo.resolve("gpt"));
        Files.createDirectories(repo.resolve("scripts"));
        for (String script : new String[]{"find-jdk25.sh", "tornado-jvm.sh"}) {
            Files.copy(project.resolve("scripts").resolve(script), repo.resolve("scripts").resolve(script));
        }
        Files.writeString(repo.resolve("pom.xml"), "<project/>");
        Files.createDirectories(repo.resolve("cli/src/main"));
        probeJar = root.resolve("probe.jar");
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        m.getMainAttributes().put(Attributes.Name.MAIN_CLASS, LauncherProbe.class.getName());
        try (JarOutputStream jar = new JarOutputStream(Files.newOutputStream(probeJar), m);
             InputStream cls = LauncherProbe.class.getResourceAsStream("LauncherProbe.class")) {
            jar.putNextEntry(new JarEntry(LauncherProbe.class.getName().replace('.', '/') + ".class"));
            cls.transferTo(jar);
        }
        bin = Files.createDirectories(root.resolve("bin"));
        builds = root.resolve("builds");
        Path mvn = Files.writeString(bin.resolve("mvn"), """
                #!/bin/bash
                echo "$*" >> "$BUILDS"
                sleep 2
                mkdir -p cli/target && cp "$PROBE_JAR" cli/target/gpt.jar
                """);
        Files.setPosixFilePermissions(mvn, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private static ProcessBuilder launcher(Map<String, String> env, String... args) {
        List<String> cmd = new java.util.ArrayList<>();
        if (Files.isExecutable(Path.of("/usr/bin/python3"))) {
            // as a terminal would: SIGINT at its default, not ignored as a background job inherits it
            cmd.addAll(List.of("/usr/bin/python3", "-c", "import os,signal,sys; signal.signal(signal.SIGINT, "
                    + "signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])"));
        }
        cmd.addAll(List.of("/bin/bash", repo.resolve("gpt").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        Map<String, String> e = pb.environment();
        e.keySet().removeIf(k -> k.startsWith("GPT_") || k.startsWith("TORNADO"));
        // no TornadoVM from SDKMAN unless a test makes one (this machine's own would change the flavour)
        e.put("SDKMAN_CANDIDATES_DIR", root.resolve("no-sdkman").toString());
        e.put("PATH", bin + ":/usr/bin:/bin");
        e.put("JAVA_HOME", System.getProperty("java.home"));
        e.put("BUILDS", builds.toString());
        e.put("PROBE_JAR", probeJar.toString());
        e.putAll(env);
        return pb;
    }

    private static String run(ProcessBuilder pb) throws Exception {
        Process p = pb.redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    private static int buildCount() throws IOException {
        return Files.exists(builds) ? Files.readAllLines(builds).size() : 0;
    }

    @Test
    void twoLaunchersStartedTogetherBuildOnceAndHideTheIncubatorNotice() throws Exception {
        Files.deleteIfExists(repo.resolve("cli/target/gpt-cpu.jar"));
        int before = buildCount();
        Process a = launcher(Map.of(), "one").redirectErrorStream(true).start();
        Process b = launcher(Map.of(), "two").redirectErrorStream(true).start();
        String outA = new String(a.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String outB = new String(b.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(a.waitFor(120, TimeUnit.SECONDS) && b.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, a.exitValue(), outA);
        assertEquals(0, b.exitValue(), outB);
        assertTrue(outA.contains("args=one") && outB.contains("args=two"), outA + outB);
        assertEquals(before + 1, buildCount(), "both launchers built");
        assertFalse(outA.contains("WARNING: Using incubator modules"), outA);
        assertTrue(outA.contains("launcher=" + repo.resolve("gpt")), "GPT_LAUNCHER\n" + outA);
    }

    @Test
    void javaReplacesTheLauncherSoASignalReachesIt() throws Exception {
        run(launcher(Map.of(), "warm")); // built
        for (String signal : new String[]{"TERM", "INT"}) {
            Process p = launcher(Map.of(), "sleep").start();
            BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String first = r.readLine();
            assertEquals("pid=" + p.pid(), first, "java is not the launcher's process");
            assertEquals(0, new ProcessBuilder("kill", "-" + signal, String.valueOf(p.pid())).start().waitFor());
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "SIG" + signal + " to the launcher did not stop java");
            assertFalse(ProcessHandle.of(p.pid()).map(ProcessHandle::isAlive).orElse(false));
        }
    }

    @Test
    void eachFlavourBuildsItsOwnJarAndLeavesTheOtherAlone() throws Exception {
        run(launcher(Map.of(), "cpu"));
        Path cpuJar = repo.resolve("cli/target/gpt-cpu.jar");
        Object cpuKey = Files.readAttributes(cpuJar, BasicFileAttributes.class).fileKey();
        Path sdk = Files.createDirectories(root.resolve("sdk"));
        Files.writeString(sdk.resolve("tornado-argfile"), "-Dprobe=tornado\n");
        int before = buildCount();
        String out = run(launcher(Map.of("TORNADOVM_HOME", sdk.toString()), "device"));
        assertTrue(out.contains("probe=tornado") && out.contains("args=device"), out);
        assertEquals(before + 1, buildCount());
        assertTrue(Files.readAllLines(builds).getLast().contains("-Ptornado"), "the tornado flavour builds with -Ptornado");
        assertTrue(Files.isRegularFile(repo.resolve("cli/target/gpt-tornado.jar")));
        assertEquals(cpuKey, Files.readAttributes(cpuJar, BasicFileAttributes.class).fileKey(), "the cpu jar was replaced");
        run(launcher(Map.of(), "cpu again"));
        assertEquals(before + 1, buildCount(), "switching back rebuilt the cpu jar");
    }

    @Test
    void withoutTornadovmHomeTheSdkmanInstallIsUsedAndItsArgfileTemplateExpanded() throws Exception {
        Path candidates = root.resolve("sdkman-candidates");
        Path sdk = Files.createDirectories(candidates.resolve("tornadovm/5.2.0-jdk25"));
        // a release SDK: its launcher, and the argfile as a template of its own folder
        Path launcher = Files.createDirectories(sdk.resolve("bin")).resolve("tornado");
        Files.writeString(launcher, "#!/bin/sh\n");
        Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(sdk.resolve("tornado-argfile.template"), "-Dprobe=${TORNADOVM_HOME}\n");
        Files.createSymbolicLink(candidates.resolve("tornadovm/current"), sdk.getFileName());
        Path tornadoJar = repo.resolve("cli/target/gpt-tornado.jar");
        Files.deleteIfExists(tornadoJar);
        try {
            String out = run(launcher(Map.of("SDKMAN_CANDIDATES_DIR", candidates.toString()), "sdkman"));
            Path home = sdk.toRealPath(); // current is a link; Maven's file checks want the real path
            assertTrue(out.contains("probe=" + home) && out.contains("args=sdkman"), "the template expanded for the SDK\n" + out);
            assertTrue(Files.readAllLines(builds).getLast().contains("-Ptornado"), "the SDKMAN install builds the tornado flavour");
        } finally {
            Files.deleteIfExists(tornadoJar); // the other tests count the builds of that flavour
        }
    }

    /**
     * Under LANG=C (no UTF-8 locale), java would decode a non-ASCII argument to U+FFFD and refuse a
     * non-ASCII path: the launcher gives it C.UTF-8.
     */
    @Test
    void aNonAsciiArgumentSurvivesACLocale() throws Exception {
        Process locales = new ProcessBuilder("locale", "-a").redirectErrorStream(true).start();
        String all = new String(locales.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        locales.waitFor();
        assumeTrue(all.lines().anyMatch(l -> l.equalsIgnoreCase("C.UTF-8") || l.equalsIgnoreCase("C.utf8")),
                "skipped: no C.UTF-8 locale here");
        run(launcher(Map.of(), "warm")); // built
        // the argument's bytes from the shell: this JVM's own locale may not encode them
        ProcessBuilder pb = launcher(Map.of("LANG", "C", "LC_ALL", "", "LC_CTYPE", ""));
        List<String> cmd = pb.command();
        int gpt = cmd.indexOf(repo.resolve("gpt").toString());
        List<String> viaShell = new java.util.ArrayList<>(cmd.subList(0, gpt - 1)); // up to /bin/bash
        viaShell.addAll(List.of("/bin/bash", "-c", "exec /bin/bash \"$0\" \"$(printf 'caf\\303\\251')\"", cmd.get(gpt)));
        pb.command(viaShell);
        String out = run(pb);
        assertTrue(out.contains("jnu=UTF-8"), out);
        assertTrue(out.contains("args=caf\u00e9"), out);
    }

    /** The JDK's complaint about a signal during its own boot is filtered out; gpt's own lines pass. */
    @Test
    void theJdksBootTimeSignalComplaintIsHidden() throws Exception {
        String out = run(launcher(Map.of(), "boot-noise"));
        assertFalse(out.contains("logging failed"), out);
        assertTrue(out.contains("gpt: error: a line of gpt's own"), out);
    }
}
