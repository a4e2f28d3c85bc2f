package org.gptjvm.cli;

import org.gptjvm.engine.BackendProvider;
import org.gptjvm.engine.Backends;
import org.gptjvm.engine.GptException;
import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

@Command(name = "devices", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"List the backends of this build and the devices each can run on.",
                "The tornado backend lists TornadoVM's devices (name, driver, memory); pick one with --device N."})
final class DevicesCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        for (BackendProvider p : Backends.providers()) {
            System.out.println(p.name() + (p.name().equals(Backends.defaultName()) ? " (default)" : ""));
            try {
                for (String d : p.devices()) {
                    System.out.println("  " + d);
                }
            } catch (GptException e) {
                System.out.println("  unavailable: " + e.getMessage());
            }
        }
        if (!Backends.names().contains("tornado")) {
            System.out.println("tornado (not in this build)");
            System.out.println("  " + Backends.TORNADO_MISSING);
        }
        return 0;
    }
}
