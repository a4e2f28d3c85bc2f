package org.gptjvm.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs the {@code gpt} command line for tests, two ways:
 * <ul>
 *   <li>{@link #run}: in this JVM through {@link Main#run}, with System.out and System.err redirected
 *       (and restored after). Picocli's help, version and error messages go through them.</li>
 *   <li>{@link #fork}: in a child JVM with this test class path, a chosen working directory and
 *       environment. {@code train} and {@code sample} write their results to the native standard output
 *       ({@code FileDescriptor.out}), which no in-JVM redirection sees, so every check of what they
 *       print goes through a child process.</li>
 * </ul>
 */
final class Cli {
    private Cli() {
    }

    /** Exit code, standard output and standard error of one run. */
    record Result(int exit, String out, String err, List<String> command) {
        List<String> errLines() {
            return err.lines().filter(l -> !l.isBlank()).toList();
        }

        String describe() {
            return "gpt " + String.join(" ", command) + "\nexit " + exit + "\n--- stdout ---\n" + out
                    + "\n--- stderr ---\n" + err;
        }

        /** Exit {@code code}; stderr exactly one "gpt: ..." line, no stack trace, no internal error. */
        Result assertError(int code) {
            assertEquals(code, exit, () -> "exit code\n" + describe());
            return assertOneLineError();
        }

        /** A non-zero exit with a one-line error (where 1 and 2 are both defensible). */
        Result assertFailure() {
            assertNotEquals(0, exit, () -> "exit code\n" + describe());
            return assertOneLineError();
        }

        Result assertOneLineError() {
            assertEquals(1, errLines().size(), () -> "expected exactly one line on stderr\n" + describe());
            String line = errLines().get(0);
            assertTrue(line.startsWith("gpt: "), () -> "error line should start with 'gpt: '\n" + describe());
            assertFalse(err.contains("at org.") || err.contains("\tat ") || err.contains("at java."),
                    () -> "stack trace on stderr\n" + describe());
            assertFalse(line.contains("internal error"), () -> "an internal error, not a handled one\n" + describe());
            return this;
        }

        Result assertOk() {
            assertEquals(0, exit, () -> "exit code\n" + describe());
            assertFalse(err.contains("at org."), () -> "stack trace on stderr\n" + describe());
            return this;
        }
    }

    private static final Object LOCK = new Object();

    /** Main.run in this JVM with System.out/System.err captured as UTF-8. */
    static Result run(String... args) {
        synchronized (LOCK) {
            PrintStream oldOut = System.out;
            PrintStream oldErr = System.err;
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int code;
            try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
                 PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
                System.setOut(o);
                System.setErr(e);
                try {
                    code = Main.run(args);
                } catch (Throwable t) {
                    System.setOut(oldOut);
                    System.setErr(oldErr);
                    throw new AssertionError("Main.run threw instead of returning an exit code: gpt "
                            + String.join(" ", args) + "\nstderr so far:\n" + err.toString(StandardCharsets.UTF_8), t);
                }
                o.flush();
                e.flush();
            } finally {
                System.setOut(oldOut);
                System.setErr(oldErr);
            }
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8),
                    List.of(args));
        }
    }

    /** A child JVM running org.gptjvm.cli.Main in {@code cwd}, with this class path; see {@link Fork}. */
    static Result fork(String... args) {
        return new Fork().run(args);
    }

    /** Options for a child-JVM run. */
    static final class Fork {
        private Path cwd;
        private final List<String> jvmArgs = new ArrayList<>();
        private final java.util.Map<String, String> env = new java.util.HashMap<>();
        private final List<String> unset = new ArrayList<>();

        Fork cwd(Path dir) {
            this.cwd = dir;
            return this;
        }

        Fork property(String name, String value) {
            jvmArgs.add("-D" + name + "=" + value);
            return this;
        }

        /** A JVM flag; one given after the defaults (-Xmx1g) wins over them. */
        Fork jvmArg(String flag) {
            jvmArgs.add(flag);
            return this;
        }

        Fork env(String name, String value) {
            env.put(name, value);
            return this;
        }

        private boolean vectorApi = true;

        /** Runs the child without jdk.incubator.vector, as a plain {@code java -jar gpt.jar} would. */
        Fork withoutVectorApi() {
            this.vectorApi = false;
            return this;
        }

        Fork unsetEnv(String name) {
            unset.add(name);
            return this;
        }

        private java.io.File stdout;

        /** Sends the child's standard output to {@code file} (/dev/full, say); the result's out is then empty. */
        Fork stdout(java.io.File file) {
            this.stdout = file;
            return this;
        }

        /** Starts the child, its output to {@code outFile} and {@code errFile}, and returns at once. */
        Process start(Path outFile, Path errFile, String... args) throws IOException {
            ProcessBuilder pb = new ProcessBuilder(command(args)).redirectOutput(outFile.toFile())
                    .redirectError(errFile.toFile()).redirectInput(ProcessBuilder.Redirect.from(nullDevice()));
            if (cwd != null) {
                pb.directory(cwd.toFile());
            }
            Map<String, String> e = pb.environment();
            unset.forEach(e::remove);
            e.remove("GPT_DEBUG");
            e.putAll(env);
            return pb.start();
        }

        Result run(String... args) {
            try {
                Path tmp = Files.createTempDirectory("gpt-cli-fork");
                Path outFile = tmp.resolve("stdout");
                Path errFile = tmp.resolve("stderr");
                Process p = start(stdout != null ? stdout.toPath() : outFile, errFile, args);
                if (!p.waitFor(180, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    p.waitFor(10, TimeUnit.SECONDS);
                    fail("gpt " + String.join(" ", args) + " did not finish in 180 s");
                }
                // the JVM itself announces --add-modules jdk.incubator.vector on stderr before main
                // runs; ./gpt filters that line out the same way
                String err = Files.readString(errFile, StandardCharsets.UTF_8)
                        .replaceAll("(?m)^WARNING: Using incubator modules: jdk\\.incubator\\.vector\\R", "");
                Result r = new Result(p.exitValue(), stdout != null ? "" : Files.readString(outFile, StandardCharsets.UTF_8),
                        err, List.of(args));
                Files.deleteIfExists(outFile);
                Files.deleteIfExists(errFile);
                Files.deleteIfExists(tmp);
                return r;
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }

        /** The child's command line: java, this test class path, Main and {@code args}. */
        List<String> command(String... args) {
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.add("-Xmx1g");
            cmd.add("-XX:+UseSerialGC");
            // keep the flags surefire gave this JVM that matter for the engine (e.g. --add-modules)
            for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
                if ((a.startsWith("--add-") || a.startsWith("--enable-"))
                        && (vectorApi || !a.contains("jdk.incubator.vector"))) {
                    cmd.add(a);
                }
            }
            cmd.addAll(jvmArgs);
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add(Main.class.getName());
            cmd.addAll(Arrays.asList(args));
            return cmd;
        }

        private static java.io.File nullDevice() {
            return new java.io.File(System.getProperty("os.name").startsWith("Windows") ? "NUL" : "/dev/null");
        }
    }

    /** The arguments of a tiny, fast GPT run (about a second on one core). */
    static List<String> tinyTrain(Path data, Path out, int threads) {
        return List.of("train", "--data", data.toString(), "--n-embd", "16", "--n-head", "2", "--n-layer", "1",
                "--block-size", "8", "--batch-size", "4", "--iters", "30", "--eval-interval", "10",
                "--eval-iters", "2", "--out", out.toString(), "--threads", String.valueOf(threads));
    }

    /**
     * A tiny run of {@code iters} iterations with dropout 0.1 on one thread, no closing sample, saved
     * to {@code out}, then {@code more}: the run the resume and recipe tests train, stop and resume.
     */
    static String[] tinyRun(Path data, Path out, int iters, String... more) {
        return args(List.of("train", "--data", data.toString(), "--n-embd", "16", "--n-head", "2", "--n-layer", "1",
                "--block-size", "8", "--batch-size", "4", "--eval-interval", "10", "--eval-iters", "2", "--dropout", "0.1",
                "--sample-tokens", "0", "--threads", "1", "--iters", String.valueOf(iters), "--out", out.toString()), more);
    }

    static String[] args(List<String> base, String... more) {
        List<String> all = new ArrayList<>(base);
        all.addAll(Arrays.asList(more));
        return all.toArray(String[]::new);
    }
}
