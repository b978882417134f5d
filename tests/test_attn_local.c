/* test_attn_local.c — the local heads' CPU twins (kernels/attn_kernels.h,
 * attn_local_*: sinks + a sliding window over the S + W row ring).
 *
 * The ring is filled the way the backends fill it (chunks of a few tokens,
 * each attended then stored), from a full cache of random bf16 keys and
 * values; the prefill twin over ring + chunk is then checked against the
 * rule computed the most direct way from the full cache (double, no max
 * trick), with the ring wrapped several times, chunks longer than the
 * window, first chunks and chunks still inside the sinks. The decode twin
 * must equal the last row of a prefill bit for bit, the S = 0 case the
 * windowed dense twin, and the store must leave every kept position's row
 * where attn_local_row says.
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

static uint16_t *rand_bf16(size_t n, float amp)
{
    uint16_t *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = attn_f32_to_bf16(amp * rnd());
    return x;
}

enum { NH = 6, NKV = 2, D = 16 };
#define ROW ((size_t)NKV * D)

/* The rule from the full cache k, v (positions 0 .. p), row p, head h. */
static void naive(const uint16_t *q, const uint16_t *k, const uint16_t *v, int p, int h, int S, int W,
                  double *out, double *lse)
{
    const int kvh = h / (NH / NKV);
    double sum = 0.0, acc[D] = {0};
    for (int j = 0; j <= p; j++) {
        if (!(j < S || j > p - W)) continue;
        double dot = 0.0;
        for (int c = 0; c < D; c++)
            dot += (double)attn_bf16_to_f32(q[(size_t)h * D + c]) * attn_bf16_to_f32(k[j * ROW + (size_t)kvh * D + c]);
        double w = exp(dot / sqrt((double)D));
        sum += w;
        for (int c = 0; c < D; c++) acc[c] += w * attn_bf16_to_f32(v[j * ROW + (size_t)kvh * D + c]);
    }
    for (int c = 0; c < D; c++) out[c] = acc[c] / sum;
    *lse = log(sum);
}

/* Stores positions 0 .. upto-1 of the full cache into the ring, in chunks
 * of `chunk` tokens. */
static void fill_ring(uint16_t *kr, uint16_t *vr, const uint16_t *k, const uint16_t *v, int upto, int chunk, int S,
                      int W)
{
    for (int p0 = 0; p0 < upto; p0 += chunk) {
        int n = upto - p0 < chunk ? upto - p0 : chunk;
        attn_local_store_ref(kr, vr, k + p0 * ROW, v + p0 * ROW, p0, n, S, W, NKV, D);
    }
}

/* One chunk of n_q queries at q_offset; 1 when it matches the rule. */
static int prefill_case(int S, int W, int q_offset, int n_q, int fill_chunk)
{
    const int T = q_offset + n_q;
    uint16_t *q = rand_bf16((size_t)n_q * NH * D, 2.0f), *k = rand_bf16(T * ROW, 2.0f), *v = rand_bf16(T * ROW, 1.0f);
    uint16_t *kr = calloc((size_t)(S + W) * ROW, 2), *vr = calloc((size_t)(S + W) * ROW, 2);
    float *out = malloc(sizeof(float) * n_q * NH * D), *lse = malloc(sizeof(float) * n_q * NH);
    for (size_t i = 0; i < (size_t)(S + W) * ROW; i++) kr[i] = vr[i] = 0x7fc1; /* NaN: a row read wrongly shows */
    fill_ring(kr, vr, k, v, q_offset, fill_chunk, S, W);
    attn_local_prefill_ref(q, kr, vr, k + q_offset * ROW, v + q_offset * ROW, out, lse, n_q, q_offset, S, W, NH,
                           NKV, D);
    double worst = 0.0;
    for (int i = 0; i < n_q; i++)
        for (int h = 0; h < NH; h++) {
            double o[D], l;
            naive(q + ((size_t)i * NH) * D, k, v, q_offset + i, h, S, W, o, &l);
            for (int c = 0; c < D; c++) worst = fmax(worst, fabs(o[c] - out[((size_t)i * NH + h) * D + c]));
            worst = fmax(worst, fabs(l - lse[(size_t)i * NH + h]));
            if (isnan(out[((size_t)i * NH + h) * D]) || isnan(lse[(size_t)i * NH + h])) worst = INFINITY;
        }
    free(q), free(k), free(v), free(kr), free(vr), free(out), free(lse);
    if (!(worst < 1e-4)) printf("    S %d W %d q_offset %d n_q %d: max |diff| %.3e\n", S, W, q_offset, n_q, worst);
    return worst < 1e-4;
}

