/* ops.c — the CPU reference of the forward pass operations (ops.h).
 *
 * Matrix products go through the CBLAS interface (OpenBLAS); everything
 * else is plain loops the compiler vectorises. Numerics follow the reference
 * implementation the golden logits come from (f32 RoPE angles, f32 RMS).
 */
#include "kernels/ops.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

void cpu_matmul(float *y, const float *x, const float *w, int n, int in, int out)
{
    if (n == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, w, in, x, 1, 0.0f, y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
}

void cpu_rmsnorm(float *y, const float *x, const float *w, int n, int dim, float eps)
{
    for (int r = 0; r < n; r++) {
        const float *xr = x + (long)r * dim;
        float *yr = y + (long)r * dim;
        double ss = 0.0;
        for (int i = 0; i < dim; i++) ss += (double)xr[i] * xr[i];
        float s = (float)(1.0 / sqrt(ss / dim + eps));
        for (int i = 0; i < dim; i++) yr[i] = w[i] * (xr[i] * s);
    }
}

void rope_inv_freq(float *inv_freq, int d, float base)
{
    for (int i = 0; i < d / 2; i++) inv_freq[i] = 1.0f / powf(base, (float)(2 * i) / (float)d);
}

void cpu_rope(float *x, int n, int n_heads, int d, int pos0, float base)
{
    float inv_freq[256];
    rope_inv_freq(inv_freq, d < 512 ? d : 512, base);
    for (int t = 0; t < n; t++) {
        float pos = (float)(pos0 + t);
        float c[256], s[256];
        for (int i = 0; i < d / 2; i++) {
            float ang = pos * inv_freq[i];
            c[i] = (float)cos((double)ang);
            s[i] = (float)sin((double)ang);
        }
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((long)t * n_heads + h) * d;
            for (int i = 0; i < d / 2; i++) {
                float x0 = v[2 * i], x1 = v[2 * i + 1];
                v[2 * i] = x0 * c[i] - x1 * s[i];
                v[2 * i + 1] = x0 * s[i] + x1 * c[i];
            }
        }
    }
}

void cpu_rope_neox(float *x, int n, int n_heads, int d, int pos0, float base)
{
    float inv_freq[256];
    const int h2 = d / 2;
    rope_inv_freq(inv_freq, d < 512 ? d : 512, base);
    for (int t = 0; t < n; t++) {
        float pos = (float)(pos0 + t);
        float c[256], s[256];
        for (int i = 0; i < h2; i++) {
            float ang = pos * inv_freq[i];
            c[i] = (float)cos((double)ang);
            s[i] = (float)sin((double)ang);
        }
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((long)t * n_heads + h) * d;
            for (int i = 0; i < h2; i++) {
                float x0 = v[i], x1 = v[i + h2];
                v[i] = x0 * c[i] - x1 * s[i];
                v[i + h2] = x0 * s[i] + x1 * c[i];
            }
        }
    }
}

/* exp(x) for x ≤ 0 (softmax after max subtraction): 2^n · p(r) with
 * r = x − n·ln2 in [−ln2/2, ln2/2] and a degree-7 polynomial; relative error
 * under 2e-7 (checked against exp() in the tests); inputs below −87 give
 * ~1e-38. The scalar form is the reference; exp8_nonpos is the same
 * arithmetic on 8 lanes (AVX2), used by the softmax. */
#define EXP_CLAMP -87.0f
#define EXP_LOG2E 1.44269504088896341f
#define EXP_LN2_HI 0.693145751953125f
#define EXP_LN2_LO 1.42860682030941723e-6f
#define EXP_ROUND 12582912.0f /* 1.5·2^23: x + it − it rounds to nearest */

static inline float exp_nonpos(float x)
{
    x = fmaxf(x, EXP_CLAMP);
    float n = (x * EXP_LOG2E + EXP_ROUND) - EXP_ROUND;
    float r = x - n * EXP_LN2_HI;
    r = r - n * EXP_LN2_LO;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#ifdef __AVX2__
static inline __m256 exp8_nonpos(__m256 x)
{
    x = _mm256_max_ps(x, _mm256_set1_ps(EXP_CLAMP));
    const __m256 round = _mm256_set1_ps(EXP_ROUND);
    __m256 n = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(EXP_LOG2E)), round), round);
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(EXP_LN2_HI)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(EXP_LN2_LO)));
    static const float c[8] = {1.0f / 5040.0f, 1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f,
                               1.0f / 6.0f, 0.5f, 1.0f, 1.0f};
    __m256 p = _mm256_set1_ps(c[0]);
    for (int i = 1; i < 8; i++) p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(c[i]));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}
#endif

float cpu_exp_nonpos(float x)
{
    return exp_nonpos(x);
}

void cpu_swiglu(float *g, const float *u, long n)
{
    for (long i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* tanh-GELU, 0.5·x·(1 + tanh(z)) with z = sqrt(2/π)·(x + 0.044715·x³), the
 * tanh from the softmax's exp: t = e^(−2|z|), tanh|z| = (1 − t)/(1 + t), the
 * sign of z restored. Within 1e-6 of the tanhf form (absolute, on 1 + tanh;
 * ops_geglu_fast checks); gelu8 is the same arithmetic on 8 lanes (AVX2). */
#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_C 0.044715f

static inline float gelu_tanh(float x)
{
    float z = GELU_K * (x + GELU_C * x * x * x);
    float t = exp_nonpos(-2.0f * fabsf(z));
    float th = copysignf((1.0f - t) / (1.0f + t), z);
    return 0.5f * x * (1.0f + th);
}

#ifdef __AVX2__
static inline __m256 gelu8(__m256 x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(GELU_C), x), x), x);
    __m256 z = _mm256_mul_ps(_mm256_set1_ps(GELU_K), _mm256_add_ps(x, x3));
    __m256 t = exp8_nonpos(_mm256_mul_ps(_mm256_set1_ps(-2.0f), _mm256_andnot_ps(sign, z)));
    __m256 th = _mm256_div_ps(_mm256_sub_ps(one, t), _mm256_add_ps(one, t));
    th = _mm256_or_ps(th, _mm256_and_ps(sign, z));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(one, th));
}
#endif

void cpu_geglu(float *g, const float *u, long n)
{
    long i = 0;
#ifdef __AVX2__
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(g + i, _mm256_mul_ps(gelu8(_mm256_loadu_ps(g + i)), _mm256_loadu_ps(u + i)));
#endif
    for (; i < n; i++) g[i] = gelu_tanh(g[i]) * u[i];
}

void cpu_scale(float *x, long n, float s)
{
    for (long i = 0; i < n; i++) x[i] *= s;
}

float cpu_exp_shift_sum(float *x, int n, float mx)
{
    float sum = 0.0f;
    int i = 0;
#ifdef __AVX2__
    __m256 vmx = _mm256_set1_ps(mx), vsum = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8_nonpos(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmx));
        _mm256_storeu_ps(x + i, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, vsum);
    for (int l = 0; l < 8; l++) sum += lanes[l];
#endif
    for (; i < n; i++) {
        x[i] = exp_nonpos(x[i] - mx);
        sum += x[i];
    }
    return sum;
}

void cpu_softmax_rows(float *x, int n, int dim)
{
    for (int r = 0; r < n; r++) {
        float *xr = x + (long)r * dim;
        float mx = -INFINITY;
        for (int i = 0; i < dim; i++) mx = xr[i] > mx ? xr[i] : mx;
        float inv = 1.0f / cpu_exp_shift_sum(xr, dim, mx);
        for (int i = 0; i < dim; i++) xr[i] *= inv;
    }
}

int cpu_argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}
