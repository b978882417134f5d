/* test_cuda_policy.c — the CUDA backend's sparse policies against the CPU
 * policies, which are their twins.
 *
 * 1. Row kernels (kernels/attn_rows.h) on random inputs: one layer of 4
 *    query heads over 2 KV heads (d 64), the CPU policy objects of
 *    engine/policy driven as the CPU backend drives them (on_append, one
 *    attn_call per head, an observer taking the probability rows) and the
 *    kernels fed the same values (keys and values rounded to bf16 first, so
 *    both attend the same numbers; q, q_pre, k_pre f32 on both), over a
 *    prefill of two chunks (150 and 100 rows: several 64-row blocks) and 12
 *    decode steps. Outputs, rows and kept counts are poisoned (NaN) before
 *    each call. Checked per row: the kept set (keys of probability > 0)
 *    equal to the CPU's; probabilities within 1e-4; outputs ||Δ||/||ref||
 *    < 1e-2 (the output's bf16 rounding, 2^-9 relative, and f32 sums in
 *    another order); the device's kept count equal to the rows' sets. A set
 *    may differ only where the CPU's and the GPU's masses, equal up to f32
 *    summation order, straddle a selection boundary: at most one row in 200
 *    (each reported).
 *    The same with the device cache's rows holding the KV heads in other
 *    slots beside a NaN slot (gpu_policy_rows_slotted).
 * 2. The model (SmolLM2) under every policy: 1,024 prompt tokens then 8
 *    decode steps on both backends, the logits of the last 64 prompt
 *    positions and of the decode steps compared (centred, as in
 *    test_cuda_forward.c), and the density per head. The CUDA pass differs
 *    from the CPU's by bf16 rounding (test_cuda_forward.c: ~2e-2 relative
 *    on the logits); a selection flipped near a tie adds to that, so the
 *    bounds are: top-1 agreement ≥ 90%, mean centred relative error < 8e-2;
 *    kept/visible per head equal for the rules whose counts do not depend
 *    on the scores (local, quest, top-k), within 0.05 per head and 0.01
 *    overall for top-p.
 * 3. Bounded KV: the bytes each backend holds when local KV heads keep S + W
 *    rings (all-local layers, layers mixing rings and full KV heads, plan
 *    files), CUDA's bf16 half the CPU's f32 for the same rows, and the model
 *    on those layouts against the CPU as in 2.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attn_kernels.h"
#include "kernels/attn_rows.h"
#include "kernels/ops.h"
#include "policy/indexer.h"
#include "policy/planfile.h"
#include "policy/policy.h"
#include "run/attn_desc_rows.h"
#include "run/forward.h"
#include "tests/fixture.h"
#include "tests/golden.h"
#include "tests/gpu/gpu.h"
#include "tests/test.h"

enum { RH = 4, RHKV = 2, RD = 64, RN = 262 };  /* RD: the row cases' default head dimension */
enum { LONG_N = 14000, LONG_Q = 4 };  /* a long row (the kernel's wide CTAs): context, rows compared */

/* A failed expectation inside a case: recorded, and the case fails. */
#define EXPECT(cond, ...)                                        \
    do {                                                         \
        if (!(cond)) {                                           \
            test_fail(__FILE__, __LINE__, __VA_ARGS__);          \
            calls_ok = 0;                                        \
        }                                                        \
    } while (0)

/* Rows a CPU policy showed, (RH, n, kv_end) for the call at pos0. */
typedef struct {
    float *rows;
    int pos0, n, kv_end;
} capture;

static void take_rows(void *user, const attn_call *c, const float *p, int ldp)
{
    capture *cp = user;
    for (int i = 0; i < c->n_q; i++) {
        float *dst = cp->rows + ((size_t)c->head * cp->n + (c->q_pos0 - cp->pos0 + i)) * cp->kv_end;
        memcpy(dst, p + (size_t)i * ldp, (size_t)c->n_kv * sizeof(float));
    }
}

/* One random-input case: the policy of spec (all heads of kind `kind`),
 * head dimension d (64, 128 or 256).
 * slotted: the device cache rows hold RSLOT KV heads, KV head g in slot
 * rslot[g] and the slot nobody names NaN (a layer whose other KV heads live
 * in a ring: kv_ld, kv_slot of attn_rows_args), page bounds computed over
 * every slot; index keys in rows rxrow[h] (kx_rows, kx_row). */
enum { RSLOT = 3 };
static const int rslot[RHKV] = {2, 0}, rxrow[RH] = {3, 1, 0, 2};

