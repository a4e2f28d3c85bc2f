package org.gptjvm.cli;

import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Help.Ansi.Text;
import picocli.CommandLine.Model.UsageMessageSpec;

import java.util.regex.Pattern;

/**
 * Help text that wraps between words only. Picocli wraps with Java's line BreakIterator, which breaks
 * after a dot followed by a letter or between a number and a letter: "NAME.loss.png" came out as
 * "NAME.loss." and "png", "10.8M" as "10.8" and "M". While the text is laid out, a dot between two
 * letters or digits stands in as a private-use character that the iterator takes for a letter, and
 * is put back in what is printed.
 */
final class HelpLayout {
    private HelpLayout() {
    }

    /** Stands for a dot inside a word while help is laid out; never printed. */
    static final char DOT = '\uE000';
    private static final Pattern INNER_DOT = Pattern.compile("(?<=[\\p{Alnum}_])\\.(?=[\\p{Alnum}_])");

    static String protect(String text) {
        return INNER_DOT.matcher(text).replaceAll(String.valueOf(DOT));
    }

    static String unprotect(String text) {
        return text.replace(DOT, '.');
    }

    /** Installs the layout on {@code cl} and all its subcommands. */
    static void install(CommandLine cl) {
        cl.setHelpFactory((spec, scheme) -> new Help(spec, scheme) {
            @Override
            public String description(Object... params) {
                UsageMessageSpec usage = commandSpec().usageMessage();
                String[] original = usage.description();
                String[] kept = new String[original.length];
                for (int i = 0; i < original.length; i++) {
                    kept[i] = protect(original[i]);
                }
                usage.description(kept);
                try {
                    return unprotect(super.description(params));
                } finally {
                    usage.description(original);
                }
            }

            @Override
            public IOptionRenderer createDefaultOptionRenderer() {
                IOptionRenderer plain = super.createDefaultOptionRenderer();
                return (option, labels, colors) -> {
                    Text[][] rows = plain.render(option, labels, colors);
                    for (Text[] row : rows) {
                        int last = row.length - 1; // the description column
                        if (last >= 0 && row[last] != null) {
                            row[last] = colors.text(protect(row[last].plainString()));
                        }
                    }
                    return rows;
                };
            }
        });
        unprotectSections(cl);
    }

    private static void unprotectSections(CommandLine cl) {
        cl.getHelpSectionMap().replaceAll((key, section) -> help -> unprotect(section.render(help)));
        cl.getSubcommands().values().forEach(HelpLayout::unprotectSections);
    }
}
