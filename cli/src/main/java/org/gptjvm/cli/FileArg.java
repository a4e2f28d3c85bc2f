package org.gptjvm.cli;

import picocli.CommandLine;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * A file named on the command line. An empty name, or one ending in '/' (a folder, which a path
 * would silently drop), is a usage error here rather than a surprise later.
 */
final class FileArg implements CommandLine.ITypeConverter<Path> {
    @Override
    public Path convert(String value) {
        if (value.isBlank()) {
            throw new CommandLine.TypeConversionException("an empty name is not a file");
        }
        if (value.endsWith("/")) {
            throw new CommandLine.TypeConversionException("'" + value + "' names a folder; give a file name");
        }
        try {
            return Path.of(value);
        } catch (InvalidPathException e) {
            throw new CommandLine.TypeConversionException(unusableName(value, e));
        }
    }

    /**
     * Why a file name cannot be a path: mostly a character that the locale's character set cannot
     * encode (a non-ASCII name under LANG=C), which the JVM took from the environment.
     */
    static String unusableName(String value, InvalidPathException e) {
        String charset = System.getProperty("sun.jnu.encoding", "");
        boolean utf8 = argumentsAreUtf8();
        return "'" + value + "' cannot be a file name here (" + e.getReason() + ")"
                + (utf8 ? "" : "; file names are " + charset + " under this locale: run with a UTF-8 one, "
                + "e.g. LC_ALL=C.UTF-8");
    }

    /** Whether the JVM reads arguments and file names as UTF-8 (its locale's character set, sun.jnu.encoding). */
    static boolean argumentsAreUtf8() {
        String charset = System.getProperty("sun.jnu.encoding", "");
        return charset.equalsIgnoreCase("UTF-8") || charset.equalsIgnoreCase("UTF8");
    }
}