static int rows_case_n(const char *spec, int kind, int slotted, int d, int N)
{
    /* N == RN: prefill chunks of 150 and 100 rows, then one row at a time to
     * N, every call compared; a longer N: one call of N - LONG_Q rows only
     * appended (index keys, page bounds), then the last LONG_Q rows compared. */
    const int long_case = N != RN, MAXQ = long_case ? LONG_Q : 150;
    backend *G = gpu_cuda();
    if (!G) {
        test_fail(__FILE__, __LINE__, "no CUDA backend: %s", gpu_why());
        return 0;
    }
    model_config c = {.n_layer = 1, .n_head = RH, .n_head_kv = RHKV, .head_dim = d};
    plan_spec sp;
    plan pl;
    pb_err err;
    unsigned char retr[RH];
    memset(retr, 1, sizeof retr);
    if (!plan_parse(spec, &sp, &err) || !plan_make(&pl, &c, &sp, plan_policy_uses_heads(sp.policy) ? retr : NULL, &err)) {
        test_fail(__FILE__, __LINE__, "%s: %s", spec, err.msg);
        return 0;
    }
    const int r = pl.rank, HD = RH * d, KD = RHKV * d;
    const size_t F = sizeof(float);
    if (kind == HEAD_RTPURBO || kind == HEAD_RTPURBO_TOPK) {
        plan_alloc_indexers(&pl);
        gpu_fill(pl.idx_q, (size_t)RH * r * d, -0.5f, 0.5f);
        gpu_fill(pl.idx_k, (size_t)RH * r * d, -0.5f, 0.5f);
    }
    attn_policy *pol = plan_policy_new(&pl, kind, N);
    attn_rows_rule rule;
    if (!attn_desc_rows(&pol->desc, &rule)) {
        test_fail(__FILE__, __LINE__, "%s: no row rule for kind %d", spec, pol->desc.kind);
        if (pol->destroy) pol->destroy(pol);
        plan_free(&pl);
        return 0;
    }
    /* inputs: k, v bf16-exact, token-major (N, RHKV, d), and per KV head (N, d) for the CPU */
    float *q = pb_malloc((size_t)N * HD * F), *qp = pb_malloc((size_t)N * HD * F);
    float *kp = pb_malloc((size_t)N * KD * F), *k = pb_malloc((size_t)N * KD * F), *v = pb_malloc((size_t)N * KD * F);
    gpu_fill(q, (size_t)N * HD, -2.5f, 2.5f);
    gpu_fill(qp, (size_t)N * HD, -2.5f, 2.5f);
    gpu_fill(kp, (size_t)N * KD, -2.5f, 2.5f);
    gpu_fill(k, (size_t)N * KD, -2.5f, 2.5f);
    gpu_fill(v, (size_t)N * KD, -1.0f, 1.0f);
    gpu_round_bf16(k, (size_t)N * KD);
    gpu_round_bf16(v, (size_t)N * KD);
    float *kh[RHKV], *vh[RHKV];
    for (int g = 0; g < RHKV; g++) {
        kh[g] = pb_malloc((size_t)N * d * F);
        vh[g] = pb_malloc((size_t)N * d * F);
        for (int t = 0; t < N; t++) {
            memcpy(kh[g] + (size_t)t * d, k + ((size_t)t * RHKV + g) * d, d * F);
            memcpy(vh[g] + (size_t)t * d, v + ((size_t)t * RHKV + g) * d, d * F);
        }
    }
    const int NS = slotted ? RSLOT : RHKV, SD = NS * d;  /* KV heads a device cache row holds */
    uint16_t *kb = pb_malloc((size_t)N * SD * 2), *vb = pb_malloc((size_t)N * SD * 2);
    for (size_t i = 0; i < (size_t)N * SD; i++) kb[i] = vb[i] = 0x7fc0;  /* bf16 NaN: a slot nobody names */
    for (int t = 0; t < N; t++)
        for (int g = 0; g < RHKV; g++)
            for (int e = 0; e < d; e++) {
                size_t at = ((size_t)t * NS + (slotted ? rslot[g] : g)) * d + e, from = ((size_t)t * RHKV + g) * d + e;
                kb[at] = attn_f32_to_bf16(k[from]);
                vb[at] = attn_f32_to_bf16(v[from]);
            }
    /* device buffers */
    const int page = rule.page > 0 ? rule.page : 1, n_pages = (N + page - 1) / page;
    void *dq = G->alloc(G, (size_t)N * HD * F), *dqp = G->alloc(G, (size_t)N * HD * F);
    void *dkp = G->alloc(G, (size_t)N * KD * F), *dk = G->alloc(G, (size_t)N * SD * 2);
    void *dv = G->alloc(G, (size_t)N * SD * 2), *dout = G->alloc(G, (size_t)N * HD * 2);
    void *dwq = G->alloc(G, (size_t)RH * d * d * F), *dwk = G->alloc(G, (size_t)RH * d * d * F);
    void *dkx = G->alloc(G, (size_t)RH * N * d * F), *dkept = G->alloc(G, RH * sizeof(unsigned long long));
    void *dlo = G->alloc(G, (size_t)NS * n_pages * d * F), *dhi = G->alloc(G, (size_t)NS * n_pages * d * F);
    void *drows = G->alloc(G, (size_t)RH * MAXQ * N * F);
    G->upload(G, dq, q, (size_t)N * HD * F);
    G->upload(G, dqp, qp, (size_t)N * HD * F);
    G->upload(G, dkp, kp, (size_t)N * KD * F);
    G->upload(G, dk, kb, (size_t)N * SD * 2);
    G->upload(G, dv, vb, (size_t)N * SD * 2);
    if (pl.idx_q) {
        G->upload(G, dwq, pl.idx_q, (size_t)RH * r * d * F);
        G->upload(G, dwk, pl.idx_k, (size_t)RH * r * d * F);
    }
    float *out_c = pb_malloc((size_t)N * HD * F), *out_g = pb_malloc((size_t)N * HD * F);
    float *rows_c = pb_malloc((size_t)RH * MAXQ * N * F), *rows_g = pb_malloc((size_t)RH * MAXQ * N * F);
    float *scratch = pb_malloc(attn_scratch_floats(N) * F);
    int heads[RH] = {0, 1, 2, 3};
    int chunks[][2] = {{0, 150}, {150, 100}};
    if (long_case) chunks[0][1] = N - LONG_Q, chunks[1][0] = N - LONG_Q, chunks[1][1] = LONG_Q;
    int n_calls = long_case ? 2 : 2 + (N - 250), rows_cmp = 0, rows_diff = 0, calls_ok = 1;
    double worst_rel = 0, worst_p = 0;
    for (int ci = 0; ci < n_calls && calls_ok; ci++) {
        int pos0 = ci < 2 ? chunks[ci][0] : 250 + (ci - 2), n = ci < 2 ? chunks[ci][1] : 1, kv_end = pos0 + n;
        /* CPU: on_append per head, then one call per head */
        const int cmp = !(long_case && ci == 0);  /* compared, or appended only */
        capture cp = {rows_c, pos0, n, kv_end};
        if (cmp) memset(rows_c, 0, (size_t)RH * n * kv_end * F);
        attn_observer obs = {&cp, NULL, take_rows, NULL, 0};
        long long kept_c[RH];
        for (int h = 0; h < RH && pol->on_append; h++) {
            int g = h / (RH / RHKV);
            pol->on_append(pol, 0, h, g, pos0, n, kp + ((size_t)pos0 * RHKV + g) * d, k + ((size_t)pos0 * RHKV + g) * d,
                           KD);
        }
        for (int h = 0; h < RH && cmp; h++) {
            int g = h / (RH / RHKV);
            attn_call call = {.layer = 0, .head = h, .kv_head = g, .d = d, .q_pos0 = pos0, .n_q = n, .n_kv = kv_end,
                              .q = q + (size_t)pos0 * HD + (size_t)h * d, .ldq = HD,
                              .q_pre = qp + (size_t)pos0 * HD + (size_t)h * d, .ldq_pre = HD,
                              .k = kh[g], .v = vh[g], .n_span = 1,
                              .out = out_c + (size_t)h * d, .ldo = HD, .scale = 1.0f / sqrtf((float)d)};
            call.span[0] = (attn_span){0, kv_end, kh[g], vh[g], d};
            kept_c[h] = pol->run(pol, &call, &obs, scratch);
        }
        /* GPU: index keys, page bounds, the rows (quest prefill runs dense: nothing to compare) */
        gpu_poison(G, dout, (size_t)n * HD * 2);
        if (cmp) gpu_poison(G, drows, (size_t)RH * n * kv_end * F);
        unsigned long long zero[RH] = {0};
        G->upload(G, dkept, zero, sizeof zero);
        EXPECT(attn_rows_wait() == 0, "%s: device error before the call at %d", spec, pos0);
        if (rule.rule == ROWS_RTPURBO || rule.rule == ROWS_RTPURBO_TOPK)
            EXPECT(attn_rows_index_keys_cuda(dkx, N, (float *)dkp + (size_t)pos0 * KD, dwk, pos0, n, RH, RHKV, d, r,
                                             heads, RH, slotted ? rxrow : NULL, NULL) == 0,
                   "%s: index keys at %d", spec, pos0);
        if (rule.rule == ROWS_QUEST)
            EXPECT(attn_rows_quest_bounds_cuda(dlo, dhi, n_pages, dk, pos0, n, NS, d, page, NULL) == 0,
                   "%s: page bounds at %d", spec, pos0);
        if ((rule.rule == ROWS_QUEST && n > 1) || !cmp) continue;
        attn_rows_args a = {.q = (float *)dq + (size_t)pos0 * HD, .q_pre = (float *)dqp + (size_t)pos0 * HD,
                            .k = dk, .v = dv, .wq = dwq, .kx = dkx, .kx_ld = N, .page_lo = dlo, .page_hi = dhi,
                            .n_pages = n_pages, .out = dout, .kept = dkept, .rows = drows, .rows_ld = kv_end,
                            .n_q = n, .q_pos0 = pos0, .n_head = RH, .n_kv_head = RHKV, .d = d, .n_sel = RH};
        memcpy(a.heads, heads, sizeof heads);
        if (slotted) {
            a.kv_ld = RSLOT;
            memcpy(a.kv_slot, rslot, sizeof rslot);
            a.kx_rows = RH;
            memcpy(a.kx_row, rxrow, sizeof rxrow);
        }
        int e = attn_rows_cuda(&rule, &a, NULL);
        EXPECT(e == 0, "%s: attn_rows_cuda returned %d", spec, e);
        e = attn_rows_wait();
        EXPECT(e == 0, "%s: the rows at %d failed on the device (%d)", spec, pos0, e);
        if (!calls_ok) break;
        unsigned long long kept_g[RH];
        G->download(G, kept_g, dkept, sizeof kept_g);
        G->download_act(G, out_g, dout, (size_t)n * HD);
        G->download(G, rows_g, drows, (size_t)RH * n * kv_end * F);
        /* compare row by row */
        for (int h = 0; h < RH; h++) {
            long long set_g = 0, set_c = 0;
            for (int i = 0; i < n; i++) {
                const float *rg = rows_g + ((size_t)h * n + i) * kv_end, *rc = rows_c + ((size_t)h * n + i) * kv_end;
                int diff = 0, bad = 0;
                double mp = 0;
                for (int j = 0; j < kv_end; j++) {
                    bad |= !isfinite(rg[j]) || (j > pos0 + i && rg[j] != 0.0f);
                    diff |= (rg[j] > 0) != (rc[j] > 0);
                    mp = fmax(mp, fabs((double)rg[j] - rc[j]));
                    set_g += rg[j] > 0;
                    set_c += rc[j] > 0;
                }
                const float *og = out_g + (size_t)i * HD + (size_t)h * d, *oc = out_c + (size_t)i * HD + (size_t)h * d;
                gpu_err oe = gpu_compare(og, oc, d);
                rows_cmp++;
                if (bad || oe.n_bad) {
                    test_fail(__FILE__, __LINE__, "%s: call at %d head %d row %d: non-finite or non-causal output",
                              spec, pos0, h, i);
                    calls_ok = 0;
                }
                if (diff) {
                    rows_diff++;
                    printf("    %s: position %d head %d: kept sets differ (near tie?)\n", spec, pos0 + i, h);
                    continue;
                }
                worst_p = fmax(worst_p, mp);
                worst_rel = fmax(worst_rel, oe.rel_l2);
            }
            if ((long long)kept_g[h] != set_g) {
                test_fail(__FILE__, __LINE__, "%s: call at %d head %d: device kept %llu, rows hold %lld", spec, pos0,
                          h, kept_g[h], set_g);
                calls_ok = 0;
            }
            if (kept_c[h] != set_c) {
                test_fail(__FILE__, __LINE__, "%s: call at %d head %d: CPU kept %lld, rows hold %lld", spec, pos0, h,
                          kept_c[h], set_c);
                calls_ok = 0;
            }
        }
    }
    printf("    %-60s %4d rows, %d sets differ; max |dP| %.2e, worst out rel %.2e%s\n", spec, rows_cmp, rows_diff,
           worst_p, worst_rel, slotted ? " (slotted cache)" : "");
    int ok = calls_ok && rows_cmp > 0 && rows_diff * 200 <= rows_cmp && worst_p < 1e-4 && worst_rel < 1e-2;
    if (!ok)
        test_fail(__FILE__, __LINE__, "%s: %d/%d sets differ (<= 1/200), max |dP| %.2e (< 1e-4), out rel %.2e (< 1e-2)",
                  spec, rows_diff, rows_cmp, worst_p, worst_rel);
    void *dev[] = {dq, dqp, dkp, dk, dv, dout, dwq, dwk, dkx, dkept, dlo, dhi, drows};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) G->free(G, dev[i]);
    for (int g = 0; g < RHKV; g++) {
        free(kh[g]);
        free(vh[g]);
    }
    free(q), free(qp), free(kp), free(k), free(v), free(kb), free(vb);
    free(out_c), free(out_g), free(rows_c), free(rows_g), free(scratch);
    if (pol->destroy) pol->destroy(pol);
    plan_free(&pl);
    return ok;
}

