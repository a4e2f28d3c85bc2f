package org.gptjvm.tornado;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.Backends;
import org.gptjvm.engine.GptException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CUDA graph setting (GPT_CUDA_GRAPHS, or the property gpt.cuda-graphs): on or off, anything else
 * an error before any work; no capture where TornadoVM cannot (its OpenCL driver, which these tests
 * run on), and the backend says how it launches. Capture itself needs an NVIDIA GPU: the bundle's GPU
 * check times it, on and off.
 */
class TornadoKernelCudaGraphsTest {
    private static final String PROPERTY = "gpt.cuda-graphs";

    @AfterEach
    void clear() {
        System.clearProperty(PROPERTY);
    }

    @Test
    void aBadSettingIsAnErrorBeforeAnyWork() {
        System.setProperty(PROPERTY, "sometimes");
        GptException e = assertThrows(GptException.class, () -> Backends.create("tornado", 1));
        assertTrue(e.getMessage().startsWith("GPT_CUDA_GRAPHS must be on or off, not 'sometimes'"), e.getMessage());
    }

    @Test
    void openClLaunchesOneByOneWhateverTheSetting() {
        for (String v : new String[]{"on", "OFF", " 1 "}) {
            System.setProperty(PROPERTY, v);
            try (Backend be = Backends.create("tornado", 1)) {
                assertTrue(be.device().contains("OPENCL") && be.device().contains("kernels launched one by one"), be.device());
            }
        }
    }
}
