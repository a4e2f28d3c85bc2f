package org.gptjvm.cli;

import com.google.gson.JsonParser;
import org.gptjvm.engine.GptException;
import org.gptjvm.model.io.AtomicFile;
import org.gptjvm.model.train.Checkpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a command may write over. Every check runs before any work, so a run is never lost to a bad
 * target at the end: the target must be a regular file or nothing (see {@link AtomicFile}), and an
 * existing file is replaced only when it is the command's own kind of file and the run means to
 * replace it, or with {@code --force}.
 */
final class Outputs {
    private Outputs() {
    }

    /**
     * The model file of a training run. A fresh run ({@code resumed} null) refuses any existing file:
     * a trained model must be continued with --resume or replaced knowingly; a resumed run may write
     * over the file it resumed.
     */
    static void checkModel(Path out, Path resumed, boolean force) {
        AtomicFile.checkTarget(out);
        if (!Files.exists(out) || force || (resumed != null && same(out, resumed))) {
            return;
        }
        if (Checkpoint.isOurs(out)) {
            throw new GptException(out + " holds a model already: continue it with --resume " + out
                    + ", choose another --out, or pass --force to replace it");
        }
        throw new GptException(out + " exists and is not a gpt checkpoint: choose another --out, or pass --force to "
                + "replace it");
    }

    /** A JSON report ({@code gpt bench --json}): replaces only an earlier report of the same command. */
    static void checkReport(Path json, String ownKey, boolean force) {
        AtomicFile.checkTarget(json);
        if (!Files.exists(json) || force) {
            return;
        }
        boolean ours;
        try {
            ours = JsonParser.parseString(Files.readString(json)).getAsJsonObject().has(ownKey);
        } catch (IOException | RuntimeException e) {
            ours = false;
        }
        if (!ours) {
            throw new GptException(json + " exists and is not a report of this command: choose another file, or pass "
                    + "--force to replace it");
        }
    }

    /**
     * A picture ({@code gpt plot --out}, gpt train's loss curves) in {@code format}, "png" or "svg":
     * replaces only an empty file or a picture gpt drew (its {@link LossPlot#SIGNATURE} in the first
     * 4 KiB), never another picture of the same name.
     */
    static void checkPicture(Path out, String format, boolean force) {
        checkPicture(out, format, force, "choose another --out, or pass --force to replace it");
    }

    /** As {@link #checkPicture(Path, String, boolean)}; {@code remedy} ends the message of a foreign file. */
    static void checkPicture(Path out, String format, boolean force, String remedy) {
        AtomicFile.checkTarget(out);
        if (!Files.exists(out) || force) {
            return;
        }
        byte[] head;
        try (java.io.InputStream in = Files.newInputStream(out)) {
            head = in.readNBytes(4096);
        } catch (IOException e) {
            throw new GptException("cannot read " + out + " to check what it holds: " + e.getMessage());
        }
        String text = new String(head, java.nio.charset.StandardCharsets.ISO_8859_1);
        boolean picture = switch (format) {
            case "png" -> java.util.Arrays.equals(head, 0, Math.min(8, head.length), PNG_SIGNATURE, 0, 8);
            case "svg" -> text.contains("<svg");
            default -> false;
        };
        if (head.length > 0 && !(picture && text.contains(LossPlot.SIGNATURE))) {
            throw new GptException(out + " exists and is not a " + format.toUpperCase(java.util.Locale.ROOT)
                    + " picture of gpt's: " + remedy);
        }
    }

    /**
     * An output ({@code outFlag}) must not be a file the command reads ({@code inFlag}): --force or
     * not, a command never writes over its own input.
     */
    static void checkNotInput(Path out, String outFlag, Path in, String inFlag) {
        if (in != null && Files.exists(out) && Files.exists(in) && same(out, in)) {
            throw new GptException(outFlag + " " + out + " is the file " + inFlag + " reads: choose another " + outFlag
                    + " (a command never writes over its input, --force or not)");
        }
    }

    /** The first 8 bytes of every PNG file. */
    static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    /** Whether two paths name one file (the same path, where they cannot be compared as files). */
    static boolean same(Path a, Path b) {
        try {
            return Files.isSameFile(a, b);
        } catch (IOException e) {
            return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
        }
    }
}
