/* backend_cuda_obs.h — the CUDA backend's attention observers (attention.h,
 * on_rows): every head of a layer must be dense (anything else is a runtime
 * error naming the head and its policy, --backend cpu shows those); the
 * exact probability rows (kernels/attn_probs.h, the rows the CPU's dense
 * policy shows) are computed on the device in sub-blocks of ATTN_QBLOCK
 * queries, only those the observer wants (want_rows), downloaded into
 * pinned host memory and handed to the observer head by head (on several
 * threads when it takes heads in parallel), the next sub-block computing
 * while the observer reads one. The attn_call it gets carries positions and
 * shapes only: q, k, v, out are NULL (n_span 0). Private to the CUDA
 * backend (backend_cuda.cu); CUDA sources only.
 */
#ifndef PURBO_BACKEND_CUDA_OBS_H
#define PURBO_BACKEND_CUDA_OBS_H

#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "run/backend.h"
}

typedef struct cuda_obs cuda_obs;

/* Shows a->obs the rows of call a (q: a->q on the device, post-RoPE f32),
 * keys from kc, the layer's bf16 cache (n_ctx, n_head_kv, d) holding
 * positions 0 .. a->pos0 + a->n - 1. *st is created on first use. Returns
 * when the observer has read every row. */
void cuda_obs_rows(cuda_obs **st, const model_config *c, const bk_attn *a, const uint16_t *kc, int n_ctx,
                   cudaStream_t stream);

void cuda_obs_free(cuda_obs *st);

#endif
