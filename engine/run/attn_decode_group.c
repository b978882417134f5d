/* attn_decode_group.c — one decode step of dense attention, formed in key
 * chunks shared by the query heads of a KV head.
 *
 * At decode each query head reads its KV head's whole cache: G heads of a
 * group read the same K and V rows G times. Here a task takes one KV head
 * and one chunk of at most ATTN_DECODE_CHUNK keys and runs all G heads
 * over it, so the chunk comes from memory once and from cache G - 1
 * times. Each (head, chunk) leaves an unnormalised part: its largest score
 * m, l = sum_j exp(s_j - m) and o = sum_j exp(s_j - m) v_j; the parts of a
 * head are then joined in chunk order, o_h = sum_c e^(m_c - M) o_c / sum_c
 * e^(m_c - M) l_c with M = max_c m_c. The chunks depend on the key count
 * only, never on the thread count, so the output does not either.
 */
#include "run/attention.h"

#include <cblas.h>
#include <math.h>

#include "kernels/ops.h"

int attn_decode_chunks(int n_keys)
{
    return (n_keys + ATTN_DECODE_CHUNK - 1) / ATTN_DECODE_CHUNK;
}

/* q: (G, d) at row stride ldq; k, v: (n, d) rows of the chunk; s: G * n
 * floats of scratch; part: G parts of (d + 2) floats, o then m then l. */
void attn_decode_chunk(int G, int d, float scale, const float *q, int ldq, const float *k, const float *v, int n,
                       float *s, float *part)
{
    for (int g = 0; g < G; g++) {
        float *sg = s + (long)g * n, *pg = part + (long)g * (d + 2);
        /* s (n) = scale * K q: the chunk's rows stay in cache for the next head */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n, d, scale, k, d, q + (long)g * ldq, 1, 0.0f, sg, 1);
        float mx = -INFINITY;
        for (int j = 0; j < n; j++) mx = sg[j] > mx ? sg[j] : mx;
        float l = cpu_exp_shift_sum(sg, n, mx);
        /* o (d) = V^T exp(s - m) */
        cblas_sgemv(CblasRowMajor, CblasTrans, n, d, 1.0f, v, d, sg, 1, 0.0f, pg, 1);
        pg[d] = mx;
        pg[d + 1] = l;
    }
}

/* parts: n_chunks parts of one head, (d + 2) floats each, at stride
 * `stride` floats; out: d floats. */
void attn_decode_join(int n_chunks, int d, const float *parts, long stride, float *out)
{
    float M = -INFINITY;
    for (int c = 0; c < n_chunks; c++) M = parts[c * stride + d] > M ? parts[c * stride + d] : M;
    float L = 0.0f;
    for (int i = 0; i < d; i++) out[i] = 0.0f;
    for (int c = 0; c < n_chunks; c++) {
        const float *p = parts + c * stride;
        float w = cpu_exp_nonpos(p[d] - M);
        L += w * p[d + 1];
        for (int i = 0; i < d; i++) out[i] += w * p[i];
    }
    float inv = 1.0f / L;
    for (int i = 0; i < d; i++) out[i] *= inv;
}
