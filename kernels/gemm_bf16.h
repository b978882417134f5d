/* gemm_bf16.h — the CPU's bf16 matrix products (kernels/cpu/gemm_bf16.c):
 * y = x W^T with W packed once as bf16 and each product's x rounded to
 * bf16, products summed in f32 (AVX-512 BF16: VDPBF16PS). The CPU backend's
 * opt-in product path for several rows (prefill); the f32 products of
 * ops.h stay the reference.
 *
 * Rounding: every weight and input element is rounded to nearest even to
 * bf16 (8 significant bits, relative error at most u = 2^-8); the sums of
 * the rounded products are f32. So |y - exact| <= (2u + u^2) Σ|x||w| plus the
 * f32 summation's own error (tests/test_gemm_bf16.c states the bound). An
 * output does not depend on the thread count or on the row or column
 * blocking: each is one lane's sum over k in a fixed order.
 */
#ifndef PURBO_GEMM_BF16_H
#define PURBO_GEMM_BF16_H

#include <stddef.h>
#include <stdint.h>

/* W (out, in) packed for the microkernel: panels of 16 output columns, each
 * (pairs, 16, 2) bf16 — for k pair p and column j, W[j][2p] then
 * W[j][2p+1] — so one 64-byte row of a panel is what VDPBF16PS takes for 16
 * columns. in is padded to even and out to a multiple of 16 with zeros. */
typedef struct {
    uint16_t *p;        /* (panels, pairs, 16, 2) bf16, 64-byte aligned */
    int in, out;
    int pairs, panels;  /* (in + 1) / 2, (out + 15) / 16 */
} bf16_matrix;

/* 1 when this CPU runs the bf16 products (AVX-512 F, BW, VL, DQ and BF16)
 * and they are allowed. gemm_bf16_allow(0) makes it answer 0 as on a CPU
 * without them (the refusal's test), 1 restores the check, -1 only asks;
 * returns the setting before. */
int gemm_bf16_usable(void);
int gemm_bf16_allow(int on);

/* Packs W (out, in) f32 into m (rounding to nearest even). Only where
 * gemm_bf16_usable(). */
void gemm_bf16_pack(bf16_matrix *m, const float *w, int out, int in);
void gemm_bf16_free(bf16_matrix *m);

/* Bytes of scratch a product of n rows of in elements needs (x as bf16). */
size_t gemm_bf16_scratch_bytes(int n, int in);

/* y (n, out) = x (n, in) · W^T, split over the CPU pool by output columns
 * (x rounded to bf16 first, into scratch of gemm_bf16_scratch_bytes(n, in),
 * 64-byte aligned). Only where gemm_bf16_usable(). */
void gemm_bf16_par(float *y, const float *x, const bf16_matrix *w, int n, void *scratch);

#endif
