package org.gptjvm.model.train;

import com.google.gson.JsonObject;
import org.gptjvm.engine.GptException;
import org.gptjvm.model.io.JsonNumbers;
import org.gptjvm.model.data.TextData;

/**
 * What a checkpoint of {@code gpt train} stores about the run besides the weights and AdamW
 * moments, so that {@code --resume} continues it exactly: the iterations done (= AdamW steps), the
 * settings, the states of the batch and dropout generators, and which text it trained on (null for
 * a run that did not read a file, or one saved before the data was recorded), and how many
 * processes trained it (data-parallel: each took {@code options.batchSize()} rows of every batch), and
 * the run's name ({@code run}: made when the run starts, kept by every resume; null in checkpoints
 * saved before runs were named), which its metrics file records too, so that a run never appends to
 * another's. Saved as the {@code train} JSON of the safetensors metadata.
 */
public record TrainState(int iteration, TrainOptions options, long dataRng, long dropoutRng, TextData.Identity data,
                         int processes, String run) {

    public TrainState(int iteration, TrainOptions options, long dataRng, long dropoutRng) {
        this(iteration, options, dataRng, dropoutRng, null, 1, null);
    }

    public TrainState(int iteration, TrainOptions options, long dataRng, long dropoutRng, TextData.Identity data,
                      int processes) {
        this(iteration, options, dataRng, dropoutRng, data, processes, null);
    }

    /** This state as the run named {@code run}'s. */
    public TrainState withRun(String run) {
        return new TrainState(iteration, options, dataRng, dropoutRng, data, processes, run);
    }

    public JsonObject toJson() {
        JsonObject s = new JsonObject();
        s.addProperty("iter", iteration);
        s.add("options", options.toJson());
        s.addProperty("data_rng", Long.toUnsignedString(dataRng));
        s.addProperty("dropout_rng", Long.toUnsignedString(dropoutRng));
        if (processes > 1) { // absent: one process, as every checkpoint before data-parallel runs
            s.addProperty("processes", processes);
        }
        if (run != null) {
            s.addProperty("run", run);
        }
        if (data != null) {
            JsonObject d = new JsonObject();
            d.addProperty("bytes", data.bytes());
            d.addProperty("sha256", data.sha256());
            s.add("data", d);
        }
        return s;
    }

    /** The state in {@code json}; anything missing or malformed is a one-line error naming {@code source}. */
    public static TrainState fromJson(JsonObject json, String source) {
        try {
            TextData.Identity data = null;
            if (json.has("data")) {
                JsonObject d = json.getAsJsonObject("data");
                data = new TextData.Identity(d.get("bytes").getAsLong(), d.get("sha256").getAsString());
            }
            TrainState s = new TrainState(JsonNumbers.wholeInt(json, "iter", 0, Integer.MAX_VALUE),
                    TrainOptions.fromJson(json.getAsJsonObject("options")).validate(),
                    Long.parseUnsignedLong(json.get("data_rng").getAsString()),
                    Long.parseUnsignedLong(json.get("dropout_rng").getAsString()), data,
                    json.has("processes") ? json.get("processes").getAsInt() : 1,
                    json.has("run") ? json.get("run").getAsString() : null);
            if (s.iteration < 0 || s.processes < 1) {
                throw new IllegalArgumentException("negative iteration");
            }
            return s;
        } catch (GptException e) {
            throw new GptException(source + ": bad training state in its metadata: " + e.getMessage());
        } catch (RuntimeException e) {
            throw new GptException(source + ": bad training state in its metadata");
        }
    }
}
