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

    @Test
    void deviceIsForTheTornadoBackendOnly() {
        Cli.Result r = Cli.run("verify", "--backend", "cpu", "--device", "1", "--reference",
                SharedData.require("fixtures/ref_tiny.safetensors").toString()).assertError(1);
        assertTrue(r.err().contains("--device is for the tornado backend"), r::describe);
    }
}
