package org.gptjvm.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * What gpt prints is checked: a standard output that cannot be written (a full disk, /dev/full) fails
 * the command with one line and exit 1, a reader that went away ({@code | head}) ends it quietly; and
 * generated text reaches a terminal with its control characters escaped, a file or pipe raw.
 */
class StdoutTest {
    /** Text whose characters set a terminal's window title (OSC 0) and ring its bell. */
    static final String TITLE_ESCAPE = "\u001b]0;pwned\u0007";

    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void trainATinyModelOnTextWithTerminalEscapes() throws Exception {
        Path data = tmp.resolve("escapes.txt");
        Files.writeString(data, ("x title " + TITLE_ESCAPE + " and a bell, y\r\n").repeat(300), StandardCharsets.UTF_8);
        model = tmp.resolve("esc.safetensors");
        Cli.run(Cli.tinyRun(data, model, 20)).assertOk();
    }

    private static File devFull() {
        File full = new File("/dev/full");
        assumeTrue(full.exists(), "skipped: no /dev/full");
        return full;
    }

    @Test
    void aSampleThatCannotBeWrittenFailsWithOneLineAndExit1() {
        Cli.Result r = new Cli.Fork().stdout(devFull()).run("sample", "--checkpoint", model.toString(), "--tokens",
                "20000", "--threads", "1").assertError(1);
        String line = r.errLines().getFirst();
        assertTrue(line.contains("standard output") && line.contains("No space left on device"), r::describe);
    }

    @Test
    void trainsClosingSampleThatCannotBeWrittenFailsAfterSavingTheModel() throws Exception {
        Path data = tmp.resolve("escapes.txt");
        Path out = tmp.resolve("full.safetensors");
        Cli.Result r = new Cli.Fork().stdout(devFull()).run(Cli.args(Cli.tinyTrain(data, out, 1), "--sample-tokens",
                "20000")).assertError(1);
        assertTrue(r.errLines().getFirst().contains("No space left on device"), r::describe);
        assertTrue(Files.size(out) > 0, "the model should be saved before the sample");
    }

    @Test
    void anyCommandWhoseOutputCannotBeWrittenFails() {
        Cli.Result r = new Cli.Fork().stdout(devFull()).run("--version").assertError(1);
        assertTrue(r.errLines().getFirst().contains("No space left on device"), r::describe);
    }

