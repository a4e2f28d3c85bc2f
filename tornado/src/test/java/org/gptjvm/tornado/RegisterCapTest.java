package org.gptjvm.tornado;

import org.gptjvm.engine.GptException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The flags behind -Dgpt.tornado.registers, per backend and platform. */
class RegisterCapTest {

    @Test
    void noCapLeavesTornadoVmsFlags() {
        assertNull(RegisterCap.flags("OPENCL", "NVIDIA CUDA", 0));
        assertNull(RegisterCap.flags("OPENCL", "Portable Computing Language", 0));
    }

    @Test
    void nvidiaThroughOpenClAndPtx() {
        assertEquals("-cl-mad-enable -cl-fast-relaxed-math -w -cl-nv-maxrregcount=85",
                RegisterCap.flags("OPENCL", "NVIDIA CUDA", 85));
        assertEquals("CU_JIT_OPTIMIZATION_LEVEL 4 CU_JIT_MAX_REGISTERS 128", RegisterCap.flags("PTX", "PTX", 128));
    }

    @Test
    void otherDevicesRefuseTheCap() {
        GptException e = assertThrows(GptException.class,
                () -> RegisterCap.flags("OPENCL", "Portable Computing Language", 85));
        assertTrue(e.getMessage().contains("NVIDIA"), e.getMessage());
    }

    @Test
    void badValuesAreUsageErrors() {
        for (String v : new String[]{"abc", "8", "300", "-1"}) {
            System.setProperty(RegisterCap.PROPERTY, v);
            try {
                assertThrows(GptException.class, RegisterCap::registers, v);
            } finally {
                System.clearProperty(RegisterCap.PROPERTY);
            }
        }
        assertEquals(0, RegisterCap.registers());
    }
}
