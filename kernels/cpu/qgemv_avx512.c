/* qgemv_avx512.c — the quantized matrix-vector rows of qgemv.c on 16 lanes
 * (AVX-512F/BW/VL/DQ, chosen at run time where the CPU has them; the build
 * targets x86-64-v3, so only this file's functions use the wider ISA).
 *
 * Bit-identical to the AVX2 path: that path keeps four 8-lane accumulators
 * acc[0..3] for the elements 8i .. 8i+7 of each 32-element group and sums
 * them as hsum((acc0 + acc1) + (acc2 + acc3)); here A holds acc0 | acc1 and
 * B acc2 | acc3 lane for lane, every lane sees the same operations in the
 * same order (each weight formed as the dequantizer forms it, then one
 * fused multiply-add), and the final sum is the same expression. Where a
 * block's weights take at most 32 values (Q4_1: q·d + m, Q5_0: (q − 16)·d,
 * Q4_K: d1·q − m1), the values are formed once per block into a table and
 * picked by the quants with a permute: the same f32 operations, fewer of
 * them.
 */
#include "kernels/cpu/qgemv_isa.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define QGEMV_HAVE_AVX512 1
#ifdef __clang__
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"))), \
                             apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
#endif
#include <immintrin.h>
#include <string.h>

#include "kernels/quant.h"

static inline __m512 iota16(void)
{
    return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

/* Q4_1: elements 0..15 are the low nibbles of qs, 16..31 the high ones;
 * table T[q] = q·d + m (product, then sum: no contraction). */
static inline void dot_q4_1(const block_q4_1 *b, const float *x, __m512 *A, __m512 *B)
{
    const __m512 T = _mm512_add_ps(_mm512_mul_ps(iota16(), _mm512_set1_ps(_cvtsh_ss(b->d))),
                                   _mm512_set1_ps(_cvtsh_ss(b->m)));
    const __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)b->qs));
    /* permutexvar reads the low 4 bits of each index: the low nibble as it is */
    *A = _mm512_fmadd_ps(_mm512_permutexvar_ps(q, T), _mm512_loadu_ps(x), *A);
    *B = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(q, 4), T), _mm512_loadu_ps(x + 16), *B);
}

/* Q8_0: w = q·d. */
static inline void dot_q8_0(const block_q8_0 *b, const float *x, __m512 *A, __m512 *B)
{
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(b->d));
    __m512 w0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)b->qs))), d);
    __m512 w1 =
        _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b->qs + 16)))), d);
    *A = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x), *A);
    *B = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + 16), *B);
}

/* Q5_0: element j = (nibble | bit j of qh << 4) − 16, w = (q − 16)·d: a
 * 32-entry table in two halves, bit 4 of the index picking the half. */
static inline void dot_q5_0(const block_q5_0 *b, const float *x, __m512 *A, __m512 *B)
{
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(b->d));
    const __m512 lo = _mm512_mul_ps(_mm512_sub_ps(iota16(), _mm512_set1_ps(16.0f)), d);  /* q 0..15 */
    const __m512 hi = _mm512_mul_ps(iota16(), d);                                         /* q 16..31 */
    uint32_t qh;
    memcpy(&qh, b->qh, 4);
    const __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)b->qs));
    const __m512i mask = _mm512_set1_epi32(0x0f), sixteen = _mm512_set1_epi32(16);
    __m512i i0 = _mm512_and_si512(q, mask), i1 = _mm512_srli_epi32(q, 4);
    i0 = _mm512_mask_or_epi32(i0, (__mmask16)(qh & 0xffff), i0, sixteen);
    i1 = _mm512_mask_or_epi32(i1, (__mmask16)(qh >> 16), i1, sixteen);
    *A = _mm512_fmadd_ps(_mm512_permutex2var_ps(lo, i0, hi), _mm512_loadu_ps(x), *A);
    *B = _mm512_fmadd_ps(_mm512_permutex2var_ps(lo, i1, hi), _mm512_loadu_ps(x + 16), *B);
}

/* Q4_K: per 64 elements, 32 bytes: low nibbles w = d1·q − m1 (elements
 * 0..31), high d2·q − m2 (32..63); the AVX2 path adds the low term before
 * the high one into each accumulator, and so does this. */
static inline void dot_q4_K(const block_q4_K *b, const float *x, __m512 *A, __m512 *B)
{
    const float d = _cvtsh_ss(b->d), dmin = _cvtsh_ss(b->dmin);
    const uint8_t *q = b->qs;
    for (int is = 0; is < 8; is += 2) {
        uint8_t sc, m;
        q4_K_scale_min(is, b->scales, &sc, &m);
        const __m512 T1 = _mm512_sub_ps(_mm512_mul_ps(iota16(), _mm512_set1_ps(d * sc)), _mm512_set1_ps(dmin * m));
        q4_K_scale_min(is + 1, b->scales, &sc, &m);
        const __m512 T2 = _mm512_sub_ps(_mm512_mul_ps(iota16(), _mm512_set1_ps(d * sc)), _mm512_set1_ps(dmin * m));
        const __m512i q0 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)q));
        const __m512i q1 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(q + 16)));
        *A = _mm512_fmadd_ps(_mm512_permutexvar_ps(q0, T1), _mm512_loadu_ps(x), *A);
        *A = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(q0, 4), T2), _mm512_loadu_ps(x + 32), *A);
        *B = _mm512_fmadd_ps(_mm512_permutexvar_ps(q1, T1), _mm512_loadu_ps(x + 16), *B);
        *B = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(q1, 4), T2), _mm512_loadu_ps(x + 48), *B);
        q += 32;
        x += 64;
    }
}

