package org.gptjvm.tornado;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading a task graph's profiler log, laid out as TornadoVM 5.2's TimeProfiler.createJson writes it. */
class ProfileLogTest {

    /** One run of graph g with two timed tasks, as TornadoVM appends it to the graph's log. */
    private static String run(long t0, long t1) {
        return "{\n"
                + "  \"g\": {\n"
                + "    \"TOTAL_KERNEL_TIME\": \"" + (t0 + t1) + "\",\n"
                + "    \"TOTAL_TASK_GRAPH_TIME\": \"" + (t0 + t1 + 500) + "\",\n"
                + "    \"g.gemm_0\": {\n"
                + "      \"BACKEND\": \"OPENCL\",\n"
                + "      \"METHOD\": \"Gemm.gemm\",\n"
                + "      \"DEVICE_ID\": \"0:0\",\n"
                + "      \"DEVICE\": \"NVIDIA H200\",\n"
                + "      \"TASK_KERNEL_TIME\": \"" + t0 + "\"\n"
                + "    }, \n"
                + "    \"g.zero_1\": {\n"
                + "      \"BACKEND\": \"OPENCL\",\n"
                + "      \"TASK_KERNEL_TIME\": \"" + t1 + "\"\n"
                + "    }\n"
                + "  }\n"
                + "}\n";
    }

    @Test
    void oneRun() {
        assertEquals(Map.of("g.gemm_0", 4000L, "g.zero_1", 300L), ProfileLog.lastRunKernelNanos(run(4000, 300)));
    }

    @Test
    void aLogOfSeveralRunsGivesTheLastRun() {
        String log = run(4000, 300) + run(4100, 310) + run(3900, 290);
        assertEquals(Map.of("g.gemm_0", 3900L, "g.zero_1", 290L), ProfileLog.lastRunKernelNanos(log));
    }

    @Test
    void aLogCutShortGivesTheLastWholeRun() {
        String second = run(4100, 310);
        String log = run(4000, 300) + second.substring(0, second.length() / 2);
        assertEquals(Map.of("g.gemm_0", 4000L, "g.zero_1", 300L), ProfileLog.lastRunKernelNanos(log));
    }

    @Test
    void noLogNoTimes() {
        assertTrue(ProfileLog.lastRunKernelNanos("").isEmpty());
        assertTrue(ProfileLog.lastRunKernelNanos(null).isEmpty());
        assertTrue(ProfileLog.lastRunKernelNanos("not json at all").isEmpty());
    }
}
