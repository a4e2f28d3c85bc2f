package org.gptjvm.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/** How this process was started, so that a command it suggests can be pasted into a shell as it is. */
final class Launcher {
    private static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9_./:=@%+,-]+");

    private Launcher() {
    }

    /**
     * A shell command running gpt with {@code args}: the ./gpt launcher when that started us
     * (it sets GPT_LAUNCHER), else {@code java -jar} on this jar.
     */
    static String command(String... args) {
        List<String> words = new ArrayList<>();
        String launcher = System.getenv("GPT_LAUNCHER");
        if (launcher != null && !launcher.isBlank()) {
            words.add(launcher);
        } else {
            words.add("java");
            words.add("--add-modules");
            words.add("jdk.incubator.vector");
            words.add("-jar");
            words.add(jar());
        }
        words.addAll(List.of(args));
        return String.join(" ", words.stream().map(Launcher::quote).toList());
    }

    private static String jar() {
        try {
            Path p = Path.of(Launcher.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return p.toString().endsWith(".jar") ? p.toString() : "gpt.jar";
        } catch (Exception e) {
            return "gpt.jar";
        }
    }

    /** {@code s} as one shell word. */
    static String quote(String s) {
        return PLAIN.matcher(s).matches() ? s : "'" + s.replace("'", "'\\''") + "'";
    }
}
