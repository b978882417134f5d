/* test_attn_index.c — tests of the indexer twins and the index-key append
 * (attn_index_prefill_ref, attn_index_prefill_mean_ref,
 * attn_kv_append_index_ref in
 * kernels/cpu/attn_select_ref.c), the oracles of their CUDA kernels.
 *
 * The prefill indexer is checked against the decode indexer where the
 * answer is known another way: a 1-row block is the decode rule bit for
 * bit; a block's pooled mass is at least each row's own (the decode rule
 * at that row's position, over the keys it sees) and at most their sum;
 * keys past the block's last row change nothing. The mean pool of rows
 * that agree is the decode rule of that row at the block's last position.
 * The append is checked
 * against the plain conversion and a double-precision projection.
 */
#include "tests/test.h"

#include "kernels/attn_kernels.h"
#include "kernels/attn_sparse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng_state;
static float rnd(void) /* uniform in [-1, 1) */
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffffff) / 8388608.0f - 1.0f;
}

static void fill16(uint16_t *x, size_t n, float amp)
{
    for (size_t i = 0; i < n; i++) x[i] = attn_f32_to_bf16(amp * rnd());
}

/* f32 values that bf16 holds exactly */
static void fill_exact(float *x, size_t n, float amp)
{
    for (size_t i = 0; i < n; i++) x[i] = attn_bf16_to_f32(attn_f32_to_bf16(amp * rnd()));
}

enum { NH = 4, NKV = 2, D = 32, R = 8, KV = 300, V = (KV - 1) / 64 + 1, NQ = 150, QOFF = 100 };

static uint16_t kx[NH * KV * R], k[KV * NKV * D], q[NQ * NH * D];
static float qx[NQ * NH * R];

static void inputs(uint32_t seed)
{
    rng_state = seed;
    fill16(kx, sizeof kx / sizeof kx[0], 2.0f);
    fill16(k, sizeof k / sizeof k[0], 2.0f);
    fill16(q, sizeof q / sizeof q[0], 2.0f);
    fill_exact(qx, sizeof qx / sizeof qx[0], 2.0f);
}

/* kx of the first n keys as a cache of n keys (head-major, stride n) */
static void kx_prefix(uint16_t *dst, int n)
{
    for (int h = 0; h < NH; h++) memcpy(dst + (size_t)h * n * R, kx + (size_t)h * KV * R, (size_t)n * R * 2);
}

TEST(attn_index_prefill_one_row_is_decode)
{
    inputs(4242);
    const attn_select_params prms[] = {{4, 64, 4, 0.9}, {0, 0, 4, 0.9}, {70, 130, 4, 0.9}, {0, 1 << 30, 4, 0.9}};
    static uint16_t kxn[NH * KV * R];
    for (size_t c = 0; c < sizeof prms / sizeof prms[0]; c++)
        for (int n = 1; n <= KV; n += 61) { /* 1, 62, 123, 184, 245: short, mid-block and past the sink */
            float a[NH * V], b[NH * V];
            kx_prefix(kxn, n);
            for (size_t i = 0; i < NH * V; i++) a[i] = b[i] = 0.5f;
            /* the decode row at position n-1: its q (n_head, d) and qx (n_head, r) are the prefill's one row */
            const size_t t = (size_t)(n - 1) % NQ;
            attn_index_decode_ref(qx + t * NH * R, kxn, q + t * NH * D, k, a, V, n, NH, NKV, D, R, &prms[c]);
            attn_index_prefill_ref(qx + t * NH * R, kxn, q + t * NH * D, k, b, V, 1, n, n - 1, NH, NKV, D, R,
                                   &prms[c]);
            CHECK_MSG(!memcmp(a, b, sizeof a), "params %zu, kv %d: prefill's 1-row block differs from decode", c, n);
            for (size_t i = 0; i < NH * V; i++) b[i] = 0.5f;
            attn_index_prefill_mean_ref(qx + t * NH * R, kxn, q + t * NH * D, k, b, V, 1, n, n - 1, NH, NKV, D, R,
                                        &prms[c]);
            CHECK_MSG(!memcmp(a, b, sizeof a), "params %zu, kv %d: the mean pool's 1-row block differs", c, n);
        }
}

/* Item blse against the rows' own: with no block forced (or every block,
 * so that each row's decode rule scores the same way), exp(blse[item][b])
 * lies between the largest row's exp(blse_row[b]) and their sum. */
