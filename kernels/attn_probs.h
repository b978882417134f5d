/* attn_probs.h — exact attention probability rows: what an attention
 * observer (engine/run/attention.h, on_rows) is shown, computed where the
 * cache lives. The CUDA backend runs attn_probs_cuda (kernels/cuda/
 * attn_probs.cu) for the probes; attn_probs_ref (kernels/cpu/attn_probs_ref.c)
 * is its CPU twin, and tests/test_attn_probs.c checks that the twin writes
 * the rows the CPU dense policy shows its observers.
 *
 * Row i of head h is query position p = q_pos0 + i, over keys 0 .. kv_end-1
 * with kv_end = q_pos0 + n_q: the query sees keys lo .. p, lo = 0 on a
 * global layer (window 0) and max(0, p-window+1) on a sliding one; those
 * entries are softmax(scale q·k_j) with scale = 1/sqrt(d) (scores and
 * exponentials f32, the sum f32), every other entry of the row is exactly 0.
 * Shapes: q (n_q, n_head, d) f32, row stride n_head*d; k the bf16 cache
 * of one layer, key j of KV head g at (j * n_kv_head + g) * d, j < kv_end;
 * p (n_head, n_q, ldp) f32, ldp >= kv_end (entries kv_end .. ldp-1 are not
 * written). Query head h reads KV head h / (n_head / n_kv_head).
 * d: 64, 128 or 256.
 */
#ifndef PURBO_KERNELS_ATTN_PROBS_H
#define PURBO_KERNELS_ATTN_PROBS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* All pointers device memory; enqueues on stream, returns 0 or a cudaError_t value. */
int attn_probs_cuda(float *p, long ldp, const float *q, const uint16_t *k, int n_q, int q_pos0, int n_head,
                    int n_kv_head, int d, int window, void *stream);

/* The CPU twin: the same rows from host memory. */
void attn_probs_ref(float *p, long ldp, const float *q, const uint16_t *k, int n_q, int q_pos0, int n_head,
                    int n_kv_head, int d, int window);

#ifdef __cplusplus
}
#endif

#endif
