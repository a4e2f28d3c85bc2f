package org.gptjvm.cli;

import org.gptjvm.engine.GptException;
import org.gptjvm.model.io.AtomicFile;
import org.gptjvm.model.train.Metrics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "plot", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
        description = {"Draw a training run's loss curves (and its learning rate, when it changes) from the metrics "
                + "file 'gpt train' writes beside the model.",
                "Works on a run still in progress: a half-written last line is left out."})
final class PlotCommand implements Callable<Integer> {
    static final int MIN_SIZE = 200;
    static final int MAX_SIZE = 8000;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--metrics", paramLabel = "FILE", converter = FileArg.class,
            description = "Metrics file (default: out/gpt.metrics.jsonl, the default model's).")
    Path metrics = Metrics.metricsFileFor(Path.of("out", "gpt.safetensors"));
    @Option(names = "--out", paramLabel = "FILE", converter = FileArg.class,
            description = "Picture to write, .png or .svg (default: the metrics file with .metrics.jsonl replaced "
                    + "by .loss.png).")
    Path out;
    @Option(names = "--width", paramLabel = "W", description = "Width in pixels (default 1000).")
    int width = 1000;
    @Option(names = "--height", paramLabel = "H", description = "Height in pixels (default 600).")
    int height = 600;
    @Option(names = "--force", description = "Replace the --out file whatever it holds (never a folder, link or device).")
    boolean force;

    @Override
    public Integer call() {
        if (width < MIN_SIZE || width > MAX_SIZE || height < MIN_SIZE || height > MAX_SIZE) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--width and --height must be between " + MIN_SIZE + " and " + MAX_SIZE + " pixels");
        }
        Path target = out != null ? out : Metrics.plotFileForMetrics(metrics);
        String format = format(target);
        if (format == null) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--out " + target + ": the picture's format comes from its extension, .png or .svg");
        }
        if (Files.exists(metrics) && !Files.isRegularFile(metrics)) { // a device or a pipe never ends
            throw new GptException("--metrics " + metrics + " is not a regular file: give a metrics file of gpt train");
        }
        Outputs.checkNotInput(target, "--out", metrics, "--metrics");
        Outputs.checkPicture(target, format, force);
        LossPlot.Curves curves = LossPlot.read(metrics);
        // before any AWT class is touched: no display is needed, nor looked for
        System.setProperty("java.awt.headless", "true");
        byte[] picture = LossPlot.render(curves, metrics.getFileName().toString(), width, height, format);
        AtomicFile.write(target, os -> os.write(picture));
        System.out.printf(Locale.ROOT, "wrote %s (%d points, iterations %d-%d)%n", target, curves.points(),
                curves.firstIter, curves.lastIter);
        return 0;
    }

    /** "png" or "svg" from the file name's extension, else null. */
    static String format(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".png") && name.length() > 4) {
            return "png";
        }
        if (name.endsWith(".svg") && name.length() > 4) {
            return "svg";
        }
        return null;
    }
}
