package org.gptjvm.tornado;

import org.gptjvm.engine.GptException;
import uk.ac.manchester.tornado.api.common.TornadoDevice;

import java.util.Locale;

/**
 * Whether a plan's task graphs run as CUDA graphs: captured on their first run (every kernel launch,
 * the step's input copies and the buffers handed from graph to graph) and replayed with one
 * {@code cuGraphLaunch} after that, so the host no longer launches kernel by kernel. TornadoVM offers
 * it on its PTX and CUDA drivers only. Capture is on there unless {@value #ENV}=off (or the system
 * property {@value #PROPERTY}=off) turns it off, and off while kernels are profiled: TornadoVM cannot
 * time the kernels inside a captured graph. Kernel scalars are frozen at capture, so everything that
 * changes per step lives in the arena or the argument table, never in a scalar.
 */
final class CudaGraphs {
    static final String ENV = "GPT_CUDA_GRAPHS";
    static final String PROPERTY = "gpt.cuda-graphs";

    private CudaGraphs() {
    }

    /** Whether TornadoVM can capture graphs on this device's driver. */
    static boolean supported(TornadoDevice device) {
        return switch (device.getTornadoVMBackend()) {
            case PTX, CUDA -> true;
            default -> false;
        };
    }

    /** The user's setting: true unless turned off; a value other than on/off is an error. */
    static boolean wanted() {
        String v = System.getProperty(PROPERTY, System.getenv(ENV));
        if (v == null || v.isBlank()) {
            return true;
        }
        return switch (v.trim().toLowerCase(Locale.ROOT)) {
            case "on", "true", "1" -> true;
            case "off", "false", "0" -> false;
            default -> throw new GptException(ENV + " must be on or off, not '" + v.trim() + "'");
        };
    }

    /** Whether a plan on {@code device} captures its graphs. */
    static boolean capture(TornadoDevice device, boolean profiling) {
        return supported(device) && !profiling && wanted();
    }

    /** How the device's programs run, for the backend's description. */
    static String describe(TornadoDevice device, boolean profiling) {
        if (!supported(device)) {
            return "kernels launched one by one (TornadoVM captures CUDA graphs on its PTX and CUDA drivers only)";
        }
        if (profiling) {
            return "kernels launched one by one while profiled (TornadoVM cannot time kernels inside a CUDA graph)";
        }
        return wanted() ? "programs captured as CUDA graphs (" + ENV + "=off launches kernels one by one)"
                : "kernels launched one by one (" + ENV + "=off)";
    }
}
