package org.gptjvm.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** Finds backends by name. Backends in other modules (tornado) register through {@link BackendProvider}. */
public final class Backends {
    private Backends() {
    }

    /** All providers on the class path, fastest first. */
    public static List<BackendProvider> providers() {
        List<BackendProvider> all = new ArrayList<>();
        all.add(new BackendProvider() {
            @Override
            public String name() {
                return "reference";
            }

            @Override
            public int speedRank() {
                return 0;
            }

            @Override
            public Backend create(int threads) {
                return new ReferenceBackend(threads);
            }
        });
        all.add(new BackendProvider() {
            @Override
            public String name() {
                return "cpu";
            }

            @Override
            public int speedRank() {
                return 10;
            }

            @Override
            public Backend create(int threads) {
                return new org.gptjvm.engine.cpu.CpuBackend(threads);
            }
        });
        ServiceLoader.load(BackendProvider.class).forEach(all::add);
        all.sort((a, b) -> Integer.compare(b.speedRank(), a.speedRank()));
        return all;
    }

    public static List<String> names() {
        return providers().stream().map(BackendProvider::name).toList();
    }

    /** The fastest backend present. */
    public static String defaultName() {
        return providers().get(0).name();
    }

    public static Backend create(String name, int threads) {
        return create(name, threads, null);
    }

    /** {@code device}: which of the backend's devices (see {@link BackendProvider#devices()}); null: its default. */
    public static Backend create(String name, int threads, String device) {
        if (threads < 1) {
            throw new GptException("--threads must be at least 1, got " + threads);
        }
        return provider(name).create(threads, device);
    }

    public static BackendProvider provider(String name) {
        for (BackendProvider p : providers()) {
            if (p.name().equals(name)) {
                return p;
            }
        }
        throw new GptException(unknown(name));
    }

    /**
     * Null when {@code name} is a backend of this build, else the one-line reason (a usage error).
     * The tornado backend missing from the build is an install problem rather than a typo: that
     * one throws, with how to get it.
     */
    public static String unknown(String name) {
        if (names().contains(name)) {
            return null;
        }
        if (name.equals("tornado")) {
            throw new GptException(TORNADO_MISSING);
        }
        return "unknown backend '" + name + "'; available: " + String.join(", ", names());
    }

    /** What to do when the tornado backend is asked for in a build without it. */
    public static final String TORNADO_MISSING = "the tornado backend is not in this build: install TornadoVM 5.2.0, "
            + "source tornado-env.sh, and ./gpt rebuilds with it (or: ./mvn25 -Ptornado package; see README.md, section TornadoVM)";
}
