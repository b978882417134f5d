/* backend_cuda_policy.h — the CUDA backend's sparse attention: each head's
 * policy description (attn_desc, attention.h) mapped onto the row kernels of
 * kernels/attn_rows.h, with the state those rules keep per KV cache on the
 * device (index keys, quest page bounds, kept counts). Private to the CUDA
 * backend (backend_cuda.cu); CUDA sources only.
 *
 * Invariants: the dense heads of a call (and quest heads of a call of
 * several queries, which run dense as on the CPU) are the backend's dense
 * kernels' job; cuda_pol_attend writes the rows of the other heads, after
 * the dense kernel on the same stream. Kept counts of the heads it runs
 * stay on the device until cuda_pol_flush; their visible counts are added
 * to the host at once.
 */
#ifndef PURBO_BACKEND_CUDA_POLICY_H
#define PURBO_BACKEND_CUDA_POLICY_H

#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "run/backend.h"
}

typedef struct cuda_pol cuda_pol;

/* 1 when head `head` of a call of n queries runs the dense kernels (its
 * policy is ATTN_DENSE, or ATTN_QUEST with n > 1); 0 when cuda_pol_attend
 * runs it. A policy without a description (ATTN_OPAQUE) is a runtime error
 * of one line naming the layer, head and policy. */
int cuda_pol_is_dense(const attn_policy *pol, int n, int layer, int head);

/* The non-dense heads of call a: kc, vc the layer's bf16 cache (n_ctx,
 * n_head_kv, d) holding positions 0 .. a->pos0 + a->n - 1; out rows of those
 * heads written (bf16, a->out). *st is created on first use (n_ctx: the
 * cache's capacity). Adds the heads' visible counts to a->count. */
void cuda_pol_attend(cuda_pol **st, const model_config *c, const bk_attn *a, const uint16_t *kc, const uint16_t *vc,
                     int n_ctx, cudaStream_t stream);

/* Adds the kept counts held on the device into count [n_layer * n_head] and
 * zeroes them (synchronises the stream). st may be NULL (nothing held). */
void cuda_pol_flush(cuda_pol *st, attn_count *count, cudaStream_t stream);

void cuda_pol_free(cuda_pol *st);

#endif
