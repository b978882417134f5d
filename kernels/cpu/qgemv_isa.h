/* qgemv_isa.h — the wider-ISA rows of the quantized gemv (qgemv.c picks
 * them at run time; qgemv_avx512.c holds them). Private to kernels/cpu. */
#ifndef PURBO_QGEMV_ISA_H
#define PURBO_QGEMV_ISA_H

#include <stdint.h>

/* 1 when this CPU runs qgemv_rows_avx512 (AVX-512 F, BW, VL, DQ). */
int qgemv_avx512_usable(void);

/* y[o] for rows o0 .. o1-1 of W (out, in) in quantized `type` times x (in),
 * bit-identical to qgemv.c's AVX2 rows. 0 (nothing written) for a type it
 * does not handle or a build without it. */
int qgemv_rows_avx512(float *y, const void *w, uint32_t type, const float *x, int in, int o0, int o1);

#endif
