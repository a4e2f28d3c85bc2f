package org.gptjvm.cli;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.Backends;
import org.gptjvm.engine.GptException;
import picocli.CommandLine.Option;

/** --backend and --threads, shared by every command that computes. */
final class EngineOptions {
    @Option(names = "--backend", paramLabel = "NAME",
            description = "Compute backend: ${COMPLETION-CANDIDATES}. Default: $GPT_BACKEND, else one with a GPU "
                    + "here, else the fastest present.",
            completionCandidates = BackendNames.class)
    String backend;

    @Option(names = "--threads", paramLabel = "N", description = "CPU threads (default: all cores).")
    Integer threads;

    @Option(names = "--device", paramLabel = "N", description = "Device of a backend with devices of its own, as "
            + "numbered by 'gpt devices' (default: its first GPU, else its runtime's default device).")
    String device;

    @Option(names = "--gemm", paramLabel = "NAME", description = "The Linear layers' matrix products: own (the "
            + "backend's kernels), or a library the backend offers beside them, for comparison: cublas, cublas-tf32 "
            + "(NVIDIA cuBLAS in fp32 or TF32, on TornadoVM's CUDA backend). Default: $GPT_GEMM, else own.")
    String gemm;

    /**
     * Rejects bad --threads / --backend, and --device for a backend without devices, as a usage error
     * (exit 2), before the command does any work.
     */
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
        if (backend != null) {
            String p = Backends.unknown(backend);
            return p != null ? p : deviceProblem(backend);
        }
        String env = envBackend();
        String p = env == null ? null : Backends.unknown(env);
        return p != null ? "GPT_BACKEND=" + env + ": " + p : deviceProblem(env != null ? env : null);
    }

    /** --device for a backend without devices of its own ({@code name}; null: the default one). */
    private String deviceProblem(String name) {
        if (device == null) {
            return null;
        }
        String n = name != null ? name : Backends.defaultName();
        var provider = Backends.provider(n);
        return provider != null && !provider.hasDevices() ? Backends.deviceFlagProblem(n) : null;
    }

    /**
     * GPT_BACKEND, the default backend when --backend is not given (a device runtime's own launcher
     * may take arguments that start with "--" for itself, so an environment variable is the portable
     * way); null if unset.
     */
    static String envBackend() {
        String env = System.getenv("GPT_BACKEND");
        return env == null || env.isBlank() ? null : env.trim();
    }

    /** The backend a command uses when none is named: GPT_BACKEND, else the engine's default. */
    static String defaultBackend() {
        String env = envBackend();
        return env != null ? env : Backends.defaultName();
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
        return withProducts(Backends.create(name(), threadCount(), device), gemm);
    }

    /**
     * {@code be}, its products computed with library {@code gemm} (null: $GPT_GEMM; "own" or unset: its
     * own kernels); one it cannot use closes it and says why.
     */
    static Backend withProducts(Backend be, String gemm) {
        String lib = gemm != null ? gemm.trim() : System.getenv("GPT_GEMM");
        if (lib != null && !lib.isBlank() && !lib.trim().equals("own")) {
            try {
                be.useProductLibrary(lib.trim());
            } catch (RuntimeException e) {
                be.close();
                // the setting came from the environment: say so, or the user looks for a --gemm that is not there
                throw gemm == null && e instanceof GptException
                        ? new GptException("GPT_GEMM=" + lib.trim() + ": " + e.getMessage()) : e;
            }
        }
        return be;
    }

    private String name() {
        return backend != null ? backend : defaultBackend();
    }

    int threadCount() {
        return threads != null ? threads : Runtime.getRuntime().availableProcessors();
    }

    /**
     * Whether the backend's buffers come from the JVM's heap (a host backend), so that a model's
     * memory estimate is checked against it; a device backend's memory is not reported by the API.
     */
    boolean onHeap() {
        org.gptjvm.engine.BackendProvider p = Backends.provider(name());
        return p == null || !p.hasDevices();
    }

    static final class BackendNames implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return Backends.names().iterator();
        }
    }
}
