package org.gptjvm.model.train;

import org.gptjvm.engine.GptException;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.data.TextData;
import org.gptjvm.model.dist.Collective;

import java.nio.file.Path;

/**
 * One run of {@code gpt train}, from a fresh model or a checkpoint to the last save: the training
 * loop ({@link Trainer}) and what happens around it. At every evaluation the run prints (through its
 * {@link Reporter}), logs the losses and saves a checkpoint, written on another thread while
 * training goes on; every {@code logInterval} iterations it logs the training loss, the gradients'
 * norm and tokens/s over training time alone; at the end it saves again and closes its metrics. A
 * loss that stops being finite ends it with an error naming the last good checkpoint. The command
 * line only shows what it reports. In a data-parallel job every process trains and process 0 alone
 * writes the checkpoint and the metrics (the others hold the same weights).
 */
public final class TrainingRun {

    /** What the run tells whoever shows it; every call comes from the training thread. */
    public interface Reporter {
        /** An evaluation begins at iteration {@code step} (it may take a while). */
        default void evaluating(int step) {
        }

        /** Of the evaluation under way, {@code done} batches of {@code total} are through. */
        default void evaluationProgress(int done, int total) {
        }

        /** Something went wrong that does not end the run (a checkpoint or metrics write failed): tell the user now. */
        default void warn(String message) {
        }

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
    /** The run's metrics file; null in a process that does not write (not process 0 of a job). */
    private final MetricsLog metrics;
    private final Collective world;
    private final int logInterval;
    private final String run;
    /** The iteration the checkpoint file holds from before this run (a resume of the same file), else -1. */
    private final int before;
    private CheckpointWriter writer;

    /**
     * A run of {@code options} on {@code gpt} (its parameters initialised from the run's seed, or
     * {@code resumed}'s weights, optimizer state and position), saving to {@code checkpoint} and
     * logging beside it (appending on a resume; {@code force}: replacing an unrelated metrics file).
     */
    public TrainingRun(Gpt gpt, TextData text, TrainOptions options, Checkpoint resumed, Path resumedFrom,
                       Path checkpoint, int logInterval, boolean force) {
        this(gpt, text, options, resumed, resumedFrom, checkpoint, logInterval, force, Collective.single());
    }

    /**
     * As above, as one of {@code world}'s processes: a resumed run must have been trained by as many
     * (each process's batch rows are part of the run's state), and only process 0 writes.
     */
    public TrainingRun(Gpt gpt, TextData text, TrainOptions options, Checkpoint resumed, Path resumedFrom,
                       Path checkpoint, int logInterval, boolean force, Collective world) {
        if (logInterval <= 0) {
            throw new GptException("--log-interval must be positive, got " + logInterval);
        }
        this.gpt = gpt;
        this.text = text;
        this.world = world;
        if (resumed != null && resumed.train.processes() != world.size()) {
            int was = resumed.train.processes();
            throw new GptException(resumedFrom + " was trained by " + was + (was == 1 ? " process" : " processes")
                    + " of " + options.batchSize() + " rows each, and this is " + world.size() + ": resume it with "
                    + (was == 1 ? "one process" : Collective.launchCommand(was)) + " (the combined batch is part of the run)");
        }
        this.trainer = new Trainer(gpt, text, options, world);
        this.checkpoint = checkpoint;
        this.logInterval = logInterval;
        if (resumed != null) {
            gpt.params.loadStateDict(resumed.weights, resumedFrom.toString());
            trainer.optimizer().restore(resumed.weights, resumedFrom);
            trainer.restore(resumed.train);
            before = MetricsLog.sameFile(resumedFrom, checkpoint) ? resumed.train.iteration() : -1;
        } else {
            gpt.params.initialize(Seeds.init(options.seed()));
            before = -1;
        }
        // the run's name, kept by its resumes (checkpoints from before runs were named get one now)
        this.run = resumed != null && resumed.train.run() != null ? resumed.train.run()
                : nameOf(gpt.config, options, text.identity(), world.size());
        this.metrics = world.leader()
                ? MetricsLog.open(Metrics.metricsFileFor(checkpoint), run, resumed != null ? resumedFrom : null, force) : null;
    }

