package org.gptjvm.engine;

/**
 * Layout of the small hyper-parameter buffer the AdamW kernel reads, and the host-side arithmetic
 * that fills it. PyTorch computes the bias corrections in double on the host too, so do we.
 */
public final class AdamW {
    public static final int LR = 0, BETA1 = 1, BETA2 = 2, EPS = 3, WEIGHT_DECAY = 4, STEP_SIZE = 5, BC2_SQRT = 6;
    public static final int SIZE = 7;

    private AdamW() {
    }

    /** Fills {@code hyper} for update number {@code step} (1-based, as PyTorch's state['step']). */
    public static void fill(float[] hyper, double lr, double beta1, double beta2, double eps, double weightDecay,
                            long step) {
        double bc1 = 1.0 - Math.pow(beta1, step);
        double bc2 = 1.0 - Math.pow(beta2, step);
        hyper[LR] = (float) lr;
        hyper[BETA1] = (float) beta1;
        hyper[BETA2] = (float) beta2;
        hyper[EPS] = (float) eps;
        hyper[WEIGHT_DECAY] = (float) weightDecay;
        hyper[STEP_SIZE] = (float) (lr / bc1);
        hyper[BC2_SQRT] = (float) Math.sqrt(bc2);
    }
}
