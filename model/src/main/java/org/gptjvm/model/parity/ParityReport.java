package org.gptjvm.model.parity;

import java.util.List;
import java.util.Locale;

/**
 * The outcome of comparing our numbers with a PyTorch reference file: per quantity, the norm-wise
 * relative error ||ours - truth|| / ||truth||, the max absolute error, and PyTorch float32's own
 * error against the same float64 truth (from the file's metadata) for comparison; and the AdamW
 * step losses one by one ({@code steps}, null when the file has none).
 */
public record ParityReport(String source, String backend, List<Row> rows, int gradCount, Steps steps) {

    public record Row(String quantity, double relative, double maxAbs, Double torchFp32) {
    }

    /**
     * A ReLU whose input is this close to zero in the float64 run can flip in a float32 one: the
     * unit is on for one run and off for the other, its weights get different gradients, and every
     * later step differs. No float32 engine, PyTorch's included, can promise to stay on the float64
     * path past such a step.
     */
    public static final double KINK = 1e-6;

    /**
     * The loss before each AdamW update, ours and the float64 truth, PyTorch float32's largest
     * error over them (null if the file does not say), and per step the smallest |ReLU input| of
     * the float64 run (null unless the file has "relu_margin").
     */
    public record Steps(float[] ours, float[] truth, Double torchMaxAbs, double[] reluMargin) {

        /** How far step {@code s} may be from the truth: 3x PyTorch float32's error plus the float's own rounding. */
        public double bound(int s) {
            return 3 * (torchMaxAbs == null ? 0 : torchMaxAbs) + Math.ulp(truth[s]);
        }

        /** The first step further from the truth than {@link #bound}, or -1. */
        public int firstDeparture() {
            for (int s = 0; s < ours.length; s++) {
                if (!(Math.abs((double) ours[s] - truth[s]) <= bound(s))) {
                    return s;
                }
            }
            return -1;
        }

        /** The last step before {@code s} whose forward pass had a ReLU input within {@link #KINK} of zero, or -1. */
        public int kinkBefore(int s) {
            for (int j = reluMargin == null ? -1 : Math.min(s, reluMargin.length) - 1; j >= 0; j--) {
                if (reluMargin[j] < KINK) {
                    return j;
                }
            }
            return -1;
        }
    }

    /** The largest relative error of any quantity, the step losses included. */
    public double worstRelative() {
        return rows.stream().mapToDouble(Row::relative).max().orElse(0);
    }

    public String table() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-52s %12s %12s %14s%n", "quantity", "rel error", "max abs", "torch fp32"));
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%-52s %12.3e %12.3e %14s%n", r.quantity(), r.relative(), r.maxAbs(),
                    r.torchFp32() == null ? "" : String.format(Locale.ROOT, "%.3e", r.torchFp32())));
        }
        if (steps != null) {
            sb.append("step losses, ours - truth:");
            for (int s = 0; s < steps.ours().length; s++) {
                sb.append(String.format(Locale.ROOT, " %.1e", (double) steps.ours()[s] - steps.truth()[s]));
            }
            sb.append(System.lineSeparator());
            int d = steps.firstDeparture(), k = d < 0 ? -1 : steps.kinkBefore(d);
            if (k >= 0) {
                sb.append(String.format(Locale.ROOT, "note: from step %d on the losses follow another path: at step %d a "
                        + "ReLU input of the float64 run is %.1e from zero, within float32 rounding%n", d + 1, k + 1,
                        steps.reluMargin()[k]));
            }
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
