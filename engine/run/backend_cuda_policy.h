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

#include "kernels/attn_rows.h"

extern "C" {
#include "run/backend.h"
}

typedef struct cuda_pol cuda_pol;

/* 1 when head `head` of a call of n queries runs the dense kernels (its
 * policy is ATTN_DENSE, or ATTN_QUEST with n > 1); 0 when cuda_pol_attend
 * runs it. A policy without a description (ATTN_OPAQUE) is a runtime error
 * of one line naming the layer, head and policy. */
int cuda_pol_is_dense(const attn_policy *pol, int n, int layer, int head);

/* Where the policies find a layer's keys and values: kc, vc the bf16 cache
 * (n_ctx rows) holding positions 0 .. a->pos0 + a->n - 1 of the heads it
 * keeps; n_ctx its capacity (the positions index keys and page bounds are
 * sized for). kv_ld 0: a row holds every KV head in order, (n_ctx,
 * n_head_kv, d); else kv_ld heads, KV head g in slot kv_slot[g], and
 * kv_slot[g] < 0 for a KV head kept elsewhere, whose query heads (local
 * heads of a ring, kernels/attn_kernels.h) are the caller's. */
typedef struct {
    const uint16_t *kc, *vc;
    int n_ctx;
    int kv_ld;
    int kv_slot[ATTN_ROWS_MAX_HEADS];
} cuda_kv_view;

/* The non-dense heads of call a whose KV heads the view holds: their out
 * rows written (bf16, a->out). *st is created on first use. Adds the heads'
 * visible counts to a->count. */
void cuda_pol_attend(cuda_pol **st, const model_config *c, const bk_attn *a, const cuda_kv_view *kv,
                     cudaStream_t stream);

/* Adds the kept counts held on the device into count [n_layer * n_head] and
 * zeroes them (synchronises the stream). st may be NULL (nothing held). */
void cuda_pol_flush(cuda_pol *st, attn_count *count, cudaStream_t stream);

void cuda_pol_free(cuda_pol *st);

#endif
