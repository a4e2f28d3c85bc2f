package org.gptjvm.model.train;

import org.gptjvm.engine.GptException;
import org.gptjvm.model.io.AtomicFile;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * One writer per run: an advisory lock that a training run holds from before any work until it
 * ends, on the name its checkpoint, metrics and loss picture share ({@code out/gpt.safetensors},
 * {@code out/gpt.metrics.jsonl} and {@code out/gpt.loss.png} all lock {@code out/.gpt.gpt-lock}).
 * A second run on the same files is refused with a line naming the first; readers ({@code gpt
 * sample}, {@code eval}, {@code plot}) take no lock and read what the run last wrote, whole, as its
 * writes are atomic. The lock is the operating system's (fcntl), so it dies with its process: a
 * run killed with SIGKILL leaves no lock behind, only the small lock file, which the next run takes.
 * A run that ends removes the file while still holding the lock; a run that opened it meanwhile finds
 * the file it locked gone and opens the new one.
 */
public final class RunLock implements AutoCloseable {
    /** The lock file's suffix: {@code .BASE.gpt-lock} beside the checkpoint. */
    static final String SUFFIX = ".gpt-lock";
    /** Characters of a long base name kept in the lock file's name (the rest becomes a hash). */
    private static final int NAME_KEPT = 120;

    /**
     * The lock files this JVM holds. Closing any channel of a file drops every fcntl lock the process
     * holds on it, so a file held here is never opened a second time.
     */
    private static final java.util.Set<Path> HELD = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;
    /** The identity of the file locked, to remove it (and only it) at the end. */
    private final Object key;

