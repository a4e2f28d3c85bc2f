package org.gptjvm.tornado;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.Backends;
import org.gptjvm.engine.GptException;
import org.gptjvm.engine.conformance.Conformance;
import org.gptjvm.engine.conformance.Conformance.Shape;
import org.gptjvm.engine.conformance.KernelConformance;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.runtime.library.spi.TornadoLibraryProvider;

import java.util.List;
import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Linear layers' products through cuBLAS ({@code --gemm cublas}, {@link CuBlas}) as far as a
 * machine without an NVIDIA GPU can check them: the calls and everything around them against the
 * reference, the refusal off TornadoVM's CUDA backend, and TornadoVM finding the provider. Compiled
 * with -Ptornado only (it names the backend's own classes).
 */
class TornadoKernelCuBlasTest {

    @BeforeAll
    static void runtime() {
        assertTrue(System.getProperty("tornado.load.runtime.implementation") != null, "not running under TornadoVM's flags");
    }

    /**
     * Each product as the cublasSgemm call it becomes, run by a kernel with cuBLAS's column-major
     * semantics (CuBlas.EMULATED: no NVIDIA GPU here), then our epilogue (bias, ReLU, dropout,
     * residual, the ReLU gate of dinp) and the backward's bias sums: every Linear launch of the suite
     * against the reference, on a shape within one tile and one cut by every edge.
     */
    @Test
    void linearLayersThroughCuBlasCallsGiveTheReferencesResults() {
        System.setProperty(CuBlas.EMULATED, "true");
        try {
            for (Shape s : List.of(new Shape(2, 64, 48, 4, 65), new Shape(3, 70, 100, 5, 65))) {
                Conformance.assertMatchesReference("tornado", s + " Linear products through cuBLAS's calls", s.hashCode(),
                        c -> {
                            if (c.be.name().equals("tornado")) {
                                c.be.useProductLibrary(CuBlas.TF32); // the math mode does not change the emulation
                                c.be.useProductLibrary(CuBlas.FP32);
                                assertTrue(c.be.device().contains("Linear products on cublas"), c.be.device());
                            }
                            return KernelConformance.linear(c, s);
                        });
            }
        } finally {
            System.clearProperty(CuBlas.EMULATED);
        }
    }

    /** cuBLAS on a device of another TornadoVM backend: refused in one line that says where it runs. */
    @Test
    void cuBlasIsRefusedOffTheCudaBackend() {
        try (Backend be = Backends.create("tornado", 1)) {
            assertEquals(List.of(), be.productLibraries());
            GptException e = assertThrows(GptException.class, () -> be.useProductLibrary(CuBlas.FP32));
            assertTrue(e.getMessage().contains("cuBLAS runs on TornadoVM's CUDA backend only"), e.getMessage());
            be.useProductLibrary(null);
        }
    }

    /** TornadoVM finds the cuBLAS provider where it looks for library providers (this module's services entry). */
    @Test
    void tornadoFindsTheCuBlasProvider() {
        List<String> names = ServiceLoader.load(TornadoLibraryProvider.class, TornadoLibraryProvider.class.getClassLoader())
                .stream().map(p -> p.get().libraryName()).toList();
        assertTrue(names.contains(CuBlas.LIBRARY), names.toString());
    }
}
