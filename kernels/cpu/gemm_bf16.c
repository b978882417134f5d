/* gemm_bf16.c — the bf16 matrix products of kernels/gemm_bf16.h on AVX-512
 * BF16 (VDPBF16PS), chosen at run time; the build targets x86-64-v3, so only
 * this file's functions use the wider ISA (as qgemv_avx512.c).
 *
 * y (n, out) = x (n, in) · W^T. x is rounded to bf16 once per product into
 * scratch (n, pairs) of k pairs (one 32-bit word each); W was packed at open
 * (gemm_bf16.h). The microkernel keeps a tile of GB_R rows × GB_C panels
 * (16 columns each) in GB_R·GB_C zmm accumulators: per k pair it loads one
 * 64-byte row of each panel, broadcasts each row's pair and issues one
 * VDPBF16PS per accumulator (32 multiply-adds each), enough independent
 * sums to cover the instruction's latency. k runs in blocks of GB_KC pairs
 * (a block of GB_C panels stays in L1 while every row tile passes over it);
 * the tile's sums are stored after the first block and added to y after
 * the others. Each output is one lane's sum in the same order whatever the
 * tile, block of rows or thread it lands in.
 *
 * Threads: the pool (kernels/pool.h) splits the rounding of x by rows, the
 * product by runs of GB_C panels (output columns), as cpu_matmul_par does.
 */
#include "kernels/gemm_bf16.h"

#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "kernels/pool.h"

#define GB_R 6      /* rows of a tile */
#define GB_C 2      /* 16-column panels of a tile */
#define GB_KC 512   /* k pairs per block */

static int allowed = 1;

int gemm_bf16_allow(int on)
{
    int was = allowed;
    if (on >= 0) allowed = on;
    return was;
}

void gemm_bf16_free(bf16_matrix *m)
{
    free(m->p);
    memset(m, 0, sizeof *m);
}

size_t gemm_bf16_scratch_bytes(int n, int in)
{
    return (size_t)n * ((in + 1) / 2) * sizeof(uint32_t) + 64;
}

#if defined(__x86_64__) && defined(__GNUC__)
#ifdef __clang__
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma"))), \
                             apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma")
#endif
#include <immintrin.h>

int gemm_bf16_usable(void)
{
    __builtin_cpu_init();
    return allowed && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bf16");
}

/* n f32 of src rounded (nearest even) to bf16 into dst (n + 1) / 2 words,
 * an odd n's last word padded with a zero. */
static void round_row(uint32_t *dst, const float *src, int n)
{
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
        _mm512_storeu_si512(dst + i / 2, (__m512i)h);
    }
    if (i < n) {
        int left = n - i;
        __mmask16 lo = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
        __mmask16 hi = left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1);
        __m512bh h = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, src + i + 16), _mm512_maskz_loadu_ps(lo, src + i));
        _mm512_mask_storeu_epi32(dst + i / 2, (__mmask16)((1u << ((left + 1) / 2)) - 1), (__m512i)h);
    }
}

void gemm_bf16_pack(bf16_matrix *m, const float *w, int out, int in)
{
    m->in = in;
    m->out = out;
    m->pairs = (in + 1) / 2;
    m->panels = (out + 15) / 16;
    size_t words = (size_t)m->panels * m->pairs * 16;
    uint32_t *p = aligned_alloc(64, words * sizeof(uint32_t));
    PB_CHECK(p, "out of memory packing a %d x %d bf16 matrix", out, in);
    memset(p, 0, words * sizeof(uint32_t)); /* the padding columns */
    uint32_t *row = pb_malloc((size_t)m->pairs * sizeof(uint32_t));
    for (int o = 0; o < out; o++) {
        round_row(row, w + (size_t)o * in, in);
        uint32_t *dst = p + (size_t)(o / 16) * m->pairs * 16 + o % 16;
        for (int k = 0; k < m->pairs; k++) dst[(size_t)k * 16] = row[k];
    }
    free(row);
    m->p = (uint16_t *)p;
}

/* The tile at rows x[0 .. R), panels w[0 .. C) (panel stride ldw words)
 * over kc pairs, into y (row stride ldy); the last panel's columns masked
 * by last. first: store, else add. */
static inline __attribute__((always_inline)) void tile(const int R, const int C, const uint32_t *x, size_t ldx,
                                                       const uint32_t *w, size_t ldw, int kc, float *y,
                                                       size_t ldy, int first, __mmask16 last)
{
    __m512 acc[GB_R][GB_C];
#pragma GCC unroll 16
    for (int r = 0; r < R; r++)
#pragma GCC unroll 16
        for (int c = 0; c < C; c++) acc[r][c] = _mm512_setzero_ps();
    for (int p = 0; p < kc; p++) {
        __m512bh b[GB_C];
#pragma GCC unroll 16
        for (int c = 0; c < C; c++) b[c] = (__m512bh)_mm512_load_si512(w + c * ldw + (size_t)p * 16);
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            __m512bh a = (__m512bh)_mm512_set1_epi32((int)x[r * ldx + p]);
#pragma GCC unroll 16
            for (int c = 0; c < C; c++) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], a, b[c]);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; r++)
