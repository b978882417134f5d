/* qgemv.c — matrix-vector products straight from quantized weights, for
 * decode (one token: the product is bound by reading the weights, and Q4_1
 * reads 5 bits a weight where the dequantized f32 copy reads 32).
 *
 * Each weight is formed exactly as the dequantizer forms it (q·d + m, or
 * q·d, rounded in f32 with no fused multiply-add), so the products equal the
 * f32 ones up to the order of the sums. AVX2 (x86-64-v3) does 8 lanes; the
 * scalar path dequantizes a block and is the reference.
 */
#include "kernels/ops.h"

#include <string.h>

#include "kernels/quant.h"
#ifdef __AVX2__
#include <immintrin.h>
#endif

int cpu_gemv_supported(uint32_t type)
{
    return type == GGML_Q4_1 || type == GGML_Q8_0;
}

#ifdef __AVX2__
/* (f16 scales through F16C, exact like f16_to_f32.) Σ over one Q4_1 block: elements j (low nibbles) and j+16 (high). */
static inline __m256 dot_q4_1(const block_q4_1 *b, const float *x, __m256 acc)
{
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(b->d)), m = _mm256_set1_ps(_cvtsh_ss(b->m));
    const __m128i raw = _mm_loadu_si128((const __m128i *)b->qs);
    const __m128i mask = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_and_si128(raw, mask), hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int i = 0; i < 4; i++) {
        __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(parts[i]));
        __m256 w = _mm256_add_ps(_mm256_mul_ps(q, d), m);
        acc = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 8 * i), acc);
    }
    return acc;
}

static inline __m256 dot_q8_0(const block_q8_0 *b, const float *x, __m256 acc)
{
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(b->d));
    for (int i = 0; i < 4; i++) {
        __m128i raw = _mm_loadl_epi64((const __m128i *)(b->qs + 8 * i));
        __m256 w = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(raw)), d);
        acc = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 8 * i), acc);
    }
    return acc;
}

static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

int cpu_gemv_quant(float *y, const void *w, uint32_t type, const float *x, int in, int out)
{
    size_t be, bb;
    if (!cpu_gemv_supported(type) || !ggml_type_info(type, &be, &bb) || in % (int)be) return 0;
    const size_t nb = (size_t)in / be, row_bytes = nb * bb;
    for (int o = 0; o < out; o++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)o * row_bytes;
#ifdef __AVX2__
        __m256 acc = _mm256_setzero_ps();
        if (type == GGML_Q4_1)
            for (size_t k = 0; k < nb; k++) acc = dot_q4_1((const block_q4_1 *)(row + k * bb), x + k * be, acc);
        else
            for (size_t k = 0; k < nb; k++) acc = dot_q8_0((const block_q8_0 *)(row + k * bb), x + k * be, acc);
        y[o] = hsum(acc);
#else
        float tmp[QK8_0], s = 0.0f;
        for (size_t k = 0; k < nb; k++) {
            dequant_row(type, row + k * bb, tmp, be);
            for (size_t j = 0; j < be; j++) s += tmp[j] * x[k * be + j];
        }
        y[o] = s;
#endif
    }
    return 1;
}
