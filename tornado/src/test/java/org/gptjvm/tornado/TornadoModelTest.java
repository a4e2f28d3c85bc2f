package org.gptjvm.tornado;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.cpu.CpuBackend;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.GptParams;
import org.gptjvm.model.Parity;
import org.gptjvm.model.ParityReport;
import org.gptjvm.model.Rng;
import org.gptjvm.model.Sampler;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.TextData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole model on the tornado backend: the PyTorch fixtures (what gpt verify checks), a short
 * training run that must follow the cpu backend's loss curve batch for batch, and sampling on the
 * device with and without the KV cache.
 */
class TornadoModelTest {
    static final double TOL = 1e-5;

    static Path shared(String rel) {
        Path p = Path.of(System.getProperty("gpt.shared", "../shared")).resolve(rel);
        assertTrue(Files.isRegularFile(p), "missing " + p);
        return p;
    }

    static Backend tornado() {
        return new TornadoBackendProvider().create(1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"ref_tiny", "ref_small"})
    void fixturesMatchPyTorch(String name) {
        ParityReport report;
        try (Backend be = tornado()) {
            report = Parity.run(be, shared("fixtures/" + name + ".safetensors"));
        }
        System.out.println(report.table());
        for (ParityReport.Row r : report.rows()) {
            assertTrue(r.relative() <= TOL, name + " " + r.quantity() + " relative error " + r.relative());
        }
    }

    /** A small model on Tiny Shakespeare, with dropout: the same batches and masks on both backends. */
    static final GptConfig CONFIG = new GptConfig(GptConfig.GPT, 65, 32, 64, 4, 2, 0.1f);
    static final int STEPS = 200, B = 8;

    static float[] train(Backend be, TextData data, Map<String, GptParams.Tensor>[] weightsOut) {
        float[] losses = new float[STEPS];
        try (Gpt gpt = new Gpt(be, CONFIG)) {
            gpt.initialize(1337);
            Rng batches = Seeds.data(1337), dropout = Seeds.dropout(1337);
            Gpt.Optimizer opt = Gpt.Optimizer.pytorchDefaults(1e-3);
            int[] x = new int[B * CONFIG.blockSize()], y = new int[x.length];
            for (int s = 0; s < STEPS; s++) {
                data.batch(TextData.Split.TRAIN, batches, B, CONFIG.blockSize(), x, y);
                losses[s] = gpt.forwardBackward(x, y, dropout.nextLong());
                gpt.update(opt, s + 1);
            }
            weightsOut[0] = gpt.params.stateDict();
        }
        return losses;
    }

    @Test
    @SuppressWarnings("unchecked")
    void trainingFollowsTheCpuBackend() throws IOException {
        String text = Files.readString(shared("data/tinyshakespeare.txt"), StandardCharsets.UTF_8);
        TextData data = TextData.fromText(text);
        Map<String, GptParams.Tensor>[] wc = new Map[1], wt = new Map[1];
        float[] cpu = train(new CpuBackend(2), data, wc);
        float[] dev = train(tornado(), data, wt);
        double worst = 0;
        for (int s = 0; s < STEPS; s++) {
            worst = Math.max(worst, Math.abs(cpu[s] - dev[s]));
        }
        double worstWeight = 0;
        for (String k : wc[0].keySet()) {
            worstWeight = Math.max(worstWeight, relErr(wt[0].get(k).data(), wc[0].get(k).data()));
        }
        System.out.printf("tornado vs cpu, %d steps: first loss %.4f vs %.4f, last %.4f vs %.4f, worst |diff| %.2e, "
                + "worst weight rel err %.2e%n", STEPS, dev[0], cpu[0], dev[STEPS - 1], cpu[STEPS - 1], worst, worstWeight);
        assertTrue(cpu[STEPS - 1] < cpu[0] - 1.0, "the run should learn");
        assertTrue(worst < 2e-3, "losses drift apart: " + worst);
        assertTrue(worstWeight < 1e-3, "weights drift apart: " + worstWeight);
    }

    static double relErr(float[] got, float[] want) {
        double d = 0, n = 0;
        for (int i = 0; i < want.length; i++) {
            d += (got[i] - (double) want[i]) * (got[i] - (double) want[i]);
            n += (double) want[i] * want[i];
        }
        return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-30);
    }

    @Test
    void samplingRunsOnTheDeviceWithTheSameTokensWithAndWithoutTheCache() {
        GptConfig cfg = new GptConfig(GptConfig.GPT, 65, 16, 32, 2, 2, 0f);
        try (Backend be = tornado(); Gpt gpt = new Gpt(be, cfg)) {
            gpt.initialize(7);
            int[] with = new Sampler(gpt, 16, true).generate(new int[]{0}, 40, 0.0, 0, new Rng(1), t -> { });
            int[] without = new Sampler(gpt, 16, false).generate(new int[]{0}, 40, 0.0, 0, new Rng(1), t -> { });
            assertArrayEquals(without, with);
            try (Backend cpu = new CpuBackend(1); Gpt same = new Gpt(cpu, cfg)) {
                same.initialize(7);
                int[] onCpu = new Sampler(same, 16, true).generate(new int[]{0}, 40, 0.0, 0, new Rng(1), t -> { });
                assertEquals(java.util.Arrays.toString(onCpu), java.util.Arrays.toString(with),
                        "greedy decoding should pick the same characters as the cpu backend");
            }
        }
    }
}
