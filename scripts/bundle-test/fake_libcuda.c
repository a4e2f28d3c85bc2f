/*
 * A stand-in for the NVIDIA driver's libcuda.so.1 on a machine without a GPU, for the bundle test
 * only (scripts/test-gpu-bundle.sh): it reports one device and a context, so TornadoVM's PTX backend
 * starts and lists the device, which proves the bundle loads that backend and its native library.
 * Nothing runs on it: memory and modules fail with CUDA_ERROR_NOT_SUPPORTED.
 * Build: gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o libcuda.so.1 fake_libcuda.c
 */
#include <stddef.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
enum { OK = 0, NOT_SUPPORTED = 801 };

static int context_storage;

CUresult cuInit(unsigned flags) { (void) flags; return OK; }
CUresult cuDriverGetVersion(int *v) { *v = 13000; return OK; }
CUresult cuDeviceGetCount(int *n) { *n = 1; return OK; }
CUresult cuDeviceGet(CUdevice *d, int ordinal) { *d = ordinal; return OK; }
CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
    (void) d;
    strncpy(name, "fake CUDA device (gpt-jvm bundle test, no GPU)", (size_t) len - 1);
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
CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice d) { (void) d; *bytes = (size_t) 1 << 30; return OK; }
CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total) { *free_bytes = *total = (size_t) 1 << 30; return OK; }
CUresult cuCtxCreate_v4(CUcontext *c, void *params, unsigned flags, CUdevice d) {
    (void) params; (void) flags; (void) d;
    *c = &context_storage;
    return OK;
}
CUresult cuCtxDestroy_v2(CUcontext c) { (void) c; return OK; }
CUresult cuCtxSetCurrent(CUcontext c) { (void) c; return OK; }
CUresult cuCtxGetStreamPriorityRange(int *least, int *greatest) { *least = 0; *greatest = -1; return OK; }

#define UNSUPPORTED(name) CUresult name() { return NOT_SUPPORTED; }
UNSUPPORTED(cuEventCreate) UNSUPPORTED(cuEventDestroy_v2) UNSUPPORTED(cuEventElapsedTime_v2) UNSUPPORTED(cuEventQuery)
UNSUPPORTED(cuEventRecord) UNSUPPORTED(cuEventSynchronize) UNSUPPORTED(cuGraphDestroy) UNSUPPORTED(cuGraphExecDestroy)
UNSUPPORTED(cuGraphInstantiateWithFlags) UNSUPPORTED(cuGraphLaunch) UNSUPPORTED(cuLaunchKernel)
UNSUPPORTED(cuMemAllocHost_v2) UNSUPPORTED(cuMemAlloc_v2) UNSUPPORTED(cuMemFreeHost) UNSUPPORTED(cuMemFree_v2)
UNSUPPORTED(cuMemHostRegister_v2) UNSUPPORTED(cuMemHostUnregister) UNSUPPORTED(cuMemcpyDtoHAsync_v2)
UNSUPPORTED(cuMemcpyHtoDAsync_v2) UNSUPPORTED(cuModuleGetFunction) UNSUPPORTED(cuModuleLoadData)
UNSUPPORTED(cuModuleLoadDataEx) UNSUPPORTED(cuModuleUnload) UNSUPPORTED(cuOccupancyMaxPotentialBlockSize)
UNSUPPORTED(cuStreamBeginCapture_v2) UNSUPPORTED(cuStreamCreateWithPriority) UNSUPPORTED(cuStreamDestroy_v2)
UNSUPPORTED(cuStreamEndCapture) UNSUPPORTED(cuStreamIsCapturing) UNSUPPORTED(cuStreamSynchronize)
UNSUPPORTED(cuStreamWaitEvent)
