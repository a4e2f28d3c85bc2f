package org.gptjvm.cli;

import org.gptjvm.engine.GptException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.util.Properties;

/** The {@code gpt} command: exit 0 ok, 1 failure, 2 usage error; errors are one line, never a stack trace. */
@Command(name = "gpt", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Train and sample Karpathy's character-level GPT (\"Let's build GPT\") on the JVM.",
        subcommands = {TrainCommand.class, SampleCommand.class, EvalCommand.class, VerifyCommand.class, BenchCommand.class,
                DevicesCommand.class, PlotCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command (train, sample, eval, verify, bench, devices, plot)");
    }

    public static void main(String[] args) {
        Stdout.install();
        System.exit(run(undoMpirunClasspath(args, System.getenv("OMPI_COMM_WORLD_SIZE") != null,
                System.getProperty("user.dir"))));
    }

    /**
     * Open MPI's mpirun, when the program it starts is {@code java}, takes the argument after any
     * argument holding "cp" for a class path and prefixes the working directory to it: {@code mpirun
     * java -jar gpt.jar train --backend cpu --threads 1} reaches gpt as {@code --backend cpu
     * /work:--threads 1}. Under mpirun ({@code underOpenMpi}), an argument after one holding "cp" that
     * begins with {@code cwd + ":"} gets its own text back. ({@code mpirun ./gpt ...} starts a script,
     * which mpirun leaves alone.)
     */
    static String[] undoMpirunClasspath(String[] args, boolean underOpenMpi, String cwd) {
        if (!underOpenMpi || cwd == null) {
            return args;
        }
        String prefix = cwd + ":";
        String[] out = args.clone();
        for (int i = 1; i < out.length; i++) {
            if (args[i - 1].contains("cp") && out[i].startsWith(prefix) && out[i].length() > prefix.length()) {
                out[i] = out[i].substring(prefix.length());
            }
        }
        return out;
    }

    /**
     * Runs the CLI and returns its exit code (tests call this). A command that succeeded but whose
     * standard output failed (a full disk; not a reader that went away) fails with exit 1.
     */
    public static int run(String... args) {
        CommandLine cl = commandLine();
        int code;
        try {
            code = cl.execute(args);
        } catch (OutOfMemoryError e) {
            System.err.println("gpt: error: " + MemoryCheck.outOfMemory());
            return 1;
        }
        String failed = code == 0 ? Stdout.failureAtExit() : null;
        if (failed != null) {
            System.err.println("gpt: error: " + failed);
            return 1;
        }
        return code;
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setUsageHelpAutoWidth(true); // help as wide as the terminal (80 columns where it cannot tell)
        if (!Terminal.capable(System.getenv("TERM")) || System.getenv("NO_COLOR") != null) {
            // no escape sequences where the terminal cannot take them (TERM=dumb) or colour is not wanted
            cl.setColorScheme(CommandLine.Help.defaultColorScheme(CommandLine.Help.Ansi.OFF));
        }
        HelpLayout.install(cl); // wrapped between words only, never inside a file name or number
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            if (e instanceof GptException) {
                err.println("gpt: error: " + printable(e.getMessage()));
            } else if (e instanceof java.nio.file.InvalidPathException p) { // a name from the environment, say
                err.println("gpt: error: " + FileArg.unusableName(p.getInput(), p));
            } else {
                err.println("gpt: internal error: " + e);
                if (System.getenv("GPT_DEBUG") != null) {
                    e.printStackTrace(err);
                }
            }
            err.flush();
            return 1;
        });
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine cmd = ex.getCommandLine();
            PrintWriter err = cmd.getErr();
            err.println("gpt: " + printable(ex.getMessage()) + " (see '" + cmd.getCommandSpec().qualifiedName() + " --help')");
            err.flush();
            return 2;
        });
        return cl;
    }

    /**
     * A message as one line of plain text: control characters (a file name's escape sequence, a
     * newline) shown as \\xHH, so that an error can neither drive the terminal nor break the one line.
     */
    static String printable(String message) {
        if (message == null) {
            return "";
        }
        StringBuilder b = new StringBuilder(message.length());
        message.codePoints().forEach(c -> {
            if (Character.isISOControl(c)) {
                b.append(String.format(java.util.Locale.ROOT, c < 0x100 ? "\\x%02x" : "\\u%04x", c));
            } else {
                b.appendCodePoint(c);
            }
        });
        return b.toString();
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
                if (in != null) {
                    p.load(in);
                }
            }
            return new String[]{"gpt " + p.getProperty("version", "dev") + " (Java " + Runtime.version() + ", "
                    + System.getProperty("os.arch") + ")"};
        }
    }
}
