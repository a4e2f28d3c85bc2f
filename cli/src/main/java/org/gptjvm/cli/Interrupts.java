package org.gptjvm.cli;

import sun.misc.Signal;

import java.util.ArrayList;
import java.util.List;

/**
 * A signal that ends a run (Ctrl-C's SIGINT, SIGTERM from kill or a job scheduler, SIGHUP when
 * the terminal goes away): instead of dying mid-step, ask the loop to stop so it can save a
 * checkpoint and exit 130. A second signal ends the process at once.
 */
final class Interrupts {
    private Interrupts() {
    }

    /** Installs the handler for INT, TERM and HUP; the returned Runnable puts the previous ones back. */
    static Runnable onStop(Runnable action) {
        return onStop(action, () -> "nothing more was saved");
    }

    /**
     * As above; a second signal quits at once, saying so with {@code onQuit} (what the files hold).
     */
    static Runnable onStop(Runnable action, java.util.function.Supplier<String> onQuit) {
        return onStop(action, onQuit, true);
    }

    /**
     * As above; {@code announce} false leaves the first signal's notice out (the other processes of a
     * data-parallel job: mpirun or srun signals them all, and process 0's notice says it once).
     */
    static Runnable onStop(Runnable action, java.util.function.Supplier<String> onQuit, boolean announce) {
        boolean[] seen = {false};
        List<Runnable> restore = new ArrayList<>();
        for (String name : new String[]{"INT", "TERM", "HUP"}) {
            try {
                Signal sig = new Signal(name);
                var previous = Signal.handle(sig, s -> {
                    if (seen[0]) {
                        String what;
                        try {
                            what = onQuit.get();
                        } catch (RuntimeException e) {
                            what = "nothing more was saved";
                        }
                        System.err.println("gpt: quit at once (a second SIG" + s.getName() + "): " + Main.printable(what));
                        System.err.flush();
                        Runtime.getRuntime().halt(130);
                    }
                    seen[0] = true;
                    if (announce) {
                        System.err.println();
                        System.err.println("interrupted: saving a checkpoint after this step (SIG" + s.getName()
                                + "; again to quit now)");
                    }
                    action.run();
                });
                restore.add(() -> Signal.handle(sig, previous));
            } catch (IllegalArgumentException | UnsupportedOperationException e) {
                // no such signal on this platform
            }
        }
        return () -> restore.forEach(Runnable::run);
    }
}
