package org.gptjvm.cli;

/** Stands in for gpt in {@link LauncherTest}: says how it was started, and waits when asked to. */
public final class LauncherProbe {
    private LauncherProbe() {
    }

    public static void main(String[] args) throws InterruptedException {
        System.out.println("pid=" + ProcessHandle.current().pid());
        System.out.println("launcher=" + System.getenv("GPT_LAUNCHER"));
        System.out.println("probe=" + System.getProperty("probe"));
        System.out.println("args=" + String.join(",", args));
        System.out.println("jnu=" + System.getProperty("sun.jnu.encoding"));
        System.out.flush();
        if (args.length > 0 && args[0].equals("boot-noise")) {
            // what the JDK prints when a signal ends it during its boot, and a line of gpt's that must pass
            System.err.println("Runtime.exit(143) logging failed: Cannot invoke \"java.lang.Module.getClassLoader()\" "
                    + "because \"m\" is null");
            System.err.println("gpt: error: a line of gpt's own");
        }
        if (args.length > 0 && args[0].equals("sleep")) {
            Thread.sleep(120_000);
        }
    }
}