static int rows_case_at(const char *spec, int kind, int slotted, int d)
{
    return rows_case_n(spec, kind, slotted, d, RN);
}

static int rows_case(const char *spec, int kind)
{
    return rows_case_at(spec, kind, 0, RD);
}

/* The rules reading the cache through a slot map: a layer's global KV heads
 * beside a ring (the local rule runs on the ring's own kernels instead). */
TEST(gpu_policy_rows_slotted)
{
    CHECK(rows_case_at("quest:page=16,k=4", HEAD_QUEST, 1, RD));
    CHECK(rows_case_at("topk-oracle:block=16,sink=4,local=32,k=4", HEAD_TOPK_ORACLE, 1, RD));
    CHECK(rows_case_at("topp-oracle:block=16,sink=4,local=32,p=0.7", HEAD_TOPP_ORACLE, 1, RD));
    CHECK(rows_case_at("rtpurbo:block=16,sink=4,local=32,p=0.7,kmin=3,r=8,window=64", HEAD_RTPURBO, 1, RD));
    CHECK(rows_case_at("rtpurbo-topk:block=16,sink=4,local=32,k=4,r=8,window=64", HEAD_RTPURBO_TOPK, 1, RD));
}

TEST(gpu_policy_rows_local)
{
    CHECK(rows_case("streaming:sink=4,window=48", HEAD_LOCAL));
}

