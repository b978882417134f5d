/* qgemv.c — matrix-vector products straight from quantized weights, for
 * decode (one token: the product is bound by reading the weights, and Q4_1
 * reads 5 bits a weight where the dequantized f32 copy reads 32). Types:
 * Q4_1, Q8_0 (SmolLM2), Q5_0, Q4_K, Q6_K (Gemma-3-270M's Q4_K_M file).
 *
 * Each weight is formed exactly as the dequantizer (quant.c) forms it (q·d
 * + m, q·d, d·sc·q − dmin·m, (d·sc)·q, each product rounded in f32 with no
 * fused multiply-add), so the products equal the f32 ones up to the order
 * of the sums. AVX2 (x86-64-v3) does 8 lanes, AVX-512 (qgemv_avx512.c,
 * where the CPU has it) the same sums on 16, bit for bit; the scalar path
 * dequantizes a block and is the reference. Products split their rows over the CPU
 * pool (kernels/pool.h).
 */
#include "kernels/ops.h"

#include <string.h>

#include "kernels/cpu/qgemv_isa.h"
#include "kernels/pool.h"
#include "kernels/quant.h"
#ifdef __AVX2__
#include <immintrin.h>
#endif

int cpu_gemv_supported(uint32_t type)
{
    return type == GGML_Q4_1 || type == GGML_Q8_0 || type == GGML_Q5_0 || type == GGML_Q4_K || type == GGML_Q6_K;
}

#ifdef __AVX2__
/* (f16 scales through F16C, exact like f16_to_f32.) Σ over one Q4_1 block: elements j (low nibbles) and j+16 (high). */
static inline void dot_q4_1(const block_q4_1 *b, const float *x, __m256 acc[4])
{
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(b->d)), m = _mm256_set1_ps(_cvtsh_ss(b->m));
    const __m128i raw = _mm_loadu_si128((const __m128i *)b->qs);
    const __m128i mask = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_and_si128(raw, mask), hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int i = 0; i < 4; i++) {
        __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(parts[i]));
        __m256 w = _mm256_add_ps(_mm256_mul_ps(q, d), m);
        acc[i] = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 8 * i), acc[i]);
    }
}

static inline void dot_q8_0(const block_q8_0 *b, const float *x, __m256 acc[4])
{
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(b->d));
    for (int i = 0; i < 4; i++) {
        __m128i raw = _mm_loadl_epi64((const __m128i *)(b->qs + 8 * i));
        __m256 w = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(raw)), d);
        acc[i] = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 8 * i), acc[i]);
    }
}

/* 8 weights w = q·d (q: int32 lanes) against x[0..8), added to acc. */
static inline __m256 fma_q(__m256i q, __m256 d, const float *x, __m256 acc)
{
    return _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(q), d), _mm256_loadu_ps(x), acc);
}

/* Q5_0: element j = (nibble | bit j of qh << 4) − 16; nibbles as Q4_1's. */
static inline void dot_q5_0(const block_q5_0 *b, const float *x, __m256 acc[4])
{
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(b->d));
    uint32_t qh;
    memcpy(&qh, b->qh, 4);
    const __m128i raw = _mm_loadu_si128((const __m128i *)b->qs);
    const __m128i mask = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_and_si128(raw, mask), hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), one = _mm256_set1_epi32(1);
    const __m256i bits = _mm256_set1_epi32((int)qh), sixteen = _mm256_set1_epi32(16);
    for (int i = 0; i < 4; i++) {
        __m256i h = _mm256_and_si256(_mm256_srlv_epi32(bits, _mm256_add_epi32(lane, _mm256_set1_epi32(8 * i))), one);
        __m256i q = _mm256_or_si256(_mm256_cvtepu8_epi32(parts[i]), _mm256_slli_epi32(h, 4));
        acc[i] = fma_q(_mm256_sub_epi32(q, sixteen), d, x + 8 * i, acc[i]);
    }
}

