/*
 * A stand-in for the NVIDIA driver's libcuda.so.1 that runs nothing but keeps what TornadoVM's PTX
 * and CUDA backends hand the driver: every module image passed to cuModuleLoadData(Ex) is written to
 * $GPT_PTX_DUMP, PTX as NNN-ENTRY.ptx (with the JIT options in a comment line), a cubin (the CUDA
 * backend's NVRTC output, an ELF file) as NNN-module.cubin, so that the code can be compiled and read
 * on a machine without a GPU. Memory is host memory (copies are memcpy), launches do nothing, events
 * take 1 us, CUDA graphs are not supported. Device: one sm_90 with 132 SMs (an H100/H200's numbers;
 * GPT_CUDA_ARCH=sm_NN names another compute capability).
 * NVRTC 13 asks the driver for an export table (cuGetExportTable): the stand-in says no, and NVRTC
 * then compiles without it. Used by scripts/tornado-ptx.sh and scripts/kernel-sass.sh, and by
 * scripts/test-gpu-bundle.sh (without GPT_PTX_DUMP), which only needs TornadoVM to start and list
 * the device.
 * Build: gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o libcuda.so.1 dump_libcuda.c
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef unsigned long long CUdeviceptr;
enum { OK = 0, NOT_SUPPORTED = 801 };

static int context_storage, stream_storage, event_storage;
static int modules;

CUresult cuInit(unsigned flags) { (void) flags; return OK; }
CUresult cuDriverGetVersion(int *v) { *v = 13000; return OK; }
CUresult cuDeviceGetCount(int *n) { *n = 1; return OK; }
CUresult cuDeviceGet(CUdevice *d, int ordinal) { *d = ordinal; return OK; }
CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
    (void) d;
    strncpy(name, "PTX dump (no GPU: nothing runs)", (size_t) len - 1);
    name[len - 1] = 0;
    return OK;
}
/* the compute capability: GPT_CUDA_ARCH (sm_90, sm_100, ...), else 9.0 */
static int arch(void) {
    const char *a = getenv("GPT_CUDA_ARCH");
    int v = a && strncmp(a, "sm_", 3) == 0 ? atoi(a + 3) : 0;
    return v >= 10 ? v : 90;
}
CUresult cuDeviceGetAttribute(int *v, int attribute, CUdevice d) {
    (void) d;
    switch (attribute) {
        case 75: *v = arch() / 10; break; /* compute capability major */
        case 76: *v = arch() % 10; break; /* minor */
        case 16: *v = 132; break;     /* multiprocessors */
        case 8: *v = 49152; break;    /* shared memory per block */
        case 9: *v = 65536; break;    /* constant memory */
        case 13: *v = 1980000; break; /* clock rate, kHz */
        case 1: *v = 1024; break;     /* threads per block */
        case 2: case 3: *v = 1024; break;
        case 4: *v = 64; break;
        case 5: *v = 2147483647; break;
        case 6: case 7: *v = 65535; break;
        default: *v = 1; break;
    }
    return OK;
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice d) { (void) d; *bytes = (size_t) 4 << 30; return OK; }
CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total) { *free_bytes = *total = (size_t) 4 << 30; return OK; }
CUresult cuCtxCreate_v4(CUcontext *c, void *params, unsigned flags, CUdevice d) {
    (void) params; (void) flags; (void) d;
    *c = &context_storage;
    return OK;
}
CUresult cuCtxDestroy_v2(CUcontext c) { (void) c; return OK; }
CUresult cuCtxSetCurrent(CUcontext c) { (void) c; return OK; }
CUresult cuCtxGetStreamPriorityRange(int *least, int *greatest) { *least = 0; *greatest = -1; return OK; }

CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
    void *m = calloc(1, n ? n : 1);
    if (!m) return 2; /* CUDA_ERROR_OUT_OF_MEMORY */
    *p = (CUdeviceptr) (uintptr_t) m;
    return OK;
}
CUresult cuMemFree_v2(CUdeviceptr p) { free((void *) (uintptr_t) p); return OK; }
CUresult cuMemAllocHost_v2(void **p, size_t n) { *p = calloc(1, n ? n : 1); return *p ? OK : 2; }
CUresult cuMemFreeHost(void *p) { free(p); return OK; }
CUresult cuMemHostRegister_v2(void *p, size_t n, unsigned flags) { (void) p; (void) n; (void) flags; return OK; }
CUresult cuMemHostUnregister(void *p) { (void) p; return OK; }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, void *s) {
    (void) s; memcpy((void *) (uintptr_t) dst, src, n); return OK;
}
CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, void *s) {
    (void) s; memcpy(dst, (const void *) (uintptr_t) src, n); return OK;
}

/* The size of an ELF64 image: where its section or its program header table ends, whichever is last. */
static size_t elf_size(const unsigned char *image) {
    uint64_t shoff, phoff;
    uint16_t phentsize, phnum, shentsize, shnum;
    memcpy(&phoff, image + 32, 8);
    memcpy(&shoff, image + 40, 8);
    memcpy(&phentsize, image + 54, 2);
    memcpy(&phnum, image + 56, 2);
    memcpy(&shentsize, image + 58, 2);
    memcpy(&shnum, image + 60, 2);
    uint64_t sections = shoff + (uint64_t) shentsize * shnum, segments = phoff + (uint64_t) phentsize * phnum;
    return (size_t) (sections > segments ? sections : segments);
}