#pragma GCC unroll 16
        for (int c = 0; c < C; c++) {
            __mmask16 mk = c == C - 1 ? last : 0xFFFF;
            float *yo = y + r * ldy + c * 16;
            __m512 v = first ? acc[r][c] : _mm512_add_ps(_mm512_maskz_loadu_ps(mk, yo), acc[r][c]);
            _mm512_mask_storeu_ps(yo, mk, v);
        }
}

typedef void (*tile_fn)(const uint32_t *x, size_t ldx, const uint32_t *w, size_t ldw, int kc, float *y, size_t ldy,
                        int first, __mmask16 last);

#define TILE(R, C)                                                                                          \
    static void tile_##R##_##C(const uint32_t *x, size_t ldx, const uint32_t *w, size_t ldw, int kc, float *y, \
                               size_t ldy, int first, __mmask16 last)                                        \
    {                                                                                                        \
        tile(R, C, x, ldx, w, ldw, kc, y, ldy, first, last);                                                 \
    }
#define TILE_ROWS(C) TILE(1, C) TILE(2, C) TILE(3, C) TILE(4, C) TILE(5, C) TILE(6, C)
TILE_ROWS(1)
TILE_ROWS(2)
/* tiles[C - 1][R - 1] */
static const tile_fn tiles[GB_C][GB_R] = {
    {tile_1_1, tile_2_1, tile_3_1, tile_4_1, tile_5_1, tile_6_1},
    {tile_1_2, tile_2_2, tile_3_2, tile_4_2, tile_5_2, tile_6_2},
};

typedef struct {
    float *y;
    const float *x;
    const bf16_matrix *w;
    uint32_t *xb;       /* (n, pairs) */
    int n, rows;        /* rounding: rows per task */
    int per;            /* product: panels per task, a multiple of GB_C */
} gemm_job;

static void round_task(void *arg, int i, int thread)
{
    (void)thread;
    const gemm_job *j = arg;
    const int in = j->w->in, pairs = j->w->pairs;
    int r0 = i * j->rows, r1 = r0 + j->rows < j->n ? r0 + j->rows : j->n;
    for (int r = r0; r < r1; r++) round_row(j->xb + (size_t)r * pairs, j->x + (size_t)r * in, in);
}

static void product_task(void *arg, int i, int thread)
{
    (void)thread;
    const gemm_job *j = arg;
    const bf16_matrix *w = j->w;
    const size_t ldw = (size_t)w->pairs * 16, ldx = (size_t)w->pairs, ldy = (size_t)w->out;
    const int c0 = i * j->per, c1 = c0 + j->per < w->panels ? c0 + j->per : w->panels;
    const uint32_t *wp = (const uint32_t *)w->p;
    for (int k0 = 0; k0 < w->pairs; k0 += GB_KC) {
        const int kc = w->pairs - k0 < GB_KC ? w->pairs - k0 : GB_KC;
        for (int c = c0; c < c1; c += GB_C) {
            const int nc = c1 - c < GB_C ? c1 - c : GB_C;
            const int tail = w->out - (c + nc - 1) * 16; /* columns of the tile's last panel */
            const __mmask16 last = tail >= 16 ? 0xFFFF : (__mmask16)((1u << tail) - 1);
            const uint32_t *wt = wp + (size_t)c * ldw + (size_t)k0 * 16;
            for (int r = 0; r < j->n; r += GB_R) {
                const int nr = j->n - r < GB_R ? j->n - r : GB_R;
                tiles[nc - 1][nr - 1](j->xb + (size_t)r * ldx + k0, ldx, wt, ldw, kc, j->y + (size_t)r * ldy + c * 16,
                                      ldy, k0 == 0, last);
            }
        }
    }
}

void gemm_bf16_par(float *y, const float *x, const bf16_matrix *w, int n, void *scratch)
{
    const int T = cpu_pool_threads();
    gemm_job j = {.y = y, .x = x, .w = w, .xb = (uint32_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63), .n = n};
    j.rows = (n + 4 * T - 1) / (4 * T);
    cpu_pool_for((n + j.rows - 1) / j.rows, round_task, &j);
    /* about 2 tasks a thread, whole tiles of panels each */
    const int groups = (w->panels + GB_C - 1) / GB_C;
    int per = (groups + 2 * T - 1) / (2 * T);
    j.per = per * GB_C;
    cpu_pool_for((w->panels + j.per - 1) / j.per, product_task, &j);
}

#ifdef __clang__
#pragma clang attribute pop
#endif
#else
int gemm_bf16_usable(void)
{
    return 0;
}

void gemm_bf16_pack(bf16_matrix *m, const float *w, int out, int in)
{
    (void)m, (void)w, (void)out, (void)in;
    PB_CHECK(0, "bf16 products need an x86-64 build");
}

void gemm_bf16_par(float *y, const float *x, const bf16_matrix *w, int n, void *scratch)
{
    (void)y, (void)x, (void)w, (void)n, (void)scratch;
    PB_CHECK(0, "bf16 products need an x86-64 build");
}
#endif
