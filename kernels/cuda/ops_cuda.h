/* ops_cuda.h — the CUDA twins of the forward-pass operations (kernels/ops.h)
 * as host-side launchers, used by the CUDA backend (engine/run/backend_cuda.cu).
 *
 * Every pointer is device memory; every launcher enqueues on `st`, checks
 * the launch (CUDA_CHECK_LAUNCH) and returns at once. bf16 values are raw
 * 16-bit words (uint16_t), rounded to nearest even; arithmetic is f32.
 * Each op matches its CPU twin in ops.c up to the bf16 rounding of its
 * output (tests/gpu/test_cuda_ops.c checks that on random inputs).
 */
#ifndef PURBO_OPS_CUDA_H
#define PURBO_OPS_CUDA_H

#include <cuda_runtime.h>
#include <stdint.h>

/* x: (n, dim) f32 = rows ids[t] of emb: (n_vocab, dim) bf16; ids: (n) int. */
void cuda_embed(float *x, const uint16_t *emb, const int *ids, int n, int dim, cudaStream_t st);

/* y: (n, dim) bf16 = x / sqrt(mean(x^2) + eps) * w.  x: (n, dim) f32, w: (dim) f32. */
void cuda_rmsnorm(uint16_t *y, const float *x, const float *w, int n, int dim, float eps, cudaStream_t st);

/* x: (n, n_heads, d) f32 rotated in place at positions pos0..: pair (2i, 2i+1)
 * by pos * inv_freq[i] (inv_freq: (d/2) f32 from rope_inv_freq, ops.h). */
void cuda_rope(float *x, const float *inv_freq, int n, int n_heads, int d, int pos0, cudaStream_t st);

/* The same rotation in the half-split form: pair (i, i + d/2) (cpu_rope_neox). */
void cuda_rope_neox(float *x, const float *inv_freq, int n, int n_heads, int d, int pos0, cudaStream_t st);

/* x: (n, dim) f32 = x / sqrt(mean(x^2) + eps) * w, in place (QK-norm over
 * head rows, post-norms over token rows).  w: (dim) f32. */
void cuda_norm_rows(float *x, const float *w, int n, int dim, float eps, cudaStream_t st);

/* x: (n) f32 *= s. */
void cuda_scale(float *x, long n, float s, cudaStream_t st);

/* out: (n) bf16 = gelu_tanh(g) * u (cpu_geglu).  g, u: (n) f32. */
void cuda_geglu(uint16_t *out, const float *g, const float *u, long n, cudaStream_t st);

/* out: (n) bf16 = silu(g) * u.  g, u: (n) f32. */
void cuda_swiglu(uint16_t *out, const float *g, const float *u, long n, cudaStream_t st);

/* x += y, both (n) f32. */
void cuda_add(float *x, const float *y, long n, cudaStream_t st);

/* KV-cache append: kc, vc point at the first row to write of a token-major
 * cache (rows of n_kv_head * d bf16); k, v: (n, n_kv_head, d) f32. */
void cuda_kv_append(uint16_t *kc, uint16_t *vc, const float *k, const float *v, long n_elems, cudaStream_t st);

/* y = bf16(x), n values. */
void cuda_to_bf16(uint16_t *y, const float *x, long n, cudaStream_t st);

#endif
