package org.gptjvm.engine.ref;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.BackendProvider;
import org.gptjvm.engine.host.HostBackend;

import java.util.List;

/** The reference backend: always present, the slowest. */
public final class ReferenceProvider implements BackendProvider {
    @Override
    public String name() {
        return "reference";
    }

    @Override
    public int speedRank() {
        return 0;
    }

    @Override
    public Backend create(int threads, String device) {
        return new ReferenceBackend(threads);
    }

    @Override
    public List<String> devices() {
        return HostBackend.cpuDevices();
    }
}
