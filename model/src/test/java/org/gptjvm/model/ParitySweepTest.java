package org.gptjvm.model;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.AdamW;
import org.gptjvm.engine.Backends;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every host backend against PyTorch's float64 truth on the sweep's files (13 shapes and seeds, one
 * head, T below block_size, odd sizes, lr 1e-3..3e-3, 8-20 AdamW steps): logits, loss, gradients
 * and every step loss, against PyTorch float32's own error (see {@link ParitySweep#problems}).
 */
class ParitySweepTest {

    @ParameterizedTest
    @ValueSource(strings = {"reference", "cpu"})
    void everyFileMatchesPyTorch(String backend) throws Exception {
        List<String> problems = new ArrayList<>();
        List<Path> files = ParitySweep.fixtures();
        assertTrue(files.size() >= 12, "the sweep made " + files.size() + " files");
        for (Path f : files) {
            ParityReport r;
            try (Backend be = Backends.create(backend, 2)) {
                r = Parity.run(be, f);
            }
            System.out.println("[sweep] " + ParitySweep.summary(r));
            ParitySweep.problems(r).forEach(p -> problems.add(f.getFileName() + ": " + p));
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

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