/* 16 weights (q − 32)·s, q from 16 6-bit values as int8 lanes, into acc. */
static inline __m512 fma_q6(__m128i q, float s, const float *x, __m512 acc)
{
    __m512 w = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_sub_epi8(q, _mm_set1_epi8(32)))),
                             _mm512_set1_ps(s));
    return _mm512_fmadd_ps(w, _mm512_loadu_ps(x), acc);
}

/* Q6_K: per half of 128, for l in 0..31 the elements l, l+32, l+64, l+96;
 * w = (d·scale)·(q − 32), the scale of 16 elements (l / 16); A takes l 0..15,
 * B l 16..31, each adding the four terms in the AVX2 path's order. */
static inline void dot_q6_K(const block_q6_K *b, const float *x, __m512 *A, __m512 *B)
{
    const float d = _cvtsh_ss(b->d);
    const uint8_t *ql = b->ql, *qh = b->qh;
    const int8_t *sc = b->scales;
    const __m128i m4 = _mm_set1_epi8(0x0f), m2 = _mm_set1_epi8(3);
    for (int half = 0; half < 2; half++) {
        for (int l = 0; l < 32; l += 16) {
            const int is = l / 16;
            __m512 *acc = l ? B : A;
            __m128i a = _mm_loadu_si128((const __m128i *)(ql + l));
            __m128i c = _mm_loadu_si128((const __m128i *)(ql + l + 32));
            __m128i h = _mm_loadu_si128((const __m128i *)(qh + l));
            __m128i q1 = _mm_or_si128(_mm_and_si128(a, m4), _mm_slli_epi16(_mm_and_si128(h, m2), 4));
            __m128i q2 = _mm_or_si128(_mm_and_si128(c, m4), _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(h, 2), m2), 4));
            __m128i q3 = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(a, 4), m4),
                                      _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(h, 4), m2), 4));
            __m128i q4 = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(c, 4), m4),
                                      _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(h, 6), m2), 4));
            *acc = fma_q6(q1, d * sc[is + 0], x + l, *acc);
            *acc = fma_q6(q2, d * sc[is + 2], x + l + 32, *acc);
            *acc = fma_q6(q3, d * sc[is + 4], x + l + 64, *acc);
            *acc = fma_q6(q4, d * sc[is + 6], x + l + 96, *acc);
        }
        x += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

static inline float hsum_ab(__m512 A, __m512 B)
{
    __m256 a = _mm256_add_ps(_mm512_castps512_ps256(A), _mm512_extractf32x8_ps(A, 1));
    __m256 b = _mm256_add_ps(_mm512_castps512_ps256(B), _mm512_extractf32x8_ps(B, 1));
    __m256 v = _mm256_add_ps(a, b);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

int qgemv_rows_avx512(float *y, const void *w, uint32_t type, const float *x, int in, int o0, int o1)
{
    size_t be, bb;
    if (!ggml_type_info(type, &be, &bb)) return 0;
    const size_t nb = (size_t)in / be, row_bytes = nb * bb;
    for (int o = o0; o < o1; o++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)o * row_bytes;
        qgemv_prefetch_row(row, row_bytes, o, o1);
        __m512 A = _mm512_setzero_ps(), B = _mm512_setzero_ps();
#define ROW_DOT(T, fn) \
    for (size_t k = 0; k < nb; k++) fn((const T *)(row + k * bb), x + k * be, &A, &B)
        switch (type) {
        case GGML_Q4_1: ROW_DOT(block_q4_1, dot_q4_1); break;
        case GGML_Q8_0: ROW_DOT(block_q8_0, dot_q8_0); break;
        case GGML_Q5_0: ROW_DOT(block_q5_0, dot_q5_0); break;
        case GGML_Q4_K: ROW_DOT(block_q4_K, dot_q4_K); break;
        case GGML_Q6_K: ROW_DOT(block_q6_K, dot_q6_K); break;
        default: return 0;
        }
#undef ROW_DOT
        y[o] = hsum_ab(A, B);
    }
    return 1;
}

#ifdef __clang__
#pragma clang attribute pop
#endif

int qgemv_avx512_usable(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}
#else
int qgemv_rows_avx512(float *y, const void *w, uint32_t type, const float *x, int in, int o0, int o1)
{
    (void)y, (void)w, (void)type, (void)x, (void)in, (void)o0, (void)o1;
    return 0;
}

int qgemv_avx512_usable(void)
{
    return 0;
}
#endif
