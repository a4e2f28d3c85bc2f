package org.gptjvm.cli;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.Backends;
import picocli.CommandLine.Option;

/** --backend and --threads, shared by every command that computes. */
final class EngineOptions {
    @Option(names = "--backend", paramLabel = "NAME",
            description = "Compute backend: ${COMPLETION-CANDIDATES}. Default: the fastest present.",
            completionCandidates = BackendNames.class)
    String backend;

    @Option(names = "--threads", paramLabel = "N", description = "CPU threads (default: all cores).")
    Integer threads;

    @Option(names = "--device", paramLabel = "N", description = "Device of the tornado backend, as numbered by "
            + "'gpt devices' (default: TornadoVM's default device).")
    String device;

    /** Rejects bad --threads / --backend as a usage error (exit 2), before the command does any work. */
    void check(picocli.CommandLine.Model.CommandSpec spec) {
        String problem = problem();
        if (problem != null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), problem);
        }
    }

    private String problem() {
        String t = threadsProblem(threads);
        if (t != null) {
            return t;
        }
        return backend == null ? null : Backends.unknown(backend);
    }

    /** More threads than this only queue for the cores: 4 per core is already far past any gain. */
    static int maxThreads() {
        return 4 * Runtime.getRuntime().availableProcessors();
    }

    /** Null when {@code threads} (null: the default) is a usable thread count, else the one-line reason. */
    static String threadsProblem(Integer threads) {
        if (threads != null && (threads < 1 || threads > maxThreads())) {
            return "--threads must be between 1 and " + maxThreads() + " (4 per core of this machine), got " + threads;
        }
        return null;
    }

    Backend create() {
        String name = backend != null ? backend : Backends.defaultName();
        int n = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        return Backends.create(name, n, device);
    }

    static final class BackendNames implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return Backends.names().iterator();
        }
    }
}
