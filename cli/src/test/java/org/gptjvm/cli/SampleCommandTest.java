package org.gptjvm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * gpt sample's --top-p and --num-samples, on the PyTorch reference weights
 * (shared/fixtures/ref_tiny.safetensors; skipped without ../shared). What sample prints is checked in
 * a child JVM (see {@link Cli}); the usage errors, refused before any checkpoint is read, in this one.
 */
class SampleCommandTest {
    @TempDir
    Path tmp;

    /** 60 characters after "ROMEO:" with seed 5 unless {@code more} sets another. */
    private static Cli.Result sample(String... more) {
        Path ckpt = SharedData.require("fixtures/ref_tiny.safetensors");
        List<String> base = new java.util.ArrayList<>(List.of("sample", "--checkpoint", ckpt.toString(), "--tokens", "60",
                "--prompt", "ROMEO:", "--threads", "1", "--quiet"));
        if (!List.of(more).contains("--seed")) {
            base.addAll(List.of("--seed", "5"));
        }
        return Cli.fork(Cli.args(base, more)).assertOk();
    }

    /**
     * The text of the jar before --top-p and --num-samples existed, for these flags: the default
     * output must not change (the same on the cpu backend with and without the Vector API and on the
     * reference backend).
     */
    @Test
    void theDefaultOutputIsTheOneOfBefore() {
        assertEquals("ROMEO:SrWXAzG\nlvHG$y.K!HIjBGnaFPanNsLL;.zI-oPFTg'!VSbPtWOMp;q3mf3Q\n", sample().out());
    }

    @Test
    void topPOneIsTheDefaultAndATinyTopPIsGreedy() {
        String plain = sample().out();
        assertEquals(plain, sample("--top-p", "1").out());
        assertEquals(plain, sample("--top-p", "1", "--num-samples", "1").out());
        // only the likeliest character is ever in a nucleus of 1e-9
        String greedy = sample("--temperature", "0").out();
        assertNotEquals(plain, greedy);
        assertEquals(greedy, sample("--top-p", "1e-9").out());
        // a real cut changes the text, and is the same for the same seed
        String cut = sample("--top-p", "0.5").out();
        assertNotEquals(plain, cut);
        assertEquals(cut, sample("--top-p", "0.5").out());
        assertEquals(cut, sample("--top-p", "0.5", "--top-k", "65").out(), "top-k of the whole vocabulary is no top-k");
    }

    @Test
    void numSamplesPrintsThatManySamplesBetweenSeparators() {
        String one = sample().out();
        String three = sample("--num-samples", "3").out();
        assertEquals(2, three.lines().filter(SampleCommand.SEPARATOR::equals).count(), three);
        String[] parts = three.split("\n" + SampleCommand.SEPARATOR + "\n", -1);
        assertEquals(3, parts.length, three);
        for (String p : parts) {
            assertTrue(p.startsWith("ROMEO:") && p.length() >= "ROMEO:".length() + 60, "each sample is prompt + 60 characters: " + three);
        }
        // the first sample is the single sample's text; the next ones continue the generator, so they differ
        assertEquals(one, parts[0] + "\n");
        assertTrue(three.endsWith("\n") && !three.endsWith(SampleCommand.SEPARATOR + "\n"), "no separator after the last");
        assertNotEquals(parts[0], parts[1]);
        assertNotEquals(parts[1], parts[2]);
        // the whole output is a function of the seed
        assertEquals(three, sample("--num-samples", "3").out());
        assertNotEquals(three, sample("--num-samples", "3", "--seed", "6").out());
        // and works with top-p and without the KV cache alike
        assertEquals(sample("--num-samples", "2", "--top-p", "0.9").out(),
                sample("--num-samples", "2", "--top-p", "0.9", "--no-kv-cache").out());
    }

    @Test
    void badTopPAndNumSamplesAreUsageErrors() {
        Path absent = tmp.resolve("absent.safetensors"); // refused before the checkpoint is read
        for (String[] bad : new String[][]{{"--top-p", "0"}, {"--top-p", "-0.5"}, {"--top-p", "1.5"}, {"--top-p", "NaN"},
                {"--top-p", "Infinity"}, {"--top-p", "most"}, {"--num-samples", "0"}, {"--num-samples", "-2"},
                {"--num-samples", "two"}}) {
            Cli.Result r = Cli.run(Cli.args(List.of("sample", "--checkpoint", absent.toString()), bad)).assertError(2);
            assertEquals("", r.out(), r::describe);
            assertTrue(r.err().contains(bad[0]), r::describe);
        }
    }
}
