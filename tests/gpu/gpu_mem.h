/* gpu_mem.h — what the kernel tests share around the CUDA runtime: a device
 * allocation that returns NULL on failure (never for 0 bytes: one byte is
 * taken instead), and the check after a launch that names what failed. */
#ifndef PURBO_TESTS_GPU_MEM_H
#define PURBO_TESTS_GPU_MEM_H

#include <cuda_runtime.h>
#include <stdio.h>

static inline void *gpu_dev(size_t bytes)
{
    void *p = NULL;
    return cudaMalloc(&p, bytes ? bytes : 1) == cudaSuccess ? p : NULL;
}

/* 1 when the call returned 0 and the device finished without an error;
 * else 0 and a line naming `what` and both errors. */
static inline int gpu_launched(int rc, const char *what)
{
    cudaError_t e = cudaDeviceSynchronize();
    if (rc || e != cudaSuccess) {
        printf("    %s: %s / %s\n", what, cudaGetErrorString((cudaError_t)rc), cudaGetErrorString(e));
        return 0;
    }
    return 1;
}

#endif
