package org.gptjvm.tornado;

import org.gptjvm.engine.Backend;

import java.util.ArrayList;
import java.util.List;

/** TornadoVM itself: started on first use, by creating a backend or listing the devices. */
final class TornadoVmRuntime implements TornadoRuntime {

    TornadoVmRuntime() throws ClassNotFoundException {
        Class.forName("uk.ac.manchester.tornado.api.TornadoExecutionPlan"); // on the module path, or fail here
        // the model's graphs hand hundreds of buffers from one graph to the next: more TornadoVM
        // bytecode per graph than its 4 KiB default (read once, when TornadoVM first compiles a graph)
        if (System.getProperty("tornado.tvm.maxbytecodesize") == null) {
            System.setProperty("tornado.tvm.maxbytecodesize", String.valueOf(1 << 20));
        }
    }

    @Override
    public Backend create(String spec) {
        return new TornadoBackend(TornadoDevices.select(spec));
    }

    @Override
    public List<String> devices() {
        List<String> lines = new ArrayList<>();
        var all = TornadoDevices.all();
        var preferred = all.isEmpty() ? null : TornadoDevices.preferred(all);
        for (int i = 0; i < all.size(); i++) {
            lines.add(i + ": " + TornadoDevices.describe(all.get(i)) + (all.get(i) == preferred ? " (default)" : ""));
        }
        return lines;
    }

    @Override
    public boolean hasAccelerator() {
        return TornadoDevices.all().stream().anyMatch(TornadoDevices::isAccelerator);
    }
}
