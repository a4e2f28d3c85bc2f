package org.gptjvm.tornado;

import org.gptjvm.engine.AdamW;
import org.gptjvm.engine.DropoutMask;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * The kernels that touch each element once (zeroing, ReLU, residual adds, dropout, AdamW): one
 * work-item per element, which is all a device needs for them.
 */
public final class ElementwiseKernels {
    private ElementwiseKernels() {
    }

    /** The dropout factor of element {@code index}: the engine's DropoutMask, so masks match the host backends. */
    static float dropScale(int seedLo, int seedHi, int salt, int index, float p) {
        return DropoutMask.scale(DropoutMask.seed(seedLo, seedHi), salt, index, p);
    }

    public static void zero(FloatArray mem, int a, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            mem.set(a + i, 0f);
        }
    }

    /**
     * Names an array in a task, so TornadoVM moves it; computes nothing. One array per task: a task
     * that touches two arrays this way leaves TornadoVM handing the wrong buffers to the next graph.
     */
    public static void touch(FloatArray mem) {
        if (mem.getSize() < 0) {
            mem.set(0, 0f);
        }
    }

    /** {@link #touch(FloatArray)} for the argument table. */
    public static void touchInts(IntArray args) {
        if (args.getSize() < 0) {
            args.set(0, 0);
        }
    }

    public static void reluForward(FloatArray mem, int out, int inp, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float x = mem.get(inp + i);
            mem.set(out + i, x > 0f ? x : 0f);
        }
    }

    public static void reluBackward(FloatArray mem, int dinp, int out, int dout, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            if (mem.get(out + i) > 0f) {
                mem.set(dinp + i, mem.get(dinp + i) + mem.get(dout + i));
            }
        }
    }

    public static void residualForward(FloatArray mem, int out, int a, int b, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            mem.set(out + i, mem.get(a + i) + mem.get(b + i));
        }
    }

    public static void residualBackward(FloatArray mem, int da, int db, int dout, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float d = mem.get(dout + i);
            mem.set(da + i, mem.get(da + i) + d);
            mem.set(db + i, mem.get(db + i) + d);
        }
    }

    public static void dropoutForward(FloatArray mem, int out, int inp, IntArray seed, float p, int salt, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            mem.set(out + i, mem.get(inp + i) * dropScale(seed.get(0), seed.get(1), salt, i, p));
        }
    }

    public static void dropoutBackward(FloatArray mem, int dinp, int dout, IntArray seed, float p, int salt, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            mem.set(dinp + i, mem.get(dinp + i) + mem.get(dout + i) * dropScale(seed.get(0), seed.get(1), salt, i, p));
        }
    }

    /** torch.optim.AdamW, as RefKernels.adamw; hyper holds the engine's AdamW scalars, written per step. */
    public static void adamw(FloatArray mem, int p, int g, int m, int v, FloatArray hyper, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float decay = hyper.get(AdamW.DECAY), oneMinusBeta1 = hyper.get(AdamW.ONE_MINUS_BETA1);
            float beta2 = hyper.get(AdamW.BETA2), oneMinusBeta2 = hyper.get(AdamW.ONE_MINUS_BETA2);
            float stepSize = hyper.get(AdamW.STEP_SIZE), bc2Sqrt = hyper.get(AdamW.BC2_SQRT), eps = hyper.get(AdamW.EPS);
            float grad = mem.get(g + i) * hyper.get(AdamW.GRAD_SCALE);
            float mi = mem.get(m + i) + (grad - mem.get(m + i)) * oneMinusBeta1;
            float vi = mem.get(v + i) * beta2 + oneMinusBeta2 * grad * grad;
            float denom = TornadoMath.sqrt(vi) / bc2Sqrt + eps;
            mem.set(p + i, mem.get(p + i) * decay - stepSize * (mi / denom));
            mem.set(m + i, mi);
            mem.set(v + i, vi);
        }
    }
}
