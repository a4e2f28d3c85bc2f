package org.gptjvm.model.parity;

import org.gptjvm.engine.AdamW;
import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The parity sweep's own checks (every backend runs the sweep itself in the conformance suite): it
 * catches the optimizer bug it was made for, and it tells a departure from PyTorch from a ReLU that
 * sat on its kink in the float64 run.
 */
class ParitySweepTest {

    /**
     * The sweep catches the optimizer bug it was made for: 1 - beta formed from betas already
     * rounded to float (1 - 0.999f is 1.3e-5 off), while the bias corrections stay exact.
     */
    @Test
    void theOldAdamWCoefficientsFailTheSweep() throws Exception {
        int failing = 0;
        List<Path> files = ParitySweep.fixtures();
        for (Path f : files) {
            try (Backend be = new FloatBetasBackend()) {
                failing += ParitySweep.problems(Parity.run(be, f)).isEmpty() ? 0 : 1;
            }
        }
        System.out.println("[sweep] with 1 - (float) beta: " + failing + " of " + files.size() + " files fail");
        assertTrue(failing >= files.size() / 2, failing + " of " + files.size() + " files fail");
    }

    /** The reference backend with the AdamW coefficients of before the fix. */
    static final class FloatBetasBackend extends ReferenceBackend {
        FloatBetasBackend() {
            super(2);
        }

        @Override
        public void write(FloatBuf dst, float[] src) {
            if (dst.name().equals("adamw_hyper")) {
                src = src.clone();
                src[AdamW.ONE_MINUS_BETA1] = 1f - 0.9f;
                src[AdamW.ONE_MINUS_BETA2] = 1f - 0.999f;
            }
            super.write(dst, src);
        }
    }

    @Test
    void aDepartureCountsUnlessAReluInputOfTheTruthWasNearZeroBefore() {
        float[] truth = {4f, 3.5f, 3f, 2.5f}, ours = {4f, 3.5f, 3.001f, 2.502f};
        ParityReport.Steps clean = new ParityReport.Steps(ours, truth, 1e-6, new double[]{1e-4, 1e-4, 1e-4, 1e-4});
        assertEquals(2, clean.firstDeparture());
        assertEquals(-1, clean.kinkBefore(2));
        // a kink at step 2 itself changes step 2's gradient, not its loss: it explains steps 3 on only
        ParityReport.Steps sameStep = new ParityReport.Steps(ours, truth, 1e-6, new double[]{1e-4, 1e-4, 1e-7, 1e-4});
        assertEquals(-1, sameStep.kinkBefore(2));
        ParityReport.Steps kinked = new ParityReport.Steps(ours, truth, 1e-6, new double[]{1e-4, 5e-7, 1e-4, 1e-4});
        assertEquals(1, kinked.kinkBefore(2));
        assertEquals(3e-6 + Math.ulp(3f), clean.bound(2), 1e-12);
        assertEquals(-1, new ParityReport.Steps(truth, truth, null, null).firstDeparture());
    }
}
