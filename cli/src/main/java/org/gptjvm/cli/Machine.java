package org.gptjvm.cli;

import com.google.gson.JsonObject;
import org.gptjvm.engine.host.HostBackend;

/** The header of a benchmark: what it ran on (CPU, cores, Java, the Vector API, the heap). */
final class Machine {
    private Machine() {
    }

    static JsonObject describe() {
        JsonObject m = new JsonObject();
        m.addProperty("cpu", cpuModel());
        m.addProperty("cores", Runtime.getRuntime().availableProcessors());
        m.addProperty("java", Runtime.version().toString());
        m.addProperty("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        m.addProperty("vector", ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
                ? "Vector API on" : "Vector API off (scalar)");
        m.addProperty("max_heap_gib", Runtime.getRuntime().maxMemory() / (double) (1L << 30));
        return m;
    }

    private static String cpuModel() {
        String model = HostBackend.cpuModel();
        return model != null ? model : System.getProperty("os.arch");
    }
}