/* Q4_K: per 64 elements, 32 bytes; low nibbles w = d1·q − m1, high d2·q − m2
 * (scales as the dequantizer unpacks them). */
static inline void dot_q4_K(const block_q4_K *b, const float *x, __m256 acc[4])
{
    const float d = _cvtsh_ss(b->d), dmin = _cvtsh_ss(b->dmin);
    const uint8_t *q = b->qs;
    const __m256i mask = _mm256_set1_epi32(0x0f);
    for (int is = 0; is < 8; is += 2) {
        uint8_t sc, m;
        q4_K_scale_min(is, b->scales, &sc, &m);
        const __m256 d1 = _mm256_set1_ps(d * sc), m1 = _mm256_set1_ps(dmin * m);
        q4_K_scale_min(is + 1, b->scales, &sc, &m);
        const __m256 d2 = _mm256_set1_ps(d * sc), m2 = _mm256_set1_ps(dmin * m);
        for (int l = 0; l < 32; l += 8) {
            __m256i raw = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + l)));
            __m256 w1 = _mm256_sub_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(raw, mask)), d1), m1);
            __m256 w2 = _mm256_sub_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(raw, 4)), d2), m2);
            acc[l / 8] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + l), acc[l / 8]);
            acc[l / 8] = _mm256_fmadd_ps(w2, _mm256_loadu_ps(x + 32 + l), acc[l / 8]);
        }
        q += 32;
        x += 64;
    }
}

/* Q6_K: per half of 128, for l in 0..31 the elements l, l+32, l+64, l+96
 * (the dequantizer's bit layout); w = (d·scale)·(q − 32). */
static inline void dot_q6_K(const block_q6_K *b, const float *x, __m256 acc[4])
{
    const float d = _cvtsh_ss(b->d);
    const uint8_t *ql = b->ql, *qh = b->qh;
    const int8_t *sc = b->scales;
    const __m256i mask = _mm256_set1_epi32(0x0f), three = _mm256_set1_epi32(3), off = _mm256_set1_epi32(32);
    for (int half = 0; half < 2; half++) {
        for (int l = 0; l < 32; l += 8) {
            const int is = l / 16;
            __m256i a = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(ql + l)));
            __m256i c = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(ql + l + 32)));
            __m256i h = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(qh + l)));
            __m256i q1 = _mm256_or_si256(_mm256_and_si256(a, mask), _mm256_slli_epi32(_mm256_and_si256(h, three), 4));
            __m256i q2 = _mm256_or_si256(_mm256_and_si256(c, mask),
                                         _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 2), three), 4));
            __m256i q3 = _mm256_or_si256(_mm256_srli_epi32(a, 4),
                                         _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 4), three), 4));
            __m256i q4 = _mm256_or_si256(_mm256_srli_epi32(c, 4), _mm256_slli_epi32(_mm256_srli_epi32(h, 6), 4));
            __m256 *a4 = &acc[l / 8];
            *a4 = fma_q(_mm256_sub_epi32(q1, off), _mm256_set1_ps(d * sc[is + 0]), x + l, *a4);
            *a4 = fma_q(_mm256_sub_epi32(q2, off), _mm256_set1_ps(d * sc[is + 2]), x + l + 32, *a4);
            *a4 = fma_q(_mm256_sub_epi32(q3, off), _mm256_set1_ps(d * sc[is + 4]), x + l + 64, *a4);
            *a4 = fma_q(_mm256_sub_epi32(q4, off), _mm256_set1_ps(d * sc[is + 6]), x + l + 96, *a4);
        }
        x += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

/* Rows o0 .. o1-1 of one product (the arguments of cpu_gemv_quant). */
typedef struct {
    float *y;
    const void *w;
    uint32_t type;
    const float *x;
    int in, o0, o1;
    int n_out;         /* all rows of the product (out) */
} gemv_part;

