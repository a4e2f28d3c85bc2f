package org.gptjvm.cli;

import org.gptjvm.engine.GptException;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.Charset;
import java.util.Locale;

/**
 * The standard output of the {@code gpt} process, whose write errors are kept. A PrintStream
 * swallows them: {@link #install} puts a System.out in place that records the first one, so that a
 * command can tell a reader that went away ({@code | head}: a quiet stop, as Unix tools do) from a
 * write that failed ({@code > /dev/full}, a full disk, a closed descriptor: an error, exit 1).
 */
final class Stdout {
    private Stdout() {
    }

    /** The first write error on the process's standard output, or null. */
    private static volatile IOException failure;

    /** Makes System.out a stream over file descriptor 1 that records its first write error. */
    static void install() {
        Charset charset = System.out.charset();
        OutputStream fd = new FilterOutputStream(new FileOutputStream(FileDescriptor.out)) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                try {
                    out.write(b, off, len);
                } catch (IOException e) {
                    record(e);
                    throw e;
                }
            }

            @Override
            public void write(int b) throws IOException {
                write(new byte[]{(byte) b}, 0, 1);
            }

            @Override
            public void flush() throws IOException {
                try {
                    out.flush();
                } catch (IOException e) {
                    record(e);
                    throw e;
                }
            }
        };
        System.setOut(new PrintStream(new BufferedOutputStream(fd, 8192), true, charset));
    }

    static void record(IOException e) {
        if (failure == null) {
            failure = e;
        }
    }

    /** Forgets a recorded failure (tests). */
    static void reset() {
        failure = null;
    }

    /**
     * Whether what {@code out} (a stream over System.out) printed has stopped reaching anyone. False
     * while it is fine; true when its reader went away (a closed pipe): the command stops printing
     * and ends quietly. Any other write error (a full disk, {@code /dev/full}, a closed or bad
     * descriptor) throws a one-line GptException naming {@code what} was being written. Checking
     * flushes what is pending.
     */
    static boolean readerGone(PrintStream out, String what) {
        if (!out.checkError() && !System.out.checkError()) {
            return false;
        }
        IOException e = failure;
        if (e == null || brokenPipe(e)) {
            return true; // a closed pipe, or a stream whose cause was not recorded (tests)
        }
        throw new GptException(problem(what, e));
    }

    /**
     * The error of a command that otherwise succeeded, when its standard output failed for another
     * reason than a reader that went away; null when all is well.
     */
    static String failureAtExit() {
        if (!System.out.checkError()) {
            return null;
        }
        IOException e = failure;
        return e == null || brokenPipe(e) ? null : problem(null, e);
    }

    /** {@code what}: what was being written, or null. */
    private static String problem(String what, IOException e) {
        String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return "cannot write " + (what != null ? what + " " : "") + "to standard output (" + reason
                + "); what was printed is incomplete";
    }

    /** A write to a pipe whose reader has closed it (EPIPE), as {@code | head} does. */
    static boolean brokenPipe(IOException e) {
        String m = e.getMessage();
        return m != null && m.toLowerCase(Locale.ROOT).contains("broken pipe");
    }

    /**
     * {@code text} safe to show on a terminal: every control character but newline and tab, which
     * could move the cursor, set the window title or switch the terminal's state, as a visible
     * escape: {@code \xHH} for C0 controls and DEL (ESC is {@code \x1b}), {@code \u0085} style for
     * the C1 controls U+0080 to U+009F. Text without such characters is returned as it is.
     */
    static String escapeControls(String text) {
        int i = 0;
        while (i < text.length() && !isControl(text.charAt(i))) {
            i++;
        }
        if (i == text.length()) {
            return text;
        }
        StringBuilder b = new StringBuilder(text.length() + 8).append(text, 0, i);
        for (; i < text.length(); i++) {
            char c = text.charAt(i);
            if (!isControl(c)) {
                b.append(c);
            } else if (c < 0x80) {
                b.append(String.format(Locale.ROOT, "\\x%02x", (int) c));
            } else {
                b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
            }
        }
        return b.toString();
    }

    private static boolean isControl(char c) {
        return (c < 0x20 && c != '\n' && c != '\t') || (c >= 0x7f && c <= 0x9f);
    }
}
