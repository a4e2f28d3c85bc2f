package org.gptjvm.model.data;

import org.gptjvm.engine.GptException;

import java.util.Arrays;

/**
 * The lecture's tokenizer: the vocabulary is the sorted distinct characters of the text
 * ({@code sorted(list(set(text)))}); a token is a character's index in it. Characters are Unicode
 * code points, so text outside the Basic Multilingual Plane works as in Python.
 */
public final class CharTokenizer {
    private final int[] chars; // sorted code points

    private CharTokenizer(int[] sortedDistinct) {
        this.chars = sortedDistinct;
    }

    public static CharTokenizer fromText(String text) {
        return new CharTokenizer(text.codePoints().sorted().distinct().toArray());
    }

    /** The vocabulary as one string, as the fixtures' {@code chars} metadata. */
    public static CharTokenizer fromVocabulary(String vocabulary) {
        int[] cps = vocabulary.codePoints().toArray();
        int[] sorted = Arrays.stream(cps).sorted().distinct().toArray();
        if (!Arrays.equals(cps, sorted)) {
            throw new GptException("vocabulary is not sorted distinct characters");
        }
        return new CharTokenizer(sorted);
    }

    public int vocabSize() {
        return chars.length;
    }

    public String vocabulary() {
        return new String(chars, 0, chars.length);
    }

    /** Token id by code point, -1 for characters outside the vocabulary (up to the largest code point in it). */
    int[] lookupTable() {
        int[] t = new int[chars[chars.length - 1] + 1];
        Arrays.fill(t, -1);
        for (int i = 0; i < chars.length; i++) {
            t[chars[i]] = i;
        }
        return t;
    }

    public int[] encode(String s) {
        return s.codePoints().map(cp -> {
            int i = Arrays.binarySearch(chars, cp);
            if (i < 0) {
                throw new GptException("character " + describe(cp) + " is not in the model's vocabulary");
            }
            return i;
        }).toArray();
    }

    public String decode(int token) {
        return Character.toString(chars[token]);
    }

    public String decode(int[] tokens) {
        StringBuilder sb = new StringBuilder(tokens.length);
        for (int t : tokens) {
            sb.appendCodePoint(chars[t]);
        }
        return sb.toString();
    }

    private static String describe(int cp) {
        String name = Character.getName(cp);
        String shown = Character.isISOControl(cp) || Character.isWhitespace(cp) ? "" : "'" + Character.toString(cp) + "' ";
        return shown + String.format("(U+%04X%s)", cp, name == null ? "" : " " + name);
    }
}
