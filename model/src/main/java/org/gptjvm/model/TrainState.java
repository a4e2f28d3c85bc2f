package org.gptjvm.model;

import com.google.gson.JsonObject;
import org.gptjvm.engine.GptException;

/**
 * What a checkpoint of {@code gpt train} stores about the run besides the weights and AdamW
 * moments, so that {@code --resume} continues it exactly: the iterations done (= AdamW steps), the
 * settings, and the states of the batch and dropout generators. Saved as the {@code train} JSON of
 * the safetensors metadata.
 */
public record TrainState(int iteration, TrainOptions options, long dataRng, long dropoutRng) {

    public JsonObject toJson() {
        JsonObject s = new JsonObject();
        s.addProperty("iter", iteration);
        s.add("options", options.toJson());
        s.addProperty("data_rng", Long.toUnsignedString(dataRng));
        s.addProperty("dropout_rng", Long.toUnsignedString(dropoutRng));
        return s;
    }

    /** The state in {@code json}; anything missing or malformed is a one-line error naming {@code source}. */
    public static TrainState fromJson(JsonObject json, String source) {
        try {
            TrainState s = new TrainState(json.get("iter").getAsInt(), TrainOptions.fromJson(json.getAsJsonObject("options")).validate(),
                    Long.parseUnsignedLong(json.get("data_rng").getAsString()),
                    Long.parseUnsignedLong(json.get("dropout_rng").getAsString()));
            if (s.iteration < 0) {
                throw new IllegalArgumentException("negative iteration");
            }
            return s;
        } catch (RuntimeException e) {
            throw new GptException(source + ": bad training state in its metadata");
        }
    }
}
