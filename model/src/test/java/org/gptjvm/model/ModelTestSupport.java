package org.gptjvm.model;

import org.gptjvm.engine.GptException;
import org.junit.jupiter.api.function.Executable;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Helpers shared by the model tests. */
public final class ModelTestSupport {
    private ModelTestSupport() {
    }

    /** A few sentences with 11+ distinct characters, for tiny models that need no dataset. */
    public static final String SHORT_TEXT = "the cat sat on the mat. a bat ate the hat; the rat ran at the cat!\n";

    /** Asserts a one-line GptException (no line breaks, not empty) and returns its message. */
    public static String oneLineError(Executable e) {
        GptException ex = assertThrows(GptException.class, e);
        String m = ex.getMessage();
        assertTrue(m != null && !m.isBlank(), "empty message");
        assertFalse(m.contains("\n") || m.contains("\r"), "message is not one line: " + m);
        return m;
    }

    /** Asserts two state dicts hold the same names, shapes and bit-identical values. */
    public static void assertBitIdentical(Map<String, GptParams.Tensor> a, Map<String, GptParams.Tensor> b) {
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) {
            GptParams.Tensor x = a.get(k), y = b.get(k);
            assertTrue(java.util.Arrays.equals(x.shape(), y.shape()), k + " shape");
            float[] p = x.data(), q = y.data();
            assertEquals(p.length, q.length, k);
            for (int i = 0; i < p.length; i++) {
                if (Float.floatToRawIntBits(p[i]) != Float.floatToRawIntBits(q[i])) {
                    throw new AssertionError(k + "[" + i + "]: " + p[i] + " vs " + q[i]);
                }
            }
        }
    }

    public static boolean bitIdentical(Map<String, GptParams.Tensor> a, Map<String, GptParams.Tensor> b) {
        try {
            assertBitIdentical(a, b);
            return true;
        } catch (AssertionError e) {
            return false;
        }
    }
}
