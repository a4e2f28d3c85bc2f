package org.gptjvm.model;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds ../shared (the dataset and the PyTorch fixtures); tests that need it are skipped, with a reason, without it. */
public final class Shared {
    private Shared() {
    }

    public static Path dir() {
        String p = System.getProperty("gpt.shared");
        Path d = p != null ? Path.of(p) : Path.of("..", "..", "shared");
        return d.toAbsolutePath().normalize();
    }

    public static Path require(String relative) {
        Path f = dir().resolve(relative);
        // CI must run these: there a missing file is a failure, not a skip
        if (System.getenv("CI") != null && !Files.exists(f)) {
            throw new AssertionError("CI run without " + f);
        }
        Assumptions.assumeTrue(Files.exists(f), "skipped: " + f + " not found (the shared/ folder beside the repo)");
        return f;
    }

    public static Path tinyShakespeare() {
        return require("data/tinyshakespeare.txt");
    }
}
