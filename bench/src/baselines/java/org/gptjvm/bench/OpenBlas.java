package org.gptjvm.bench;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.openblas.global.openblas;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Loads OpenBLAS through JavaCPP and reaches the few OpenBLAS functions that the JavaCPP preset leaves out
 * (openblas_get_num_threads, openblas_get_config, openblas_get_corename) with the FFM API, so a run can
 * show which library it got and how many threads it really uses.
 */
final class OpenBlas {
    private OpenBlas() {
    }

    /** Loads the library and sets its thread count with openblas_set_num_threads (via JavaCPP). */
    static void init(int threads) {
        Loader.load(openblas.class);
        openblas.blas_set_num_threads(threads);
        int got = numThreads();
        if (got != threads) {
            throw new IllegalStateException("openblas_set_num_threads(" + threads + ") left " + got + " threads");
        }
    }

    /** openblas_get_num_threads(). */
    static int numThreads() {
        try {
            return (int) handle("openblas_get_num_threads", FunctionDescriptor.of(ValueLayout.JAVA_INT)).invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** openblas_get_config() and openblas_get_corename(), e.g. "OpenBLAS 0.3.31 DYNAMIC_ARCH ... (core SkylakeX)". */
    static String describe() {
        try {
            FunctionDescriptor str = FunctionDescriptor.of(ValueLayout.ADDRESS);
            MemorySegment config = (MemorySegment) handle("openblas_get_config", str).invokeExact();
            MemorySegment core = (MemorySegment) handle("openblas_get_corename", str).invokeExact();
            return cString(config) + " (core " + cString(core) + ", " + numThreads() + " thread(s), "
                    + Loader.getPlatform() + ")";
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static String cString(MemorySegment p) {
        return p.reinterpret(Long.MAX_VALUE).getString(0);
    }

    private static MethodHandle handle(String name, FunctionDescriptor fd) {
        Loader.load(openblas.class);
        Pointer address = Loader.addressof(name);
        if (address == null || address.isNull()) {
            throw new IllegalStateException(name + " not found in the loaded OpenBLAS");
        }
        return Linker.nativeLinker().downcallHandle(MemorySegment.ofAddress(address.address()), fd);
    }
}
