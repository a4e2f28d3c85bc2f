package org.gptjvm.tornado;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.BackendProvider;
import org.gptjvm.engine.GptException;

import java.util.ArrayList;
import java.util.List;

/**
 * Registers the tornado backend. It is in the jar only when built with -Ptornado, and works only
 * when the JVM runs with TornadoVM (its launcher, or its argfile): otherwise creating it fails with
 * a one-line error instead of a stack trace.
 */
public final class TornadoBackendProvider implements BackendProvider {
    @Override
    public String name() {
        return "tornado";
    }

    /** Below cpu: on this project's reference machine (PoCL on 2 cores) the cpu backend is faster. */
    @Override
    public int speedRank() {
        return 5;
    }

    @Override
    public Backend create(int threads) {
        return create(threads, null);
    }

    @Override
    public Backend create(int threads, String device) {
        checkRuntime();
        return new TornadoBackend(TornadoDevices.select(device));
    }

    @Override
    public List<String> devices() {
        checkRuntime();
        List<String> lines = new ArrayList<>();
        var all = TornadoDevices.all();
        for (int i = 0; i < all.size(); i++) {
            lines.add(i + ": " + TornadoDevices.describe(all.get(i)));
        }
        return lines;
    }

    private static void checkRuntime() {
        // the model's graphs hand hundreds of buffers from one graph to the next: more TornadoVM
        // bytecode per graph than its 4 KiB default (read once, when TornadoVM first compiles a graph)
        if (System.getProperty("tornado.tvm.maxbytecodesize") == null) {
            System.setProperty("tornado.tvm.maxbytecodesize", String.valueOf(1 << 20));
        }
        if (System.getProperty("tornado.load.runtime.implementation") == null) {
            throw new GptException("the tornado backend needs the TornadoVM runtime: run gpt with TornadoVM's launcher, "
                    + "tornado -jar cli/target/gpt.jar ... (source tornado-env.sh first; see README.md, section TornadoVM)");
        }
        try {
            Class.forName("uk.ac.manchester.tornado.api.TornadoExecutionPlan");
        } catch (ClassNotFoundException | LinkageError e) {
            throw new GptException("TornadoVM's classes are not on the module path: run gpt with tornado -jar "
                    + "(see README.md, section TornadoVM)");
        }
    }
}
