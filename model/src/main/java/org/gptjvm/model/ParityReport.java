package org.gptjvm.model;

import java.util.List;
import java.util.Locale;

/**
 * The outcome of comparing our numbers with a PyTorch reference file: per quantity, the norm-wise
 * relative error ||ours - truth|| / ||truth||, the max absolute error, and PyTorch float32's own
 * error against the same float64 truth (from the file's metadata) for comparison.
 */
public record ParityReport(String source, String backend, List<Row> rows, int gradCount) {

    public record Row(String quantity, double relative, double maxAbs, Double torchFp32) {
    }

    public double worstRelative() {
        return rows.stream().filter(r -> !r.quantity().equals("step_losses")).mapToDouble(Row::relative).max().orElse(0);
    }

    public String table() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-52s %12s %12s %14s%n", "quantity", "rel error", "max abs", "torch fp32"));
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%-52s %12.3e %12.3e %14s%n", r.quantity(), r.relative(), r.maxAbs(),
                    r.torchFp32() == null ? "" : String.format(Locale.ROOT, "%.3e", r.torchFp32())));
        }
        return sb.toString();
    }

    public static double relative(float[] ours, float[] truth) {
        double num = 0, den = 0;
        for (int i = 0; i < ours.length; i++) {
            double d = (double) ours[i] - truth[i];
            num += d * d;
            den += (double) truth[i] * truth[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    public static double maxAbs(float[] ours, float[] truth) {
        double m = 0;
        for (int i = 0; i < ours.length; i++) {
            m = Math.max(m, Math.abs((double) ours[i] - truth[i]));
        }
        return m;
    }
}
