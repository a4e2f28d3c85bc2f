package org.gptjvm.engine;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Collectors;

/**
 * The backends of this build, as their {@link BackendProvider}s report them through
 * {@link ServiceLoader}: which exist, which can run here, which is the default, and the one-line
 * errors when a name is wrong or a backend is missing.
 */
public final class Backends {
    private Backends() {
    }

    /** Every provider on the class path, present or not, fastest first. */
    public static List<BackendProvider> providers() {
        List<BackendProvider> all = new ArrayList<>();
        ServiceLoader.load(BackendProvider.class).forEach(all::add);
        all.sort(Comparator.comparingInt(BackendProvider::speedRank).reversed().thenComparing(BackendProvider::name));
        return all;
    }

    /** The names of the backends that can run here, fastest first. */
    public static List<String> names() {
        return providers().stream().filter(p -> p.absence() == null).map(BackendProvider::name).toList();
    }

    /** The default backend: one with an accelerator here, else the fastest that can run here. */
    public static BackendProvider defaultProvider() {
        return defaultOf(providers());
    }

    /** {@link #defaultProvider} among {@code providers} (fastest first). */
    public static BackendProvider defaultOf(List<BackendProvider> providers) {
        List<BackendProvider> present = providers.stream().filter(p -> p.absence() == null).toList();
        if (present.isEmpty()) {
            throw new GptException("no backend can run in this JVM");
        }
        return present.stream().filter(BackendProvider::acceleratesHere).findFirst().orElse(present.get(0));
    }

    public static String defaultName() {
        return defaultProvider().name();
    }

    public static Backend create(String name, int threads) {
        return create(name, threads, null);
    }

    /** {@code device}: which of the backend's devices (see {@link BackendProvider#devices()}); null: its default. */
    public static Backend create(String name, int threads, String device) {
        if (threads < 1) {
            throw new GptException("--threads must be at least 1, got " + threads);
        }
        String problem = unknown(name);
        if (problem != null) {
            throw new GptException(problem);
        }
        BackendProvider p = provider(name);
        if (device != null && !p.hasDevices()) {
            throw new GptException(deviceFlagProblem(name));
        }
        return p.create(threads, device);
    }

    /**
     * The one-line error for --device given to backends ({@code names}) that run on the host's cores:
     * it names the backends that have devices of their own.
     */
    public static String deviceFlagProblem(String names) {
        String pickers = providers().stream().filter(BackendProvider::hasDevices).map(BackendProvider::name)
                .collect(Collectors.joining(" or "));
        return "--device is for the " + (pickers.isEmpty() ? "device" : pickers) + " backend; " + names
                + " runs on this machine's CPU cores";
    }

    /** The provider named {@code name}, present or not; null if this build has none. */
    public static BackendProvider provider(String name) {
        return providers().stream().filter(p -> p.name().equals(name)).findFirst().orElse(null);
    }

    /**
     * Null when {@code name} is a backend that can run here, else the one-line reason (a usage
     * error). A backend this build knows but cannot run is an install problem rather than a typo:
     * that one throws, with the provider's remedy.
     */
    public static String unknown(String name) {
        BackendProvider p = provider(name);
        if (p == null) {
            return "unknown backend '" + name + "'; available: " + String.join(", ", names());
        }
        BackendProvider.Absence absence = p.absence();
        if (absence != null) {
            throw new GptException(absence.message());
        }
        return null;
    }
}
