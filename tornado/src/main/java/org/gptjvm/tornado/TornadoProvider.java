package org.gptjvm.tornado;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.BackendProvider;
import org.gptjvm.engine.GptException;

import java.util.List;

/**
 * The tornado backend as {@link org.gptjvm.engine.Backends} sees it. This class is in every build
 * and never touches TornadoVM itself: the backend's code ({@code src/device}, compiled only with
 * -Ptornado against an installed SDK) is reached through {@link TornadoRuntime}, and TornadoVM
 * starts only when the backend is created, its devices listed, or a default is chosen with no
 * backend named. So it can say why the backend is missing: not in this build, or built in but the
 * JVM was not started with TornadoVM's runtime.
 */
public final class TornadoProvider implements BackendProvider {
    /** The class that starts TornadoVM, present in a -Ptornado build only. */
    private static final String RUNTIME = "org.gptjvm.tornado.TornadoVmRuntime";
    static final String DEVICE_MEMORY = "tornado.device.memory";
    static final String RECOVER_BAILOUT = "tornado.recover.bailout";

    private TornadoRuntime runtime;
    /**
     * Why TornadoVM could not start in this JVM (null: it did, or was not tried), and whether stderr
     * was told: per JVM, as TornadoVM's failed class initialisation is, whichever provider instance asks.
     */
    private static volatile GptException startFailure;
    private static volatile boolean toldWhy;
    private final boolean given;

    public TornadoProvider() {
        this.given = false;
    }

    /** A provider over {@code runtime} instead of TornadoVM (tests: a stubbed device list). */
    TornadoProvider(TornadoRuntime runtime) {
        this.runtime = runtime;
        this.given = true;
    }

    @Override
    public String name() {
        return "tornado";
    }

    /** Below cpu: without an accelerator TornadoVM runs on CPU cores (PoCL), slower than the cpu backend. */
    @Override
    public int speedRank() {
        return 5;
    }

    @Override
    public boolean hasDevices() {
        return true;
    }

    /**
     * With a GPU (or another device that is not a CPU) in TornadoVM's list, tornado is the default.
     * A TornadoVM that cannot start (one with a GPU backend whose driver this machine lacks) leaves the
     * default to a host backend, and says so on stderr: only an explicit --backend tornado fails.
     */
    @Override
    public boolean acceleratesHere() {
        if (absence() != null) {
            return false;
        }
        try {
            return runtime().hasAccelerator();
        } catch (GptException e) {
            if (!toldWhy) { // once, however often the default is looked for
                toldWhy = true;
                System.err.println("gpt: the tornado backend cannot start here, so it is not the default: " + e.getMessage());
            }
            return false;
        }
    }

    @Override
    public Absence absence() {
        if (given) {
            return null;
        }
        if (TornadoProvider.class.getClassLoader().getResource(RUNTIME.replace('.', '/') + ".class") == null) {
            return new Absence("not in this build", "the tornado backend is not in this build: install TornadoVM "
                    + "5.2.0, source tornado-env.sh, and ./gpt rebuilds with it (or: ./mvn25 -Ptornado package; see "
                    + "README.md, section TornadoVM)");
        }
        if (System.getProperty("tornado.load.runtime.implementation") == null) {
            return new Absence("needs TornadoVM's runtime", "the tornado backend needs the TornadoVM runtime: run gpt "
                    + "with TornadoVM's launcher, tornado -jar cli/target/gpt.jar ... (source tornado-env.sh first; see "
                    + "README.md, section TornadoVM)");
        }
        return null;
    }

    @Override
    public Backend create(int threads, String device) {
        return runtime().create(device);
    }

    @Override
    public List<String> devices() {
        return runtime().devices();
    }

    private TornadoRuntime runtime() {
        Absence absence = absence();
        if (absence != null) {
            throw new GptException(absence.message());
        }
        if (startFailure != null) { // TornadoVM's classes fail once with the cause, then without it: keep the first
            throw startFailure;
        }
        if (runtime == null) {
            // TornadoVM's tornado.device.memory is a bookkeeping cap on what it allocates per device,
            // 4 GB by default: below the lecture config's training graph (3 GB) plus its sampling
            // graph. Unless the user sets it, the device's own memory is the limit (TornadoVM reserves
            // nothing up front for this figure).
            if (System.getProperty(DEVICE_MEMORY) == null) {
                System.setProperty(DEVICE_MEMORY, "1024GB");
            }
            // A kernel TornadoVM cannot compile is an error: by default TornadoVM would run its Java code
            // on the host instead, one work-item at a time, and --backend tornado would silently become
            // the slowest backend there is
            if (System.getProperty(RECOVER_BAILOUT) == null) {
                System.setProperty(RECOVER_BAILOUT, "False");
            }
            try {
                runtime = (TornadoRuntime) Class.forName(RUNTIME).getDeclaredConstructor().newInstance();
            } catch (ClassNotFoundException | NoClassDefFoundError e) {
                throw new GptException("TornadoVM's classes are not on the module path: run gpt with tornado -jar "
                        + "(see README.md, section TornadoVM)");
            } catch (ReflectiveOperationException | LinkageError e) {
                // TornadoVM is there but did not start: a backend whose driver is missing, say
                Throwable cause = e;
                while (cause.getCause() != null) {
                    cause = cause.getCause();
                }
                startFailure = new GptException("TornadoVM could not start: " + cause.getClass().getSimpleName() + ": "
                        + String.valueOf(cause.getMessage()).lines().findFirst().orElse(""));
                throw startFailure;
            }
        }
        return runtime;
    }
}
