package org.gptjvm.engine;

/**
 * The scalars of one torch.optim.AdamW update, computed on the host in double as PyTorch computes
 * them in Python, and the layout of the small buffer the kernels read them from. PyTorch's update
 * (decoupled weight decay, bias correction) is
 *
 * <pre>
 *   g    = grad * scale                        GRAD_SCALE (micro-batch mean, clip_grad_norm_'s coefficient)
 *   p   *= 1 - lr * wd                        DECAY
 *   m    = m + (g - m) * (1 - beta1)          exp_avg.lerp_(grad, 1 - beta1): ONE_MINUS_BETA1
 *   v    = v * beta2 + (1 - beta2) * g * g    exp_avg_sq.mul_(beta2).addcmul_(..., 1 - beta2): BETA2, ONE_MINUS_BETA2
 *   p   -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)     STEP_SIZE, BC2_SQRT, EPS
 * </pre>
 *
 * Every coefficient is formed in double from the exact hyper-parameters and only then rounded to
 * float, so the kernels just multiply and add. Forming {@code 1 - beta2} from an already-rounded
 * beta2 instead ({@code 1 - 0.999f} = 0.00099998713) made the second moment 1.3e-5 smaller than
 * its bias correction assumes; after a few steps the losses left PyTorch's by 1e-4 and more.
 */
public final class AdamW {
    public static final int DECAY = 0, ONE_MINUS_BETA1 = 1, BETA2 = 2, ONE_MINUS_BETA2 = 3, STEP_SIZE = 4,
            BC2_SQRT = 5, EPS = 6, GRAD_SCALE = 7;
    public static final int SIZE = 8;

    private AdamW() {
    }

    /** Fills {@code hyper} for update number {@code step} (1-based, as PyTorch's state['step']). */
    public static void fill(float[] hyper, double lr, double beta1, double beta2, double eps, double weightDecay,
                            long step) {
        fill(hyper, lr, beta1, beta2, eps, weightDecay, step, 1.0);
    }

    /**
     * As above, with the gradients multiplied by {@code gradScale} first, in float as PyTorch's
     * clip_grad_norm_ multiplies them in place (a scale of 1 changes nothing).
     */
    public static void fill(float[] hyper, double lr, double beta1, double beta2, double eps, double weightDecay,
                            long step, double gradScale) {
        double bc1 = 1.0 - Math.pow(beta1, step);
        double bc2 = 1.0 - Math.pow(beta2, step);
        hyper[DECAY] = (float) (1.0 - lr * weightDecay);
        hyper[ONE_MINUS_BETA1] = (float) (1.0 - beta1);
        hyper[BETA2] = (float) beta2;
        hyper[ONE_MINUS_BETA2] = (float) (1.0 - beta2);
        hyper[STEP_SIZE] = (float) (lr / bc1);
        hyper[BC2_SQRT] = (float) Math.sqrt(bc2);
        hyper[EPS] = (float) eps;
        hyper[GRAD_SCALE] = (float) gradScale;
    }
}
