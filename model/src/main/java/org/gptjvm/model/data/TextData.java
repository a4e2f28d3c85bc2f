package org.gptjvm.model.data;

import org.gptjvm.engine.GptException;
import org.gptjvm.model.Rng;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.BitSet;
import java.util.HexFormat;
import java.util.function.IntConsumer;

/**
 * A text as tokens, split as in the lecture: the first int(0.9 * n) tokens train, the rest
 * validate. {@link #batch} is the lecture's get_batch.
 *
 * <p>Tokens are kept in the narrowest array that holds the vocabulary (one byte a character for up
 * to 256 distinct characters, two for up to 65,536), and a file is decoded straight into it, without
 * a String of the whole text: only the tokens are ever held whole.
 */
public final class TextData {
    public enum Split { TRAIN, VAL }

    /** Where a text came from: its size and sha256, stored with a training run to recognise it. */
    public record Identity(long bytes, String sha256) {
    }

    /** The largest file read: its bytes are one Java array. */
    public static final long MAX_BYTES = Integer.MAX_VALUE - 16;

    private final CharTokenizer tokenizer;
    private final Tokens tokens;
    private final int trainLength;
    private final Identity identity;

    private TextData(CharTokenizer tokenizer, Tokens tokens, Identity identity) {
        this.tokenizer = tokenizer;
        this.tokens = tokens;
        this.trainLength = (int) (0.9 * tokens.length());
        this.identity = identity;
    }

    public TextData(CharTokenizer tokenizer, int[] tokens) {
        this(tokenizer, Tokens.of(tokens, tokenizer.vocabSize()), null);
    }

    public static TextData fromText(String text) {
        CharTokenizer tok = CharTokenizer.fromText(text);
        return new TextData(tok, tok.encode(text));
    }

    /** Reads a UTF-8 file; its vocabulary is its sorted distinct characters. */
    public static TextData load(Path file) {
        return load(file, null);
    }

    /**
     * Reads a UTF-8 file with {@code tokenizer}'s vocabulary (null: the file's own). A missing,
     * unreadable, empty, too large or non-UTF-8 file, or a character outside the vocabulary, is a
     * one-line error. The file is streamed twice (count and vocabulary, then tokens), so only the
     * tokens are ever held whole.
     */
    public static TextData load(Path file, CharTokenizer tokenizer) {
        long size = checkFile(file);
        MessageDigest sha = sha256();
        BitSet seen = new BitSet();
        int count = codePoints(file, tokenizer == null ? seen::set : cp -> { }, sha);
        CharTokenizer tok = tokenizer != null ? tokenizer : CharTokenizer.fromVocabulary(
                seen.stream().collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString());
        Tokens tokens = Tokens.allocate(count, tok.vocabSize());
        int[] lookup = tok.lookupTable();
        int[] at = {0};
        codePoints(file, cp -> {
            int id = cp < lookup.length ? lookup[cp] : -1;
            if (id < 0) {
                tok.encode(Character.toString(cp)); // throws the one-line "not in the model's vocabulary"
            }
            tokens.set(at[0]++, id);
        }, null);
        return new TextData(tok, tokens, new Identity(size, HexFormat.of().formatHex(sha.digest())));
    }

    /** The whole file as a String (for small files and tests; training reads with {@link #load}). */
    public static String readText(Path file) {
        checkFile(file);
        StringBuilder sb = new StringBuilder();
        codePoints(file, sb::appendCodePoint, null);
        return sb.toString();
    }