TEST(gpu_policy_rows_quest)
{
    CHECK(rows_case("quest:page=16,k=4", HEAD_QUEST));
}

TEST(gpu_policy_rows_topk_oracle)
{
    CHECK(rows_case("topk-oracle:block=16,sink=4,local=32,k=4", HEAD_TOPK_ORACLE));
}

TEST(gpu_policy_rows_topp_oracle)
{
    CHECK(rows_case("topp-oracle:block=16,sink=4,local=32,p=0.7", HEAD_TOPP_ORACLE));
}

TEST(gpu_policy_rows_rtpurbo)
{
    CHECK(rows_case("rtpurbo:block=16,sink=4,local=32,p=0.7,kmin=3,r=8,window=64", HEAD_RTPURBO));
}

TEST(gpu_policy_rows_rtpurbo_topk)
{
    CHECK(rows_case("rtpurbo-topk:block=16,sink=4,local=32,k=4,r=8,window=64", HEAD_RTPURBO_TOPK));
}

/* Head dimension 256 (Gemma 3's global layers): the same rules, r = d/8. */
TEST(gpu_policy_rows_d256)
{
    CHECK(rows_case_at("topp-oracle:block=16,sink=4,local=32,p=0.7", HEAD_TOPP_ORACLE, 0, 256));
    CHECK(rows_case_at("rtpurbo:block=16,sink=4,local=32,p=0.7,kmin=3,r=32,window=64", HEAD_RTPURBO, 0, 256));
    CHECK(rows_case_at("quest:page=16,k=4", HEAD_QUEST, 0, 256));
}

