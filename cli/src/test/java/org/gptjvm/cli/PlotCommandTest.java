package org.gptjvm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code gpt plot}: PNG and SVG from a metrics file, and its one-line errors. Runs in this JVM. */
class PlotCommandTest {
    @TempDir
    Path tmp;

    /** A run of 300 iterations with a decaying learning rate, an evaluation every 50, and a half-written last line. */
    private Path metrics() throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add(MetricsTest.start(0));
        for (int i = 0; i <= 300; i += 5) {
            double loss = 1.5 + 2.7 * Math.exp(-i / 80.0) + 0.05 * Math.sin(i);
            double lr = 1e-3 * (1 - 0.9 * i / 300.0);
            lines.add("{\"event\":\"train\",\"iter\":" + i + ",\"loss\":" + loss + ",\"lr\":" + lr
                    + (i % 10 == 0 ? ",\"grad_norm\":0.8" : "") + ",\"tokens_per_s\":80000.0,\"elapsed_s\":" + i / 10.0 + "}");
            if (i % 50 == 0) {
                lines.add("{\"event\":\"eval\",\"iter\":" + i + ",\"train_loss\":" + (loss - 0.02) + ",\"val_loss\":"
                        + (loss + 0.1) + ",\"lr\":" + lr + ",\"elapsed_s\":" + i / 10.0 + "}");
            }
        }
        lines.add(MetricsTest.end(300));
        Path f = tmp.resolve("run.metrics.jsonl");
        Files.writeString(f, String.join("\n", lines) + "\n{\"event\":\"train\",\"iter\":305,\"lo");
        return f;
    }

    @Test
    void writesAPng() throws IOException {
        Path m = metrics();
        Cli.Result r = Cli.run("plot", "--metrics", m.toString(), "--width", "900", "--height", "500").assertOk();
        Path png = tmp.resolve("run.loss.png");
        assertEquals("wrote " + png + " (68 points, iterations 0-300)", r.out().strip(), r::describe);
        byte[] bytes = Files.readAllBytes(png);
        assertTrue(bytes.length > 5 * 1024, "size " + bytes.length);
        assertArrayEquals(new byte[]{(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, Arrays.copyOf(bytes, 8));
        BufferedImage img = ImageIO.read(png.toFile());
        assertNotNull(img);
        assertEquals(900, img.getWidth());
        assertEquals(500, img.getHeight());
        // replacing its own picture is fine
        Cli.run("plot", "--metrics", m.toString(), "--width", "900", "--height", "500").assertOk();
        try (var files = Files.list(tmp)) {
            assertEquals(List.of(), files.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList());
        }
    }

    @Test
    void writesAnSvg() throws IOException {
        Path m = metrics();
        Path svg = tmp.resolve("sub").resolve("loss.svg");
        Cli.Result r = Cli.run("plot", "--metrics", m.toString(), "--out", svg.toString()).assertOk();
        assertTrue(r.out().startsWith("wrote " + svg + " ("), r::describe);
        String text = Files.readString(svg, StandardCharsets.UTF_8);
        assertTrue(text.startsWith("<?xml") || text.contains("<svg"), text.substring(0, Math.min(200, text.length())));
        assertTrue(Files.size(svg) > 5 * 1024, "size " + Files.size(svg));
    }

    @Test
    void theTitleNamesTheFileTheLastValLossAndAConstantLearningRate() {
        org.gptjvm.model.train.Metrics.Run run = org.gptjvm.model.train.Metrics.parse(List.of(MetricsTest.start(0),
                MetricsTest.train(0, 4.0), MetricsTest.eval(0, 4.1, 4.25), MetricsTest.train(10, 3.0)), "m");
        assertEquals("run.metrics.jsonl: val loss 4.2500 at iteration 0, lr 0.001 (unfinished)",
                LossPlot.title(run, "run.metrics.jsonl"));
    }

    @Test
    void helpListsTheFlagsAndTheTopLevelHelpTheCommand() {
        Cli.Result r = Cli.run("plot", "--help").assertOk();
        for (String flag : List.of("--metrics", "--out", "--width", "--height", "--force")) {
            assertTrue(r.out().contains(flag), () -> flag + "\n" + r.describe());
        }
        Cli.Result top = Cli.run("--help").assertOk();
        assertTrue(top.out().lines().anyMatch(l -> l.strip().startsWith("plot ")), top::describe);
    }

    @Test
    void aMissingFile() {
        Cli.Result r = Cli.run("plot", "--metrics", tmp.resolve("none.metrics.jsonl").toString()).assertError(1);
        assertTrue(r.err().contains("none.metrics.jsonl"), r::describe);
        assertFalse(Files.exists(tmp.resolve("none.loss.png")));
    }

    @Test
    void anEmptyFile() throws IOException {
        Path m = Files.writeString(tmp.resolve("e.metrics.jsonl"), "");
        Cli.run("plot", "--metrics", m.toString()).assertError(1);
        Files.writeString(m, MetricsTest.start(0) + "\n");
        Cli.Result r = Cli.run("plot", "--metrics", m.toString()).assertError(1);
        assertTrue(r.err().contains("no training points"), r::describe);
        assertFalse(Files.exists(tmp.resolve("e.loss.png")));
    }

    @Test
    void aCorruptMiddleLine() throws IOException {
        Path m = Files.writeString(tmp.resolve("c.metrics.jsonl"), String.join("\n", MetricsTest.start(0),
                MetricsTest.train(0, 4.0), "{\"event\":\"train\",\"iter\":1", MetricsTest.train(2, 3.9)) + "\n");
        Cli.Result r = Cli.run("plot", "--metrics", m.toString()).assertError(1);
        assertTrue(r.err().contains("line 3"), r::describe);
        assertFalse(Files.exists(tmp.resolve("c.loss.png")));
    }

    /** One line of plain text is not a metrics file whose first line is still being written. */
    @Test
    void aTextFileIsNotAMetricsFile() throws IOException {
        Path notes = Files.writeString(tmp.resolve("notes.txt"), "remember the milk\n");
        Cli.Result r = Cli.run("plot", "--metrics", notes.toString(), "--out", tmp.resolve("n.png").toString())
                .assertError(1);
        assertTrue(r.err().contains("line 1 is not a metrics event"), r::describe);
        // a first line cut short while gpt train writes it is still "no points yet"
        Path starting = Files.writeString(tmp.resolve("s.metrics.jsonl"), "{\"event\":\"sta");
        r = Cli.run("plot", "--metrics", starting.toString()).assertError(1);
        assertTrue(r.err().contains("holds no training points yet"), r::describe);
    }

    @Test
    void aBadOutExtension() throws IOException {
        Path m = metrics();
        Cli.Result r = Cli.run("plot", "--metrics", m.toString(), "--out", tmp.resolve("loss.jpg").toString())
                .assertError(2);
        assertTrue(r.err().contains(".png or .svg"), r::describe);
        assertFalse(Files.exists(tmp.resolve("loss.jpg")));
        // a picture too small to read
        Cli.run("plot", "--metrics", m.toString(), "--width", "5").assertError(2);
    }

    @Test
    void refusesToReplaceWhatIsNotItsPicture() throws IOException {
        Path m = metrics();
        Path notPng = Files.writeString(tmp.resolve("notes.png"), "my notes");
        Cli.Result r = Cli.run("plot", "--metrics", m.toString(), "--out", notPng.toString()).assertError(1);
        assertTrue(r.err().contains("--force"), r::describe);
        assertEquals("my notes", Files.readString(notPng));
        Path dir = Files.createDirectory(tmp.resolve("dir.png"));
        Cli.run("plot", "--metrics", m.toString(), "--out", dir.toString()).assertError(1);
        Path link = Files.createSymbolicLink(tmp.resolve("link.svg"), m);
        Cli.run("plot", "--metrics", m.toString(), "--out", link.toString()).assertError(1);
        Cli.run("plot", "--metrics", m.toString(), "--out", notPng.toString(), "--force").assertOk();
        assertTrue(Files.size(notPng) > 5 * 1024);
    }

    /** A picture gpt did not draw (a PNG or SVG of the same name) is refused; one it drew is replaced. */
    @Test
    void replacesOnlyPicturesItDrew() throws IOException {
        Path m = metrics();
        BufferedImage photo = new BufferedImage(4, 4, BufferedImage.TYPE_INT_RGB);
        Path png = tmp.resolve("photo.png"), svg = tmp.resolve("logo.svg");
        ImageIO.write(photo, "png", png.toFile());
        byte[] photoBytes = Files.readAllBytes(png);
        Files.writeString(svg, "<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"></svg>");
        for (Path p : List.of(png, svg)) {
            byte[] before = Files.readAllBytes(p);
            Cli.Result r = Cli.run("plot", "--metrics", m.toString(), "--out", p.toString()).assertError(1);
            assertTrue(r.err().contains("is not a " + (p == png ? "PNG" : "SVG") + " picture of gpt's"), r::describe);
            assertArrayEquals(before, Files.readAllBytes(p), p + " was changed");
        }
        assertArrayEquals(photoBytes, Files.readAllBytes(png));
        // what gpt plot drew it may draw again, and the PNG is still one that ImageIO reads
        Path ours = tmp.resolve("ours.png"), oursSvg = tmp.resolve("ours.svg");
        for (Path p : List.of(ours, oursSvg)) {
            Cli.run("plot", "--metrics", m.toString(), "--out", p.toString()).assertOk();
            Cli.run("plot", "--metrics", m.toString(), "--out", p.toString(), "--width", "800").assertOk();
        }
        assertEquals(800, ImageIO.read(ours.toFile()).getWidth());
        assertTrue(Files.readString(oursSvg).contains("<svg"));
    }

    /**
     * Java2D on a server without fonts fails every text with this error (seen on a GPU server; it can
     * be reproduced as root with the fonts folder and libfontconfig hidden in a mount namespace, which
     * scripts/test-gpu-bundle.sh does): the user is told what to install instead.
     */
    @Test
    void saysWhatToInstallWhenJavaFindsNoFonts() {
        RuntimeException awt = new RuntimeException("Fontconfig head is null, check your fonts or fonts configuration");
        String why = LossPlot.whyNotDrawn(new IllegalStateException("wrapped", awt));
        assertTrue(why.contains("no fonts") && why.contains("fonts-dejavu-core"), why);
        assertEquals("cannot draw the picture: java.lang.IllegalStateException: x",
                LossPlot.whyNotDrawn(new IllegalStateException("x")));
    }

    /** A curve of many points is drawn from at most four points a bucket: its ends, its lowest and highest. */
    @Test
    void aLongCurveKeepsItsShapeAndItsLastPointInFixedMemory() {
        LossPlot.Decimated curve = new LossPlot.Decimated(64);
        int n = 1_000_001;
        for (int i = 0; i < n; i++) {
            double v = i == 123_457 ? 50 : i == 654_321 ? -5 : 4.0 - 3.0 * i / n + 0.1 * Math.sin(i);
            curve.add(i, v);
        }
        assertEquals(n, curve.size());
        double[][] xy = curve.points();
        assertTrue(xy[0].length <= 4 * 64, "points " + xy[0].length);
        assertEquals(n - 1, xy[0][xy[0].length - 1], "the last point");
        assertEquals(4.0 - 3.0 * (n - 1) / n + 0.1 * Math.sin(n - 1), xy[1][xy[1].length - 1]);
        assertEquals(0, xy[0][0], "the first point");
        List<Double> ys = Arrays.stream(xy[1]).boxed().toList();
        assertTrue(ys.contains(50.0) && ys.contains(-5.0), "a spike is lost");
        for (int i = 0; i < xy[0].length; i++) {
            int x = (int) xy[0][i];
            double expected = x == 123_457 ? 50 : x == 654_321 ? -5 : 4.0 - 3.0 * x / n + 0.1 * Math.sin(x);
            assertEquals(expected, xy[1][i], "a point that is not in the curve at " + x);
            assertTrue(i == 0 || xy[0][i] >= xy[0][i - 1], "out of order at " + i);
        }
    }

    /** While every iteration has a bucket of its own, the curve is drawn from every point, as before. */
    @Test
    void aShortCurveKeepsEveryPoint() {
        LossPlot.Decimated curve = new LossPlot.Decimated(64);
        for (int i = 0; i < 60; i++) {
            curve.add(i * 1, 3.0 - i * 0.01);
        }
        curve.add(61, Double.NaN);
        double[][] xy = curve.points();
        assertEquals(60, xy[0].length);
        assertEquals(59, xy[0][59]);
        assertEquals(3.0 - 59 * 0.01, xy[1][59]);
    }

    /** gpt plot streams the metrics file: one far larger than its heap is drawn, its last point in the title. */
    @Test
    void aMetricsFileFarLargerThanTheHeapIsPlotted() throws IOException {
        Path m = tmp.resolve("long.metrics.jsonl");
        int n = 500_000;
        try (var w = Files.newBufferedWriter(m, StandardCharsets.UTF_8)) {
            w.write(MetricsTest.start(0));
            w.write('\n');
            for (int i = 0; i < n; i++) {
                w.write(MetricsTest.train(i, 4.0 - 2.0 * i / n));
                w.write('\n');
            }
            w.write(MetricsTest.eval(n - 1, 2.1, 2.25));
            w.write('\n');
        }
        assertTrue(Files.size(m) > 48L << 20, "size " + Files.size(m));
        Path png = tmp.resolve("long.png");
        Cli.Result r = new Cli.Fork().property("java.awt.headless", "true").jvmArg("-Xmx48m")
                .run("plot", "--metrics", m.toString(), "--out", png.toString()).assertOk();
        assertTrue(r.out().startsWith("wrote " + png + " (" + (n + 1) + " points, iterations 0-" + (n - 1) + ")"),
                r::describe);
        assertTrue(Files.size(png) > 1000);
    }
}