    /** The size of a readable, non-empty file of at most {@link #MAX_BYTES}, else a one-line error. */
    private static long checkFile(Path file) {
        if (!Files.exists(file)) {
            throw new GptException("data file " + file + (Files.isSymbolicLink(file)
                    ? " is a symbolic link that leads nowhere (a loop, or a missing target)" : " does not exist"));
        }
        if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
            throw new GptException("data file " + file + " is not a readable file");
        }
        long size;
        try {
            size = Files.size(file);
        } catch (IOException e) {
            throw new GptException("cannot read data file " + file + ": " + e.getMessage());
        }
        if (size > MAX_BYTES) {
            throw new GptException(String.format("data file %s is %.1f GiB; gpt reads texts of up to 2 GiB",
                    file, size / (double) (1L << 30)));
        }
        if (size == 0) {
            throw new GptException("data file " + file + " is empty");
        }
        return size;
    }

    /**
     * Streams the file through a strict UTF-8 decoder, handing each code point to {@code sink} and
     * the raw bytes to {@code digest} (when not null); returns how many code points there were.
     */
    private static int codePoints(Path file, IntConsumer sink, MessageDigest digest) {
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.allocate(1 << 20);
        CharBuffer out = CharBuffer.allocate(1 << 20);
        long[] count = {0};
        char[] high = {0};
        Runnable drain = () -> {
            out.flip();
            while (out.hasRemaining()) {
                char c = out.get();
                if (high[0] != 0) {
                    sink.accept(Character.toCodePoint(high[0], c));
                    high[0] = 0;
                    count[0]++;
                } else if (Character.isHighSurrogate(c)) {
                    high[0] = c; // a valid decoder always follows it with its low surrogate
                } else {
                    sink.accept(c);
                    count[0]++;
                }
            }
            out.clear();
        };
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            boolean eof = false;
            while (!eof) {
                int n = ch.read(in);
                eof = n < 0;
                in.flip();
                if (digest != null && n > 0) {
                    digest.update(in.duplicate().position(in.limit() - n));
                }
                CoderResult r;
                do {
                    r = dec.decode(in, out, eof);
                    if (r.isError()) {
                        r.throwException();
                    }
                    drain.run();
                } while (r.isOverflow());
                in.compact();
            }
            CoderResult r;
            do {
                r = dec.flush(out);
                drain.run();
            } while (r.isOverflow());
        } catch (CharacterCodingException e) {
            throw new GptException("data file " + file + " is not UTF-8 text");
        } catch (IOException e) {
            throw new GptException("cannot read data file " + file + ": " + e.getMessage());
        }
        if (count[0] > Integer.MAX_VALUE - 16) {
            throw new GptException("data file " + file + " has more characters than gpt can hold (2^31)");
        }
        return (int) count[0];
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public CharTokenizer tokenizer() {
        return tokenizer;
    }

    /** The file's size and sha256; null for a text that did not come from a file. */
    public Identity identity() {
        return identity;
    }

    /** The tokens of a split, as a new array. */
    public int[] tokens(Split split) {
        int from = split == Split.TRAIN ? 0 : trainLength;
        int[] a = new int[length(split)];
        tokens.copy(from, a, 0, a.length);
        return a;
    }

    private int length(Split split) {
        return split == Split.TRAIN ? trainLength : tokens.length() - trainLength;
    }

    /**
     * Both splits must hold at least block_size + 1 tokens to draw a batch from; {@code remedy} ends
     * the message (what the command can change).
     */
    public void checkBlockSize(int blockSize, String remedy) {
        for (Split s : Split.values()) {
            int n = length(s);
            if (n < blockSize + 1) {
                throw new GptException(String.format("the %s split has %d characters, fewer than block_size + 1 = %d: %s",
                        s.name().toLowerCase(), n, blockSize + 1, remedy));
            }
        }
    }

    public void checkBlockSize(int blockSize) {
        checkBlockSize(blockSize, "use more text or a smaller --block-size");
    }

    /**
     * get_batch: B random offsets in [0, len - T) from {@code rng}; x is the T tokens at each
     * offset, y the same shifted by one. Fills {@code x} and {@code y} (B*T each).
     */
    public void batch(Split split, Rng rng, int B, int T, int[] x, int[] y) {
        batch(split, rng, B, T, x, y, 0);
    }

    /** As {@link #batch(Split, Rng, int, int, int[], int[])}, into x and y from element {@code at}. */
    public void batch(Split split, Rng rng, int B, int T, int[] x, int[] y, int at) {
        int base = split == Split.TRAIN ? 0 : trainLength;
        int n = length(split);
        for (int b = 0; b < B; b++) {
            int off = base + rng.nextInt(n - T);
            tokens.copy(off, x, at + b * T, T);
            tokens.copy(off + 1, y, at + b * T, T);
        }
    }

    /** Token ids in the narrowest array that holds the vocabulary. */
    private interface Tokens {
        int length();

        void set(int i, int token);

        void copy(int from, int[] dst, int at, int n);

        static Tokens allocate(int n, int vocab) {
            if (vocab <= 256) {
                byte[] a = new byte[n];
                return new Tokens() {
                    public int length() {
                        return a.length;
                    }

                    public void set(int i, int token) {
                        a[i] = (byte) token;
                    }

                    public void copy(int from, int[] dst, int at, int len) {
                        for (int k = 0; k < len; k++) {
                            dst[at + k] = a[from + k] & 0xff;
                        }
                    }
                };
            }
            if (vocab <= 65536) {
                char[] a = new char[n];
                return new Tokens() {
                    public int length() {
                        return a.length;
                    }

                    public void set(int i, int token) {
                        a[i] = (char) token;
                    }

                    public void copy(int from, int[] dst, int at, int len) {
                        for (int k = 0; k < len; k++) {
                            dst[at + k] = a[from + k];
                        }
                    }
                };
            }
            int[] a = new int[n];
            return new Tokens() {
                public int length() {
                    return a.length;
                }

                public void set(int i, int token) {
                    a[i] = token;
                }

                public void copy(int from, int[] dst, int at, int len) {
                    System.arraycopy(a, from, dst, at, len);
                }
            };
        }

        static Tokens of(int[] ids, int vocab) {
            Tokens t = allocate(ids.length, Math.max(vocab, maxPlusOne(ids)));
            for (int i = 0; i < ids.length; i++) {
                t.set(i, ids[i]);
            }
            return t;
        }

        private static int maxPlusOne(int[] ids) {
            int m = 0;
            for (int v : ids) {
                m = Math.max(m, v + 1);
            }
            return m;
        }
    }
}
