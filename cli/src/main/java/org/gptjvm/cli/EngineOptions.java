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

    Backend create() {
        String name = backend != null ? backend : Backends.defaultName();
        int n = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        return Backends.create(name, n);
    }

    static final class BackendNames implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return Backends.names().iterator();
        }
    }
}
