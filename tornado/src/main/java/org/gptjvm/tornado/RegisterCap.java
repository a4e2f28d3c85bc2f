package org.gptjvm.tornado;

import org.gptjvm.engine.GptException;

/**
 * A cap on the registers a work-item may use, {@code -Dgpt.tornado.registers=N}, given to NVIDIA's
 * compilers (OpenCL's {@code -cl-nv-maxrregcount}, the PTX JIT's {@code CU_JIT_MAX_REGISTERS}). A
 * multiprocessor holds 65,536 registers and gives them to a warp in units of 256 (a work-item's count
 * rounds up to a multiple of 8): work-groups of 256 work-items fit three to an SM at up to 80
 * registers, two at up to 128. The 64-wide GEMM compiled for sm_90 through the OpenCL route
 * (scripts/kernel-ptx.sh) takes 96, so two; at 80, three; the 128-wide GEMM needs 128 or fewer for
 * two. Fewer registers may mean spills, so the cap is off (the compiler's choice) unless set, until a
 * GPU has timed it (the GPU check's products part).
 */
final class RegisterCap {
    static final String PROPERTY = "gpt.tornado.registers";
    /** TornadoVM 5.2's own flags (tornado.opencl.compiler.flags, tornado.ptx.compiler.flags): flags given to a plan replace them. */
    static final String OPENCL_DEFAULT = "-cl-mad-enable -cl-fast-relaxed-math -w";
    static final String PTX_DEFAULT = "CU_JIT_OPTIMIZATION_LEVEL 4";

    private RegisterCap() {
    }

    /** The cap asked for: 0 for none. */
    static int registers() {
        String v = System.getProperty(PROPERTY, "0").trim();
        try {
            int n = Integer.parseInt(v);
            if (n == 0 || (n >= 16 && n <= 255)) {
                return n;
            }
        } catch (NumberFormatException e) {
            // the one-line error below
        }
        throw new GptException("-D" + PROPERTY + " must be a number of registers from 16 to 255 (0: the compiler's choice), got " + v);
    }

    /**
     * The compiler flags that cap a plan's kernels at {@code registers} on a device of TornadoVM backend
     * {@code backend} (its enum name) and OpenCL platform {@code platform}, or null for none (no cap).
     */
    static String flags(String backend, String platform, int registers) {
        if (registers == 0) {
            return null;
        }
        if (backend.equals("PTX")) {
            return System.getProperty("tornado.ptx.compiler.flags", PTX_DEFAULT).trim() + " CU_JIT_MAX_REGISTERS " + registers;
        }
        if (backend.equals("OPENCL") && platform.toUpperCase(java.util.Locale.ROOT).contains("NVIDIA")) {
            return System.getProperty("tornado.opencl.compiler.flags", OPENCL_DEFAULT).trim() + " -cl-nv-maxrregcount="
                    + registers;
        }
        throw new GptException("-D" + PROPERTY + " applies to NVIDIA GPUs (through OpenCL or PTX), not to this " + backend
                + " device on " + platform.trim());
    }
}
