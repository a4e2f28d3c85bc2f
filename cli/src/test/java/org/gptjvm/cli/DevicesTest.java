package org.gptjvm.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * gpt devices, and --backend tornado / --device in a build without TornadoVM: one-line errors that
 * say how to get it, everything else unaffected. (With TornadoVM, the tornado module's own suite
 * covers the device side.)
 */
class DevicesTest {
    @Test
    void devicesListsTheHostBackendsAndSaysHowToGetTornado() {
        Cli.Result r = Cli.run("devices").assertOk();
        assertTrue(r.out().contains("cpu (default)"), r::describe);
        assertTrue(r.out().contains("reference"), r::describe);
        assertTrue(r.out().contains("cores"), r::describe);
        assertTrue(r.out().contains("tornado (not in this build)") && r.out().contains("tornado-env.sh"), r::describe);
    }

    @Test
    void tornadoWithoutTornadoVMIsAOneLineErrorThatSaysHowToInstallIt() {
        for (String[] args : new String[][]{
                {"train", "--backend", "tornado", "--iters", "1"},
                {"sample", "--backend", "tornado"},
                {"eval", "--backend", "tornado"},
                {"verify", "--backend", "tornado", "--reference", SharedData.require("fixtures/ref_tiny.safetensors").toString()},
                {"bench", "--backend", "cpu,tornado"}}) {
            Cli.Result r = Cli.run(args).assertError(1);
            assertTrue(r.err().contains("the tornado backend is not in this build") && r.err().contains("TornadoVM"),
                    r::describe);
        }
    }

    /** --device for a backend without devices is a usage error (exit 2), whichever command is given it. */
    @Test
    void deviceIsForTheTornadoBackendOnly() {
        Cli.Result r = Cli.run("verify", "--backend", "cpu", "--device", "1", "--reference",
                SharedData.require("fixtures/ref_tiny.safetensors").toString()).assertError(2);
        assertTrue(r.err().contains("--device is for the tornado backend"), r::describe);
        r = Cli.run("sample", "--backend", "cpu", "--device", "99", "--checkpoint",
                SharedData.require("fixtures/ref_tiny.safetensors").toString()).assertError(2);
        assertTrue(r.err().contains("--device is for the tornado backend"), r::describe);
    }

    /** GPT_BACKEND sets the default backend (for TornadoVM's launcher, which swallows "--" arguments). */
    @Test
    void gptBackendSetsTheDefaultAndBackendOverridesIt() {
        String data = SharedData.tinyShakespeare().toString();
        String[] tiny = {"train", "--data", data, "--n-embd", "16", "--n-head", "2", "--n-layer", "1", "--block-size", "8",
                "--batch-size", "2", "--iters", "0", "--eval-iters", "1", "--sample-tokens", "0", "--threads", "1",
                "--out", "/dev/null/unused"};
        Cli.Result r = new Cli.Fork().env("GPT_BACKEND", "reference").run("devices").assertOk();
        assertTrue(r.out().contains("reference (default)") && !r.out().contains("cpu (default)"), r::describe);
        r = new Cli.Fork().env("GPT_BACKEND", "nope").run("devices").assertOk(); // devices only lists
        r = new Cli.Fork().env("GPT_BACKEND", "nope").run(tiny).assertError(2);
        assertTrue(r.err().contains("GPT_BACKEND=nope") && r.err().contains("unknown backend"), r::describe);
        r = new Cli.Fork().env("GPT_BACKEND", "tornado").run(tiny).assertError(1);
        assertTrue(r.err().contains("tornado backend"), r::describe);
        // --backend wins (and the bad --out shows the run got as far as its checks)
        r = new Cli.Fork().env("GPT_BACKEND", "nope").run(Cli.args(java.util.List.of(tiny), "--backend", "cpu"))
                .assertError(1);
        assertTrue(r.err().contains("/dev/null/unused"), r::describe);
    }
}
