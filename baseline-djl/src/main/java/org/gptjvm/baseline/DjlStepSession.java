package org.gptjvm.baseline;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;

import java.util.Random;

/**
 * The libtorch training step of {@link DjlGptStep} as an object a JMH benchmark can drive: the same
 * model (DJL blocks), the same AdamW, one {@link #step()} = forward, loss, backward, AdamW update on a
 * fresh random batch. Set the thread count with -Dai.djl.pytorch.num_threads before the first use.
 */
public final class DjlStepSession implements AutoCloseable {
    private final DjlGptStep.Config cfg;
    private final Model model;
    private final Trainer trainer;
    private final Random rnd = new Random(42);
    private final long[] x, y;

    public DjlStepSession(String config) {
        cfg = DjlGptStep.config(config);
        model = Model.newInstance("gpt-" + cfg.name(), Device.cpu(), "PyTorch");
        model.setBlock(new DjlGptStep.Gpt(cfg));
        Optimizer adamw = Optimizer.adamW().optLearningRateTracker(Tracker.fixed(cfg.lr())).optWeightDecays(0.01f)
                .optBeta1(0.9f).optBeta2(0.999f).optEpsilon(1e-8f).build();
        DefaultTrainingConfig tc = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss()).optOptimizer(adamw)
                .optDevices(new Device[] {Device.cpu()})
                .optInitializer(new NormalInitializer(0.02f), Parameter.Type.WEIGHT);
        trainer = model.newTrainer(tc);
        trainer.initialize(new Shape(cfg.batch(), cfg.blockSize()));
        x = new long[cfg.batch() * cfg.blockSize()];
        y = new long[x.length];
    }

    /** One training step; returns the loss. */
    public float step() {
        for (int i = 0; i < x.length; i++) {
            x[i] = rnd.nextInt(DjlGptStep.VOCAB);
            y[i] = rnd.nextInt(DjlGptStep.VOCAB);
        }
        float loss;
        try (NDManager m = trainer.getManager().newSubManager()) {
            NDArray xb = m.create(x, new Shape(cfg.batch(), cfg.blockSize()));
            NDArray yb = m.create(y, new Shape((long) x.length));
            try (GradientCollector gc = trainer.newGradientCollector()) {
                NDList logits = trainer.forward(new NDList(xb));
                NDArray l = trainer.getLoss().evaluate(new NDList(yb), logits);
                gc.backward(l);
                loss = l.getFloat();
            }
            trainer.step();
        }
        return loss;
    }

    @Override
    public void close() {
        trainer.close();
        model.close();
    }
}
