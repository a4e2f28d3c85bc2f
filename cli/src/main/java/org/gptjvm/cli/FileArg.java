package org.gptjvm.cli;

import picocli.CommandLine;

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
        return Path.of(value);
    }
}
