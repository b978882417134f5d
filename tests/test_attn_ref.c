/* test_attn_ref.c — tests of the attention oracle (kernels/cpu/attn_ref.c).
 *
 * The CPU twin judges every CUDA attention kernel, so it is itself checked
 * here against the textbook formula computed the most direct way: scores,
 * exp, divide by the sum, in double, no max trick, per (row, head).
 */
#include "tests/test.h"

#include "kernels/attn_kernels.h"

#include <stdint.h>
#include <stdlib.h>

static uint32_t rng_state;
static float rnd(void) /* uniform in [-1, 1) */
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffffff) / 8388608.0f - 1.0f;
}

static void fill(uint16_t *x, size_t n, float amp)
{
    for (size_t i = 0; i < n; i++) x[i] = attn_f32_to_bf16(amp * rnd());
}

/* The textbook definition for row i, head h: positions 0..min(q_offset+i, kv_len-1),
 * and with a window W > 0 only those above q_offset+i-W. At most 64 keys. */
static void naive(const uint16_t *q, const uint16_t *k, const uint16_t *v, int i, int h,
                  int kv_len, int q_offset, int n_head, int n_kv_head, int d, int window,
                  double *out, double *lse)
{
    int kvh = h / (n_head / n_kv_head);
    int n = q_offset + i + 1 < kv_len ? q_offset + i + 1 : kv_len;
    int j0 = window && q_offset + i - window + 1 > 0 ? q_offset + i - window + 1 : 0;
    double sum = 0.0, w[64] = {0};
    for (int j = j0; j < n; j++) {
        double dot = 0.0;
        for (int c = 0; c < d; c++)
            dot += (double)attn_bf16_to_f32(q[((size_t)i * n_head + h) * d + c]) *
                   attn_bf16_to_f32(k[((size_t)j * n_kv_head + kvh) * d + c]);
        w[j] = exp(dot / sqrt((double)d));
        sum += w[j];
    }
    for (int c = 0; c < d; c++) {
        double acc = 0.0;
        for (int j = j0; j < n; j++)
            acc += w[j] / sum * attn_bf16_to_f32(v[((size_t)j * n_kv_head + kvh) * d + c]);
        out[c] = acc;
    }
    *lse = log(sum);
}

TEST(attn_ref_prefill_matches_naive_softmax)
{
    enum { NQ = 6, KV = 11, QOFF = 5, NH = 6, NKV = 2, D = 16 };
    uint16_t q[NQ * NH * D], k[KV * NKV * D], v[KV * NKV * D];
    float out[NQ * NH * D], lse[NQ * NH];
    rng_state = 12345;
    fill(q, NQ * NH * D, 3.0f); /* large enough that the softmax is far from uniform */
    fill(k, KV * NKV * D, 3.0f);
    fill(v, KV * NKV * D, 1.0f);
    attn_prefill_ref(q, k, v, out, lse, NQ, KV, QOFF, NH, NKV, D);
    for (int i = 0; i < NQ; i++)
        for (int h = 0; h < NH; h++) {
            double o[D], l;
            naive(q, k, v, i, h, KV, QOFF, NH, NKV, D, 0, o, &l);
            CHECK_NEAR(lse[i * NH + h], l, 1e-5 * (1 + fabs(l)));
            for (int c = 0; c < D; c++) CHECK_NEAR(out[(i * NH + h) * D + c], o[c], 2e-6);
        }
}

TEST(attn_ref_first_row_sees_only_key_zero)
{
    enum { NH = 4, NKV = 2, D = 8, KV = 5 };
    uint16_t q[3 * NH * D], k[KV * NKV * D], v[KV * NKV * D];
    float out[3 * NH * D], lse[3 * NH];
    rng_state = 7;
    fill(q, 3 * NH * D, 2.0f);
    fill(k, KV * NKV * D, 2.0f);
    fill(v, KV * NKV * D, 1.0f);
    attn_prefill_ref(q, k, v, out, lse, 3, KV, 0, NH, NKV, D);
    for (int h = 0; h < NH; h++) {
        int kvh = h / (NH / NKV);
        double dot = 0.0;
        for (int c = 0; c < D; c++)
            dot += (double)attn_bf16_to_f32(q[h * D + c]) * attn_bf16_to_f32(k[kvh * D + c]);
        CHECK_NEAR(lse[h], dot / sqrt((double)D), 1e-5);
        for (int c = 0; c < D; c++) /* softmax over one key: exactly v_0 of its kv head */
            CHECK_NEAR(out[h * D + c], attn_bf16_to_f32(v[kvh * D + c]), 1e-6);
    }
}

