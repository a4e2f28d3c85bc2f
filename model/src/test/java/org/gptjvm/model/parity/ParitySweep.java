package org.gptjvm.model.parity;

import org.gptjvm.model.Shared;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The parity sweep: PyTorch reference files of many shapes, seeds and learning rates, made in the
 * test run by {@code src/test/python/parity_sweep.py} (with ../shared/tools/torch_reference.py and
 * Debian's python3-torch), and the bar every backend must clear on each of them.
 */
public final class ParitySweep {
    private static Path dir;

    private ParitySweep() {
    }

    /**
     * The sweep's files, made once per JVM. Without python3-torch the tests are skipped, except in
     * CI, whose .ci/run installs it.
     */
    public static synchronized List<Path> fixtures() throws IOException, InterruptedException {
        if (dir == null) {
            Path script = Shared.require("tools/torch_reference.py"), data = Shared.tinyShakespeare();
            Path sweep = Path.of("src/test/python/parity_sweep.py");
            if (!Files.exists(sweep)) { // run from another module (tornado) of the build
                sweep = Path.of("../model/src/test/python/parity_sweep.py");
            }
            boolean torch = Files.isExecutable(Path.of("/usr/bin/python3")) && new ProcessBuilder("/usr/bin/python3",
                    "-c", "import torch").redirectErrorStream(true).start().waitFor() == 0;
            if (!torch && System.getenv("CI") != null) {
                throw new AssertionError("CI without python3-torch: .ci/run should have installed it");
            }
            Assumptions.assumeTrue(torch, "skipped: /usr/bin/python3 cannot import torch (apt-get install python3-torch)");
            Path out = Files.createTempDirectory("parity-sweep");
            Process p = new ProcessBuilder("/usr/bin/python3", sweep.toString(), script.toString(), data.toString(),
                    out.toString()).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(600, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new AssertionError("parity_sweep.py failed:\n" + log);
            }
            dir = out;
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.toString().endsWith(".safetensors")).sorted().toList();
        }
    }

    /**
     * What is wrong with a backend's report on a sweep file: any quantity (step losses included)
     * above 1e-5 norm-wise relative error, or a step loss further from the truth than 3x PyTorch
     * float32's own error (plus the float's rounding) that no near-zero ReLU input of the float64
     * run explains (see {@link ParityReport#KINK}). Empty when it passes.
     */
    public static List<String> problems(ParityReport r) {
        List<String> out = new ArrayList<>();
        for (ParityReport.Row row : r.rows()) {
            if (!(row.relative() <= 1e-5)) {
                out.add(row.quantity() + " relative error " + row.relative());
            }
        }
        ParityReport.Steps s = r.steps();
        int d = s.firstDeparture();
        if (d >= 0 && s.kinkBefore(d) < 0) {
            out.add(String.format("step %d loss %.9g, truth %.9g: %.2e off, bar %.2e", d + 1, s.ours()[d], s.truth()[d],
                    Math.abs((double) s.ours()[d] - s.truth()[d]), s.bound(d)));
        }
        return out;
    }

    /** One line for the log: the largest step-loss error and whether a ReLU kink explained a departure. */
    public static String summary(ParityReport r) {
        ParityReport.Steps s = r.steps();
        double worst = 0;
        for (int i = 0; i < s.ours().length; i++) {
            worst = Math.max(worst, Math.abs((double) s.ours()[i] - s.truth()[i]));
        }
        int d = s.firstDeparture();
        return String.format("%s on %s: step losses max abs %.2e (PyTorch fp32 %.2e)%s", Path.of(r.source()).getFileName(),
                r.backend(), worst, s.torchMaxAbs(), d < 0 ? "" : String.format("; from step %d on another path "
                        + "(ReLU input %.1e from zero at step %d)", d + 1, s.reluMargin()[s.kinkBefore(d)], s.kinkBefore(d) + 1));
    }
}
