package org.gptjvm.model;

import org.gptjvm.engine.GptException;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.ByteBuffer;

/**
 * A text file as tokens, split as in the lecture: the first int(0.9 * n) tokens train, the rest
 * validate. {@link #batch} is the lecture's get_batch.
 */
public final class TextData {
    public enum Split { TRAIN, VAL }

    private final CharTokenizer tokenizer;
    private final int[] train;
    private final int[] val;

    public TextData(CharTokenizer tokenizer, int[] tokens) {
        this.tokenizer = tokenizer;
        int n = (int) (0.9 * tokens.length);
        this.train = java.util.Arrays.copyOfRange(tokens, 0, n);
        this.val = java.util.Arrays.copyOfRange(tokens, n, tokens.length);
    }

    public static TextData fromText(String text) {
        CharTokenizer tok = CharTokenizer.fromText(text);
        return new TextData(tok, tok.encode(text));
    }

    /** Reads a UTF-8 file; a missing, unreadable, empty or non-UTF-8 file is a one-line error. */
    public static TextData load(Path file) {
        return fromText(readText(file));
    }

    public static String readText(Path file) {
        if (!Files.exists(file)) {
            throw new GptException("data file " + file + " does not exist");
        }
        if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
            throw new GptException("data file " + file + " is not a readable file");
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new GptException("cannot read data file " + file + ": " + e.getMessage());
        }
        if (bytes.length == 0) {
            throw new GptException("data file " + file + " is empty");
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new GptException("data file " + file + " is not UTF-8 text");
        }
    }

    public CharTokenizer tokenizer() {
        return tokenizer;
    }

    public int[] tokens(Split split) {
        return split == Split.TRAIN ? train : val;
    }

    /** Both splits must hold at least block_size + 1 tokens to draw a batch from. */
    public void checkBlockSize(int blockSize) {
        for (Split s : Split.values()) {
            int n = tokens(s).length;
            if (n < blockSize + 1) {
                throw new GptException(String.format(
                        "the %s split has %d characters, fewer than block_size + 1 = %d: use more text or a smaller --block-size",
                        s.name().toLowerCase(), n, blockSize + 1));
            }
        }
    }

    /**
     * get_batch: B random offsets in [0, len - T) from {@code rng}; x is the T tokens at each
     * offset, y the same shifted by one. Fills {@code x} and {@code y} (B*T each).
     */
    public void batch(Split split, Rng rng, int B, int T, int[] x, int[] y) {
        int[] data = tokens(split);
        for (int b = 0; b < B; b++) {
            int off = rng.nextInt(data.length - T);
            System.arraycopy(data, off, x, b * T, T);
            System.arraycopy(data, off + 1, y, b * T, T);
        }
    }
}
