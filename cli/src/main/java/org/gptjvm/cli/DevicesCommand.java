package org.gptjvm.cli;

import org.gptjvm.engine.BackendProvider;
import org.gptjvm.engine.Backends;
import org.gptjvm.engine.GptException;
import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

@Command(name = "devices", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"List the backends of this build and the devices each can run on. A backend with devices "
                + "of its own (a GPU runtime's, with name, driver, memory) numbers them; pick one with --device N."})
final class DevicesCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        String dflt = EngineOptions.defaultBackend();
        for (BackendProvider p : Backends.providers()) {
            BackendProvider.Absence absence = p.absence();
            if (absence != null) {
                System.out.println(p.name() + " (" + absence.status() + ")");
                System.out.println("  " + absence.message());
                continue;
            }
            System.out.println(p.name() + (p.name().equals(dflt) ? " (default)" : ""));
            try {
                for (String d : p.devices()) {
                    System.out.println("  " + d);
                }
            } catch (GptException e) {
                System.out.println("  unavailable: " + e.getMessage());
            }
        }
        return 0;
    }
}
