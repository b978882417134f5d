/* decode_kernels.h — the fused matrix-vector kernels of one decode step
 * (one token, batch 1) of the llama block on CUDA (kernels/cuda/decode_ops.cu),
 * used by the CUDA backend's whole-step decode (engine/run/backend_cuda_graph.cu).
 *
 * A decode step is launch-bound: each kernel here does one matrix-vector
 * product and the small operations around it that the op-by-op path runs
 * as separate kernels:
 *   qkv     rmsnorm(x) -> [Wq; Wk; Wv] -> RoPE of q, k -> q (bf16), k and v
 *           written as bf16 into the cache row of the step's position;
 *   swiglu  rmsnorm(x) -> [Wgate; Wup] -> silu(g) * u (bf16);
 *   attn_out  LSE combine of the split-KV attention partials -> x += Wo att;
 *   add     x += W a (the residual add after Wdown);
 *   out     y = W rmsnorm(x) (the logits).
 * The position comes from device memory (step), never from an argument, so
 * a captured CUDA graph stays valid from one token to the next.
 *
 * Numerics (what the CPU twin composes, kernels/ops.h): rmsnorm exactly as
 * cuda_rmsnorm (the normed row rounded to bf16, as the op-by-op path feeds
 * its matrix products); products of bf16 weights and bf16 activations
 * summed in f32 (in an order of their own: not bitwise the cuBLAS sums);
 * RoPE and SwiGLU as cuda_rope and cuda_swiglu, rounded to bf16 where the
 * op-by-op path rounds.
 * CPU twin: cpu_rmsnorm, bf16 rounding, cpu_matmul, cpu_rope, cpu_swiglu in
 * that order, attn_decode_ref for the combined attention (tests/gpu/
 * test_cuda_graph.c composes them).
 *
 * All pointers are device memory; bf16 values are raw 16-bit words; every
 * function launches on `stream` (a cudaStream_t; NULL: the default stream)
 * and returns 0 or a cudaError_t value. pdl 1: programmatic dependent
 * launch (Hopper): the kernel may start while the previous kernel on the
 * stream runs; it loads its first weight rows (and norm weights), then
 * waits for that kernel (griddepcontrol.wait) before reading anything else;
 * pdl 0: a plain launch (the wait is then a no-op). in <= 2048 with the
 * rmsnorm prologue. in % 8 == 0 and 16-byte aligned
 * weight rows and activations everywhere.
 */
#ifndef PURBO_DECODE_KERNELS_H
#define PURBO_DECODE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The step a decode kernel reads from device memory: ints, in this order. */
enum { DEC_STEP_TOKEN, DEC_STEP_POS, DEC_STEP_KV_LEN, DEC_STEP_INTS };

/* x: (in) f32 residual row; nw: (in) f32 norm weight; wq: (Q, in), wk, wv:
 * (KV, in) bf16 with Q = n_head * d, KV = n_kv_head * d; inv_freq: (d/2) f32;
 * step[DEC_STEP_POS] = p. Writes q: (Q) bf16 (post-RoPE) and rows p of
 * kc, vc: (n_ctx, KV) bf16 (k post-RoPE; the layer's slice of the cache). */
int dec_qkv_cuda(const float *x, const float *nw, float eps, int in, const void *wq, const void *wk,
                 const void *wv, int Q, int KV, int d, const float *inv_freq, const int *step, void *q, void *kc,
                 void *vc, int pdl, void *stream);

/* h: (F) bf16 = silu(g) * u, g = Wgate xn, u = Wup xn, xn = rmsnorm(x) * nw
 * (bf16); x: (in) f32; wg, wu: (F, in) bf16. */
int dec_swiglu_cuda(const float *x, const float *nw, float eps, int in, const void *wg, const void *wu, int F,
                    void *h, int pdl, void *stream);

/* x: (out) f32 += W a; W: (out, in) bf16; a: (in) bf16. */
int dec_add_cuda(float *x, const void *w, const void *a, int in, int out, int pdl, void *stream);

/* x: (out) f32 += Wo att; att: (n_head, d) bf16, the LSE combine of the
 * split-KV partials that attn_decode_dev_cuda leaves in its workspace
 * (attn_kernels.h; out NULL): part_o (n_split, n_head, d) f32, part_lse
 * (n_split, n_head) f32 with n_split = ATTN_DEV_SPLITS; only the splits
 * that saw keys (below ceil(*kv_len / attn_dev_chunk(*kv_len))) are read.
 * Wo: (out, n_head * d) bf16; n_head <= 16. The combine is
 * attn_combine_cuda's up to the order of its sums. */
int dec_attn_out_cuda(float *x, const void *wo, const float *part_o, const float *part_lse, int n_split,
                      const int *kv_len, int n_head, int d, int out, int pdl, void *stream);

/* y: (out) f32 = W xn, xn = rmsnorm(x) * nw (bf16); x: (in) f32; W: (out, in) bf16. */
int dec_out_cuda(float *y, const float *x, const float *nw, float eps, const void *w, int in, int out,
                 int pdl, void *stream);

/* Waits for all work on the device (for tests that launch on the default
 * stream next to a backend's own stream). */
int dec_device_sync(void);

#ifdef __cplusplus
}
#endif

#endif