static void envelope_case(const attn_select_params *prm, const char *what)
{
    enum { NQB = (NQ + 63) / 64, LD = (QOFF + NQ - 1) / 64 + 1 };
    static float blse[NQB * NH * LD], row[NQ][NH * LD];
    static uint16_t kxn[NH * KV * R];
    attn_index_prefill_ref(qx, kx, q, k, blse, LD, NQ, KV, QOFF, NH, NKV, D, R, prm);
    for (int t = 0; t < NQ; t++) {
        const int n = QOFF + t + 1; /* row t sees keys 0 .. QOFF + t */
        kx_prefix(kxn, n);
        attn_index_decode_ref(qx + (size_t)t * NH * R, kxn, q + (size_t)t * NH * D, k, row[t], LD, n, NH, NKV, D, R,
                              prm);
    }
    int bad = 0, tight = 0;
    for (int qb = 0; qb < NQB; qb++)
        for (int h = 0; h < NH; h++) {
            const int t1 = qb * 64 + 64 < NQ ? qb * 64 + 64 : NQ, nb = (QOFF + t1 - 1) / 64 + 1;
            for (int b = 0; b < nb; b++) {
                double mx = 0.0, sum = 0.0;
                for (int t = qb * 64; t < t1; t++)
                    if ((QOFF + t) / 64 >= b) {
                        double m = exp((double)row[t][h * LD + b]);
                        mx = m > mx ? m : mx;
                        sum += m;
                    }
                const double e = exp((double)blse[((size_t)qb * NH + h) * LD + b]);
                bad += !(e >= mx * (1 - 1e-5) && e <= sum * (1 + 1e-5));
                tight += e < sum * 0.99; /* the max, not the sum: strictly below it somewhere */
            }
        }
    CHECK_MSG(bad == 0, "%s: %d blocks outside [max row, sum of rows]", what, bad);
    CHECK_MSG(tight > 0, "%s: the pool equals the sum of rows everywhere", what);
}

TEST(attn_index_prefill_envelope_bounds_rows)
{
    inputs(99);
    const attn_select_params none = {0, 0, 4, 0.9}, all = {0, 1 << 30, 4, 0.9};
    envelope_case(&none, "indexed");
    envelope_case(&all, "exact");
}

TEST(attn_index_prefill_is_causal)
{
    inputs(7);
    enum { NQB = (NQ + 63) / 64, LD = V };
    static float a[NQB * NH * LD], b[NQB * NH * LD];
    const attn_select_params prm = {4, 64, 4, 0.9};
    /* keys past the last row (QOFF + NQ - 1 = 249 < KV) are seen by nobody */
    attn_index_prefill_ref(qx, kx, q, k, a, LD, NQ, KV, QOFF, NH, NKV, D, R, &prm);
    for (int h = 0; h < NH; h++)
        for (int j = QOFF + NQ; j < KV; j++)
            for (int c = 0; c < R; c++) kx[((size_t)h * KV + j) * R + c] = attn_f32_to_bf16(50.0f);
    for (int j = QOFF + NQ; j < KV; j++)
        for (int c = 0; c < NKV * D; c++) k[(size_t)j * NKV * D + c] = attn_f32_to_bf16(50.0f);
    attn_index_prefill_ref(qx, kx, q, k, b, LD, NQ, KV, QOFF, NH, NKV, D, R, &prm);
    for (int qb = 0; qb < NQB; qb++)
        for (int h = 0; h < NH; h++) {
            const int t1 = qb * 64 + 64 < NQ ? qb * 64 + 64 : NQ, nb = (QOFF + t1 - 1) / 64 + 1;
            for (int e = 0; e < nb; e++) {
                size_t i = ((size_t)qb * NH + h) * LD + e;
                CHECK_MSG(a[i] == b[i] && isfinite(a[i]), "item %d/%d block %d: %g vs %g", qb, h, e, a[i], b[i]);
            }
        }
    /* a key only the block's last row sees moves the pool when it scores
     * high (no recent blocks forced, so its block is indexed) */
    const attn_select_params sink_only = {4, 0, 4, 0.9};
    const int j = QOFF + 63; /* seen by row 63 of block 0 only */
    attn_index_prefill_ref(qx, kx, q, k, a, LD, NQ, KV, QOFF, NH, NKV, D, R, &sink_only);
    for (int c = 0; c < R; c++) kx[(size_t)j * R + c] = attn_f32_to_bf16(qx[63 * NH * R + c] > 0 ? 50.0f : -50.0f);
    attn_index_prefill_ref(qx, kx, q, k, b, LD, NQ, KV, QOFF, NH, NKV, D, R, &sink_only);
    CHECK_MSG(b[j / 64] > a[j / 64] + 1.0f, "head 0 block %d: %g, was %g", j / 64, b[j / 64], a[j / 64]);
}