TEST(attn_local_prefill_matches_rule)
{
    rng_state = 777;
    CHECK(prefill_case(0, 5, 40, 9, 7));   /* no sinks, wrapped many times, chunk longer than W */
    CHECK(prefill_case(3, 5, 40, 9, 7));   /* sinks */
    CHECK(prefill_case(4, 16, 53, 20, 5)); /* chunk longer than W, odd fill chunks */
    CHECK(prefill_case(4, 16, 0, 30, 1));  /* a first chunk: nothing from the ring */
    CHECK(prefill_case(4, 16, 2, 5, 1));   /* a chunk starting inside the sinks */
    CHECK(prefill_case(2, 1, 9, 3, 2));    /* W = 1: sinks and the query's own key */
}

/* Decode (its own key stored first) equals the last row of a prefill. */
TEST(attn_local_decode_is_last_row_of_prefill)
{
    enum { S = 3, W = 7, P = 30 };
    rng_state = 99;
    uint16_t *q = rand_bf16((size_t)NH * D, 2.0f), *k = rand_bf16((P + 1) * ROW, 2.0f);
    uint16_t *v = rand_bf16((P + 1) * ROW, 1.0f);
    uint16_t kr[(S + W) * ROW], vr[(S + W) * ROW];
    float o1[NH * D], l1[NH], o2[NH * D], l2[NH];
    fill_ring(kr, vr, k, v, P, 4, S, W);
    attn_local_prefill_ref(q, kr, vr, k + P * ROW, v + P * ROW, o1, l1, 1, P, S, W, NH, NKV, D);
    attn_local_store_ref(kr, vr, k + P * ROW, v + P * ROW, P, 1, S, W, NKV, D);
    attn_local_decode_ref(q, kr, vr, o2, l2, P, S, W, NH, NKV, D);
    CHECK(!memcmp(o1, o2, sizeof o1));
    CHECK(!memcmp(l1, l2, sizeof l1));
    free(q), free(k), free(v);
}

/* Without sinks the rule is the dense sliding window. */
TEST(attn_local_no_sinks_is_window)
{
    enum { W = 6, QOFF = 25, NQ = 10, T = QOFF + NQ };
    rng_state = 4242;
    uint16_t *q = rand_bf16((size_t)NQ * NH * D, 2.0f), *k = rand_bf16(T * ROW, 2.0f), *v = rand_bf16(T * ROW, 1.0f);
    uint16_t kr[W * ROW], vr[W * ROW];
    float o1[NQ * NH * D], l1[NQ * NH], o2[NQ * NH * D], l2[NQ * NH];
    fill_ring(kr, vr, k, v, QOFF, 3, 0, W);
    attn_local_prefill_ref(q, kr, vr, k + QOFF * ROW, v + QOFF * ROW, o1, l1, NQ, QOFF, 0, W, NH, NKV, D);
    attn_prefill_window_ref(q, k, v, o2, l2, NQ, T, QOFF, NH, NKV, D, W);
    for (int i = 0; i < NQ * NH * D; i++) CHECK_NEAR(o1[i], o2[i], 1e-6);
    for (int i = 0; i < NQ * NH; i++) CHECK_NEAR(l1[i], l2[i], 1e-6);
    free(q), free(k), free(v);
}

/* After storing positions 0 .. P-1 the ring holds the sinks and the last W
 * positions, each in the row attn_local_row gives. */
TEST(attn_local_store_keeps_sinks_and_last_w)
{
    enum { S = 4, W = 9, P = 47 };
    rng_state = 5;
    uint16_t *k = rand_bf16(P * ROW, 2.0f), *v = rand_bf16(P * ROW, 1.0f);
    uint16_t kr[(S + W) * ROW], vr[(S + W) * ROW];
    fill_ring(kr, vr, k, v, P, 13, S, W); /* chunks longer than W */
    CHECK(attn_local_row(3, S, W) == 3 && attn_local_row(4, S, W) == 4 && attn_local_row(13, S, W) == 4);
    for (int j = 0; j < P; j++) {
        if (!(j < S || j >= P - W)) continue;
        int r = attn_local_row(j, S, W);
        CHECK_MSG(!memcmp(kr + r * ROW, k + j * ROW, ROW * 2) && !memcmp(vr + r * ROW, v + j * ROW, ROW * 2),
                  "position %d not in ring row %d", j, r);
    }
    free(k), free(v);
}
