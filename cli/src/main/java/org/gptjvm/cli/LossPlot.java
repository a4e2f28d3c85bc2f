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
import java.util.function.ToDoubleFunction;

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
        List<Metrics.Train> train = sorted(run.train(), Metrics.Train::iter);
        List<Metrics.Eval> evals = sorted(run.evals(), Metrics.Eval::iter);
        XYChart chart = new XYChartBuilder().width(width).height(height).title(title(run, name))
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
        XYSeries steps = add(chart, TRAIN_LOSS, train, Metrics.Train::iter, Metrics.Train::loss);
        if (steps != null) {
            steps.setMarker(SeriesMarkers.NONE);
            steps.setLineColor(STEP_COLOR);
            steps.setLineWidth(1f);
            any = true;
        }
        XYSeries estimate = add(chart, TRAIN_ESTIMATE, evals, Metrics.Eval::iter, Metrics.Eval::trainLoss);
        if (estimate != null) {
            estimate.setMarker(SeriesMarkers.CIRCLE);
            estimate.setLineColor(TRAIN_COLOR);
            estimate.setMarkerColor(TRAIN_COLOR);
            estimate.setLineWidth(2f);
            any = true;
        }
        XYSeries val = add(chart, VAL_LOSS, evals, Metrics.Eval::iter, Metrics.Eval::valLoss);
        if (val != null) {
            val.setMarker(SeriesMarkers.DIAMOND);
            val.setLineColor(VAL_COLOR);
            val.setMarkerColor(VAL_COLOR);
            val.setLineWidth(2f);
            any = true;
        }
        if (!any) {
            throw new GptException(name + " holds no finite loss to plot");
        }
        if (lrVaries(train, evals)) {
            XYSeries lr = train.stream().anyMatch(t -> Double.isFinite(t.lr()))
                    ? add(chart, LEARNING_RATE, train, Metrics.Train::iter, Metrics.Train::lr)
                    : add(chart, LEARNING_RATE, evals, Metrics.Eval::iter, Metrics.Eval::lr);
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

    /**
     * Draws the run's loss curves from {@code metrics} into the PNG {@code picture} at the end of
     * training, never failing the run for it: returns the picture's path, or why there is none.
     * An existing file that is not a picture of gpt's is left alone.
     */
    static String writeQuietly(Path metrics, Path picture) {
        try {
            Outputs.checkPicture(picture, "png", false);
            Metrics.Run run = Metrics.read(metrics);
            System.setProperty("java.awt.headless", "true");
            byte[] png = render(run, metrics.getFileName().toString(), 1000, 600, "png");
            AtomicFile.write(picture, os -> os.write(png));
            return picture.toString();
        } catch (GptException e) {
            return "none (" + e.getMessage() + ")";
        } catch (RuntimeException | LinkageError | InternalError e) {
            return "none (" + whyNotDrawn(e) + ")";
        }
    }

    /** The picture as PNG or SVG bytes. */
    static byte[] render(Metrics.Run run, String name, int width, int height, String format) {
        XYChart chart = chart(run, name, width, height);
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
        StringBuilder t = new StringBuilder(name).append(": ");
        Metrics.Eval last = run.lastEval();
        if (last != null) {
            t.append(String.format(Locale.ROOT, "val loss %.4f at iteration %d", last.valLoss(), last.iter()));
        } else {
            Metrics.Train lt = run.train().getLast();
            t.append(String.format(Locale.ROOT, "no evaluation yet; train loss %.4f at iteration %d", lt.loss(),
                    lt.iter()));
        }
        if (!lrVaries(run.train(), run.evals())) {
            double lr = constantLr(run);
            if (Double.isFinite(lr)) {
                t.append(String.format(Locale.ROOT, ", lr %s", lr));
            }
        }
        if (run.end() == null) {
            t.append(" (unfinished)"); // still running, or killed
        } else if (run.end().stopped()) {
            t.append(" (stopped)");
        }
        return t.toString();
    }

    private static boolean lrVaries(List<Metrics.Train> train, List<Metrics.Eval> evals) {
        double first = Double.NaN;
        for (Metrics.Train x : train) {
            if (Double.isFinite(x.lr())) {
                if (Double.isNaN(first)) {
                    first = x.lr();
                } else if (x.lr() != first) {
                    return true;
                }
            }
        }
        for (Metrics.Eval x : evals) {
            if (Double.isFinite(x.lr())) {
                if (Double.isNaN(first)) {
                    first = x.lr();
                } else if (x.lr() != first) {
                    return true;
                }
            }
        }
        return false;
    }

    private static double constantLr(Metrics.Run run) {
        for (Metrics.Train x : run.train()) {
            if (Double.isFinite(x.lr())) {
                return x.lr();
            }
        }
        for (Metrics.Eval x : run.evals()) {
            if (Double.isFinite(x.lr())) {
                return x.lr();
            }
        }
        return Double.NaN;
    }

    private static <T> List<T> sorted(List<T> points, java.util.function.ToIntFunction<T> iter) {
        List<T> copy = new ArrayList<>(points);
        copy.sort(Comparator.comparingInt(iter)); // stable: file order within an iteration
        return copy;
    }

    /** A series of the finite values, or null (nothing added) when there are none. */
    private static <T> XYSeries add(XYChart chart, String name, List<T> points, java.util.function.ToIntFunction<T> x,
                                    ToDoubleFunction<T> y) {
        List<Double> xs = new ArrayList<>();
        List<Double> ys = new ArrayList<>();
        for (T p : points) {
            double v = y.applyAsDouble(p);
            if (Double.isFinite(v)) {
                xs.add((double) x.applyAsInt(p));
                ys.add(v);
            }
        }
        return xs.isEmpty() ? null : chart.addSeries(name, xs, ys);
    }
}
