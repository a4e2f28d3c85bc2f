package org.gptjvm.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** The arguments Open MPI's mpirun rewrote for java's class path get their own text back, and only those. */
class MpirunArgsTest {
    @Test
    void theWorkingDirectoryPrefixAfterAnArgumentHoldingCpIsRemovedUnderMpirunOnly() {
        String[] mangled = {"train", "--backend", "cpu", "/work/run:--threads", "1", "--out", "/work/run:x"};
        assertArrayEquals(new String[]{"train", "--backend", "cpu", "--threads", "1", "--out", "/work/run:x"},
                Main.undoMpirunClasspath(mangled, true, "/work/run"));
        assertArrayEquals(mangled, Main.undoMpirunClasspath(mangled, false, "/work/run"), "not under mpirun");
        String[] other = {"train", "--backend", "cpu", "/elsewhere:--threads"};
        assertArrayEquals(other, Main.undoMpirunClasspath(other, true, "/work/run"), "another directory");
    }
}
