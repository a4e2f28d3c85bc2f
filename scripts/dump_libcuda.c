/*
 * A stand-in for the NVIDIA driver's libcuda.so.1 that runs nothing but keeps what TornadoVM's PTX
 * backend hands the driver: every module image passed to cuModuleLoadData(Ex) is written to
 * $GPT_PTX_DUMP/NNN-ENTRY.ptx (with the JIT options in a comment line), so that the PTX can be read
 * and compiled by ptxas on a machine without a GPU. Memory is host memory (copies are memcpy),
 * launches do nothing, events take 1 us. Device: one sm_90 with 132 SMs (an H100/H200's numbers).
 * Used by scripts/tornado-ptx.sh, and by scripts/test-gpu-bundle.sh (without GPT_PTX_DUMP), which
 * only needs TornadoVM's PTX backend to start and list the device.
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

static int context_storage, stream_storage, event_storage, function_storage;
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
CUresult cuDeviceGetAttribute(int *v, int attribute, CUdevice d) {
    (void) d;
    switch (attribute) {
        case 75: *v = 9; break;       /* compute capability major */
        case 76: *v = 0; break;       /* minor */
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

static void dump(const char *image, unsigned nopts, const int *opts, void **values) {
    const char *dir = getenv("GPT_PTX_DUMP");
    if (!dir) return;
    char entry[200] = "module";
    const char *e = strstr(image, ".entry ");
    if (e) {
        e += 7;
        size_t i = 0;
        while (e[i] && e[i] != '(' && e[i] != ' ' && e[i] != '\n' && i < sizeof entry - 1) { entry[i] = e[i]; i++; }
        entry[i] = 0;
    }
    char path[1024];
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
CUresult cuModuleGetFunction(void **f, void *m, const char *name) { (void) m; (void) name; *f = &function_storage; return OK; }
CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void *s, void **params, void **extra) {
    (void) f; (void) gx; (void) gy; (void) gz; (void) bx; (void) by; (void) bz; (void) shared; (void) s;
    (void) params; (void) extra;
    return OK;
}
CUresult cuOccupancyMaxPotentialBlockSize(int *grid, int *block, void *f, void *fn, size_t shared, int limit) {
    (void) f; (void) fn; (void) shared; (void) limit; *grid = 132; *block = 256; return OK;
}
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