/* Rows of 14,000 positions, long enough that the kernel runs them on its
 * wide CTAs (shared memory leaves room for fewer than four narrow ones), and
 * of 12,000 at d 256, narrow CTAs past the default 48 KB of shared memory. */
TEST(gpu_policy_rows_long)
{
    CHECK(rows_case_n("topp-oracle:block=64,sink=4,local=64,p=0.9", HEAD_TOPP_ORACLE, 0, 256, 12000));
    CHECK(rows_case_n("topp-oracle:block=64,sink=4,local=64,p=0.9", HEAD_TOPP_ORACLE, 0, 64, LONG_N));
    CHECK(rows_case_n("rtpurbo:block=64,sink=4,local=64,p=0.9,kmin=4,r=32,window=256", HEAD_RTPURBO, 0, 256, LONG_N));
    CHECK(rows_case_n("topk-oracle:block=64,sink=4,local=64,k=8", HEAD_TOPK_ORACLE, 1, 128, LONG_N));
}

/* ---- the model under every policy ---- */

enum { MP = 1024, MDEC = 8, MCMP = 64 };

/* A plan for the model from spec (retrieval heads: the plan file's when
 * given, else retr_in's [n_layer * n_head] when not NULL, else every third
 * head); rtpurbo kinds get PCA indexers fitted on the first 512 tokens of
 * ids. 1 or 0 after a recorded failure. */
static int model_plan(plan *pl, const char *spec, const char *plan_path, const unsigned char *retr_in, const int *ids)
{
    const model *m = fixture_model();
    const model_config *c = &m->cfg;
    plan_spec sp;
    pb_err err;
    if (!plan_parse(spec, &sp, &err)) {
        test_fail(__FILE__, __LINE__, "%s: %s", spec, err.msg);
        return 0;
    }
    if (plan_path) {
        plan_file f;
        if (!plan_file_read(plan_path, m, &f, &err) || !plan_from_file(pl, c, &f, &sp, spec, &err)) {
            test_fail(__FILE__, __LINE__, "%s: %s", plan_path, err.msg);
            return 0;
        }
        plan_file_free(&f);
        return 1;
    }
    unsigned char *retr = pb_calloc((size_t)c->n_layer * c->n_head, 1);
    for (int i = 0; i < c->n_layer * c->n_head; i += 3) retr[i] = 1;
    if (retr_in) memcpy(retr, retr_in, (size_t)c->n_layer * c->n_head);
    int ok = plan_make(pl, c, &sp, plan_policy_uses_heads(sp.policy) ? retr : NULL, &err);
    free(retr);
    if (!ok) {
        test_fail(__FILE__, __LINE__, "%s: %s", spec, err.msg);
        return 0;
    }
    if (plan_needs_indexers(pl)) indexer_calibrate(pl, m, ids, 512);
    return 1;
}

