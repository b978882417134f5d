/* cuda_check.h — the check macro every CUDA runtime call goes through.
 *
 * CUDA_CHECK(call) turns a failing cudaError_t into a runtime error (exit 1)
 * naming the source file and line, the call and CUDA's message
 * (METHOD.md §6); CUDA_CHECK_LAUNCH() does the same for the launch just
 * made (cudaGetLastError). Included only by CUDA sources (.cu).
 */
#ifndef PURBO_CUDA_CHECK_H
#define PURBO_CUDA_CHECK_H

#include <cuda_runtime.h>

extern "C" {
#include "base/common.h"
}

#define CUDA_CHECK(call)                                                               \
    do {                                                                               \
        cudaError_t e_ = (call);                                                       \
        if (e_ != cudaSuccess)                                                         \
            pb_die_runtime(__FILE__, __LINE__, "%s: %s", #call, cudaGetErrorString(e_)); \
    } while (0)

#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())

#endif
