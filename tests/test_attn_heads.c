/* test_attn_heads.c — the head gather and scatter twins (kernels/attn_heads.h)
 * and the storage they serve: a layer whose local KV heads keep an S + W
 * ring and whose other KV heads keep a full cache, each storage attended on
 * compact head rows (what the CUDA backend does, here with the CPU twins).
 *
 * The gather and scatter are checked on values that name their place. The
 * layer (9 query heads over 3 KV heads, d 64, S 4, W 40) runs 125 prompt
 * positions in chunks of 50, 30 and 45 (the ring wraps inside a chunk), then
 * 32 decode steps, for every choice of one or two local KV heads; each
 * output row must equal the rule computed from a full cache of every head
 * (sinks and window for local heads, causal for the others) within 1e-5.
 */
#include "tests/test.h"

#include "kernels/attn_heads.h"
#include "kernels/attn_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { H = 9, HKV = 3, GR = 3, D = 64, S = 4, W = 40, N = 157 };

TEST(attn_heads_gather_scatter_places)
{
    /* src (2 tokens, 4 heads, d 2): value 100 t + 10 h + e */
    float src[2 * 4 * 2];
    for (int t = 0; t < 2; t++)
        for (int h = 0; h < 4; h++)
            for (int e = 0; e < 2; e++) src[(t * 4 + h) * 2 + e] = (float)(100 * t + 10 * h + e);
    const int map[2] = {3, 1};
    uint16_t c[2 * 2 * 2], w[2 * 4 * 2];
    memset(c, 0xff, sizeof c);
    attn_heads_gather_ref(c, src, 2, 4, map, 2, 2);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 2; i++)
            for (int e = 0; e < 2; e++)
                CHECK(attn_bf16_to_f32(c[(t * 2 + i) * 2 + e]) == (float)(100 * t + 10 * map[i] + e));
    for (int i = 0; i < 16; i++) w[i] = 7;
    attn_heads_scatter_ref(w, 4, c, 2, map, 2, 2);
    for (int t = 0; t < 2; t++)
        for (int h = 0; h < 4; h++)
            for (int e = 0; e < 2; e++) {
                float want = h == 1 || h == 3 ? (float)(100 * t + 10 * h + e) : attn_bf16_to_f32(7);
                CHECK(attn_bf16_to_f32(w[(t * 4 + h) * 2 + e]) == want);
            }
}

static uint32_t rng_state = 7;
static float rnd(void) /* uniform in [-1, 1) */
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffffff) / 8388608.0f - 1.0f;
}

/* KV heads of one kind (local 1: the ring's) in order, and their query heads; returns how many KV heads. */
static int heads_of(const int *local, int want, int *map_kv, int *map_q)
{
    int n = 0;
    for (int g = 0; g < HKV; g++)
        if (local[g] == want) {
            for (int i = 0; i < GR; i++) map_q[n * GR + i] = g * GR + i;
            map_kv[n++] = g;
        }
    return n;
}

/* The rule for row p, head h from the full bf16 caches (n_kv = HKV), double sums. */
static void rule_row(const uint16_t *q, const uint16_t *k, const uint16_t *v, int p, int h, int local, double *out)
{
    const int g = h / GR;
    double sum = 0, acc[D] = {0}, mx = -INFINITY, sc[N];
    for (int j = 0; j <= p; j++) {
        sc[j] = -INFINITY;
        if (local && !(j < S || j > p - W)) continue;
        double dot = 0;
        for (int e = 0; e < D; e++)
            dot += (double)attn_bf16_to_f32(q[((size_t)p * H + h) * D + e]) * attn_bf16_to_f32(k[((size_t)j * HKV + g) * D + e]);
        sc[j] = dot / sqrt((double)D);
        mx = fmax(mx, sc[j]);
    }
    for (int j = 0; j <= p; j++) {
        if (sc[j] == -INFINITY) continue;
        double w = exp(sc[j] - mx);
        sum += w;
        for (int e = 0; e < D; e++) acc[e] += w * attn_bf16_to_f32(v[((size_t)j * HKV + g) * D + e]);
    }
    for (int e = 0; e < D; e++) out[e] = acc[e] / sum;
}

/* f32 rows (n, nm, D) into (n, H, D) at heads map. */
static void put_rows(float *dst, const float *src, int n, const int *map, int nm)
{
    for (int t = 0; t < n; t++)
        for (int i = 0; i < nm; i++)
            memcpy(dst + ((size_t)t * H + map[i]) * D, src + ((size_t)t * nm + i) * D, D * sizeof(float));
}

