package org.gptjvm.cli;

import com.google.gson.JsonParser;
import org.gptjvm.engine.GptException;
import org.gptjvm.model.AtomicFile;
import org.gptjvm.model.Checkpoint;

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

    private static boolean same(Path a, Path b) {
        try {
            return Files.isSameFile(a, b);
        } catch (IOException e) {
            return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
        }
    }
}