/* Rows that agree (128 rows at positions 64 .. 191; every row of block 1
 * a copy of its last, at position 191):
 * the mean pool is the decode rule of that row at kv_len 192, up to the
 * rounding of the mean (a sum of 64 copies, then / 64), when the blocks
 * are forced alike (none, or all). */
TEST(attn_index_prefill_mean_of_equal_rows_is_decode)
{
    inputs(555);
    enum { NQ2 = 128, L = 191, LD = L / 64 + 1 };
    static uint16_t kxn[NH * KV * R];
    float a[NH * LD], b[2 * NH * LD];
    for (int t = 64; t < NQ2 - 1; t++) {
        memcpy(qx + (size_t)t * NH * R, qx + (size_t)(NQ2 - 1) * NH * R, sizeof(float) * NH * R);
        memcpy(q + (size_t)t * NH * D, q + (size_t)(NQ2 - 1) * NH * D, 2 * NH * D);
    }
    kx_prefix(kxn, L + 1);
    const attn_select_params prms[] = {{0, 0, 4, 0.9}, {0, 1 << 30, 4, 0.9}};
    for (int c = 0; c < 2; c++) {
        attn_index_decode_ref(qx + (size_t)(NQ2 - 1) * NH * R, kxn, q + (size_t)(NQ2 - 1) * NH * D, k, a, LD, L + 1,
                              NH, NKV, D, R, &prms[c]);
        attn_index_prefill_mean_ref(qx, kxn, q, k, b, LD, NQ2, L + 1, L + 1 - NQ2, NH, NKV, D, R, &prms[c]);
        double err = 0.0;
        for (int i = 0; i < NH * LD; i++) err = fmax(err, fabs((double)a[i] - b[NH * LD + i]));
        CHECK_MSG(err < 1e-4, "params %d: max |mean pool - decode| %g", c, err);
    }
}

TEST(attn_kv_append_index_ref_values)
{
    enum { CTX = 96, T = 40, P0 = 17, AH = 6, AKV = 2, AD = 16, AR = 4 };
    static uint16_t kc[CTX * AKV * AD], vc[CTX * AKV * AD], kxa[AH * CTX * AR];
    static float kk[T * AKV * AD], vv[T * AKV * AD], kp[T * AKV * AD], wk[AH * AR * AD];
    rng_state = 31337;
    for (int i = 0; i < T * AKV * AD; i++) kk[i] = 3 * rnd(), vv[i] = 3 * rnd(), kp[i] = 3 * rnd();
    for (int i = 0; i < AH * AR * AD; i++) wk[i] = rnd();
    memset(kc, 0xff, sizeof kc);
    memset(vc, 0xff, sizeof vc);
    memset(kxa, 0xff, sizeof kxa);
    const int heads[] = {4, 1};
    attn_kv_append_index_ref(kc, vc, kxa, CTX, kk, vv, kp, wk, P0, T, AH, AKV, AD, AR, heads, 2);
    const size_t row = AKV * AD;
    for (size_t e = 0; e < CTX * row; e++) {
        const int in = e >= P0 * row && e < (P0 + T) * row;
        CHECK(kc[e] == (in ? attn_f32_to_bf16(kk[e - P0 * row]) : 0xffff));
        CHECK(vc[e] == (in ? attn_f32_to_bf16(vv[e - P0 * row]) : 0xffff));
    }
    for (int h = 0; h < AH; h++)
        for (int j = 0; j < CTX; j++)
            for (int c = 0; c < AR; c++) {
                const uint16_t got = kxa[((size_t)h * CTX + j) * AR + c];
                if ((h != 4 && h != 1) || j < P0 || j >= P0 + T) {
                    CHECK(got == 0xffff);
                    continue;
                }
                double dot = 0.0;
                for (int e = 0; e < AD; e++)
                    dot += (double)wk[(h * AR + c) * AD + e] * kp[((j - P0) * AKV + h / 3) * AD + e];
                CHECK_MSG(fabs(attn_bf16_to_f32(got) - dot) <= fabs(dot) / 256 + 1e-5, "head %d key %d dim %d: %g vs %g",
                          h, j, c, attn_bf16_to_f32(got), dot);
            }
}
