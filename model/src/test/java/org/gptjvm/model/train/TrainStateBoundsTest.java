package org.gptjvm.model.train;

import com.google.gson.JsonObject;
import org.junit.jupiter.api.Test;

import static org.gptjvm.model.ModelTestSupport.oneLineError;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A resumed run's saved settings meet the bounds the flags meet: a checkpoint that saved a
 * gradient accumulation or evaluation that would never end, or a count that is not a whole number,
 * is refused naming the file and the key.
 */
class TrainStateBoundsTest {

    private static String refusal(String key, String value) {
        JsonObject s = new TrainState(3, new TrainOptions(16, 1e-3, 10, 5, 2, 1), 1, 2).toJson();
        s.getAsJsonObject("options").addProperty(key, new com.google.gson.internal.LazilyParsedNumber(value));
        return oneLineError(() -> TrainState.fromJson(s, "run.safetensors"));
    }

    @Test
    void savedGradAccumAndEvalItersAreBounded() {
        assertEquals("run.safetensors: bad training state in its metadata: gradient_accumulation_steps must be a whole "
                + "number from 1 to 1000000, got 2147483647", refusal("gradient_accumulation_steps", "2147483647"));
        assertEquals("run.safetensors: bad training state in its metadata: eval_iters must be a whole number from 1 to "
                + "1000000, got 2147483647", refusal("eval_iters", "2147483647"));
    }

    @Test
    void savedCountsMustBeWholeNumbers() {
        assertEquals("run.safetensors: bad training state in its metadata: batch_size must be a whole number from 1 to "
                + "2147483647, got 16.5", refusal("batch_size", "16.5"));
        assertEquals("run.safetensors: bad training state in its metadata: max_iters must be a whole number from 0 to "
                + "2147483647, got 1e300", refusal("max_iters", "1e300"));
    }
}
