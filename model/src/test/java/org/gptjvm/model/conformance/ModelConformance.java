package org.gptjvm.model.conformance;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.Backends;
import org.gptjvm.engine.conformance.Conformance;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.GptParams;
import org.gptjvm.model.Rng;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.Shared;
import org.gptjvm.model.data.TextData;
import org.gptjvm.model.parity.Parity;
import org.gptjvm.model.parity.ParityReport;
import org.gptjvm.model.parity.ParitySweep;
import org.gptjvm.model.sample.Sampler;
import org.gptjvm.model.train.Optimizer;
import org.gptjvm.model.train.Recipe;
import org.gptjvm.model.train.TrainOptions;
import org.gptjvm.model.train.Trainer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The model half of the conformance suite every backend runs (see {@link Conformance#backends}, the
 * reference among them): {@code gpt verify} on the shared PyTorch fixtures and on the committed ones,
 * the parity sweep, a training run with dropout that repeats bit for bit and follows the reference
 * backend's losses over 200 AdamW steps, nanoGPT's knobs, and sampling with and without the KV cache.
 */
public abstract class ModelConformance {
    static final double TOL = 1e-5;

    static Stream<String> backends() {
        return Conformance.backends(true).stream();
    }

    static Stream<String> others() {
        return Conformance.backends(false).stream();
    }

    /** The shared fixtures (../shared/fixtures) and the ones committed under src/test/resources/fixtures. */
    static Stream<Arguments> fixtures() {
        List<String> names = List.of("shared:ref_tiny", "shared:ref_small", "ref_short_seq", "ref_one_layer_one_head",
                "ref_odd");
        return backends().flatMap(b -> names.stream().map(f -> Arguments.of(b, f)));
    }

    /** A fixture as a file: a committed one is copied out of the test classes (a jar in another module's run). */
    static Path fixture(String name) throws IOException {
        if (name.startsWith("shared:")) {
            return Shared.require("fixtures/" + name.substring("shared:".length()) + ".safetensors");
        }
        Path file = Files.createTempFile(name, ".safetensors");
        file.toFile().deleteOnExit();
        try (InputStream in = ModelConformance.class.getResourceAsStream("/fixtures/" + name + ".safetensors")) {
            assertTrue(in != null, "no committed fixture " + name);
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
        }
        return file;
    }

    /** What gpt verify checks: logits, loss, every gradient and the AdamW steps' losses within 1e-5 of PyTorch's float64 truth. */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("org.gptjvm.model.conformance.ModelConformance#fixtures")
    void fixturesMatchPyTorch(String backend, String name) throws IOException {
        ParityReport report;
        try (Backend be = Backends.create(backend, 2)) {
            report = Parity.run(be, fixture(name));
        }
        System.out.println(name + " on " + backend + ":\n" + report.table());
        for (ParityReport.Row r : report.rows()) {
            assertTrue(r.relative() <= TOL, backend + " " + name + " " + r.quantity() + " relative error " + r.relative());
        }
        assertEquals(2 + report.gradCount() + (report.steps() != null ? 1 : 0), report.rows().size());
    }

    /** The parity sweep (ParitySweep): 13 shapes and seeds, each step loss within 3x PyTorch float32's own error. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.gptjvm.model.conformance.ModelConformance#backends")
    void theParitySweepMatchesPyTorch(String backend) throws Exception {
        List<String> problems = new ArrayList<>();
        List<Path> files = ParitySweep.fixtures();
        assertTrue(files.size() >= 12, "the sweep made " + files.size() + " files");
        for (Path f : files) {
            ParityReport r;
            try (Backend be = Backends.create(backend, 2)) {
                r = Parity.run(be, f);
            }
            System.out.println("[sweep] " + backend + " " + ParitySweep.summary(r));
            ParitySweep.problems(r).forEach(p -> problems.add(f.getFileName() + ": " + p));
        }
        assertTrue(problems.isEmpty(), backend + ":\n" + String.join("\n", problems));
    }

    // ---------------------------------------------------------------- training

    /** A small model on Tiny Shakespeare, with dropout: the same batches and masks on every backend. */
    static final GptConfig CONFIG = new GptConfig(GptConfig.GPT, 65, 32, 64, 4, 2, 0.1f);
    static final int STEPS = 200, B = 8;

    static TextData shakespeare() throws IOException {
        return TextData.fromText(Files.readString(Shared.tinyShakespeare(), StandardCharsets.UTF_8));
    }

    /** {@code steps} steps of the lecture's loop by hand: its losses, and the weights in {@code weightsOut[0]}. */
    static float[] train(String backend, TextData data, Map<String, GptParams.Tensor>[] weightsOut, int steps) {
        float[] losses = new float[steps];
        try (Backend be = Backends.create(backend, 2)) {
            Gpt gpt = new Gpt(be, CONFIG);
            Optimizer opt = new Optimizer(gpt, Optimizer.Settings.PYTORCH);
            gpt.initialize(1337);
            Rng batches = Seeds.data(1337), dropout = Seeds.dropout(1337);
            int[] x = new int[B * CONFIG.blockSize()], y = new int[x.length];
            for (int s = 0; s < steps; s++) {
                data.batch(TextData.Split.TRAIN, batches, B, CONFIG.blockSize(), x, y);
                losses[s] = gpt.forwardBackward(x, y, dropout.nextLong());
                opt.step(s + 1, 1e-3, 1.0);
            }
            weightsOut[0] = gpt.params.stateDict();
        }
        return losses;
    }

    /**
     * The gradients handed to the host and back unchanged, right after a backward pass (as a
     * data-parallel step's all-reduce of one process would), are that pass's gradients, not what the
     * host last read: the same values and norm on every backend, on the first hand-over (a device
     * compiles its staging then) and after.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.gptjvm.model.conformance.ModelConformance#backends")
    void gradientsHandedToTheHostAndBackAreTheLastPasses(String backend) throws IOException {
        TextData data = shakespeare();
        int rows = B * CONFIG.blockSize();
        int[][] x = new int[2][rows], y = new int[2][rows];
        for (int b = 0; b < 2; b++) {
            data.batch(TextData.Split.TRAIN, Seeds.data(3 + b), B, CONFIG.blockSize(), x[b], y[b]);
        }
        try (Backend be = Backends.create(backend, 2)) {
            Gpt gpt = new Gpt(be, CONFIG);
            gpt.initialize(1337);
            gpt.forwardBackward(x[1], y[1], 5);
            Map<String, GptParams.Tensor> want = gpt.params.gradDict();
            for (int round = 0; round < 2; round++) {
                gpt.forwardBackward(x[0], y[0], 5);
                gpt.params.gradDict(); // the host last saw batch 0's gradients
                gpt.forwardBackward(x[1], y[1], 5);
                be.changeOnHost(gpt.params.grads, seg -> { });
                double norm = gpt.gradNorm(), sum = 0;
                Map<String, GptParams.Tensor> got = gpt.params.gradDict();
                for (String k : want.keySet()) {
                    assertArrayEquals(want.get(k).data(), got.get(k).data(), backend + ": round " + round + ", gradient " + k);
                    for (float v : want.get(k).data()) {
                        sum += (double) v * v;
                    }
                }
                assertEquals(Math.sqrt(sum), norm, 1e-4 * Math.sqrt(sum), backend + ": round " + round + ", the norm");
            }
        }
    }

    /**
     * A data-parallel run's processes draw dropout's masks from their first row of the combined batch,
     * so its two halves, each on a model told its first row, give the whole batch's loss and gradients
     * (their means), masks included: what two processes of one job sum, on every backend.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.gptjvm.model.conformance.ModelConformance#backends")
    void twoHalvesFromTheirFirstRowsAreTheWholeBatchWithDropout(String backend) throws IOException {
        TextData data = shakespeare();
        int rows = B * CONFIG.blockSize();
        int[] x = new int[2 * rows], y = new int[2 * rows];
        data.batch(TextData.Split.TRAIN, Seeds.data(7), 2 * B, CONFIG.blockSize(), x, y);
        long seed = Seeds.dropout(7).nextLong();
        try (Backend be = Backends.create(backend, 2)) {
            Gpt gpt = new Gpt(be, CONFIG);
            gpt.initialize(1337);
            float whole = gpt.forwardBackward(x, y, seed);
            Map<String, GptParams.Tensor> wholeGrads = gpt.params.gradDict();
            float[] halves = new float[2];
            List<Map<String, GptParams.Tensor>> grads = new ArrayList<>();
            for (int h = 0; h < 2; h++) {
                gpt.firstRow(h * rows);
                halves[h] = gpt.forwardBackward(Arrays.copyOfRange(x, h * rows, (h + 1) * rows),
                        Arrays.copyOfRange(y, h * rows, (h + 1) * rows), seed);
                grads.add(gpt.params.gradDict());
            }
            assertEquals(whole, (halves[0] + halves[1]) / 2, 1e-5 * Math.abs(whole), backend + ": the halves' mean loss");
            for (String k : wholeGrads.keySet()) {
                float[] w = wholeGrads.get(k).data(), a = grads.get(0).get(k).data(), b = grads.get(1).get(k).data();
                float[] mean = new float[w.length];
                for (int i = 0; i < w.length; i++) {
                    mean[i] = (a[i] + b[i]) / 2;
                }
                assertTrue(Conformance.relErr(mean, w) <= 1e-4, backend + ": gradient " + k + " of the halves, rel err "
                        + Conformance.relErr(mean, w));
            }
            // and without their first rows the halves draw other masks: the test can tell
            gpt.firstRow(0);
            float second = gpt.forwardBackward(Arrays.copyOfRange(x, rows, 2 * rows), Arrays.copyOfRange(y, rows, 2 * rows),
                    seed);
            assertTrue(Math.abs(second - halves[1]) > 1e-6, backend + ": the masks did not depend on the first row");
        }
    }

    /**
     * Two runs of the same 50 steps (with dropout) give the same losses and weights bit for bit: every
     * sum has a fixed order, whatever the backend splits or merges.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.gptjvm.model.conformance.ModelConformance#backends")
    @SuppressWarnings({"unchecked", "rawtypes"})
    void trainingRepeatsBitForBit(String backend) throws IOException {
        TextData data = shakespeare();
        Map<String, GptParams.Tensor>[] w1 = new Map[1], w2 = new Map[1];
        float[] first = train(backend, data, w1, 50), second = train(backend, data, w2, 50);
        assertArrayEquals(first, second, backend + ": losses of two identical runs");
        for (String k : w1[0].keySet()) {
            assertArrayEquals(w1[0].get(k).data(), w2[0].get(k).data(), backend + ": weights " + k + " of two identical runs");
        }
        System.out.printf("%s: two 50-step runs, identical losses (last %.6f) and weights%n", backend, first[49]);
    }

    /**
     * 200 steps with dropout follow the reference backend's losses. Two float implementations of one run
     * drift apart (AdamW divides by sqrt(v), so rounding in small gradients flips updates, and ReLU
     * units flip), while the loss curve stays the same: the first loss agrees to 1e-5, the gap stays
     * under 0.02 at every step and under 0.003 on average (cpu and the reference: about 1e-3).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.gptjvm.model.conformance.ModelConformance#others")
    @SuppressWarnings({"unchecked", "rawtypes"})
    void trainingFollowsTheReference(String backend) throws IOException {
        TextData data = shakespeare();
        Map<String, GptParams.Tensor>[] wr = new Map[1], wb = new Map[1];
        float[] ref = train("reference", data, wr, STEPS), got = train(backend, data, wb, STEPS);
        double worst = 0, mean = 0, weights = 0;
        for (int s = 0; s < STEPS; s++) {
            worst = Math.max(worst, Math.abs(ref[s] - got[s]));
            mean += Math.abs(ref[s] - got[s]) / STEPS;
        }
        for (String k : wr[0].keySet()) {
            weights = Math.max(weights, Conformance.relErr(wb[0].get(k).data(), wr[0].get(k).data()));
        }
        System.out.printf("%s, %d steps: losses first/last %.4f/%.4f, reference %.4f/%.4f; gap max %.2e, mean %.2e; "
                + "worst weight tensor rel. diff %.2e%n", backend, STEPS, got[0], got[STEPS - 1], ref[0], ref[STEPS - 1], worst,
                mean, weights);
        assertTrue(ref[STEPS - 1] < ref[0] - 1.0, "the run should learn");
        assertTrue(Math.abs(ref[0] - got[0]) < 1e-5, backend + ": the first step's loss " + got[0] + " vs " + ref[0]);
        assertTrue(worst < 0.02, backend + ": losses drift apart: " + worst);
        assertTrue(mean < 0.003, backend + ": mean gap " + mean);
    }

    /** nanoGPT's knobs through the Trainer: losses, gradient norms (before clipping) and learning rates per step. */
    static double[][] knobRun(String backend, TextData data, int steps) {
        Recipe r = Recipe.NANOGPT.withSchedule(null, 3, steps, null).withOptimizer(null, null, null, null, 0.05, 2);
        double[][] out = new double[3][steps];
        try (Backend be = Backends.create(backend, 2)) {
            Gpt gpt = new Gpt(be, CONFIG);
            Trainer t = new Trainer(gpt, data, new TrainOptions(4, 1e-3, steps, 1000, 2, 5, r));
            gpt.initialize(1337);
            int[] k = {0};
            t.run(new Trainer.Listener() {
                @Override
                public void iteration(Trainer.StepReport s) {
                    out[0][k[0]] = s.loss();
                    out[1][k[0]] = s.gradNorm();
                    out[2][k[0]++] = s.lr();
                }
            });
        }
        return out;
    }

    /**
     * Clipping (at 0.05, so every step is clipped), two micro-batches per step, decay of matrices only
     * and the cosine schedule: the reference's losses and gradient norms within float tolerance over 8
     * steps, and the run repeats bit for bit.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.gptjvm.model.conformance.ModelConformance#others")
    void nanoGptKnobsFollowTheReference(String backend) throws IOException {
        TextData data = shakespeare();
        int steps = 8;
        double[][] ref = knobRun("reference", data, steps), got = knobRun(backend, data, steps);
        double[][] again = knobRun(backend, data, steps);
        for (int i = 0; i < steps; i++) {
            assertEquals(ref[0][i], got[0][i], 1e-4, backend + ": loss of step " + i);
            assertEquals(ref[1][i], got[1][i], 1e-4 * ref[1][i], backend + ": grad norm of step " + i);
            assertTrue(ref[1][i] > 0.05, "the clip bites: " + ref[1][i]);
            assertEquals(ref[2][i], got[2][i], 0, backend + ": learning rate of step " + i);
            assertEquals(Double.doubleToRawLongBits(got[0][i]), Double.doubleToRawLongBits(again[0][i]), "repeat " + i);
            assertEquals(Double.doubleToRawLongBits(got[1][i]), Double.doubleToRawLongBits(again[1][i]), "repeat " + i);
        }
    }

    // ---------------------------------------------------------------- sampling

    /**
     * Greedy decoding past the block (so the KV cache and the windowed forward both run) gives the same
     * tokens with and without the cache, and the reference backend's.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.gptjvm.model.conformance.ModelConformance#backends")
    void samplingGivesTheSameTokensWithAndWithoutTheCache(String backend) {
        GptConfig cfg = new GptConfig(GptConfig.GPT, 65, 16, 32, 2, 2, 0f);
        int[][] tokens = new int[3][];
        String[] names = {backend, backend, "reference"};
        for (int k = 0; k < 3; k++) {
            try (Backend be = Backends.create(names[k], 1)) {
                Gpt gpt = new Gpt(be, cfg);
                gpt.initialize(7);
                tokens[k] = new Sampler(gpt, 16, k != 1).generate(new int[]{0}, 40, 0.0, 0, new Rng(1), t -> { });
            }
        }
        assertArrayEquals(tokens[1], tokens[0], backend + ": with the cache and without");
        assertEquals(Arrays.toString(tokens[2]), Arrays.toString(tokens[0]),
                backend + ": greedy decoding should pick the reference backend's characters");
    }
}
