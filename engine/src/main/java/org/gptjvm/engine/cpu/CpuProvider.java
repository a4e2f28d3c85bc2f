package org.gptjvm.engine.cpu;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.BackendProvider;
import org.gptjvm.engine.host.HostBackend;
import org.gptjvm.engine.ref.ReferenceBackend;

import java.util.List;

/**
 * The cpu backend. Its kernels need the Vector API (java --add-modules jdk.incubator.vector);
 * without it the provider hands out the reference kernels under the cpu name, and says so once.
 */
public final class CpuProvider implements BackendProvider {
    private static volatile boolean warned;

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public int speedRank() {
        return 10;
    }

    /** Whether jdk.incubator.vector is in the boot layer (java --add-modules jdk.incubator.vector). */
    public static boolean vectorApiPresent() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }

    @Override
    public Backend create(int threads, String device) {
        if (vectorApiPresent()) {
            return new CpuBackend(threads);
        }
        if (!warned) {
            warned = true;
            System.err.println("gpt: note: the Vector API is not enabled (run java with --add-modules "
                    + "jdk.incubator.vector); the cpu backend runs its scalar path");
        }
        return new ReferenceBackend("cpu", threads, "scalar (no Vector API)");
    }

    @Override
    public List<String> devices() {
        return HostBackend.cpuDevices();
    }
}
