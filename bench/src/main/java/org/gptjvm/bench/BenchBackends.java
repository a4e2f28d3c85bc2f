package org.gptjvm.bench;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.BackendProvider;
import org.gptjvm.engine.Backends;
import org.gptjvm.engine.GptException;

/**
 * The backend a benchmark trial runs on, created from its {@code backend} parameter and noted for the
 * report ({@link Devices}). A backend this jar or this JVM lacks, or one that cannot start, fails the
 * trial with one line that says what to do: JMH prints a failed setup's exception with its stack
 * trace, and for a backend missing there is no trace to read.
 */
final class BenchBackends {
    private BenchBackends() {
    }

    /** A trial that cannot run, for a reason the user fixes: JMH prints it as its message alone. */
    static final class Problem extends RuntimeException {
        Problem(String message) {
            super(message, null, false, false);
        }

        @Override
        public String toString() {
            return getMessage();
        }
    }

    static Backend create(String name, int threads) {
        BackendProvider p = Backends.provider(name);
        if (p == null) {
            throw new Problem("unknown backend '" + name + "'; this jar has: " + String.join(", ", Backends.names()));
        }
        BackendProvider.Absence absence = p.absence();
        if (absence != null) {
            throw new Problem(missing(name, absence));
        }
        Backend be;
        try {
            be = Backends.create(name, threads);
        } catch (GptException e) { // TornadoVM that cannot start (a driver missing), a device too small, ...
            throw new Problem("the " + name + " backend cannot run: " + e.getMessage());
        }
        Devices.note(be);
        return be;
    }

    /** Why {@code name} cannot run in this JVM, and what gets it there for the benchmarks. */
    static String missing(String name, BackendProvider.Absence absence) {
        return switch (absence.status()) {
            case "not in this build" -> "the " + name + " backend is not in this jar: install TornadoVM 5.2.0 and "
                    + "source tornado-env.sh, and bench/run-all.sh builds it in and runs it (see bench/README.md)";
            case "needs TornadoVM's runtime" -> "the " + name + " backend needs TornadoVM's JVM flags in JMH's forks: "
                    + "run bench/run-all.sh, or give JMH -jvmArgsPrepend @FILE with them (see bench/README.md)";
            default -> absence.message();
        };
    }
}
