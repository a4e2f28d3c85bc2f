package org.gptjvm.cli;

import org.gptjvm.engine.GptException;
import org.gptjvm.model.io.AtomicFile;
import org.gptjvm.model.train.Metrics;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.XYStyler;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * The picture of {@code gpt plot}, drawn with XChart: loss against iteration (each step's loss as a
 * thin line, the evaluations' estimates with markers) and, when it changes, the learning rate on a
 * second axis at the right. Only touched after {@code java.awt.headless} is set.
 */
final class LossPlot {
    static final String TRAIN_LOSS = "train loss";
    static final String TRAIN_ESTIMATE = "train loss (estimate)";
    static final String VAL_LOSS = "val loss";
    static final String LEARNING_RATE = "learning rate";

    private static final Color STEP_COLOR = new Color(0x9ec5e8);
    private static final Color TRAIN_COLOR = new Color(0x1f77b4);
    private static final Color VAL_COLOR = new Color(0xd62728);
    private static final Color LR_COLOR = new Color(0x7f7f7f);

    private LossPlot() {
    }

    /** The chart of {@code run}, titled with {@code name}. */
    static XYChart chart(Metrics.Run run, String name, int width, int height) {
        return chart(Curves.of(run), name, width, height);
    }

    /** The chart of {@code curves}, titled with {@code name}. */
    static XYChart chart(Curves curves, String name, int width, int height) {
        XYChart chart = new XYChartBuilder().width(width).height(height).title(title(curves, name))
                .xAxisTitle("iteration").yAxisTitle("loss").build();
        XYStyler s = chart.getStyler();
        s.setLegendPosition(Styler.LegendPosition.InsideNE);
        s.setChartBackgroundColor(Color.WHITE);
        s.setPlotBackgroundColor(Color.WHITE);
        s.setPlotGridLinesColor(new Color(0xe0e0e0));
        s.setMarkerSize(7);
        s.setXAxisDecimalPattern("#,##0");
        s.setAntiAlias(true);

        boolean any = false;
        XYSeries steps = add(chart, TRAIN_LOSS, curves.loss);
        if (steps != null) {
            steps.setMarker(SeriesMarkers.NONE);
            steps.setLineColor(STEP_COLOR);
            steps.setLineWidth(1f);
            any = true;
        }
        XYSeries estimate = add(chart, TRAIN_ESTIMATE, curves.evalTrain);
        if (estimate != null) {
            estimate.setMarker(curves.evalTrain.size() <= MAX_MARKERS ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
            estimate.setLineColor(TRAIN_COLOR);
            estimate.setMarkerColor(TRAIN_COLOR);
            estimate.setLineWidth(2f);
            any = true;
        }
        XYSeries val = add(chart, VAL_LOSS, curves.evalVal);
        if (val != null) {
            val.setMarker(curves.evalVal.size() <= MAX_MARKERS ? SeriesMarkers.DIAMOND : SeriesMarkers.NONE);
            val.setLineColor(VAL_COLOR);
            val.setMarkerColor(VAL_COLOR);
            val.setLineWidth(2f);
            any = true;
        }
        if (!any) {
            throw new GptException(name + " holds no finite loss to plot");
        }
        if (curves.lrVaries) {
            XYSeries lr = add(chart, LEARNING_RATE, curves.trainLr.size() > 0 ? curves.trainLr : curves.evalLr);
            if (lr != null) {
                lr.setYAxisGroup(1);
                lr.setMarker(SeriesMarkers.NONE);
                lr.setLineColor(LR_COLOR);
                lr.setLineWidth(1f);
                lr.setLineStyle(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f,
                        new float[]{6f, 4f}, 0f));
                chart.setYAxisGroupTitle(1, LEARNING_RATE);
                s.setYAxisGroupPosition(1, Styler.YAxisPosition.Right);
            }
        }
        return chart;
    }

    /** Evaluations drawn with a marker at each; more would bury the curve under markers. */
    static final int MAX_MARKERS = 200;

    /**
     * What the picture needs of a metrics file, gathered as {@link Metrics#scan} streams it: each
     * curve {@link Decimated} to a fixed number of points, and the few facts of the title.
     */
    static final class Curves implements Consumer<Metrics.Event> {
        /** Buckets per curve: up to four points each, several per pixel of the widest picture. */
        static final int BUCKETS = 2048;

        final Decimated loss = new Decimated(BUCKETS), trainLr = new Decimated(BUCKETS);
        final Decimated evalTrain = new Decimated(BUCKETS), evalVal = new Decimated(BUCKETS),
                evalLr = new Decimated(BUCKETS);
        long trainPoints, evalPoints;
        int firstIter = Integer.MAX_VALUE, lastIter = Integer.MIN_VALUE;
        Metrics.Train lastTrain;
        Metrics.Eval lastEval;
        Metrics.End end;
        double lr = Double.NaN;
        boolean lrVaries;

        static Curves of(Metrics.Run run) {
            Curves c = new Curves();
            run.starts().forEach(c);
            run.train().forEach(c);
            run.evals().forEach(c);
            if (run.end() != null) {
                c.accept(run.end());
            }
            return c;
        }

        @Override
        public void accept(Metrics.Event event) {
            switch (event) {
                case Metrics.Start s -> end = null;
                case Metrics.Train t -> {
                    trainPoints++;
                    lastTrain = t;
                    point(t.iter());
                    loss.add(t.iter(), t.loss());
                    trainLr.add(t.iter(), t.lr());
                    learningRate(t.lr());
                }
                case Metrics.Eval e -> {
                    evalPoints++;
                    lastEval = e;
                    point(e.iter());
                    evalTrain.add(e.iter(), e.trainLoss());
                    evalVal.add(e.iter(), e.valLoss());
                    evalLr.add(e.iter(), e.lr());
                    learningRate(e.lr());
                }
                case Metrics.End e -> end = e;
            }
        }

        private void point(int iter) {
            firstIter = Math.min(firstIter, iter);
            lastIter = Math.max(lastIter, iter);
        }

        private void learningRate(double v) {
            if (Double.isFinite(v)) {
                if (Double.isNaN(lr)) {
                    lr = v;
                } else if (v != lr) {
                    lrVaries = true;
                }
            }
        }

        long points() {
            return trainPoints + evalPoints;
        }
    }

    /**
     * A curve of (iteration, value) points in fixed memory, whatever their number: the iterations fall
     * into at most {@code buckets} buckets of equal width (doubled, neighbours merged, when an
     * iteration lies past the last), and each bucket keeps its first, lowest, highest and last point.
     * Drawn in iteration order, they trace the band a noisy curve fills at full resolution, its spikes
     * included, and its very last point; while every iteration has a bucket of its own, every point is
     * kept. Non-finite values are left out.
     */
    static final class Decimated {
        private final int buckets;
        private long width = 1;
        private final int[] count;
        private final int[] firstX, minX, maxX, lastX;
        private final double[] firstY, minY, maxY, lastY;
        private long size;

        Decimated(int buckets) {
            this.buckets = buckets;
            count = new int[buckets];
            firstX = new int[buckets];
            minX = new int[buckets];
            maxX = new int[buckets];
            lastX = new int[buckets];
            firstY = new double[buckets];
            minY = new double[buckets];
            maxY = new double[buckets];
            lastY = new double[buckets];
        }

        /** How many finite points were added. */
        long size() {
            return size;
        }

        void add(int iter, double value) {
            if (!Double.isFinite(value)) {
                return;
            }
            size++;
            while (iter / width >= buckets) {
                coarsen();
            }
            int b = (int) (iter / width);
            if (count[b] == 0) {
                firstX[b] = minX[b] = maxX[b] = lastX[b] = iter;
                firstY[b] = minY[b] = maxY[b] = lastY[b] = value;
            } else {
                if (iter < firstX[b]) {
                    firstX[b] = iter;
                    firstY[b] = value;
                }
                if (iter >= lastX[b]) { // the same iteration twice: the later line
                    lastX[b] = iter;
                    lastY[b] = value;
                }
                if (value < minY[b]) {
                    minX[b] = iter;
                    minY[b] = value;
                }
                if (value > maxY[b]) {
                    maxX[b] = iter;
                    maxY[b] = value;
                }
            }
            count[b] = count[b] == Integer.MAX_VALUE ? count[b] : count[b] + 1;
        }

        /** Buckets twice as wide: bucket k takes what 2k and 2k+1 held. */
        private void coarsen() {
            for (int k = 0; k < buckets; k++) {
                int a = 2 * k, b = 2 * k + 1;
                if (a >= buckets) {
                    count[k] = 0;
                    continue;
                }
                int ca = count[a], cb = b < buckets ? count[b] : 0;
                if (ca == 0 && cb == 0) {
                    count[k] = 0;
                    continue;
                }
                if (ca == 0) { // b alone
                    copy(b, k);
                    continue;
                }
                copy(a, k);
                if (cb > 0) {
                    // b's iterations all come after a's
                    lastX[k] = lastX[b];
                    lastY[k] = lastY[b];
                    if (minY[b] < minY[k]) {
                        minX[k] = minX[b];
                        minY[k] = minY[b];
                    }
                    if (maxY[b] > maxY[k]) {
                        maxX[k] = maxX[b];
                        maxY[k] = maxY[b];
                    }
                    count[k] = (int) Math.min(Integer.MAX_VALUE, (long) ca + cb);
                }
            }
            width *= 2;
        }

        private void copy(int from, int to) {
            count[to] = count[from];
            firstX[to] = firstX[from];
            firstY[to] = firstY[from];
            minX[to] = minX[from];
            minY[to] = minY[from];
            maxX[to] = maxX[from];
            maxY[to] = maxY[from];
            lastX[to] = lastX[from];
            lastY[to] = lastY[from];
        }

        /** The points to draw, in iteration order: x in [0], y in [1]. */
        double[][] points() {
            List<double[]> pts = new ArrayList<>();
            for (int b = 0; b < buckets; b++) {
                if (count[b] == 0) {
                    continue;
                }
                List<double[]> four = new ArrayList<>(List.of(new double[]{firstX[b], firstY[b]},
                        new double[]{minX[b], minY[b]}, new double[]{maxX[b], maxY[b]}, new double[]{lastX[b], lastY[b]}));
                four.sort(Comparator.comparingDouble(p -> p[0])); // stable: first before min, max before last
                double[] prev = null;
                for (double[] p : four) {
                    if (prev == null || p[0] != prev[0] || p[1] != prev[1]) {
                        pts.add(p);
                    }
                    prev = p;
                }
            }
            double[][] xy = new double[2][pts.size()];
            for (int i = 0; i < pts.size(); i++) {
                xy[0][i] = pts.get(i)[0];
                xy[1][i] = pts.get(i)[1];
            }
            return xy;
        }
    }

    /**
     * Draws the run's loss curves from {@code metrics} into the PNG {@code picture} at the end of
     * training, never failing the run for it: returns the picture's path, or why there is none.
     * An existing file that is not a picture of gpt's is left alone, and the message says what would
     * replace it (gpt plot --force: train's own --force is about the model).
     */
    static String writeQuietly(Path metrics, Path picture) {
        try {
            Outputs.checkPicture(picture, "png", false, "left as it is (" + Launcher.command("plot", "--metrics",
                    metrics.toString(), "--out", picture.toString(), "--force") + " replaces it)");
            Curves curves = read(metrics);
            System.setProperty("java.awt.headless", "true");
            byte[] png = render(curves, metrics.getFileName().toString(), 1000, 600, "png");
            AtomicFile.write(picture, os -> os.write(png));
            return picture.toString();
        } catch (GptException e) {
            return "none (" + e.getMessage() + ")";
        } catch (RuntimeException | LinkageError | InternalError e) {
            return "none (" + whyNotDrawn(e) + ")";
        }
    }

    /**
     * The curves of a metrics file, streamed. Errors as {@link Metrics#read}'s: a missing or unreadable
     * file, a bad line before the last, no training point.
     */
    static Curves read(Path metrics) {
        Curves curves = new Curves();
        Metrics.scan(metrics, curves);
        if (curves.points() == 0) {
            throw new GptException(metrics + " holds no training points yet");
        }
        return curves;
    }

    /** The picture as PNG or SVG bytes. */
    static byte[] render(Curves curves, String name, int width, int height, String format) {
        XYChart chart = chart(curves, name, width, height);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(1 << 16);
        try {
            switch (format) {
                case "png" -> BitmapEncoder.saveBitmap(chart, bytes, BitmapEncoder.BitmapFormat.PNG);
                case "svg" -> VectorGraphicsEncoder.saveVectorGraphic(chart, bytes,
                        VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
                default -> throw new IllegalArgumentException(format);
            }
        } catch (IOException e) {
            throw new GptException("cannot draw the " + format + " picture: " + e.getMessage());
        } catch (RuntimeException | InternalError | UnsatisfiedLinkError e) {
            throw new GptException(whyNotDrawn(e));
        }
        return signed(bytes.toByteArray(), format);
    }

    /**
     * What marks a picture as gpt's own, so that a later plot may replace it without --force: a PNG
     * text chunk "Software" right after the header chunk, an SVG comment before the svg element.
     */
    static final String SIGNATURE = "gpt loss curves";

    /** The picture with {@link #SIGNATURE} added where a reader of its first bytes finds it. */
    static byte[] signed(byte[] picture, String format) {
        if (format.equals("svg")) {
            String svg = new String(picture, java.nio.charset.StandardCharsets.UTF_8);
            int at = svg.startsWith("<?xml") ? svg.indexOf("?>") + 2 : 0;
            return (svg.substring(0, at) + "<!-- " + SIGNATURE + " -->" + svg.substring(at))
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        }
        // PNG: the 8-byte signature, then IHDR (4 length + 4 type + 13 data + 4 CRC); a tEXt chunk
        // (keyword, NUL, text) may follow it
        byte[] text = ("Software\0" + SIGNATURE).getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        java.nio.ByteBuffer chunk = java.nio.ByteBuffer.allocate(12 + text.length);
        chunk.putInt(text.length).put("tEXt".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1)).put(text);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(chunk.array(), 4, 4 + text.length);
        chunk.putInt((int) crc.getValue());
        int at = 8 + 25;
        byte[] out = new byte[picture.length + chunk.capacity()];
        System.arraycopy(picture, 0, out, 0, at);
        System.arraycopy(chunk.array(), 0, out, at, chunk.capacity());
        System.arraycopy(picture, at, out, at + chunk.capacity(), picture.length - at);
        return out;
    }

    /**
     * Why Java2D could not draw. Its usual failure on a bare server is having no font: Java finds
     * fonts through fontconfig, and where fontconfig (or any font) is missing every text, so every
     * chart, fails with "Fontconfig head is null".
     */
    static String whyNotDrawn(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT).contains("fontconfig")) {
                return "cannot draw the picture: Java finds no fonts on this machine (install fontconfig and a font, "
                        + "on Debian or Ubuntu: apt-get install fontconfig fonts-dejavu-core; or copy the metrics "
                        + "file and run gpt plot elsewhere)";
            }
        }
        return "cannot draw the picture: " + e;
    }

    /**
     * "gpt.metrics.jsonl: val loss 2.0200 at iteration 500", the learning rate when constant, and
     * "(unfinished)" or "(stopped)" when the run has no end line or was stopped.
     */
    static String title(Metrics.Run run, String name) {
        return title(Curves.of(run), name);
    }

    static String title(Curves c, String name) {
        StringBuilder t = new StringBuilder(name).append(": ");
        Metrics.Eval last = c.lastEval;
        if (last != null) {
            t.append(String.format(Locale.ROOT, "val loss %.4f at iteration %d", last.valLoss(), last.iter()));
        } else {
            Metrics.Train lt = c.lastTrain;
            t.append(String.format(Locale.ROOT, "no evaluation yet; train loss %.4f at iteration %d", lt.loss(),
                    lt.iter()));
        }
        if (!c.lrVaries && Double.isFinite(c.lr)) {
            t.append(String.format(Locale.ROOT, ", lr %s", c.lr));
        }
        if (c.end == null) {
            t.append(" (unfinished)"); // still running, or killed
        } else if (c.end.stopped()) {
            t.append(" (stopped)");
        }
        return t.toString();
    }

    /** A series of the curve's points, or null (nothing added) when it has none. */
    private static XYSeries add(XYChart chart, String name, Decimated curve) {
        double[][] xy = curve.points();
        return xy[0].length == 0 ? null : chart.addSeries(name, xy[0], xy[1]);
    }
}
