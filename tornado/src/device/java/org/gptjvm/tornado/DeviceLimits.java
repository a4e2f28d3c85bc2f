package org.gptjvm.tornado;

import org.gptjvm.engine.GptException;
import uk.ac.manchester.tornado.api.common.TornadoDevice;

/** What the kernels ask of a device: work-groups of 256 and a few KiB of local memory, which any GPU has. */
final class DeviceLimits {
    /** The largest work-group of a kernel here: GEMM's 16 x 16. */
    static final int WORK_GROUP = Gemm.THREADS * Gemm.THREADS;
    /** The most local memory a work-group uses: GEMM's two tiles. */
    static final int LOCAL_BYTES = Gemm.LOCAL_BYTES;

    /**
     * The registers a work-item may use: 64K registers of an SM over two work-groups of
     * {@link #WORK_GROUP}, so that two wide GEMM tiles share an SM, one computing while the other waits
     * at a barrier. The PTX route caps its JIT there (the flags below); the CUDA route takes no flags
     * from TornadoVM, so its kernels fit by construction or run one work-group an SM.
     */
    static final int REGISTERS = 65536 / (2 * WORK_GROUP);
    /**
     * TornadoVM's PTX JIT flags: its default (optimisation level 4) and the register cap, unless the
     * user set {@code tornado.ptx.compiler.flags}.
     */
    static final String PTX_FLAGS = System.getProperty("tornado.ptx.compiler.flags",
            "CU_JIT_OPTIMIZATION_LEVEL 4 CU_JIT_MAX_REGISTERS " + REGISTERS);

    private DeviceLimits() {
    }

    static void check(TornadoDevice d) {
        long local = d.getDeviceLocalMemorySize();
        long[] sizes = d.getPhysicalDevice().getDeviceMaxWorkGroupSize();
        long maxGroup = sizes == null || sizes.length == 0 ? Long.MAX_VALUE : sizes[0];
        if ((local > 0 && local < LOCAL_BYTES) || maxGroup < WORK_GROUP) {
            throw new GptException("TornadoVM device " + TornadoDevices.describe(d) + " has " + local + " bytes of local "
                    + "memory and work-groups of at most " + maxGroup + ": the tornado backend needs " + LOCAL_BYTES
                    + " bytes and work-groups of " + WORK_GROUP);
        }
    }
}