    /**
     * A run's name, from what decides its course: the model, the seed and the settings a resume must
     * keep (not the iteration count nor the evaluations, which a resume may change), the text and the
     * process count. Two runs of the same name take the same steps (training is deterministic), and
     * checkpoints stay the same bytes run after run.
     */
    static String nameOf(org.gptjvm.model.GptConfig config, TrainOptions options, TextData.Identity data, int processes) {
        com.google.gson.JsonObject o = options.toJson();
        o.remove("max_iters");
        o.remove("eval_interval");
        o.remove("eval_iters");
        o.add("model", config.toJson());
        o.addProperty("data", data != null ? data.sha256() + ":" + data.bytes() : "");
        o.addProperty("processes", processes);
        try {
            byte[] h = java.security.MessageDigest.getInstance("SHA-256")
                    .digest(o.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return "run-" + java.util.HexFormat.of().formatHex(h, 0, 6);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The run's name (its checkpoints and metrics record it). */
    public String name() {
        return run;
    }

    /** What the user should be told about the metrics file (another run's replaced, a record copied); null: nothing. */
    public String metricsNote() {
        return metrics != null ? metrics.note() : null;
    }

    public Trainer trainer() {
        return trainer;
    }

    public Path metricsFile() {
        return Metrics.metricsFileFor(checkpoint);
    }

    /** Asks the run to stop after the current step (Ctrl-C); safe from any thread. The run then saves. */
    public void requestStop() {
        trainer.requestStop();
    }

    /** Trains to the options' iteration count or a stop; saves and closes the metrics on the way out. */
    public Outcome run(Reporter reporter) {
        TrainOptions options = trainer.options();
        if (metrics != null) {
            metrics.start(trainer.iteration(), gpt.backend.device(), gpt.config, options, world.size());
        }
        long tokensPerStep = (long) options.batchSize() * gpt.config.blockSize() * options.recipe().gradAccum()
                * world.size();
        long t0 = System.nanoTime();
        Trainer.Result r;
        writer = new CheckpointWriter();
        try {
            r = trainer.run(new Trainer.Listener() {
                int lastLogged = trainer.iteration();
                double lastLoggedAt, lastEvalSeconds, lastAllReduceSeconds;

                @Override
                public void evaluating(int step) {
                    reporter.evaluating(step);
                }

                @Override
                public void evaluationProgress(int done, int total) {
                    reporter.evaluationProgress(done, total);
                }

                @Override
                public void evaluated(int step, float trainLoss, float valLoss) {
                    reporter.evaluated(step, trainLoss, valLoss);
                    if (metrics != null) {
                        metrics.eval(step, trainLoss, valLoss, options.learningRate(step), (System.nanoTime() - t0) / 1e9);
                    }
                }

                @Override
                public boolean wantsGradNorm(int iter) {
                    return (iter + 1) % logInterval == 0;
                }

                @Override
                public void iteration(Trainer.StepReport s) {
                    reportFailures(reporter, writer.poll());
                    reporter.stepped(s);
                    if (s.iter() % logInterval == 0 || s.iter() == s.total()) {
                        double now = (System.nanoTime() - t0) / 1e9;
                        // evaluations between two log lines are not training: the pace counts steps alone
                        double evalSeconds = trainer.evaluationSeconds();
                        double tokensPerSecond = tokensPerStep * (s.iter() - lastLogged) / Math.max(1e-9,
                                now - lastLoggedAt - (evalSeconds - lastEvalSeconds));
                        // the gradients' all-reduce per step since the last line (data-parallel)
                        double reduce = world.floatSumSeconds();
                        double allReduceMs = world.size() > 1
                                ? 1000 * (reduce - lastAllReduceSeconds) / Math.max(1, s.iter() - lastLogged) : Double.NaN;
                        lastAllReduceSeconds = reduce;
                        if (metrics != null) {
                            metrics.train(s, tokensPerSecond, allReduceMs);
                        }
                        lastLogged = s.iter();
                        lastLoggedAt = now;
                        lastEvalSeconds = evalSeconds;
                    }
                }

                @Override
                public void checkpoint(int step) {
                    if (world.leader()) {
                        String failed = null;
                        try {
                            writer.flush(); // the previous write: a failure not polled yet is told now
                        } catch (GptException e) {
                            failed = e.getMessage();
                        }
                        reportFailures(reporter, failed);
                        writer.save(snapshot(), step); // copied out now, written while training goes on
                    }
                }
            });
        } catch (Trainer.Diverged e) {
            closeQuietly();
            throw new GptException(e.getMessage() + "; " + holds());
        } catch (RuntimeException e) {
            closeQuietly();
            throw e;
        }
        if (world.leader()) {
            try {
                writer.flush();
            } catch (GptException e) {
                reportFailures(reporter, e.getMessage()); // an earlier save: the last one below may still succeed
            }
            try {
                writer.save(snapshot(), trainer.iteration());
                writer.close();
            } catch (GptException e) {
                closeQuietly();
                throw new GptException(e.getMessage() + "; " + holds());
            }
        } else {
            writer.close();
        }
        if (metrics != null) {
            metrics.end(trainer.iteration(), r.seconds(), r.trainSeconds(), r.evalSeconds(), cutShort());
            metrics.close();
            reportFailures(reporter, null);
        }
        return new Outcome(r, trainer.iteration(), cutShort());
    }

    /** Whether a stop ended the run before its last iteration (a stop asked during the last save ends nothing). */
    private boolean cutShort() {
        return trainer.stopped() && trainer.iteration() < trainer.options().iters();
    }

    /** Whether a stop was asked for (Ctrl-C), even one that came when the run was done. */
    public boolean stopAsked() {
        return trainer.stopped();
    }

    /** Tells the reporter of a failed checkpoint write ({@code checkpointFailure}) and of a failed metrics write. */
    private void reportFailures(Reporter reporter, String checkpointFailure) {
        if (checkpointFailure != null) {
            reporter.warn(checkpointFailure + "; training goes on, and " + holds() + " until a save succeeds");
        }
        String m = metrics != null ? metrics.pollFailure() : null;
        if (m != null) {
            reporter.warn(m);
        }
    }

    /** What the checkpoint file holds now, in words: "out/gpt.safetensors holds iteration 500". */
    public String holds() {
        int w = writer != null ? writer.written() : -1;
        if (w >= 0) {
            return checkpoint + " holds iteration " + w;
        }
        if (before >= 0) {
            return checkpoint + " still holds iteration " + before + ", where this run resumed";
        }
        return java.nio.file.Files.exists(checkpoint) ? checkpoint + " still holds what it held before this run"
                : checkpoint + " was not written";
    }

    private void closeQuietly() {
        if (metrics != null) {
            metrics.close();
        }
        try {
            writer.close();
        } catch (GptException ignored) {
            // the error being thrown says what the file holds
        }
    }


    /** The checkpoint of the run as it stands: weights, the optimizer's state and the run's. */
    private Checkpoint.Snapshot snapshot() {
        return Checkpoint.snapshot(checkpoint, gpt, trainer.optimizer(), text.tokenizer(), trainer.state().withRun(run));
    }
}