static void dump(const char *image, unsigned nopts, const int *opts, void **values) {
    const char *dir = getenv("GPT_PTX_DUMP");
    if (!dir) return;
    char path[1024];
    if (memcmp(image, "\177ELF", 4) == 0) {
        snprintf(path, sizeof path, "%s/%03d-module.cubin", dir, modules);
        FILE *f = fopen(path, "wb");
        if (!f) return;
        fwrite(image, 1, elf_size((const unsigned char *) image), f);
        fclose(f);
        return;
    }
    char entry[200] = "module";
    const char *e = strstr(image, ".entry ");
    if (e) {
        e += 7;
        size_t i = 0;
        while (e[i] && e[i] != '(' && e[i] != ' ' && e[i] != '\n' && i < sizeof entry - 1) { entry[i] = e[i]; i++; }
        entry[i] = 0;
    }
    snprintf(path, sizeof path, "%s/%03d-%s.ptx", dir, modules, entry);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "// JIT options:");
    for (unsigned i = 0; i < nopts; i++) fprintf(f, " %d=%ld", opts[i], (long) (intptr_t) values[i]);
    fprintf(f, "\n%s", image);
    fclose(f);
}
CUresult cuModuleLoadData(void **m, const void *image) { dump(image, 0, NULL, NULL); *m = (void *) (intptr_t) ++modules; return OK; }
CUresult cuModuleLoadDataEx(void **m, const void *image, unsigned n, int *opts, void **values) {
    dump(image, n, opts, values); *m = (void *) (intptr_t) ++modules; return OK;
}
CUresult cuModuleUnload(void *m) { (void) m; return OK; }
/* a function handle is its name, so that a launch can say which kernel it ran */
CUresult cuModuleGetFunction(void **f, void *m, const char *name) { (void) m; *f = strdup(name); return *f ? OK : 2; }
/* with GPT_PTX_DUMP: each launch's kernel, work-group size and dynamic shared memory, to launches.txt */
CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void *s, void **params, void **extra) {
    (void) s; (void) params; (void) extra;
    const char *dir = getenv("GPT_PTX_DUMP");
    if (!dir) return OK;
    char path[1024];
    snprintf(path, sizeof path, "%s/launches.txt", dir);
    FILE *out = fopen(path, "a");
    if (!out) return OK;
    fprintf(out, "%s block %u %u %u grid %u %u %u shared %u\n", (const char *) f, bx, by, bz, gx, gy, gz, shared);
    fclose(out);
    return OK;
}
CUresult cuOccupancyMaxPotentialBlockSize(int *grid, int *block, void *f, void *fn, size_t shared, int limit) {
    (void) f; (void) fn; (void) shared; (void) limit; *grid = 132; *block = 256; return OK;
}
CUresult cuStreamCreate(void **s, unsigned flags) { (void) flags; *s = &stream_storage; return OK; }
CUresult cuCtxSynchronize(void) { return OK; }
CUresult cuGetErrorName(CUresult e, const char **s) { (void) e; *s = "CUDA_ERROR_STAND_IN"; return OK; }
CUresult cuGetErrorString(CUresult e, const char **s) { (void) e; *s = "stand-in driver (no GPU)"; return OK; }
CUresult cuMemcpyDtoD_v2(CUdeviceptr d, CUdeviceptr s, size_t n) { memmove((void *) (uintptr_t) d, (const void *) (uintptr_t) s, n); return OK; }
CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) { memset((void *) (uintptr_t) d, v, n); return OK; }
/* NVRTC 13 calls this; "not found" makes it compile on its own */
CUresult cuGetExportTable(const void **table, const void *id) { (void) id; *table = NULL; return 500; }
CUresult cuStreamCreateWithPriority(void **s, unsigned flags, int priority) { (void) flags; (void) priority; *s = &stream_storage; return OK; }
CUresult cuStreamDestroy_v2(void *s) { (void) s; return OK; }
CUresult cuStreamSynchronize(void *s) { (void) s; return OK; }
CUresult cuStreamWaitEvent(void *s, void *e, unsigned flags) { (void) s; (void) e; (void) flags; return OK; }
CUresult cuStreamIsCapturing(void *s, int *status) { (void) s; *status = 0; return OK; }
CUresult cuEventCreate(void **e, unsigned flags) { (void) flags; *e = &event_storage; return OK; }
CUresult cuEventDestroy_v2(void *e) { (void) e; return OK; }
CUresult cuEventRecord(void *e, void *s) { (void) e; (void) s; return OK; }
CUresult cuEventSynchronize(void *e) { (void) e; return OK; }
CUresult cuEventQuery(void *e) { (void) e; return OK; }
CUresult cuEventElapsedTime_v2(float *ms, void *a, void *b) { (void) a; (void) b; *ms = 0.001f; return OK; }

#define UNSUPPORTED(name) CUresult name() { return NOT_SUPPORTED; }
UNSUPPORTED(cuGraphDestroy) UNSUPPORTED(cuGraphExecDestroy) UNSUPPORTED(cuGraphInstantiateWithFlags)
UNSUPPORTED(cuGraphLaunch) UNSUPPORTED(cuStreamBeginCapture_v2) UNSUPPORTED(cuStreamEndCapture)
UNSUPPORTED(cuGraphExecUpdate_v2)
