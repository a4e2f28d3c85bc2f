package org.gptjvm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --help and --version of gpt and of its subcommands: exit 0 and list the documented commands and flags. */
class HelpAndVersionTest {

    static final List<String> TRAIN_FLAGS = List.of("--batch-size", "--block-size", "--n-embd", "--n-head",
            "--n-layer", "--dropout", "--lr", "--iters", "--eval-interval", "--eval-iters", "--seed", "--config",
            "--model", "--out", "--data", "--download", "--sample-tokens", "--backend", "--threads", "--help",
            "--version");
    static final List<String> SAMPLE_FLAGS = List.of("--checkpoint", "--tokens", "--prompt", "--temperature",
            "--top-k", "--top-p", "--num-samples", "--block-size", "--seed", "--backend", "--threads", "--help");
    static final List<String> EVAL_FLAGS = List.of("--checkpoint", "--data", "--eval-iters", "--batch-size",
            "--seed", "--backend", "--threads", "--help");

    @ParameterizedTest
    @ValueSource(strings = {"--help", "-h"})
    void topLevelHelpListsTheSubcommands(String flag) {
        Cli.Result r = Cli.run(flag).assertOk();
        assertTrue(r.out().contains("Usage: gpt"), r::describe);
        for (String cmd : List.of("train", "sample", "eval")) {
            assertTrue(r.out().lines().anyMatch(l -> l.strip().startsWith(cmd + " ")), () -> cmd + " not listed\n"
                    + r.describe());
        }
        assertEquals("", r.err(), r::describe);
    }

    @ParameterizedTest
    @ValueSource(strings = {"--version", "-V"})
    void versionPrintsGptAndTheProjectVersion(String flag) {
        Cli.Result r = Cli.run(flag).assertOk();
        assertTrue(r.out().strip().matches("(?s)gpt \\d+\\.\\d+\\.\\d+.*"), r::describe);
        assertTrue(r.out().startsWith("gpt 0.1.0"), r::describe);
        assertEquals(1, r.out().strip().lines().count(), r::describe);
        assertEquals("", r.err(), r::describe);
    }

    @Test
    void subcommandVersionAlsoWorks() {
        Cli.Result r = Cli.run("train", "--version").assertOk();
        assertTrue(r.out().startsWith("gpt "), r::describe);
    }

    @Test
    void trainHelpMentionsEveryFlag() {
        assertMentions(Cli.run("train", "--help").assertOk(), TRAIN_FLAGS);
    }

    @Test
    void sampleHelpMentionsEveryFlag() {
        assertMentions(Cli.run("sample", "--help").assertOk(), SAMPLE_FLAGS);
    }

    @Test
    void evalHelpMentionsEveryFlag() {
        assertMentions(Cli.run("eval", "--help").assertOk(), EVAL_FLAGS);
    }

    @Test
    void helpSubcommandShowsTheSubcommandsHelp() {
        Cli.Result r = Cli.run("help", "train").assertOk();
        assertTrue(r.out().contains("Usage: gpt train"), r::describe);
        assertMentions(r, TRAIN_FLAGS);
    }

    @Test
    void trainHelpNamesThePresetsAndBackends() {
        Cli.Result r = Cli.run("train", "--help").assertOk();
        assertTrue(r.out().contains("small") && r.out().contains("lecture"), r::describe);
        assertTrue(r.out().contains("reference"), () -> "--backend should list the reference backend\n" + r.describe());
    }

    private static void assertMentions(Cli.Result r, List<String> flags) {
        assertEquals("", r.err(), r::describe);
        for (String f : flags) {
            assertTrue(r.out().matches("(?s).*(?<![\\w-])" + java.util.regex.Pattern.quote(f) + "(?![\\w-]).*"),
                    () -> f + " is not in the help\n" + r.describe());
        }
    }

    /**
     * Help wraps between words only: never inside a file name ("NAME.loss.png" as "NAME.loss." and
     * "png"), a number and its unit ("10.8M" as "10.8" and "M"), or an option's synopsis.
     */
    @ParameterizedTest
    @ValueSource(strings = {"train", "bench", "sample", "plot", "eval", "verify", "devices"})
    void helpWrapsBetweenWordsOnly(String command) {
        String help = Cli.run(command, "--help").assertOk().out();
        assertTrue(help.indexOf('\uE000') < 0, "a placeholder was printed\n" + help);
        List<String> lines = help.lines().toList();
        for (int i = 0; i + 1 < lines.size(); i++) {
            String line = lines.get(i), next = lines.get(i + 1).stripLeading();
            // a dot then a lower-case word ("loss." "png"; a capital starts a sentence), an open bracket
            // of a synopsis ("LIST[," "LIST...]"), a number then a letter ("10.8" "M")
            boolean cut = line.matches(".*[\\p{Alnum}_]\\.$") && next.matches("^[a-z0-9_].*")
                    || line.matches(".*\\[,?$")
                    || line.matches(".*\\d$") && next.matches("^\\p{Alpha}.*");
            int at = i;
            assertTrue(!cut, () -> command + " --help wraps inside a word at line " + (at + 1) + ":\n" + help);
        }
        if (command.equals("train")) {
            assertTrue(help.contains("NAME.loss.png") && help.contains("NAME.metrics.jsonl") && help.contains("10.8M"),
                    help);
        }
    }
}