/* Logit agreement of one position (centred relative error; top-1). */
static void logit_cmp(const float *g, const float *c, int V, double *rel, int *agree)
{
    double sd = 0, sc = 0, num = 0, den = 0;
    for (int i = 0; i < V; i++) {
        sd += (double)g[i] - c[i];
        sc += c[i];
    }
    for (int i = 0; i < V; i++) {
        double dc = (double)g[i] - c[i] - sd / V, lc = c[i] - sc / V;
        num += dc * dc;
        den += lc * lc;
    }
    *rel += sqrt(num / den);
    *agree += cpu_argmax(g, V) == cpu_argmax(c, V);
}

/* exact: the kept counts do not depend on the scores (compare them exactly).
 * retr: as model_plan's retr_in. */
static int model_case_retr(const char *spec, const char *plan_path, const unsigned char *retr, int exact)
{
    backend *G = gpu_cuda();
    if (!G) {
        test_fail(__FILE__, __LINE__, "no CUDA backend: %s", gpu_why());
        return 0;
    }
    golden gd;
    if (!golden_open("c", &gd)) return 0;
    const model *m = fixture_model();
    const model_config *c = &m->cfg;
    const int V = c->n_vocab, NH = c->n_layer * c->n_head, N = MP + MDEC;
    plan pl;
    if (gd.n < N || !model_plan(&pl, spec, plan_path, retr, gd.ids)) {
        golden_free(&gd);
        return 0;
    }
    session *sg = session_new_on(G, N), *sc = session_new_on(gpu_cpu(), N);
    plan_apply(&pl, sg, 1, MP); /* the prompt's length: a length rule picks its row by it */
    plan_apply(&pl, sc, 1, MP);
    float *lg = pb_malloc((size_t)MCMP * V * sizeof(float)), *lc = pb_malloc((size_t)MCMP * V * sizeof(float));
    memset(lg, 0xff, (size_t)MCMP * V * sizeof(float));
    double t0 = pb_now();
    session_eval(sg, gd.ids, MP, lg, MCMP);
    double tg = pb_now() - t0;
    t0 = pb_now();
    session_eval(sc, gd.ids, MP, lc, MCMP);
    double tc = pb_now() - t0;
    double rel = 0;
    int agree = 0, n = 0;
    for (int i = 0; i < MCMP; i++, n++) logit_cmp(lg + (size_t)i * V, lc + (size_t)i * V, V, &rel, &agree);
    for (int t = MP; t < N; t++, n++) {
        memset(lg, 0xff, (size_t)V * sizeof(float));
        session_eval(sg, &gd.ids[t], 1, lg, 1);
        session_eval(sc, &gd.ids[t], 1, lc, 1);
        logit_cmp(lg, lc, V, &rel, &agree);
    }
    attn_count *hg = pb_malloc((size_t)NH * sizeof *hg), *hc = pb_malloc((size_t)NH * sizeof *hc);
    double dg = session_density(sg, hg), dc = session_density(sc, hc), worst = 0;
    int exact_bad = 0, vis_bad = 0;
    for (int i = 0; i < NH; i++) {
        vis_bad += hg[i].visible != hc[i].visible;
        exact_bad += hg[i].kept != hc[i].kept;
        double a = hc[i].visible ? (double)hc[i].kept / hc[i].visible : 1, b = hg[i].visible ? (double)hg[i].kept / hg[i].visible : 1;
        worst = fmax(worst, fabs(a - b));
    }
    printf("    %-28s top-1 %d/%d, centred rel mean %.3e; density cpu %.4f cuda %.4f (worst head %.4f, %d heads "
           "differ); cuda %.2f s, cpu %.2f s\n", spec, agree, n, rel / n, dc, dg, worst, exact_bad, tg, tc);
    int ok = agree >= 0.9 * n && rel / n < 8e-2 && !vis_bad &&
             (exact ? exact_bad == 0 : worst < 0.05 && fabs(dg - dc) < 0.01);
    if (!ok)
        test_fail(__FILE__, __LINE__, "%s: top-1 %d/%d (>= 90%%), rel %.3e (< 8e-2), visible differ on %d heads, "
                  "density cpu %.4f cuda %.4f, worst head %.4f, kept differ on %d heads (exact: %d)", spec, agree, n,
                  rel / n, vis_bad, dc, dg, worst, exact_bad, exact);
    free(hg);
    free(hc);
    free(lg);
    free(lc);
    session_free(sg);
    session_free(sc);
    plan_free(&pl);
    golden_free(&gd);
    return ok;
}

