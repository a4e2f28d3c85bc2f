package org.gptjvm.model.data;

import org.gptjvm.engine.GptException;
import org.gptjvm.model.io.AtomicFile;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;

/**
 * Where the training text comes from: --data, else $GPT_DATA, else data/tinyshakespeare.txt, which
 * can be downloaded from the lecture's char-rnn URL (checked against its sha256, written to a
 * temporary file and renamed, so a broken download never leaves a partial dataset behind).
 */
public final class DataFiles {
    public static final String TINY_SHAKESPEARE_URL =
            "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt";
    public static final String TINY_SHAKESPEARE_SHA256 =
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed";
    public static final Path DEFAULT = Path.of("data", "tinyshakespeare.txt");
    /** Distinct characters in Tiny Shakespeare: the vocabulary of the models trained on it. */
    public static final int TINY_SHAKESPEARE_VOCAB_SIZE = 65;

    private DataFiles() {
    }

    /** The file to read, without downloading: the flag, then the environment, then the default. */
    public static Path choose(Path flag, String env) {
        if (flag != null) {
            return flag;
        }
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        return DEFAULT;
    }

    /**
     * Downloads {@code url} to {@code target}, verifying {@code sha256}, and writes it with
     * {@link AtomicFile}: nothing is saved unless the whole file arrived and matches. Errors are one
     * line and say how to pass a file instead.
     */
    public static void download(String url, String sha256, Path target) {
        AtomicFile.checkTarget(target);
        byte[] body;
        try {
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(20))
                    .followRedirects(HttpClient.Redirect.NORMAL).build();
            HttpRequest req = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(120)).GET().build();
            HttpResponse<byte[]> resp = client.send(req, HttpResponse.BodyHandlers.ofByteArray());
            if (resp.statusCode() != 200) {
                throw new GptException("cannot download " + url + ": HTTP " + resp.statusCode()
                        + "; pass --data FILE with a local copy");
            }
            body = resp.body();
        } catch (IOException | IllegalArgumentException e) {
            String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            throw new GptException("cannot download " + url + " (" + why + "); without internet, pass --data FILE"
                    + " or set GPT_DATA");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GptException("download interrupted");
        }
        String got;
        try {
            got = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        if (!got.equals(sha256)) {
            throw new GptException("downloaded file from " + url + " has sha256 " + got + ", expected " + sha256
                    + "; nothing was saved");
        }
        AtomicFile.write(target, os -> os.write(body));
    }
}