TEST(attn_ref_decode_is_last_row_of_prefill)
{
    enum { NH = 9, NKV = 3, D = 8, KV = 13 };
    uint16_t q[NH * D], k[KV * NKV * D], v[KV * NKV * D];
    float out[NH * D], lse[NH];
    rng_state = 99;
    fill(q, NH * D, 2.0f);
    fill(k, KV * NKV * D, 2.0f);
    fill(v, KV * NKV * D, 1.0f);
    attn_decode_ref(q, k, v, out, lse, KV, NH, NKV, D);
    for (int h = 0; h < NH; h++) {
        double o[D], l;
        naive(q, k, v, 0, h, KV, KV - 1, NH, NKV, D, 0, o, &l);
        CHECK_NEAR(lse[h], l, 1e-5 * (1 + fabs(l)));
        for (int c = 0; c < D; c++) CHECK_NEAR(out[h * D + c], o[c], 2e-6);
    }
}

/* Gemma's shape (d 256, 4 query heads on 1 KV head) with a sliding
 * window: rows before, across and past the window's reach; the decode form
 * is the last row; a window wider than the cache changes nothing. */
TEST(attn_ref_window_d256_matches_naive)
{
    enum { NQ = 12, KV = 40, QOFF = 28, NH = 4, NKV = 1, D = 256, W = 9 };
    static uint16_t q[NQ * NH * D], k[KV * NKV * D], v[KV * NKV * D];
    static float out[NQ * NH * D], lse[NQ * NH], wide[NQ * NH * D], full[NQ * NH * D];
    rng_state = 4242;
    fill(q, NQ * NH * D, 0.3f); /* dots of 256 terms: keep the softmax away from one-hot */
    fill(k, KV * NKV * D, 0.3f);
    fill(v, KV * NKV * D, 1.0f);
    attn_prefill_window_ref(q, k, v, out, lse, NQ, KV, QOFF, NH, NKV, D, W);
    for (int i = 0; i < NQ; i++)
        for (int h = 0; h < NH; h++) {
            double o[D], l;
            naive(q, k, v, i, h, KV, QOFF, NH, NKV, D, W, o, &l);
            CHECK_NEAR(lse[i * NH + h], l, 1e-5 * (1 + fabs(l)));
            for (int c = 0; c < D; c++) CHECK_NEAR(out[(i * NH + h) * D + c], o[c], 2e-6);
        }
    float dec[NH * D], dlse[NH];
    attn_decode_window_ref(q + (NQ - 1) * NH * D, k, v, dec, dlse, KV, NH, NKV, D, W);
    for (int e = 0; e < NH * D; e++) CHECK_NEAR(dec[e], out[(NQ - 1) * NH * D + e], 0);
    attn_prefill_window_ref(q, k, v, wide, NULL, NQ, KV, QOFF, NH, NKV, D, KV);
    attn_prefill_ref(q, k, v, full, NULL, NQ, KV, QOFF, NH, NKV, D);
    for (int e = 0; e < NQ * NH * D; e++) CHECK_NEAR(wide[e], full[e], 0);
}

TEST(attn_ref_bf16_rounding)
{
    CHECK(attn_f32_to_bf16(1.0f) == 0x3f80);
    CHECK(attn_f32_to_bf16(-2.0f) == 0xc000);
    /* 1 + 2^-8 is halfway between two bf16 values: ties go to even (1.0) */
    CHECK(attn_f32_to_bf16(1.0f + 1.0f / 256) == 0x3f80);
    CHECK(attn_f32_to_bf16(1.0f + 3.0f / 256) == 0x3f82);
    CHECK(isnan(attn_bf16_to_f32(attn_f32_to_bf16(NAN))));
    CHECK_NEAR(attn_bf16_to_f32(0x4049), 3.140625, 0);
}
