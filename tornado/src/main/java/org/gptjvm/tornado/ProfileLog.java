package org.gptjvm.tornado;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;

import java.io.IOException;
import java.io.StringReader;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A task graph's profiler log as TornadoVM keeps it: with the profiler on, each run of the graph
 * appends one JSON object, {@code {"graph": {..., "graph.task": {"TASK_KERNEL_TIME": "ns", ...}}}},
 * to the graph's log, and the log is never cleared. So the log after a run holds every run so far,
 * one object after another, and this run's figures are the last object's. (Parsed as one document,
 * such a log is an error from its second run on.)
 */
final class ProfileLog {
    private ProfileLog() {
    }

    /** Each task's kernel time in nanoseconds ("graph.task" to ns) in the log's last run; empty if none. */
    static Map<String, Long> lastRunKernelNanos(String log) {
        Map<String, Long> out = new LinkedHashMap<>();
        JsonObject last = lastObject(log);
        if (last == null) {
            return out;
        }
        for (Map.Entry<String, JsonElement> graph : last.entrySet()) {
            if (!graph.getValue().isJsonObject()) {
                continue;
            }
            for (Map.Entry<String, JsonElement> task : graph.getValue().getAsJsonObject().entrySet()) {
                if (!task.getValue().isJsonObject()) {
                    continue;
                }
                JsonObject t = task.getValue().getAsJsonObject();
                JsonElement ns = t.has("TASK_KERNEL_TIME") ? t.get("TASK_KERNEL_TIME") : t.get("Task-Kernel");
                if (ns != null) {
                    try {
                        out.put(task.getKey(), Long.parseLong(ns.getAsString().trim()));
                    } catch (NumberFormatException e) {
                        // a task TornadoVM did not time: left out
                    }
                }
            }
        }
        return out;
    }

    /** The last top-level JSON object of {@code log}, or null if it holds none or is not JSON. */
    private static JsonObject lastObject(String log) {
        if (log == null || log.isBlank()) {
            return null;
        }
        JsonReader reader = new JsonReader(new StringReader(log));
        reader.setStrictness(Strictness.LENIENT); // several top-level values, one after another
        JsonObject last = null;
        try {
            while (reader.peek() != JsonToken.END_DOCUMENT) {
                JsonElement e = JsonParser.parseReader(reader);
                if (e.isJsonObject()) {
                    last = e.getAsJsonObject();
                }
            }
        } catch (IOException | RuntimeException e) {
            return last; // a log cut short: the runs read so far
        }
        return last;
    }
}
