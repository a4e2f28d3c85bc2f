package org.gptjvm.cli;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds ../shared (the Tiny Shakespeare text) through the {@code gpt.shared} system property, as the
 * model module's tests do; tests that need it are skipped, with a reason, without it (but fail on CI).
 */
final class SharedData {
    private SharedData() {
    }

    static Path dir() {
        String p = System.getProperty("gpt.shared");
        Path d = p != null ? Path.of(p) : Path.of("..", "..", "shared");
        return d.toAbsolutePath().normalize();
    }

    static boolean has(String relative) {
        return Files.exists(dir().resolve(relative));
    }

    static Path require(String relative) {
        Path f = dir().resolve(relative);
        if (System.getenv("CI") != null && !Files.exists(f)) {
            throw new AssertionError("CI run without " + f);
        }
        Assumptions.assumeTrue(Files.exists(f), "skipped: " + f + " not found (the shared/ folder beside the repo)");
        return f;
    }

    static Path tinyShakespeare() {
        return require("data/tinyshakespeare.txt");
    }
}
