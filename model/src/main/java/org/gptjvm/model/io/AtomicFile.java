package org.gptjvm.model.io;

import org.gptjvm.engine.GptException;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * How every file of ours is written: to a hidden temporary file beside the target, forced to disk,
 * then renamed over it, so a crash at any point leaves the old file or the new one, whole. The
 * target must be a regular file or nothing: a rename would replace a device, a pipe or a link.
 * Temporary files are named {@code .NAME.RANDOM.tmp} (NAME cut short, so a long target name still
 * fits the file system's limit); one left by a killed run is removed on the next write.
 */
public final class AtomicFile {
    /** Characters of the target's name kept in a temporary file's name. */
    private static final int NAME_KEPT = 64;

    /** Writes the content of a file. */
    @FunctionalInterface
    public interface Content {
        void writeTo(OutputStream out) throws IOException;
    }

    private AtomicFile() {
    }

    private static String tempPrefix(Path target) {
        String name = target.getFileName().toString();
        return "." + (name.length() > NAME_KEPT ? name.substring(0, NAME_KEPT) : name) + ".";
    }

    /**
     * Fails early, before any work, when {@code target} could not be written: it is not a regular
     * file (a directory, a device, a link), its folder cannot be made, or the temporary file cannot
     * be created there.
     */
    public static void checkTarget(Path target) {
        if (target.getFileName() == null) {
            throw new GptException("cannot write " + target + ": not a file name");
        }
        if (Files.isDirectory(target)) {
            throw new GptException("cannot write " + target + ": it is a directory");
        }
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new GptException("refusing to write " + target + ": it is not a regular file (" + kind(target)
                    + "), and writing would replace it");
        }
        try {
            Path dir = target.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            Files.delete(Files.createTempFile(dir, tempPrefix(target), ".tmp"));
            if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                Files.delete(Files.createFile(target)); // the name itself fits the file system
            }
        } catch (IOException | SecurityException e) {
            throw new GptException("cannot write " + target + ": " + describe(e));
        }
        if (Files.exists(target) && !Files.isWritable(target)) {
            throw new GptException("cannot write " + target + ": file is not writable");
        }
    }

    private static String kind(Path p) {
        if (Files.isSymbolicLink(p)) {
            return "a symbolic link";
        }
        return p.toString().startsWith("/dev/") ? "a device" : "a device, pipe or socket";
    }

    public static String describe(Exception e) {
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof FileAlreadyExistsException fe) {
            return fe.getFile() + " exists and is not a directory";
        }
        if (e instanceof FileSystemException fse && fse.getReason() != null) {
            return fse.getReason();
        }
        if (e instanceof java.nio.file.NoSuchFileException nf && nf.getFile() != null) {
            // the temporary file beside the target could not be created (a folder such as /proc)
            Path dir = Path.of(nf.getFile()).toAbsolutePath().getParent();
            return "cannot create a file in " + (dir != null ? dir : nf.getFile());
        }
        if (e instanceof FileSystemException fse) {
            return fse.getClass().getSimpleName() + " on " + fse.getFile();
        }
        return e.getMessage();
    }

    /** Writes {@code content} to {@code target} atomically (see the class comment). */
    public static void write(Path target, Content content) {
        checkTarget(target);
        Path dir = target.toAbsolutePath().getParent();
        removeStaleTemps(target);
        Path tmp = null;
        try {
            tmp = Files.createTempFile(dir, tempPrefix(target), ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
                 OutputStream os = Channels.newOutputStream(ch)) {
                content.writeTo(os);
                os.flush();
                ch.force(true);
            }
            try {
                // temporary files are created private (rw-------); ours are ordinary files
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException ignored) {
                // not a POSIX file system
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
        } catch (IOException e) {
            throw new GptException("cannot write " + target + ": " + describe(e));
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the next write removes it
                }
            }
        }
    }

    /** Removes temporary files of {@code target} that a killed run left behind. */
    private static void removeStaleTemps(Path target) {
        Path dir = target.toAbsolutePath().getParent();
        String prefix = tempPrefix(target);
        try (DirectoryStream<Path> temps = Files.newDirectoryStream(dir, p -> {
            String n = p.getFileName().toString();
            return n.startsWith(prefix) && n.endsWith(".tmp") && n.length() > prefix.length() + 4
                    && n.substring(prefix.length(), n.length() - 4).chars().allMatch(Character::isDigit);
        })) {
            for (Path t : temps) {
                Files.deleteIfExists(t);
            }
        } catch (IOException ignored) {
            // best effort: the write itself reports what matters
        }
    }
}
