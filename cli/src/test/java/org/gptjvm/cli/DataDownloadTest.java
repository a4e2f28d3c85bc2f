package org.gptjvm.cli;

import com.sun.net.httpserver.HttpServer;
import org.gptjvm.engine.GptException;
import org.gptjvm.model.data.DataFiles;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Getting the data: DataFiles.download against a local HTTP server (the shared Tiny Shakespeare bytes,
 * a 404, a closed port), and train's default-path lookup and --download run in a child JVM whose
 * working directory is a temp dir (the URL and sha256 come from -Dgpt.data.url / -Dgpt.data.sha256).
 */
class DataDownloadTest {

    static HttpServer server;
    static byte[] body;
    static String sha;
    static String base;

    @TempDir
    Path tmp;

    @BeforeAll
    static void startServer() throws Exception {
        Path shared = SharedData.dir().resolve("data/tinyshakespeare.txt");
        body = Files.exists(shared) ? Files.readAllBytes(shared)
                : "First Citizen:\nBefore we proceed any further, hear me speak.\n".repeat(200).getBytes();
        sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/input.txt", ex -> {
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(body);
            }
        });
        server.createContext("/missing", ex -> {
            ex.sendResponseHeaders(404, -1);
            ex.close();
        });
        server.start();
        base = "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.stop(0);
        }
    }

    private static List<Path> partFiles(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".part") || p.getFileName().toString().endsWith(".tmp")).toList();
        }
    }

    private static void assertOneLine(GptException e) {
        assertFalse(e.getMessage().contains("\n") || e.getMessage().contains("\r"), e.getMessage());
    }

    @Test
    void sharedDataMatchesThePublishedChecksum() {
        assumeTrue(SharedData.has("data/tinyshakespeare.txt"));
        assertEquals(DataFiles.TINY_SHAKESPEARE_SHA256, sha);
    }

    @Test
    void downloadWritesTheFileAndNoTemporaryFiles() throws IOException {
        Path target = tmp.resolve("data").resolve("tinyshakespeare.txt"); // data/ does not exist yet
        DataFiles.download(base + "/input.txt", sha, target);
        assertArrayEquals(body, Files.readAllBytes(target));
        assertEquals(List.of(), partFiles(tmp));
        try (Stream<Path> s = Files.list(target.getParent())) {
            assertEquals(List.of(target), s.toList());
        }
    }

    @Test
    void downloadReplacesAnExistingFile() throws IOException {
        Path target = Files.writeString(tmp.resolve("t.txt"), "old");
        DataFiles.download(base + "/input.txt", sha, target);
        assertArrayEquals(body, Files.readAllBytes(target));
        assertEquals(List.of(), partFiles(tmp));
    }

    @Test
    void wrongChecksumSavesNothing() throws IOException {
        Path target = tmp.resolve("t.txt");
        GptException e = assertThrows(GptException.class,
                () -> DataFiles.download(base + "/input.txt", "0".repeat(64), target));
        assertOneLine(e);
        assertTrue(e.getMessage().contains("sha256"), e.getMessage());
        assertFalse(Files.exists(target));
        assertEquals(List.of(), partFiles(tmp));
    }

    @Test
    void http404() throws IOException {
        Path target = tmp.resolve("t.txt");
        GptException e = assertThrows(GptException.class, () -> DataFiles.download(base + "/missing", sha, target));
        assertOneLine(e);
        assertTrue(e.getMessage().contains("404"), e.getMessage());
        assertTrue(e.getMessage().contains("--data"), e.getMessage());
        assertFalse(Files.exists(target));
        assertEquals(List.of(), partFiles(tmp));
    }

    @Test
    void closedPort() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Path target = tmp.resolve("t.txt");
        GptException e = assertThrows(GptException.class,
                () -> DataFiles.download("http://127.0.0.1:" + port + "/input.txt", sha, target));
        assertOneLine(e);
        assertTrue(e.getMessage().contains("--data"), e.getMessage());
        assertFalse(Files.exists(target));
        assertEquals(List.of(), partFiles(tmp));
    }

    @Test
    void malformedUrl() {
        GptException e = assertThrows(GptException.class,
                () -> DataFiles.download("not a url", sha, tmp.resolve("t.txt")));
        assertOneLine(e);
        assertTrue(e.getMessage().contains("--data"), e.getMessage());
    }

    // ---- the CLI: data/tinyshakespeare.txt relative to the working directory ----

    private static String[] tinyTrain(String... more) {
        return Cli.args(List.of("train", "--n-embd", "16", "--n-head", "2", "--n-layer", "1", "--block-size", "8",
                "--batch-size", "2", "--iters", "0", "--eval-iters", "1", "--sample-tokens", "0",
                "--out", "m.safetensors", "--threads", "1"), more);
    }

    @Test
    void noDataFoundSaysHowToGetSome() {
        Cli.Result r = new Cli.Fork().cwd(tmp).unsetEnv("GPT_DATA").unsetEnv("GPT_DATA_URL")
                .run(tinyTrain()).assertFailure();
        String line = r.errLines().get(0);
        assertTrue(line.contains("--data"), r::describe);
        assertTrue(line.contains("--download"), r::describe);
        assertTrue(line.contains("tinyshakespeare.txt"), r::describe);
        assertFalse(Files.exists(tmp.resolve("data")), "created data/ without downloading");
    }

    @Test
    void noDataFoundInProcess() {
        // only where this JVM's working directory has no data/tinyshakespeare.txt and GPT_DATA is unset
        assumeTrue(System.getenv("GPT_DATA") == null, "GPT_DATA is set");
        assumeFalse(Files.exists(DataFiles.DEFAULT), DataFiles.DEFAULT + " exists in the working directory");
        Cli.Result r = Cli.run("train", "--out", tmp.resolve("m.safetensors").toString(), "--threads", "1")
                .assertError(1);
        assertTrue(r.err().contains("--data") && r.err().contains("--download"), r::describe);
    }

    @Test
    void downloadThroughTheCli() throws IOException {
        Cli.Result r = new Cli.Fork().cwd(tmp).unsetEnv("GPT_DATA").unsetEnv("GPT_DATA_URL")
                .property("gpt.data.url", base + "/input.txt").property("gpt.data.sha256", sha)
                .run(tinyTrain("--download")).assertOk();
        assertTrue(r.out().contains("downloading"), r::describe);
        assertTrue(r.out().contains("step 0: train loss"), r::describe);
        assertArrayEquals(body, Files.readAllBytes(tmp.resolve("data/tinyshakespeare.txt")));
        assertTrue(Files.isRegularFile(tmp.resolve("m.safetensors")), r::describe);
        assertEquals(List.of(), partFiles(tmp));

        // the second time the file is there: no download (--force: the first run's model is replaced)
        Cli.Result again = new Cli.Fork().cwd(tmp).unsetEnv("GPT_DATA")
                .property("gpt.data.url", base + "/missing").run(tinyTrain("--download", "--force")).assertOk();
        assertFalse(again.out().contains("downloading"), again::describe);
    }

    @Test
    void downloadThroughTheCliWithWrongChecksum() throws IOException {
        Cli.Result r = new Cli.Fork().cwd(tmp).unsetEnv("GPT_DATA").unsetEnv("GPT_DATA_URL")
                .property("gpt.data.url", base + "/input.txt").property("gpt.data.sha256", "0".repeat(64))
                .run(tinyTrain("--download")).assertError(1);
        assertTrue(r.err().contains("sha256"), r::describe);
        assertFalse(Files.exists(tmp.resolve("data/tinyshakespeare.txt")));
        assertFalse(Files.exists(tmp.resolve("m.safetensors")));
        assertEquals(List.of(), partFiles(tmp));
    }

    @Test
    void downloadThroughTheCliFrom404() throws IOException {
        Cli.Result r = new Cli.Fork().cwd(tmp).unsetEnv("GPT_DATA").unsetEnv("GPT_DATA_URL")
                .property("gpt.data.url", base + "/missing").run(tinyTrain("--download")).assertError(1);
        assertTrue(r.err().contains("--data"), r::describe);
        assertEquals(List.of(), partFiles(tmp));
    }
}
