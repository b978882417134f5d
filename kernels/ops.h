/* ops.h — the element-wise and matrix operations of the forward pass.
 *
 * kernels/cpu/ops.c is the reference (plain C + the CPU BLAS); a CUDA
 * backend provides the same operations with the same shapes. All tensors are
 * f32, row-major, contiguous unless a leading dimension is given.
 */
#ifndef PURBO_OPS_H
#define PURBO_OPS_H

#include <stdint.h>

/* y = x W^T.  x: (n, in), W: (out, in), y: (n, out). */
void cpu_matmul(float *y, const float *x, const float *w, int n, int in, int out);

/* y (out) = W x with W (out, in) in a quantized ggml layout (rows of blocks,
 * as stored in GGUF), formed weight by weight exactly as the dequantizer
 * does. Returns 0 (nothing written) for a type it does not handle:
 * cpu_gemv_supported says which (Q4_1, Q8_0, Q5_0, Q4_K, Q6_K). */
int cpu_gemv_supported(uint32_t type);
int cpu_gemv_quant(float *y, const void *w, uint32_t type, const float *x, int in, int out);
/* Whether cpu_gemv_quant takes its AVX-512 rows (the default where the CPU
 * has AVX-512; bit-identical to the AVX2 ones): on 1 uses them where the
 * CPU can, 0 the AVX2 rows, -1 only asks. Returns the setting before. */
int cpu_gemv_avx512(int on);

/* The same products and operations split over the CPU pool (kernels/pool.h;
 * cpu/ops_par.c), each output computed exactly as the plain call computes
 * it: cpu_matmul by output columns, cpu_rmsnorm by rows, RoPE by tokens
 * (neox: the half-split form), SwiGLU / GeGLU (gelu 1) by elements. */
void cpu_matmul_par(float *y, const float *x, const float *w, int n, int in, int out);
void cpu_rmsnorm_par(float *y, const float *x, const float *w, int n, int dim, float eps);
void cpu_rope_par(float *x, int n, int n_heads, int d, int pos0, float base, int neox);
void cpu_gated_par(float *g, const float *u, long n, int gelu);

/* y = x / sqrt(mean(x^2) + eps) * w, row by row.  x, y: (n, dim), w: (dim). */
void cpu_rmsnorm(float *y, const float *x, const float *w, int n, int dim, float eps);

/* Rotary position embedding in the GGUF llama layout: adjacent pairs
 * (2i, 2i+1) of each head rotated by pos * base^(-2i/d), with the angle
 * formed in f32 as the reference implementation does.
 * x: (n, n_heads, d) rows for positions pos0 .. pos0+n-1, rotated in place. */
void cpu_rope(float *x, int n, int n_heads, int d, int pos0, float base);

/* The same rotation in the half-split ("neox") form: pairs (i, i + d/2),
 * same angles (gemma3: q/k rows are not permuted in its GGUF files). */
void cpu_rope_neox(float *x, int n, int n_heads, int d, int pos0, float base);

/* The RoPE frequencies base^(-2i/d), i < d/2, as cpu_rope forms them (f32);
 * the CUDA RoPE takes the same table so both rotate by the same angles. */
void rope_inv_freq(float *inv_freq, int d, float base);

/* g = silu(g) * u, element-wise over n values (SwiGLU). */
void cpu_swiglu(float *g, const float *u, long n);

/* g = gelu(g) * u with the tanh approximation of GELU,
 * 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))) (GeGLU); the tanh from
 * the softmax's exp polynomial (AVX2, with a scalar twin), within 1e-6. */
void cpu_geglu(float *g, const float *u, long n);

/* x *= s, element-wise over n values (Gemma's embedding scale). */
void cpu_scale(float *x, long n, float s);

/* In-place softmax of each row.  x: (n, dim). */
void cpu_softmax_rows(float *x, int n, int dim);

/* x[i] = exp(x[i] - mx) over n values, mx >= every x[i]; returns their sum.
 * The softmax's own step (the same polynomial and order of sums), for a
 * softmax formed in parts. */
float cpu_exp_shift_sum(float *x, int n, float mx);

/* exp(x) for x <= 0, vectorisable, relative error < 2e-7 (the softmax's). */
float cpu_exp_nonpos(float x);

/* Index of the largest value (first on ties). */
int cpu_argmax(const float *x, int n);

#endif
