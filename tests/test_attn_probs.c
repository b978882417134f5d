/* test_attn_probs.c — the probability-row twin (kernels/attn_probs.h,
 * attn_probs_ref) against what the CPU's dense policy shows its observers
 * (engine/run/attn_dense.c): same rows, same zeros, on random inputs, over a
 * global and a sliding layer, a first chunk and a later one. This ties the
 * GPU's rows (checked against the twin by tests/gpu/test_cuda_probs.c) to
 * the rows the CPU probes read.
 */
#include <stdlib.h>

#include "base/rng.h"
#include "kernels/attn_kernels.h"
#include "kernels/attn_probs.h"
#include "run/attention.h"
#include "tests/test.h"

enum { PH = 4, PHKV = 2, PD = 64, PN = 150 };

typedef struct {
    float *rows;        /* (PN, PN): row of position t */
    int head;
} probs_cap;

static void probs_rows(void *user, const attn_call *c, const float *p, int ldp)
{
    probs_cap *cp = user;
    if (c->head != cp->head) return;
    for (int i = 0; i < c->n_q; i++)
        memcpy(cp->rows + (size_t)(c->q_pos0 + i) * PN, p + (size_t)i * ldp, (size_t)c->n_kv * sizeof(float));
}

/* The dense policy's rows of every head over queries pos0 .. PN-1 (keys
 * from 0) against the twin's; window W. 1 when they agree. */
static int probs_case(int pos0, int W, pb_rng *r)
{
    const int nq = PN - pos0;
    float *q = malloc(sizeof(float) * PN * PH * PD), *kf = malloc(sizeof(float) * PN * PHKV * PD);
    uint16_t *kb = malloc(sizeof(uint16_t) * PN * PHKV * PD);
    float *kh = malloc(sizeof(float) * PN * PD), *vh = calloc((size_t)PN * PD, sizeof(float));
    float *ref = malloc(sizeof(float) * PH * nq * PN), *out = malloc(sizeof(float) * nq * PD);
    float *scratch = malloc(attn_scratch_floats(PN) * sizeof(float));
    probs_cap cp = {malloc(sizeof(float) * PN * PN), 0};
    for (int i = 0; i < PN * PH * PD; i++) q[i] = (float)(rng_unit(r) * 4 - 2);
    for (int i = 0; i < PN * PHKV * PD; i++) {
        kb[i] = attn_f32_to_bf16((float)(rng_unit(r) * 4 - 2));
        kf[i] = attn_bf16_to_f32(kb[i]);
    }
    for (int i = 0; i < PH * nq * PN; i++) ref[i] = NAN;
    attn_probs_ref(ref, PN, q + (size_t)pos0 * PH * PD, kb, nq, pos0, PH, PHKV, PD, W);
    int ok = 1;
    attn_observer obs = {.user = &cp, .on_rows = probs_rows};
    for (int h = 0; h < PH && ok; h++) {
        const int g = h / (PH / PHKV);
        for (int j = 0; j < PN; j++) memcpy(kh + (size_t)j * PD, kf + ((size_t)j * PHKV + g) * PD, PD * sizeof(float));
        cp.head = h;
        for (int i = 0; i < PN * PN; i++) cp.rows[i] = NAN;
        attn_call c = {.layer = 0, .head = h, .kv_head = g, .d = PD, .q_pos0 = pos0, .n_q = nq, .n_kv = PN,
                       .window = W, .q = q + ((size_t)pos0 * PH + h) * PD, .ldq = PH * PD, .k = kh, .v = vh,
                       .n_span = 1, .out = out, .ldo = PD, .scale = 1.0f / sqrtf((float)PD)};
        c.span[0] = (attn_span){0, PN, kh, vh, PD};
        attn_dense.run(&attn_dense, &c, &obs, scratch);
        for (int i = 0; i < nq && ok; i++) {
            const int t = pos0 + i, lo = W && t - W + 1 > 0 ? t - W + 1 : 0;
            for (int j = 0; j <= t && ok; j++) {
                float a = cp.rows[(size_t)t * PN + j], b = ref[((size_t)h * nq + i) * PN + j];
                int inside = j >= lo;
                if (!(fabsf(a - b) <= 2e-6f) || (!inside && (a != 0.0f || b != 0.0f)) || (inside && !(b > 0.0f))) {
                    test_fail(__FILE__, __LINE__, "pos0 %d W %d head %d query %d key %d: dense %.9g, twin %.9g", pos0,
                              W, h, t, j, a, b);
                    ok = 0;
                }
            }
            for (int j = t + 1; j < PN && ok; j++)
                if (ref[((size_t)h * nq + i) * PN + j] != 0.0f) {
                    test_fail(__FILE__, __LINE__, "twin: query %d key %d after it is not 0", t, j);
                    ok = 0;
                }
        }
    }
    free(q), free(kf), free(kb), free(kh), free(vh), free(ref), free(out), free(scratch), free(cp.rows);
    return ok;
}

TEST(attn_probs_twin_matches_dense_rows)
{
    pb_rng r = {0x9b0b5ull};
    CHECK(probs_case(0, 0, &r));      /* a first chunk, global layer */
    CHECK(probs_case(70, 0, &r));     /* a later chunk: rows over the cached keys too */
    CHECK(probs_case(0, 32, &r));     /* sliding layer: zeros before the window */
    CHECK(probs_case(90, 40, &r));
}