    private RunLock(Path file, FileChannel channel, FileLock lock, Object key) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
        this.key = key;
    }

    /** The lock file of the run that writes {@code checkpoint} (and its metrics and picture). */
    public static Path fileFor(Path checkpoint) {
        String name = checkpoint.getFileName().toString();
        String base = name.endsWith(Metrics.MODEL_SUFFIX) && name.length() > Metrics.MODEL_SUFFIX.length()
                ? name.substring(0, name.length() - Metrics.MODEL_SUFFIX.length()) : name;
        if (base.length() > NAME_KEPT) {
            base = base.substring(0, NAME_KEPT) + "-" + Integer.toHexString(base.hashCode());
        }
        return checkpoint.toAbsolutePath().resolveSibling("." + base + SUFFIX);
    }

    /**
     * Takes the lock of the run writing {@code checkpoint}, or fails with one line naming the process
     * that holds it. {@code command}: what this process does, for the line another run prints.
     */
    public static RunLock acquire(Path checkpoint, String command) {
        AtomicFile.checkTarget(checkpoint); // the folder exists and takes new files
        Path file = fileFor(checkpoint).normalize();
        if (!HELD.add(file)) {
            throw new GptException(checkpoint + " is being written by another run of this process: wait for it to end, "
                    + "or choose another --out");
        }
        try {
            return lock(checkpoint, file, command);
        } catch (RuntimeException e) {
            HELD.remove(file);
            throw e;
        }
    }

    /**
     * Locks the file at {@code file}, again when the file it locked is no longer there: a run that ends
     * removes its lock file while it still holds the lock, so a run that opened it just before must
     * open the new one.
     */
    private static RunLock lock(Path checkpoint, Path file, String command) {
        for (int attempt = 0; attempt < 20; attempt++) {
            RunLock l = lockOnce(checkpoint, file, command);
            if (l != null) {
                return l;
            }
        }
        throw new GptException("cannot lock " + checkpoint + " for this run: its lock file " + file + " keeps being replaced");
    }

    /** The file's identity (device and inode), not following links; null when it is gone. */
    private static Object key(Path file) {
        try {
            return Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                    .fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /** The lock, or null when the file it locked was removed or replaced meanwhile (try again). */
    private static RunLock lockOnce(Path checkpoint, Path file, String command) {
        FileChannel ch;
        Object key;
        try {
            // never through a link: a planted symbolic or hard link would have the run write over its target
            ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE,
                    LinkOption.NOFOLLOW_LINKS);
            if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS) || links(file) != 1) {
                ch.close();
                throw new GptException("refusing to lock " + checkpoint + " through " + file + ": it is not a plain file "
                        + "of its own (a link, or another file's second name); remove it");
            }
            key = key(file);
        } catch (java.nio.file.FileSystemException e) {
            if (Files.isSymbolicLink(file)) {
                throw new GptException("refusing to lock " + checkpoint + " through " + file + ": it is a symbolic link; "
                        + "remove it");
            }
            throw new GptException("cannot lock " + checkpoint + " for this run (" + file.getFileName() + "): "
                    + AtomicFile.describe(e));
        } catch (IOException | SecurityException e) {
            throw new GptException("cannot lock " + checkpoint + " for this run (" + file.getFileName() + "): "
                    + AtomicFile.describe(e instanceof IOException io ? io : new IOException(e.getMessage())));
        }
        try {
            FileLock lock = ch.tryLock();
            if (lock == null) {
                String holder = holder(ch);
                ch.close();
                throw new GptException(checkpoint + " is being written by another run (" + holder
                        + "): wait for it to end, or choose another --out");
            }
            if (key == null || !key.equals(key(file))) { // the holder before us removed it as it ended
                lock.release();
                ch.close();
                return null;
            }
            String who = "process " + ProcessHandle.current().pid() + " on " + host() + ", " + command + ", since "
                    + Instant.now().truncatedTo(ChronoUnit.SECONDS);
            ch.truncate(0);
            ch.write(ByteBuffer.wrap((who + "\n").getBytes(StandardCharsets.UTF_8)), 0);
            return new RunLock(file, ch, lock, key);
        } catch (IOException e) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // the error below says what matters
            }
            throw new GptException("cannot lock " + checkpoint + " for this run: " + AtomicFile.describe(e));
        }
    }

    /** The file's number of names (1 where the file system cannot tell). */
    private static int links(Path file) throws IOException {
        try {
            return (Integer) Files.getAttribute(file, "unix:nlink", LinkOption.NOFOLLOW_LINKS);
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            return 1;
        }
    }

    /** The holder's line, as it wrote it (a holder that has just locked writes it in a moment). */
    private static String holder(FileChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(512);
        for (int tries = 0; tries < 40 && b.position() == 0; tries++) {
            if (tries > 0) {
                try {
                    Thread.sleep(25);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            ch.read(b, 0);
        }
        String s = new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).strip();
        int nl = s.indexOf('\n');
        s = nl >= 0 ? s.substring(0, nl) : s;
        return s.isEmpty() ? "a process starting now" : s.replaceAll("\\p{Cntrl}", "?");
    }

    private static String host() {
        String name = ManagementFactory.getRuntimeMXBean().getName(); // pid@host
        int at = name.indexOf('@');
        return at >= 0 ? name.substring(at + 1) : "this machine";
    }

    /** Whether {@code checkpoint}'s run is locked by a process now (for tests and tools). */
    public static boolean isHeld(Path checkpoint) {
        Path file = fileFor(checkpoint).normalize();
        if (HELD.contains(file)) {
            return true;
        }
        if (!Files.exists(file)) {
            return false;
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS)) {
            FileLock l = ch.tryLock();
            if (l == null) {
                return true;
            }
            l.release();
            return false;
        } catch (IOException | OverlappingFileLockException e) {
            return false;
        }
    }

    /**
     * Removes the lock file, while the lock is still held (a run waiting on it then sees it gone and
     * takes a new one), and releases the lock.
     */
    @Override
    public synchronized void close() {
        if (!channel.isOpen()) {
            return;
        }
        try {
            if (key.equals(key(file))) {
                Files.deleteIfExists(file);
            }
        } catch (IOException ignored) {
            // a lock file left behind is harmless: the next run takes it
        }
        try {
            if (lock.isValid()) {
                lock.release();
            }
            channel.close();
        } catch (IOException ignored) {
            // the lock dies with the channel or the process
        } finally {
            HELD.remove(file);
        }
    }
}