static int model_case(const char *spec, const char *plan_path, int exact)
{
    return model_case_retr(spec, plan_path, NULL, exact);
}

TEST(gpu_policy_model_dense_streaming_duo)
{
    CHECK(model_case("dense", NULL, 1));
    CHECK(model_case("streaming:window=256", NULL, 1));
    CHECK(model_case("duo:window=256", NULL, 1));
}

TEST(gpu_policy_model_quest)
{
    CHECK(model_case("quest", NULL, 1));
}

TEST(gpu_policy_model_oracles)
{
    CHECK(model_case("topk-oracle", NULL, 1));
    CHECK(model_case("topp-oracle", NULL, 0));
}

TEST(gpu_policy_model_rtpurbo)
{
    CHECK(model_case("rtpurbo:window=256", NULL, 0));
    CHECK(model_case("rtpurbo-topk:window=256", NULL, 1));
}

/* A policy in one phase only: dense prompt then sparse steps (rtpurbo's
 * index keys written while the prompt ran dense), and the other way round. */
TEST(gpu_policy_model_phase)
{
    CHECK(model_case("rtpurbo:window=256,phase=decode", NULL, 0));
    CHECK(model_case("rtpurbo:window=256,phase=prefill", NULL, 0));
    CHECK(model_case("topk-oracle:phase=decode", NULL, 1));
}

/* A length rule: the 1,024-token prompt takes the row from 512 on (local,
 * kmin and p of its own) on both backends; the row from 4,096 does not apply. */
TEST(gpu_policy_model_length_rule)
{
    CHECK(model_case("rtpurbo:window=256,local=64,kmin=1,by_length=512 local=128 kmin=2 p=0.8;4096 p=0.5", NULL, 0));
    CHECK(model_case("topp-oracle:by_length=100 p=0.7 local=128", NULL, 0));
}

/* The trained plan shipped next to the model (--plan): NAME.purbo beside
 * NAME.gguf, or $PURBO_PLAN. */
TEST(gpu_policy_model_plan_file)
{
    const char *env = getenv("PURBO_PLAN");
    char path[1024];
    if (env) snprintf(path, sizeof path, "%s", env);
    else {
        snprintf(path, sizeof path, "%s", test_model_path);
        char *dot = strrchr(path, '.');
        if (dot) snprintf(dot, sizeof path - (size_t)(dot - path), ".purbo");
    }
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "no plan file at %s (set PURBO_PLAN)", path);
    fclose(f);
    CHECK(model_case("rtpurbo:window=256", path, 0));
}

/* ---- bounded KV: local KV heads keep S + W rows on CUDA as on the CPU ---- */

/* Rows (positions) of every (layer, KV head) under plan pl in a context of
 * n_ctx: S + W for a KV head whose query heads are all local (plan_apply's
 * rings) when the ring is smaller than the context, else n_ctx; `layers`:
 * the same with a layer's rings counted only when all its KV heads are
 * local (the CUDA cache before mixed layers kept rings). */
static size_t plan_head_rows(const plan *pl, const model_config *c, int n_ctx, int layers)
{
    const int H = c->n_head, HKV = c->n_head_kv, group = H / HKV, SW = pl->prm.sink + pl->prm.window;
    size_t rows = 0;
    for (int l = 0; l < c->n_layer; l++) {
        int n_loc = 0;
        for (int g = 0; g < HKV; g++) {
            int local = SW < n_ctx;
            for (int h = g * group; h < (g + 1) * group; h++) local &= pl->kind[l * H + h] == HEAD_LOCAL;
            n_loc += local;
        }
        if (layers && n_loc < HKV) n_loc = 0;
        rows += (size_t)n_loc * SW + (size_t)(HKV - n_loc) * n_ctx;
    }
    return rows;
}

/* The KV bytes of both backends under a plan (from spec, or the plan file
 * at plan_path): CUDA's bf16 cache must hold the same rows as the CPU's f32
 * one (half its bytes): `want` (KV head, position) rows of d keys and as
 * many values in all (0: plan_head_rows of the plan); *mixed set to 1 when
 * CUDA holds fewer bytes than with rings in all-local layers only (local KV
 * heads of mixed layers bounded too). 1 or 0 after a recorded failure. */