/* -1 until the first product: then whether rows take the AVX-512 path. */
static int use_avx512 = -1;

int cpu_gemv_avx512(int on)
{
    if (use_avx512 < 0) use_avx512 = qgemv_avx512_usable();
    int was = use_avx512;
    if (on >= 0) use_avx512 = on && qgemv_avx512_usable();
    return was;
}

static void gemv_rows(const gemv_part *p)
{
    if (use_avx512 && qgemv_rows_avx512(p->y, p->w, p->type, p->x, p->in, p->o0, p->o1)) return;
    size_t be, bb;
    ggml_type_info(p->type, &be, &bb);
    const size_t nb = (size_t)p->in / be, row_bytes = nb * bb;
    const uint32_t type = p->type;
    const float *x = p->x;
    for (int o = p->o0; o < p->o1; o++) {
        const uint8_t *row = (const uint8_t *)p->w + (size_t)o * row_bytes;
        qgemv_prefetch_row(row, row_bytes, o, p->o1);
#ifdef __AVX2__
        /* four accumulators: the fused multiply-adds of a block do not wait on each other */
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
#define ROW_DOT(T, fn) \
    for (size_t k = 0; k < nb; k++) fn((const T *)(row + k * bb), x + k * be, acc)
        switch (type) {
        case GGML_Q4_1: ROW_DOT(block_q4_1, dot_q4_1); break;
        case GGML_Q8_0: ROW_DOT(block_q8_0, dot_q8_0); break;
        case GGML_Q5_0: ROW_DOT(block_q5_0, dot_q5_0); break;
        case GGML_Q4_K: ROW_DOT(block_q4_K, dot_q4_K); break;
        default: ROW_DOT(block_q6_K, dot_q6_K); break;
        }
#undef ROW_DOT
        p->y[o] = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
#else
        float tmp[QK_K], s = 0.0f;
        for (size_t k = 0; k < nb; k++) {
            dequant_row(type, row + k * bb, tmp, be);
            for (size_t j = 0; j < be; j++) s += tmp[j] * x[k * be + j];
        }
        p->y[o] = s;
#endif
    }
}

/* One task of a split product: rows [i·rows, (i+1)·rows) of p. */
static void gemv_task(void *arg, int i, int thread)
{
    (void)thread;
    gemv_part p = *(const gemv_part *)arg;
    const int rows = p.o1;                  /* rows per task */
    p.o0 = i * rows;
    p.o1 = p.o0 + rows < p.n_out ? p.o0 + rows : p.n_out;
    gemv_rows(&p);
}

/* Products of at least this many weights split their rows over the pool's
 * threads (kernels/pool.h), in tasks of about a quarter of a thread's share
 * (at least GEMV_MIN_ROWS rows) so a thread that lost its CPU for a while
 * is made up by the others. Each row is summed by one thread as without
 * threads, so the result does not depend on the split. */
#define GEMV_SPLIT_WEIGHTS (1L << 15)
#define GEMV_MIN_ROWS 16

int cpu_gemv_quant(float *y, const void *w, uint32_t type, const float *x, int in, int out)
{
    size_t be, bb;
    if (!cpu_gemv_supported(type) || !ggml_type_info(type, &be, &bb) || in % (int)be) return 0;
    if (use_avx512 < 0) cpu_gemv_avx512(-1);
    const int nt = (long)in * out >= GEMV_SPLIT_WEIGHTS ? cpu_pool_threads() : 1;
    if (nt == 1) {
        gemv_rows(&(gemv_part){y, w, type, x, in, 0, out, out});
        return 1;
    }
    int rows = (out + 4 * nt - 1) / (4 * nt);
    if (rows < GEMV_MIN_ROWS) rows = GEMV_MIN_ROWS;
    gemv_part part = {y, w, type, x, in, 0, rows, out};
    cpu_pool_for((out + rows - 1) / rows, gemv_task, &part);
    return 1;
}