/* The whole layer with KV heads local[g] in the ring; the worst |out - rule|. */
static double mixed_layer(const int *local)
{
    float *q = malloc((size_t)N * H * D * 4), *k = malloc((size_t)N * HKV * D * 4), *v = malloc((size_t)N * HKV * D * 4);
    for (size_t i = 0; i < (size_t)N * H * D; i++) q[i] = rnd();
    for (size_t i = 0; i < (size_t)N * HKV * D; i++) k[i] = rnd(), v[i] = rnd();
    int mkv_l[HKV], mq_l[H], mkv_g[HKV], mq_g[H];
    const int nl = heads_of(local, 1, mkv_l, mq_l), ng = heads_of(local, 0, mkv_g, mq_g);
    uint16_t *fk = calloc((size_t)N * ng * D + 1, 2), *fv = calloc((size_t)N * ng * D + 1, 2);
    uint16_t *rk = calloc((size_t)(S + W) * nl * D, 2), *rv = calloc((size_t)(S + W) * nl * D, 2);
    uint16_t *qa = malloc((size_t)N * H * D * 2), *ka = malloc((size_t)N * HKV * D * 2), *va = malloc((size_t)N * HKV * D * 2);
    for (size_t i = 0; i < (size_t)N * H * D; i++) qa[i] = attn_f32_to_bf16(q[i]);
    for (size_t i = 0; i < (size_t)N * HKV * D; i++) ka[i] = attn_f32_to_bf16(k[i]), va[i] = attn_f32_to_bf16(v[i]);
    uint16_t *ck = malloc((size_t)N * nl * D * 2), *cv = malloc((size_t)N * nl * D * 2), *qc = malloc((size_t)N * H * D * 2);
    float *oc = malloc((size_t)N * H * D * 4), *out = malloc((size_t)N * H * D * 4);
    double worst = 0, ref[D];
    for (int pos0 = 0, ci = 0, n; pos0 < N; pos0 += n, ci++) {
        n = ci == 0 ? 50 : ci == 1 ? 30 : ci == 2 ? 45 : 1;
        const float *kk = k + (size_t)pos0 * HKV * D, *vv = v + (size_t)pos0 * HKV * D, *qq = q + (size_t)pos0 * H * D;
        for (size_t i = 0; i < (size_t)n * H * D; i++) out[i] = NAN;
        /* append: global heads into the full part, ring heads into the chunk (a decode token stored at once) */
        attn_heads_gather_ref(fk + (size_t)pos0 * ng * D, kk, n, HKV, mkv_g, ng, D);
        attn_heads_gather_ref(fv + (size_t)pos0 * ng * D, vv, n, HKV, mkv_g, ng, D);
        attn_heads_gather_ref(ck, kk, n, HKV, mkv_l, nl, D);
        attn_heads_gather_ref(cv, vv, n, HKV, mkv_l, nl, D);
        if (n == 1) attn_local_store_ref(rk, rv, ck, cv, pos0, 1, S, W, nl, D);
        /* ring heads */
        attn_heads_gather_ref(qc, qq, n, H, mq_l, nl * GR, D);
        if (n == 1) {
            attn_local_decode_ref(qc, rk, rv, oc, NULL, pos0, S, W, nl * GR, nl, D);
        } else {
            attn_local_prefill_ref(qc, rk, rv, ck, cv, oc, NULL, n, pos0, S, W, nl * GR, nl, D);
            attn_local_store_ref(rk, rv, ck, cv, pos0, n, S, W, nl, D);
        }
        put_rows(out, oc, n, mq_l, nl * GR);
        /* global heads, causal over the full part */
        if (ng) {
            attn_heads_gather_ref(qc, qq, n, H, mq_g, ng * GR, D);
            attn_prefill_ref(qc, fk, fv, oc, NULL, n, pos0 + n, pos0, ng * GR, ng, D);
            put_rows(out, oc, n, mq_g, ng * GR);
        }
        for (int t = 0; t < n; t++)
            for (int h = 0; h < H; h++) {
                rule_row(qa, ka, va, pos0 + t, h, local[h / GR], ref);
                for (int e = 0; e < D; e++) {
                    double dd = fabs(out[((size_t)t * H + h) * D + e] - ref[e]);
                    worst = dd <= worst ? worst : isnan(dd) ? INFINITY : dd;
                }
            }
    }
    free(q), free(k), free(v), free(fk), free(fv), free(rk), free(rv), free(qa), free(ka), free(va);
    free(ck), free(cv), free(qc), free(oc), free(out);
    return worst;
}

TEST(attn_heads_mixed_layer_matches_rule)
{
    const int cases[][HKV] = {{0, 1, 1}, {1, 0, 1}, {1, 1, 0}, {0, 1, 0}, {1, 0, 0}, {1, 1, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double w = mixed_layer(cases[i]);
        CHECK_MSG(w < 1e-5, "local KV heads %d%d%d: worst |out - rule| %.3g", cases[i][0], cases[i][1], cases[i][2],
                  w);
    }
}
