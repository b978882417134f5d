/* backend_cuda_kv.h — the CUDA backend's KV cache (backend.h, bk_kv): its
 * storage per layer, the append, and the attention of a layer that keeps
 * local heads in a ring. Private to the CUDA backend (backend_cuda.cu);
 * CUDA sources only.
 *
 * Storage, bf16, token-major, layers one after the other (off[l]): a layer
 * keeps its global KV heads (those the layout leaves full) in a full part of
 * n_ctx rows of n_glob heads, then its local KV heads (asked to be one ring
 * of S sinks + W window slots, smaller than the context) in a ring part of
 * S + W rows of n_loc heads, in the ring order of kernels/attn_kernels.h
 * (attn_local_*). Either part may be empty: a layer without rings is the
 * plain (n_ctx, n_head_kv, d) cache every full-cache kernel reads; an
 * all-local layer is one ring (S + W, n_head_kv, d). Within a part the KV
 * heads keep their order (slot i: the i-th head of that kind).
 * A layer with a ring: its ring heads' chunk waits in bf16 scratch from the
 * append to the attention call, which runs the local prefill over ring +
 * chunk and then stores the chunk (a decode token is stored at once, then
 * the local decode reads only the ring); its global heads are appended at
 * once into the full part. Local heads read only their sinks and window, so
 * the outputs are those of a full cache.
 */
#ifndef PURBO_BACKEND_CUDA_KV_H
#define PURBO_BACKEND_CUDA_KV_H

#include <cuda_runtime.h>
#include <stdint.h>

#include "run/backend_cuda_policy.h"

extern "C" {
#include "run/backend.h"
}

/* Device scratch that grows (cuda_grow) and is reused call after call. */
typedef struct {
    uint16_t *qb;           /* (n, heads, d) q in bf16 for attention */
    size_t qb_cap;
    uint16_t *ob;           /* (n, heads, d) bf16 outputs of a subset of heads */
    size_t ob_cap;
    float *lse;             /* prefill log-sum-exp rows, unused after */
    size_t lse_cap;
    void *work;             /* decode split workspace */
    size_t work_cap;
} cuda_scratch;

struct bk_kv {
    int n_ctx;
    uint16_t *kc, *vc;      /* every layer's storage one after the other, bf16 */
    size_t *off;            /* [n_layer] element offset of a layer's full part (its ring part follows) */
    kv_ring *ring;          /* [n_layer] the ring of the layer's local KV heads, {0, 0}: none */
    unsigned char *local;   /* [n_layer * n_head_kv] 1: the KV head lives in the layer's ring */
    int *n_loc;             /* [n_layer] KV heads in the ring */
    int n_ring;             /* layers with a ring part */
    uint16_t *ck, *cv;      /* a ring's chunk, (ck_cap rows of n_loc heads, d) bf16, from append to attention */
    size_t ck_cap;          /* elements */
    cuda_pol *pol;          /* the sparse policies' state, NULL until one runs */
};

/* Grows a device buffer to hold at least `need` elements of `size` bytes (contents lost). */
void cuda_grow(void **p, size_t *cap, size_t need, size_t size);
void cuda_scratch_free(cuda_scratch *s);

bk_kv *cuda_kv_new(const model_config *c, int n_ctx);
void cuda_kv_free(bk_kv *kv);
/* The layout (backend.h, kv_layout; [n_layer * n_head_kv] rings): a KV head
 * becomes local when its ring is smaller than the context and the layer's
 * local heads share one ring; a layer whose would-be rings differ stays full.
 * Synchronises `st` and reallocates (contents lost). */
void cuda_kv_set_layout(const model_config *c, bk_kv *kv, const kv_ring *layout, cudaStream_t st);
size_t cuda_kv_bytes(const model_config *c, const bk_kv *kv, int full);
/* Appends k, v: (n, n_head_kv, d) f32 at positions pos0 .. of layer l. */
void cuda_kv_append_layer(const model_config *c, bk_kv *kv, int l, int pos0, int n, const float *k, const float *v,
                          cudaStream_t st);
/* The full part of layer l: (n_ctx, n_head_kv - n_loc[l], d). */
uint16_t *cuda_kv_full_k(const model_config *c, const bk_kv *kv, int l);
uint16_t *cuda_kv_full_v(const model_config *c, const bk_kv *kv, int l);

/* Dense causal attention (sliding window W, 0: none): q (n, H, d) bf16 at
 * positions pos0 .., k, v (pos0 + n, HKV, d) bf16, out (n, H, d) bf16. */
void cuda_attend_dense(cuda_scratch *s, const uint16_t *q, const uint16_t *k, const uint16_t *v, void *out, int n,
                       int pos0, int H, int HKV, int d, int W, cudaStream_t st);

/* Call a on a layer with a ring part (kv->n_loc[a->layer] > 0): the ring
 * heads by the local kernels, the global heads by the dense kernel and their
 * policies' row kernels (cuda_pol_attend); counts added to a->count. */
void cuda_kv_attend_ring(const model_config *c, bk_kv *kv, cuda_scratch *s, const bk_attn *a, cudaStream_t st);

#endif
