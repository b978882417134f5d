/* test_attn_decode_group.c — the chunked decode of dense attention
 * (engine/run/attn_decode_group.c) against the dense policy's own decode
 * row (engine/run/attn_dense.c) on fresh random inputs.
 *
 * For G query heads of one KV head, n keys (below, at and across the chunk
 * size, and a sliding window): the chunks of the group run in a shuffled
 * order into parts poisoned with NaN, the parts are joined, and every
 * output must match the dense policy's to 2e-6 of the output's scale, and
 * be the same bytes whatever the order the chunks ran in.
 */
#include "tests/test.h"

#include "run/attention.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng_state = 12345u;
static float rnd(void) /* uniform in [-1, 1) */
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffffff) / 8388608.0f - 1.0f;
}

static float *rand_floats(size_t n, float amp)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = amp * rnd();
    return x;
}

/* One decode step at position pos (keys 0..pos cached) for G heads of
 * dimension d, sliding window W (0: global). Returns 1 when it matches. */
static int decode_case(int G, int d, int pos, int W, int reverse)
{
    const int nkv = pos + 1;
    float *q = rand_floats((size_t)G * d, 2.0f), *k = rand_floats((size_t)nkv * d, 2.0f);
    float *v = rand_floats((size_t)nkv * d, 1.0f);
    float *want = malloc((size_t)G * d * sizeof *want), *got = malloc((size_t)G * d * sizeof *got);
    float *scratch = malloc(attn_scratch_floats(nkv) * sizeof *scratch);
    const float scale = 1.0f / sqrtf((float)d);
    for (int g = 0; g < G; g++) {
        attn_call c = {
            .layer = 0, .head = g, .kv_head = 0, .d = d, .q_pos0 = pos, .n_q = 1, .n_kv = nkv, .window = W,
            .q = q + (size_t)g * d, .ldq = d, .k = k, .v = v, .n_span = 1, .out = want + (size_t)g * d, .ldo = d,
            .scale = scale,
        };
        c.span[0] = (attn_span){0, nkv, k, v, d};
        attn_dense.run(&attn_dense, &c, NULL, scratch);
    }
    const int lo = W && pos - W + 1 > 0 ? pos - W + 1 : 0, nk = nkv - lo, chunks = attn_decode_chunks(nk);
    const size_t per = (size_t)G * (d + 2);
    float *parts = malloc((size_t)chunks * per * sizeof *parts), *s = malloc((size_t)G * ATTN_DECODE_CHUNK * sizeof *s);
    for (size_t i = 0; i < (size_t)chunks * per; i++) parts[i] = NAN;
    for (int t = 0; t < chunks; t++) {
        int ch = reverse ? chunks - 1 - t : t, k0 = lo + ch * ATTN_DECODE_CHUNK;
        int n = nkv - k0 < ATTN_DECODE_CHUNK ? nkv - k0 : ATTN_DECODE_CHUNK;
        attn_decode_chunk(G, d, scale, q, d, k + (size_t)k0 * d, v + (size_t)k0 * d, n, s, parts + ch * per);
    }
    for (size_t i = 0; i < (size_t)G * d; i++) got[i] = NAN;
    for (int g = 0; g < G; g++) attn_decode_join(chunks, d, parts + (size_t)g * (d + 2), (long)per, got + (size_t)g * d);
    double worst = 0.0, amp = 0.0;
    for (int i = 0; i < G * d; i++) {
        double e = fabs((double)got[i] - want[i]);
        worst = isnan(got[i]) || e > worst ? (isnan(got[i]) ? INFINITY : e) : worst;
        amp = fabs(want[i]) > amp ? fabs(want[i]) : amp;
    }
    int ok = worst <= 2e-6 * (amp > 1.0 ? amp : 1.0);
    if (!ok)
        test_fail(__FILE__, __LINE__, "G %d d %d pos %d W %d: worst |chunked - dense| %.3g (scale %.3g)", G, d, pos, W,
                  worst, amp);
    static float first[4 * 256];
    if (!reverse) memcpy(first, got, (size_t)G * d * sizeof *got);
    else if (memcmp(first, got, (size_t)G * d * sizeof *got)) {
        test_fail(__FILE__, __LINE__, "G %d d %d pos %d W %d: the chunks' order changed the bytes", G, d, pos, W);
        ok = 0;
    }
    free(q), free(k), free(v), free(want), free(got), free(scratch), free(parts), free(s);
    return ok;
}

TEST(attn_decode_group_matches_dense)
{
    const int G[] = {1, 3, 4}, D[] = {64, 64, 256};
    const int pos[] = {0, 1, 254, 255, 256, 700, 2047};
    for (int c = 0; c < 3; c++)
        for (size_t p = 0; p < sizeof pos / sizeof pos[0]; p++)
            for (int reverse = 0; reverse < 2; reverse++) {
                uint32_t seed = rng_state;
                CHECK(decode_case(G[c], D[c], pos[p], 0, reverse));
                if (!reverse) rng_state = seed; /* the same inputs, chunks run the other way */
            }
}

TEST(attn_decode_group_sliding_window)
{
    const int pos[] = {3, 511, 512, 600, 1500};
    for (size_t p = 0; p < sizeof pos / sizeof pos[0]; p++)
        for (int reverse = 0; reverse < 2; reverse++) {
            uint32_t seed = rng_state;
            CHECK(decode_case(4, 256, pos[p], 512, reverse));
            if (!reverse) rng_state = seed;
        }
}
