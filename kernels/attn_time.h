/* attn_time.h — times the dense attention kernels on one case, alone: what
 * the throughput suite's attention level measures (suites/SCHEMA.md) for
 * our kernels, the way kernels/cuda/dev and the torch peers time theirs.
 *
 * A case is one layer's attention of batch 1:
 *   prefill: causal, n_ctx queries over n_ctx keys (attn_prefill_cuda);
 *   decode:  one query token over n_ctx cached keys (attn_decode_cuda).
 * Inputs are bf16, uniform random (q, k in [-2, 2), v in [-1, 1)), laid out
 * as attn_kernels.h says, in as many copies as it takes for the copies one
 * burst touches to exceed 150 MB (larger than any L2), launches rotating
 * over them.
 *
 * CUDA timing: after `warmup` untimed launches, one launch timed alone sizes
 * a burst (back-to-back launches lasting ~0.5 ms, 1 to 50 of them); each
 * of `repeats` samples is one burst between two CUDA events, divided by its
 * length. The CPU twins (attn_ref.c) are timed launch by launch with the
 * wall clock. Times are seconds per launch.
 */
#ifndef PURBO_ATTN_TIME_H
#define PURBO_ATTN_TIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { ATTN_TIME_PREFILL, ATTN_TIME_DECODE };

typedef struct {
    int phase;                   /* ATTN_TIME_PREFILL or ATTN_TIME_DECODE */
    int n_ctx, n_head, n_kv_head, d;
    /* sparse (CUDA only): the block-sparse pipeline instead of the dense
     * kernel (attn_sparse.h), one set of inputs (no rotation):
     *   prefill: top-p selection (attn_select_topp_cuda) over synthetic block
     *            scores, peaked like real ones (amp * u^8, u uniform in [0, 1),
     *            amp 16), then the block-sparse prefill on the lists;
     *   decode:  the indexer (attn_index_decode_cuda, r = 16, a planted 1/16
     *            of blocks pointing along the query's index vector), the
     *            selection, then the sparse decode.
     * p: the mass to reach; sink, local: forced tokens (sinks, window). */
    int sparse;
    double p;
    int sink, local;
} attn_time_case;

typedef struct attn_timer attn_timer;

/* Inputs of case c on the GPU (cuda != 0; d 64 or 128, n_head / n_kv_head
 * <= 16 for decode) or for the CPU twin. NULL and a one-line reason in why
 * when it cannot run there (no device, out of memory, a shape the kernels
 * do not take). */
attn_timer *attn_timer_new(const attn_time_case *c, int cuda, uint32_t seed, char *why, size_t why_len);
/* warmup untimed launches, then t_s[0 .. repeats) seconds per launch. */
void attn_timer_run(attn_timer *t, int warmup, int repeats, double *t_s);
/* One more launch, waited for (for a kernel trace of a single launch). */
void attn_timer_once(attn_timer *t);
/* The share of visible 64-key blocks the last launch's block lists hold
 * (sparse; 1 for dense): the KV bytes the lists say the kernel must read
 * over the dense kernel's. */
double attn_timer_density(attn_timer *t);
void attn_timer_free(attn_timer *t);

/* The work of one launch: prefill FLOPs (2 * n_ctx^2 * d * n_head: QK^T and
 * PV over the causal half) or decode bytes (K and V read once:
 * 2 * n_ctx * n_kv_head * d * 2). */
double attn_time_work(const attn_time_case *c);

/* CUDA side (kernels/cuda/attn_time.cu); the functions above dispatch. */
void *attn_timer_cuda_new(const attn_time_case *c, uint32_t seed, char *why, size_t why_len);
void attn_timer_cuda_run(void *t, int warmup, int repeats, double *t_s);
void attn_timer_cuda_once(void *t);
void attn_timer_cuda_free(void *t);
double attn_timer_cuda_density(void *t);

#ifdef __cplusplus
}
#endif

#endif
