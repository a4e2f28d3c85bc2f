package org.gptjvm.model.io;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import org.gptjvm.engine.GptException;

import java.math.BigDecimal;

/**
 * Whole numbers read from an untrusted file's JSON exactly: Gson's getAsInt turns 64.7 into 64 and
 * 1e300 into 0 (or a wrapped value), so a count is read as a decimal, and must be whole and in range.
 */
public final class JsonNumbers {
    private JsonNumbers() {
    }

    /**
     * {@code e} as a whole number in [min, max], else a one-line error "{@code what} must be a whole
     * number from min to max, got X" (X as the file wrote it).
     */
    public static long whole(JsonElement e, String what, long min, long max) {
        String shown = e == null ? "nothing" : e.toString();
        if (e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
            try {
                BigDecimal d = new BigDecimal(e.getAsString());
                if (d.signum() == 0 || d.stripTrailingZeros().scale() <= 0) {
                    BigDecimal lo = BigDecimal.valueOf(min), hi = BigDecimal.valueOf(max);
                    if (d.compareTo(lo) >= 0 && d.compareTo(hi) <= 0) {
                        return d.longValueExact();
                    }
                }
            } catch (NumberFormatException | ArithmeticException ignored) {
                // not a number Java reads: the error below
            }
        }
        if (shown.length() > 40) {
            shown = shown.substring(0, 40) + "...";
        }
        throw new GptException(what + " must be a whole number from " + min + " to " + max + ", got " + shown);
    }

    /** {@code o.key} as a whole number in [min, max], named {@code key} in the error. */
    public static int wholeInt(JsonObject o, String key, int min, int max) {
        return (int) whole(o.get(key), key, min, max);
    }
}
