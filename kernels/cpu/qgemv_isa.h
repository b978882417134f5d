/* qgemv_isa.h — the wider-ISA rows of the quantized gemv (qgemv.c picks
 * them at run time; qgemv_avx512.c holds them). Private to kernels/cpu. */
#ifndef PURBO_QGEMV_ISA_H
#define PURBO_QGEMV_ISA_H

#include <stddef.h>
#include <stdint.h>

/* Rows ahead of the one being summed that a product asks into L2: decode's
 * products are bound by reading the weights, and the hardware prefetcher
 * alone left the loads waiting on memory (about 2x fewer tokens/s on a
 * 2-core Xeon). */
#define QGEMV_AHEAD 4

/* Prefetches row o + QGEMV_AHEAD (when < o1) of a product whose rows are
 * row_bytes apart, row being row o. */
static inline void qgemv_prefetch_row(const uint8_t *row, size_t row_bytes, int o, int o1)
{
    if (o + QGEMV_AHEAD < o1)
        for (size_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(row + QGEMV_AHEAD * row_bytes + b, 0, 2);
}

/* 1 when this CPU runs qgemv_rows_avx512 (AVX-512 F, BW, VL, DQ). */
int qgemv_avx512_usable(void);

/* y[o] for rows o0 .. o1-1 of W (out, in) in quantized `type` times x (in),
 * bit-identical to qgemv.c's AVX2 rows. 0 (nothing written) for a type it
 * does not handle or a build without it. */
int qgemv_rows_avx512(float *y, const void *w, uint32_t type, const float *x, int in, int o0, int o1);

#endif
