package org.gptjvm.cli;

import sun.misc.Signal;

/**
 * Ctrl-C during training: instead of dying mid-step, ask the loop to stop so it can save a
 * checkpoint and exit 130 (the shell's code for SIGINT). A second Ctrl-C kills at once.
 */
final class Interrupts {
    private Interrupts() {
    }

    /** Installs the handler; the returned Runnable puts the previous one back. */
    static Runnable onInterrupt(Runnable action) {
        try {
            Signal sig = new Signal("INT");
            final boolean[] seen = {false};
            var previous = Signal.handle(sig, s -> {
                if (seen[0]) {
                    Runtime.getRuntime().halt(130);
                }
                seen[0] = true;
                System.err.println();
                System.err.println("interrupted: saving a checkpoint after this step (Ctrl-C again to quit now)");
                action.run();
            });
            return () -> Signal.handle(sig, previous);
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            return () -> {
            }; // no SIGINT on this platform
        }
    }
}
