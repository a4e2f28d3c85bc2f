package org.gptjvm.model.train;

import org.gptjvm.engine.GptException;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.data.TextData;

import java.nio.file.Path;

/**
 * One run of {@code gpt train}, from a fresh model or a checkpoint to the last save: the training
 * loop ({@link Trainer}) and what happens around it. At every evaluation the run prints (through its
 * {@link Reporter}), logs the losses and saves a checkpoint, written on another thread while
 * training goes on; every {@code logInterval} iterations it logs the training loss, the gradients'
 * norm and tokens/s over training time alone; at the end it saves again and closes its metrics. A
 * loss that stops being finite ends it with an error naming the last good checkpoint. The command
 * line only shows what it reports.
 */
public final class TrainingRun {

    /** What the run tells whoever shows it; every call comes from the training thread. */
    public interface Reporter {
        /** estimate_loss at iteration {@code step}: the lecture's "step N: train loss X, val loss Y". */
        default void evaluated(int step, float trainLoss, float valLoss) {
        }

        /** A step taken (for a progress bar). */
        default void stepped(Trainer.StepReport step) {
        }
    }

    /** How a run ended: the loop's figures, and whether it was stopped (Ctrl-C) rather than finished. */
    public record Outcome(Trainer.Result result, int iteration, boolean stopped) {
    }

    private final Gpt gpt;
    private final TextData text;
    private final Trainer trainer;
    private final Path checkpoint;
    private final MetricsLog metrics;
    private final int logInterval;
    /** The iteration the checkpoint on disk holds (-1: none yet). */
    private int saved;

    /**
     * A run of {@code options} on {@code gpt} (its parameters initialised from the run's seed, or
     * {@code resumed}'s weights, optimizer state and position), saving to {@code checkpoint} and
     * logging beside it (appending on a resume; {@code force}: replacing an unrelated metrics file).
     */
    public TrainingRun(Gpt gpt, TextData text, TrainOptions options, Checkpoint resumed, Path resumedFrom,
                       Path checkpoint, int logInterval, boolean force) {
        if (logInterval <= 0) {
            throw new GptException("--log-interval must be positive, got " + logInterval);
        }
        this.gpt = gpt;
        this.text = text;
        this.trainer = new Trainer(gpt, text, options);
        this.checkpoint = checkpoint;
        this.logInterval = logInterval;
        if (resumed != null) {
            gpt.params.loadStateDict(resumed.weights, resumedFrom.toString());
            trainer.optimizer().restore(resumed.weights, resumedFrom);
            trainer.restore(resumed.train);
            saved = resumed.train.iteration();
        } else {
            gpt.params.initialize(Seeds.init(options.seed()));
            saved = -1;
        }
        this.metrics = MetricsLog.open(Metrics.metricsFileFor(checkpoint), resumed != null, force);
    }

    public Trainer trainer() {
        return trainer;
    }

    public Path metricsFile() {
        return metrics.file();
    }

    /** Asks the run to stop after the current step (Ctrl-C); safe from any thread. The run then saves. */
    public void requestStop() {
        trainer.requestStop();
    }

    /** Trains to the options' iteration count or a stop; saves and closes the metrics on the way out. */
    public Outcome run(Reporter reporter) {
        TrainOptions options = trainer.options();
        metrics.start(trainer.iteration(), gpt.backend.device(), gpt.config, options);
        long tokensPerStep = (long) options.batchSize() * gpt.config.blockSize() * options.recipe().gradAccum();
        long t0 = System.nanoTime();
        Trainer.Result r;
        try (CheckpointWriter writer = new CheckpointWriter()) {
            try {
                r = trainer.run(new Trainer.Listener() {
                    int lastLogged = trainer.iteration();
                    double lastLoggedAt, lastEvalSeconds;

                    @Override
                    public void evaluated(int step, float trainLoss, float valLoss) {
                        reporter.evaluated(step, trainLoss, valLoss);
                        metrics.eval(step, trainLoss, valLoss, options.learningRate(step), (System.nanoTime() - t0) / 1e9);
                    }

                    @Override
                    public boolean wantsGradNorm(int iter) {
                        return (iter + 1) % logInterval == 0;
                    }

                    @Override
                    public void iteration(Trainer.StepReport s) {
                        reporter.stepped(s);
                        if (s.iter() % logInterval == 0 || s.iter() == s.total()) {
                            double now = (System.nanoTime() - t0) / 1e9;
                            // evaluations between two log lines are not training: the pace counts steps alone
                            double evalSeconds = trainer.evaluationSeconds();
                            double tokensPerSecond = tokensPerStep * (s.iter() - lastLogged) / Math.max(1e-9,
                                    now - lastLoggedAt - (evalSeconds - lastEvalSeconds));
                            metrics.train(s, tokensPerSecond);
                            lastLogged = s.iter();
                            lastLoggedAt = now;
                            lastEvalSeconds = evalSeconds;
                        }
                    }

                    @Override
                    public void checkpoint(int step) {
                        writer.save(snapshot()); // copied out now, written while training goes on
                        saved = step;
                    }
                });
            } catch (Trainer.Diverged e) {
                metrics.close();
                writer.close();
                throw new GptException(e.getMessage() + "; " + (saved >= 0 ? checkpoint + " keeps the model of iteration "
                        + saved : "nothing was saved"));
            }
            writer.save(snapshot());
        }
        metrics.end(trainer.iteration(), r.seconds(), r.trainSeconds(), r.evalSeconds(), trainer.stopped());
        metrics.close();
        return new Outcome(r, trainer.iteration(), trainer.stopped());
    }

    /** The checkpoint of the run as it stands: weights, the optimizer's state and the run's. */
    private Checkpoint.Snapshot snapshot() {
        return Checkpoint.snapshot(checkpoint, gpt, trainer.optimizer(), text.tokenizer(), trainer.state());
    }
}