    @Test
    void aReaderThatGoesAwayEndsTheSampleQuietly() throws Exception {
        List<String> cmd = new Cli.Fork().command("sample", "--checkpoint", model.toString(), "--tokens", "100000000",
                "--threads", "1");
        Path err = tmp.resolve("gone.err");
        Process p = new ProcessBuilder(cmd).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        try (InputStream in = p.getInputStream()) {
            assertEquals(100, in.readNBytes(100).length); // as | head -c 100 does
        }
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "sample went on after its reader went away");
        String stderr = Files.readString(err).replaceAll("(?m)^WARNING: Using incubator modules.*\\R", "");
        assertEquals(0, p.exitValue(), stderr);
        assertEquals("", stderr);
    }

    @Test
    void controlCharactersShowAsEscapesButNewlineAndTab() {
        assertEquals("a\\x1b]0;t\\x07b\tc\nd\\x0d\\u009b\\x7fé", Stdout.escapeControls("a\u001b]0;t\u0007b\tc\nd\r\u009b\u007fé"));
        String plain = "ROMEO:\n\tBut soft!";
        assertSame(plain, Stdout.escapeControls(plain));
    }

    /** Runs {@code gpt sample} on a terminal (a pseudo-terminal of script(1)) and returns what it showed. */
    private static String onATerminal(String... more) throws Exception {
        List<String> args = new ArrayList<>(List.of("sample", "--checkpoint", model.toString(), "--tokens", "5",
                "--threads", "1", "--quiet"));
        args.addAll(List.of(more));
        Shown shown = script("on-a-terminal", "", args, " --prompt $'x\\e]0;pwned\\ay'");
        assertEquals(0, shown.exit(), shown.out());
        return shown.out();
    }

    /** What a command showed on a terminal, and its exit code. */
    private record Shown(int exit, String out) {
    }

    /**
     * Runs gpt with {@code args} (then {@code tail}, shell text) on a pseudo-terminal of script(1), after
     * the shell lines {@code setup}.
     */
    private static Shown script(String name, String setup, List<String> args, String tail) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/script")), "skipped: no script(1) for a terminal");
        StringBuilder sh = new StringBuilder("#!/bin/bash\n" + setup + "exec");
        for (String a : new Cli.Fork().command(args.toArray(String[]::new))) {
            sh.append(" '").append(a.replace("'", "'\\''")).append('\'');
        }
        Path script = Files.writeString(tmp.resolve(name + ".sh"), sh.append(tail).append('\n'));
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        Process p = new ProcessBuilder("/usr/bin/script", "-qec", script.toString(), "/dev/null")
                .redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        return new Shown(p.exitValue(), out);
    }

    /**
     * A prompt the JVM could not decode (plain java under LANG=C, where ./gpt would set C.UTF-8) is an
     * error that says so and how to run, not a character "not in the model's vocabulary".
     */
    @Test
    void aPromptLostToANonUtf8LocaleSaysHowToRun() {
        Cli.Result r = new Cli.Fork().env("LANG", "C").env("LC_ALL", "").env("LC_CTYPE", "")
                .run("sample", "--checkpoint", model.toString(), "--prompt", "ROM\u00c9O", "--threads", "1").assertError(1);
        assertTrue(r.err().contains("--prompt holds characters this JVM could not decode")
                && r.err().contains("LC_ALL=C.UTF-8"), r::describe);
    }

    /** Help on a terminal that takes no escape sequences (TERM=dumb) is plain text; on one that does, in colour. */
    @Test
    void helpOnADumbTerminalHasNoEscapes() throws Exception {
        for (String term : new String[]{"dumb", "xterm"}) {
            String out = script("help-" + term, "export TERM=" + term + "\nunset NO_COLOR\n", List.of("train", "--help"), "")
                    .out();
            assertTrue(out.contains("--batch-size"), out);
            assertEquals(term.equals("xterm"), out.contains("\u001b["), term + ": " + out);
        }
    }

    @Test
    void aSampleOnATerminalShowsControlCharactersEscapedUnlessRaw() throws Exception {
        String shown = onATerminal();
        assertTrue(shown.contains("x\\x1b]0;pwned\\x07y"), shown);
        assertFalse(shown.contains("\u001b]0;"), "a raw escape reached the terminal: " + shown);
        String raw = onATerminal("--raw");
        assertTrue(raw.contains("x" + TITLE_ESCAPE + "y"), raw);
    }

    @Test
    void aSampleToAFileOrPipeIsRaw() {
        Cli.Result r = Cli.fork("sample", "--checkpoint", model.toString(), "--tokens", "5", "--threads", "1", "--quiet",
                "--prompt", "x" + TITLE_ESCAPE + "y").assertOk();
        assertTrue(r.out().startsWith("x" + TITLE_ESCAPE + "y"), r::describe);
    }

    @Test
    void aDumbTerminalGetsAProgressBarWithoutEscapes() {
        assertFalse(Terminal.capable("dumb"));
        assertFalse(Terminal.capable(null));
        assertTrue(Terminal.capable("xterm-256color"));
        for (boolean capable : new boolean[]{false, true}) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            PrintStream ps = new PrintStream(bytes, true, StandardCharsets.UTF_8);
            Terminal.Progress bar = new Terminal.Progress(ps, true, 100, capable);
            bar.status("reading the text");
            bar.update(1000, 1000, 1.5f);
            bar.clear();
            String out = bytes.toString(StandardCharsets.UTF_8);
            assertTrue(out.contains("1000/1000"), out);
            assertEquals(capable, out.contains("\u001b"), (capable ? "no erase escape: " : "an escape on a dumb terminal: ") + out);
        }
    }
}
