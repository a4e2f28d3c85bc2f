package org.gptjvm.bench;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.BackendProvider;
import org.gptjvm.engine.Backends;
import org.gptjvm.engine.host.HostBackend;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * What each backend of a JMH run ran on. JMH's JSON holds a trial's parameters, not what "tornado"
 * was on that machine (a GPU, or OpenCL on the CPU through PoCL, which is no GPU), so each trial's
 * setup appends a line, its backend and {@link Backend#device()} (for a backend on the host's cores,
 * the CPU too), to the file the system property {@value #PROPERTY} names; without the property it
 * writes nothing. {@code bench/run-all.sh} names the JSON's sibling ({@link #of}), where
 * {@link JmhReport} reads it.
 */
final class Devices {
    static final String PROPERTY = "gpt.bench.devices";

    private Devices() {
    }

    /** A backend and what it ran on. */
    record Device(String backend, String description) {
    }

    /** The devices file of JMH's JSON {@code json}: X.json gives X.devices. */
    static Path of(Path json) {
        String name = json.getFileName().toString();
        String stem = name.endsWith(".json") ? name.substring(0, name.length() - ".json".length()) : name;
        return json.resolveSibling(stem + ".devices");
    }

    /** Appends {@code be}'s line to the file {@value #PROPERTY} names, if any. */
    static void note(Backend be) {
        String file = System.getProperty(PROPERTY);
        if (file == null || file.isBlank()) {
            return;
        }
        try {
            Files.writeString(Path.of(file), line(be) + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    static String line(Backend be) {
        BackendProvider p = Backends.provider(be.name());
        String host = p != null && p.hasDevices() ? "" : "; CPU: " + cpu();
        return be.name() + "\t" + (be.device() + host).replace('\t', ' ').replace('\n', ' ');
    }

    /** This machine's CPU as Linux names it, and its cores as the JVM sees them. */
    static String cpu() {
        String model = HostBackend.cpuModel();
        int cores = Runtime.getRuntime().availableProcessors();
        return (model == null ? "" : model + ", ") + cores + (cores == 1 ? " core" : " cores");
    }

    /** The distinct devices a file lists, in their order; none where there is no such file. */
    static List<Device> read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            return List.of();
        }
        Set<Device> seen = new LinkedHashSet<>();
        for (String l : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            int tab = l.indexOf('\t');
            if (tab > 0) {
                seen.add(new Device(l.substring(0, tab), l.substring(tab + 1).strip()));
            }
        }
        return new ArrayList<>(seen);
    }
}
