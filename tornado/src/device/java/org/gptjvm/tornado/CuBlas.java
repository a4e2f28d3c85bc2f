package org.gptjvm.tornado;

import org.gptjvm.engine.GptException;
import org.gptjvm.engine.device.LaunchInfo;
import org.gptjvm.tornado.DeviceLaunch.Task;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.common.Access;
import uk.ac.manchester.tornado.api.common.LibraryTaskDescriptor;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.TornadoVMBackendType;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.runtime.common.TornadoXPUDevice;
import uk.ac.manchester.tornado.runtime.library.spi.LibraryContext;
import uk.ac.manchester.tornado.runtime.library.spi.LibraryInvocation;
import uk.ac.manchester.tornado.runtime.library.spi.TornadoLibraryProvider;
import uk.ac.manchester.tornado.runtime.library.spi.TornadoNativeStreamSupport;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * NVIDIA cuBLAS for the Linear layers' products, beside our own kernels and never instead of them: the
 * ceiling {@code gpt bench --products} sets our {@link Gemm} against on the same buffers, and what
 * {@code --gemm cublas} (fp32) or {@code --gemm cublas-tf32} (TF32 tensor cores) trains with.
 *
 * <p>A product is a TornadoVM library task ({@link Provider}, found by TornadoVM's ServiceLoader):
 * TornadoVM hands it the arena's device pointer on its CUDA backend, the only one that exposes its
 * stream, and the provider calls {@code cublasSgemm} on arena offsets (TornadoVM's own cuBLAS
 * factories take whole arrays) through Java's FFM API, on the stream of the plan, so the call is
 * ordered with our kernels and captured into the plan's CUDA graphs like them. Our row-major
 * {@code C = A B} is cuBLAS's column-major {@code C^T = B^T A^T} ({@link Sgemm#of}); the bias, ReLU,
 * dropout, residual and ReLU gate follow in {@link Gemm#epilogue}, the same arithmetic as our kernels'
 * epilogue.
 *
 * <p>The library: {@value #ENV} (a file, or the folder holding it), else {@code libcublas.so.13} or
 * {@code .12} on the loader's path (a PyTorch install has one in its {@code nvidia/cublas/lib}).
 */
final class CuBlas {
    /** The library name of the tasks, matched by TornadoVM against {@link Provider#libraryName()}. */
    static final String LIBRARY = "gptjvm/cublas";
    /** Where libcublas is, when it is not on the loader's path. */
    static final String ENV = "GPT_CUBLAS";
    /** The names --gemm takes, each with cuBLAS's math mode: CUBLAS_DEFAULT_MATH (fp32), CUBLAS_TF32_TENSOR_OP_MATH. */
    static final String FP32 = "cublas", TF32 = "cublas-tf32";
    private static final int DEFAULT_MATH = 0, TF32_MATH = 3;
    private static final int OP_N = 0, OP_T = 1;
    /** Bytes of the workspace each handle gets, set before any capture (cuBLAS would allocate its own inside one). */
    private static final long WORKSPACE = 32L << 20;

    private CuBlas() {
    }

    /**
     * With this system property true, the calls run as {@link #emulated}, a plain kernel with cuBLAS's
     * column-major semantics, on any device: how the suite checks this route (the calls, the epilogue,
     * the backward's composition) where no NVIDIA GPU is. Not a way to train.
     */
    static final String EMULATED = "gpt.tornado.cublasEmulated";

    private static boolean emulated() {
        return Boolean.getBoolean(EMULATED);
    }

    /** The product libraries a backend on {@code device} offers: cuBLAS on TornadoVM's CUDA backend. */
    static List<String> offered(TornadoDevice device) {
        return device.getTornadoVMBackend() == TornadoVMBackendType.CUDA || emulated() ? List.of(FP32, TF32) : List.of();
    }

    /** cuBLAS's math mode for a --gemm name. */
    static int mathMode(String library) {
        return switch (library) {
            case FP32 -> DEFAULT_MATH;
            case TF32 -> TF32_MATH;
            default -> throw new IllegalArgumentException(library);
        };
    }

    // ---------------------------------------------------------------- our products as cuBLAS calls

    /**
     * One {@code cublasSgemm}: C := alpha op(A) op(B) + beta C in column-major terms, m x n x k, the
     * operands at arena offsets {@code a}, {@code b}, {@code c} with leading dimensions.
     */
    record Sgemm(int transa, int transb, int m, int n, int k, int a, int lda, int b, int ldb, int c, int ldc) {
        /**
         * A product of ours, C(i,j) = sum over kk of A(i,kk) B(kk,j), all row-major with strides
         * ({@link Gemm.Call}), as cuBLAS's column-major C^T = B^T A^T: C^T is n x m with leading
         * dimension ldc; cuBLAS's first operand is B^T (element (j,kk) at b + kk sbk + j sbj: as stored
         * where sbj = 1, transposed where sbk = 1), its second A^T (element (kk,i) at a + i sai + kk
         * sak: as stored where sak = 1, transposed where sai = 1). One product, no batches or heads.
         */
        static Sgemm of(Gemm.Call g) {
            if (g.z != 1 || g.mode != Gemm.ALL || g.kSlice != 0) {
                throw new IllegalStateException("cuBLAS takes one whole product here, not batches, triangles or slices of K");
            }
            Op opB = Op.of(g.sbj, g.sbk, "B"), opA = Op.of(g.sak, g.sai, "A");
            return new Sgemm(opB.trans(), opA.trans(), g.n, g.m, g.k, g.b, opB.ld(), g.a, opA.ld(), g.c, g.ldc);
        }
    }

    /** How cuBLAS takes one operand: as stored ({@code OP_N}) or transposed, and its leading dimension. */
    private record Op(int trans, int ld) {
        /**
         * An operand whose cuBLAS rows run along {@code rowStride} and columns along {@code colStride}:
         * as stored where its rows are the unit stride, transposed where its columns are.
         */
        static Op of(int rowStride, int colStride, String name) {
            if (rowStride == 1) {
                return new Op(OP_N, colStride);
            }
            if (colStride == 1) {
                return new Op(OP_T, rowStride);
            }
            throw new IllegalStateException(name + " needs a unit stride");
        }
    }

    /**
     * The library task of call {@code g}'s product alone, in {@code library}'s math mode: C = A B, or
     * C += A B where its flags say +=; its epilogue is {@link Gemm#epilogueTask}'s.
     */
    static Task task(String kernel, Gemm.Call g, String library) {
        Sgemm s = Sgemm.of(g);
        int math = mathMode(library);
        float alpha = g.alpha, beta = (g.flags & Gemm.ACCUMULATE) != 0 ? 1f : 0f;
        double mn = (double) g.m * g.n;
        // the grid is cuBLAS's own, unknown here
        LaunchInfo info = new LaunchInfo(kernel, Grids.dims(0, 0, 0), Grids.dims(0, 0, 0), 2.0 * mn * g.k,
                4.0 * ((double) g.m * g.k + (double) g.k * g.n) + (beta != 0f ? 4.0 * mn : 0), 4.0 * mn, 0);
        if (emulated()) {
            return new Task((graph, id, mem, args) -> graph.task(id, CuBlas::emulated, mem, s.transa(), s.transb(), s.m(),
                    s.n(), s.k(), alpha, s.a(), s.lda(), s.b(), s.ldb(), beta, s.c(), s.ldc()), null, info);
        }
        return new Task((graph, id, mem, args) -> graph.libraryTask(id, CuBlas::sgemm, mem, s.transa(), s.transb(), s.m(),
                s.n(), s.k(), alpha, s.a(), s.lda(), s.b(), s.ldb(), beta, s.c(), s.ldc(), math), null, info);
    }

    /**
     * cublasSgemm as its manual defines it, one work-item per element of C, column-major: op(A)(i,l) at
     * a + i + l lda (N) or a + l + i lda (T), op(B)(l,j) at b + l + j ldb (N) or b + j + l ldb (T),
     * C(i,j) at c + i + j ldc; C is not read where beta is 0. See {@link #EMULATED}.
     */
    public static void emulated(FloatArray mem, int transa, int transb, int m, int n, int k, float alpha, int a, int lda,
                                int b, int ldb, float beta, int c, int ldc) {
        for (@Parallel int j = 0; j < n; j++) {
            for (@Parallel int i = 0; i < m; i++) {
                float s = 0f;
                for (int l = 0; l < k; l++) {
                    float x = mem.get(a + (transa == OP_N ? i + l * lda : l + i * lda));
                    float y = mem.get(b + (transb == OP_N ? l + j * ldb : j + l * ldb));
                    s += x * y;
                }
                int at = c + i + j * ldc;
                mem.set(at, beta != 0f ? alpha * s + beta * mem.get(at) : alpha * s);
            }
        }
    }

    /** The descriptor TornadoVM keeps for one call (arguments after {@code mem} in {@link Sgemm}'s order). */
    public static LibraryTaskDescriptor sgemm(FloatArray mem, Integer transa, Integer transb, Integer m, Integer n,
                                              Integer k, Float alpha, Integer a, Integer lda, Integer b, Integer ldb,
                                              Float beta, Integer c, Integer ldc, Integer math) {
        Access[] access = new Access[15];
        Arrays.fill(access, Access.READ_ONLY);
        access[0] = Access.READ_WRITE;
        return new LibraryTaskDescriptor().withLibrary(LIBRARY).withFunction("sgemm")
                .withParameters(new Object[]{mem, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, math})
                .withAccess(access);
    }

    // ---------------------------------------------------------------- the provider TornadoVM calls

    /** The TornadoVM library provider of {@link #LIBRARY} (listed in META-INF/services). */
    public static final class Provider implements TornadoLibraryProvider {
        private record Context(MemorySegment handle, long cuContext, long workspace) implements LibraryContext {
        }

        @Override
        public String libraryName() {
            return LIBRARY;
        }

        @Override
        public boolean canHandle(TornadoXPUDevice device) {
            return device instanceof TornadoNativeStreamSupport;
        }

        @Override
        public LibraryContext createContext(TornadoXPUDevice device, long executionPlanId) {
            Native lib = Native.get();
            TornadoNativeStreamSupport cuda = (TornadoNativeStreamSupport) device;
            long cuContext = cuda.getNativeContext(executionPlanId);
            lib.makeCurrent(cuContext);
            MemorySegment handle = lib.create();
            lib.check(lib.call(lib.setStream, handle, MemorySegment.ofAddress(cuda.getNativeStream(executionPlanId))),
                    "cublasSetStream");
            long workspace = lib.alloc(WORKSPACE);
            lib.check(lib.call(lib.setWorkspace, handle, MemorySegment.ofAddress(workspace), WORKSPACE), "cublasSetWorkspace");
            return new Context(handle, cuContext, workspace);
        }

        @Override
        public void dispatch(String functionName, LibraryInvocation inv) {
            if (!functionName.equals("sgemm")) {
                throw new GptException("cuBLAS: no function '" + functionName + "' here");
            }
            Native lib = Native.get();
            Context ctx = (Context) inv.getContext();
            lib.makeCurrent(ctx.cuContext());
            long mem = inv.getDevicePointer(0);
            int math = (Integer) inv.getArg(14);
            lib.check(lib.call(lib.setMathMode, ctx.handle(), math), "cublasSetMathMode");
            try (Arena scalars = Arena.ofConfined()) { // alpha and beta in host memory: read when the call is made
                MemorySegment alpha = scalars.allocateFrom(ValueLayout.JAVA_FLOAT, (Float) inv.getArg(6));
                MemorySegment beta = scalars.allocateFrom(ValueLayout.JAVA_FLOAT, (Float) inv.getArg(11));
                lib.check(lib.call(lib.sgemm, ctx.handle(), inv.getArg(1), inv.getArg(2), inv.getArg(3), inv.getArg(4),
                        inv.getArg(5), alpha, at(mem, inv.getArg(7)), inv.getArg(8), at(mem, inv.getArg(9)), inv.getArg(10),
                        beta, at(mem, inv.getArg(12)), inv.getArg(13)), "cublasSgemm");
            }
        }

        @Override
        public void destroyContext(LibraryContext context) {
            Native lib = Native.get();
            Context ctx = (Context) context;
            lib.makeCurrent(ctx.cuContext());
            lib.call(lib.destroy, ctx.handle());
            lib.free(ctx.workspace());
        }

        /** The device address of arena offset {@code offset} (floats) from the arena's first float. */
        private static MemorySegment at(long mem, Object offset) {
            return MemorySegment.ofAddress(mem + 4L * (Integer) offset);
        }
    }

    // ---------------------------------------------------------------- libcublas and libcuda through FFM

    /** Loads libcublas (see the class comment) or says in one line why it cannot, for a --gemm that names it. */
    static String version() {
        return emulated() ? "emulated by a kernel, " + EMULATED : Native.get().version;
    }

    /** The functions of libcublas (and the three of the driver it needs) as method handles, loaded once. */
    static final class Native {
        private static Native instance;
        private static GptException failure;

        final String version;
        final MethodHandle create, destroy, setStream, setWorkspace, setMathMode, sgemm, statusString;
        private final MethodHandle ctxSetCurrent, memAlloc, memFree;

        static synchronized Native get() {
            if (instance == null && failure == null) {
                try {
                    instance = new Native();
                } catch (GptException e) {
                    failure = e;
                }
            }
            if (failure != null) {
                throw failure;
            }
            return instance;
        }

        private Native() {
            Linker linker = Linker.nativeLinker();
            SymbolLookup cublas = open();
            create = handle(linker, cublas, "cublasCreate_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            destroy = handle(linker, cublas, "cublasDestroy_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            setStream = handle(linker, cublas, "cublasSetStream_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
            setWorkspace = handle(linker, cublas, "cublasSetWorkspace_v2",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
            setMathMode = handle(linker, cublas, "cublasSetMathMode", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
            sgemm = handle(linker, cublas, "cublasSgemm_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT,
                    JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
            statusString = handle(linker, cublas, "cublasGetStatusString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
            MethodHandle property = handle(linker, cublas, "cublasGetProperty", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
            try (Arena a = Arena.ofConfined()) {
                int[] v = new int[3];
                for (int type = 0; type < 3; type++) { // MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL
                    MemorySegment out = a.allocate(JAVA_INT);
                    check(call(property, type, out), "cublasGetProperty");
                    v[type] = out.get(JAVA_INT, 0);
                }
                version = v[0] + "." + v[1] + "." + v[2];
            }
            // the driver's own, already loaded by TornadoVM's CUDA backend (a lookup by name finds it again)
            SymbolLookup driver;
            try {
                driver = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
            } catch (IllegalArgumentException e) {
                throw new GptException("cuBLAS needs NVIDIA's driver (libcuda.so.1), which is not here");
            }
            ctxSetCurrent = handle(linker, driver, "cuCtxSetCurrent", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            memAlloc = handle(linker, driver, "cuMemAlloc_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
            memFree = handle(linker, driver, "cuMemFree_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
        }

        /** libcublas from {@value #ENV}, else by its sonames on the loader's path. */
        private static SymbolLookup open() {
            String env = System.getenv(ENV);
            List<String> tried = new ArrayList<>();
            if (env != null && !env.isBlank()) {
                Path p = Path.of(env.trim());
                List<Path> files = Files.isDirectory(p) ? List.of(p.resolve("libcublas.so.13"), p.resolve("libcublas.so.12"))
                        : List.of(p);
                for (Path f : files) {
                    if (Files.isRegularFile(f)) {
                        try {
                            return SymbolLookup.libraryLookup(f, Arena.global());
                        } catch (IllegalArgumentException e) {
                            throw new GptException(ENV + "=" + env.trim() + ": " + f + " does not load (is libcublasLt beside it?)");
                        }
                    }
                    tried.add(f.toString());
                }
                throw new GptException(ENV + "=" + env.trim() + ": no libcublas there (tried " + String.join(", ", tried) + ")");
            }
            for (String name : List.of("libcublas.so.13", "libcublas.so.12")) {
                try {
                    return SymbolLookup.libraryLookup(name, Arena.global());
                } catch (IllegalArgumentException e) {
                    tried.add(name);
                }
            }
            throw new GptException("cuBLAS is not on the library path (" + String.join(", ", tried) + "): set " + ENV
                    + " to the folder with libcublas.so.13 or .12 (a PyTorch install has one in site-packages/nvidia/cublas/lib)");
        }

        private static MethodHandle handle(Linker linker, SymbolLookup lib, String name, FunctionDescriptor fd) {
            MemorySegment symbol = lib.find(name).orElseThrow(() -> new GptException("cuBLAS: this library has no " + name));
            return linker.downcallHandle(symbol, fd);
        }

        int call(MethodHandle h, Object... args) {
            try {
                return (int) h.invokeWithArguments(args);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        void check(int status, String what) {
            if (status != 0) {
                String text;
                try {
                    text = ((MemorySegment) statusString.invokeExact(status)).reinterpret(256).getString(0);
                } catch (Throwable t) {
                    text = "status " + status;
                }
                throw new GptException(what + " failed: " + text);
            }
        }

        /** A new handle (a failure names cuBLAS's reason: no GPU, no driver, ...). */
        MemorySegment create() {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(ADDRESS);
                check(call(create, out), "cublasCreate");
                return out.get(ADDRESS, 0);
            }
        }

        void makeCurrent(long cuContext) {
            driverCheck(call(ctxSetCurrent, MemorySegment.ofAddress(cuContext)), "cuCtxSetCurrent");
        }

        long alloc(long bytes) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(JAVA_LONG);
                driverCheck(call(memAlloc, out, bytes), "cuMemAlloc (cuBLAS's workspace)");
                return out.get(JAVA_LONG, 0);
            }
        }

        void free(long pointer) {
            call(memFree, pointer);
        }

        private static void driverCheck(int result, String what) {
            if (result != 0) {
                throw new GptException(what + " failed: CUDA error " + result);
            }
        }
    }
}
