package org.gptjvm.tornado;

import org.gptjvm.engine.GptException;
import uk.ac.manchester.tornado.api.common.TornadoDevice;

/** What the kernels ask of a device: work-groups of 256 and a few KiB of local memory, which any GPU has. */
final class DeviceLimits {
    /** The largest work-group of a kernel here: GEMM's 16 x 16. */
    static final int WORK_GROUP = Gemm.THREADS * Gemm.THREADS;
    /** The most local memory a work-group uses: GEMM's two tiles. */
    static final int LOCAL_BYTES = Gemm.LOCAL_BYTES;

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