static int kv_bytes_case(const char *spec, const char *plan_path, const unsigned char *retr, size_t want,
                         int *mixed)
{
    backend *G = gpu_cuda();
    if (!G) {
        test_fail(__FILE__, __LINE__, "no CUDA backend: %s", gpu_why());
        return 0;
    }
    const model_config *c = &fixture_model()->cfg;
    const int N = MP + MDEC;
    plan pl;
    if (!model_plan(&pl, spec, plan_path, retr, NULL)) return 0;
    if (!want) want = plan_head_rows(&pl, c, N, 0);
    const size_t was = plan_head_rows(&pl, c, N, 1);
    session *sg = session_new_on(G, N), *sc = session_new_on(gpu_cpu(), N);
    plan_apply(&pl, sg, 1, 0);
    plan_apply(&pl, sc, 1, 0);
    const size_t per_row = 2 * (size_t)c->head_dim;  /* k and v values of one KV head at one position */
    size_t bg = session_kv_bytes(sg), bc = session_kv_bytes(sc), fg = session_kv_bytes_full(sg),
           fc = session_kv_bytes_full(sc);
    printf("    %-28s KV bytes cuda %zu (all-local layers only: %zu) of %zu full, cpu %zu of %zu\n", spec, bg,
           was * per_row * 2, fg, bc, fc);
    int ok = bg == want * per_row * 2 && bc == want * per_row * 4 && 2 * fg == fc;
    if (!ok)
        test_fail(__FILE__, __LINE__, "%s: KV bytes cuda %zu (want %zu), cpu %zu (want %zu), full %zu / %zu", spec, bg,
                  want * per_row * 2, bc, want * per_row * 4, fg, fc);
    if (mixed) *mixed = bg < was * per_row * 2;
    session_free(sg);
    session_free(sc);
    plan_free(&pl);
    return ok;
}

/* streaming: every layer a ring of S + W = 132 rows; a 1,024-token prompt
 * (chunks of 256, longer than the window: the ring wraps inside a chunk)
 * then decode, logits and counts against the CPU. */
TEST(gpu_policy_streaming_bounded_kv)
{
    const model_config *c = &fixture_model()->cfg;
    CHECK(kv_bytes_case("streaming:sink=4,window=128", NULL, NULL, (size_t)c->n_layer * c->n_head_kv * (4 + 128),
                        NULL));
    CHECK(model_case("streaming:sink=4,window=128", NULL, 1));
    CHECK(model_case("streaming:sink=0,window=200", NULL, 1));
}

/* duo with retrieval heads 0 .. group-1 (KV head 0) in the even layers only:
 * the odd layers are all local (rings), the even ones keep KV head 0 full
 * and the others in a ring of 4 + 128 rows, on both backends: a full part
 * and a ring side by side in one layer, the prompt in chunks of 256 that
 * wrap the ring, then decode steps wrapping it further. */
TEST(gpu_policy_duo_mixed_rings)
{
    const model_config *c = &fixture_model()->cfg;
    const int H = c->n_head, HKV = c->n_head_kv, group = H / HKV;
    unsigned char *retr = pb_calloc((size_t)c->n_layer * H, 1);
    size_t rows = 0;
    for (int l = 0; l < c->n_layer; l++) {
        for (int h = 0; l % 2 == 0 && h < group; h++) retr[l * H + h] = 1;
        rows += l % 2 ? (size_t)HKV * (4 + 128) : (size_t)(MP + MDEC) + (size_t)(HKV - 1) * (4 + 128);
    }
    int ok = kv_bytes_case("duo:sink=4,window=128", NULL, retr, rows, NULL);
    ok = ok && model_case_retr("duo:sink=4,window=128", NULL, retr, 1);
    free(retr);
    CHECK(ok);
}

/* One plan file with a window of 256 over 1,024 + 8 tokens: its local KV
 * heads keep rings beside full retrieval heads in the same layers; rtpurbo
 * and duo against the CPU (prompt in chunks of 256, then decode steps, the
 * rings wrapping), the cache bounded alike on both. */
static int plan_mixed_case(const char *path)
{
    int mixed = 0, ok = kv_bytes_case("rtpurbo:window=256", path, NULL, 0, &mixed);
    if (ok && !mixed) {
        test_fail(__FILE__, __LINE__, "%s: no mixed layer with a local KV head at window 256", path);
        ok = 0;
    }
    ok = ok && model_case("rtpurbo:window=256", path, 0);
    ok = ok && kv_bytes_case("duo:window=256", path, NULL, 0, NULL);
    return ok && model_case("duo:window=256", path, 1);
}

/* The committed plan (suites/plans/smollm2-135m-need.purbo: two layers with
 * one local KV head of three), and the plan beside the model when there is
 * one (NAME.purbo beside NAME.gguf: many mixed layers). */
TEST(gpu_policy_plan_mixed_rings)
{
    CHECK(plan_mixed_case("suites/plans/smollm2-135m-need.purbo"));
    char path[1024];
    snprintf(path, sizeof path, "%s", test_model_path);
    char *dot = strrchr(path, '.');
    if (dot) snprintf(dot, sizeof path - (size_t)(dot - path), ".purbo");
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("    no plan at %s: the committed plan only\n", path);
        return;
    }
    fclose(f);
    CHECK(plan_mixed_case(path));
}
