/* test_policies.c — the attention policies against direct computations.
 *
 * A small random problem (1 layer, 4 query heads over 2 KV heads, d = 8,
 * n = 200 positions, peaked scores so selections are not trivial) is run
 * through each policy in uneven chunks and single-token steps, exactly as
 * the forward pass calls it (on_append for every head, then run). For every
 * query the test recomputes in double, without the engine's helpers, which
 * positions the policy must keep, the probabilities and the output; the
 * policy's probability rows (seen through the observer) must be non-zero on
 * exactly the kept positions, and its returned count must equal the kept
 * total. On the real model: a dense plan is bit-identical to the plain
 * forward pass, a ring equals sink+window over a full cache bit for bit, and
 * the session's density counts match the closed form.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/attn_sparse.h"
#include "tests/fixture.h"
#include "policy/indexer.h"
#include "kernels/ops.h"
#include "policy/plan.h"
#include "policy/policy.h"
#include "base/rng.h"
#include "tests/test.h"

enum { N = 200, D = 8, H = 4, HKV = 2, R = 3 };

typedef struct {
    float q[N * H * D], qp[N * H * D];  /* (N, H, D) post- and pre-RoPE */
    float k[N * HKV * D], kp[N * HKV * D], v[N * HKV * D];  /* (N, HKV, D) */
    float kc[HKV][N * D], vc[HKV][N * D];  /* per KV head caches (N, D) */
    float wq[H][R * D], wk[H][R * D];   /* random indexers (R, D) */
} problem;

static problem *problem_new(uint64_t seed)
{
    problem *pb = pb_calloc(1, sizeof *pb);
    pb_rng r = {seed};
    for (int i = 0; i < N * H * D; i++) pb->qp[i] = (float)(10.0 * (rng_unit(&r) - 0.5));
    for (int i = 0; i < N * HKV * D; i++) pb->kp[i] = (float)(3.0 * (rng_unit(&r) - 0.5));
    for (int i = 0; i < N * HKV * D; i++) pb->v[i] = (float)(2.0 * rng_unit(&r) - 1.0);
    for (int h = 0; h < H; h++)
        for (int i = 0; i < R * D; i++) {
            pb->wq[h][i] = (float)(2.0 * rng_unit(&r) - 1.0);
            pb->wk[h][i] = (float)(2.0 * rng_unit(&r) - 1.0);
        }
    memcpy(pb->q, pb->qp, sizeof pb->q);
    memcpy(pb->k, pb->kp, sizeof pb->k);
    cpu_rope(pb->q, N, H, D, 0, 10000.0f);
    cpu_rope(pb->k, N, HKV, D, 0, 10000.0f);
    for (int g = 0; g < HKV; g++)
        for (int t = 0; t < N; t++) {
            memcpy(pb->kc[g] + t * D, pb->k + (t * HKV + g) * D, D * sizeof(float));
            memcpy(pb->vc[g] + t * D, pb->v + (t * HKV + g) * D, D * sizeof(float));
        }
    return pb;
}

static const model_config small_cfg = {.n_layer = 1, .n_head = H, .n_head_kv = HKV, .head_dim = D};

/* A plan with every head of `kind` and the random indexers. */
static void small_plan(plan *pl, int kind, const problem *pb)
{
    plan_init_dense(pl, &small_cfg);
    memset(pl->kind, kind, H);
    pl->prm = plan_defaults;
    pl->prm.sink = 4;
    pl->prm.window = 32;
    pl->prm.block = 8;
    pl->prm.local = 8;
    pl->prm.page = 8;
    pl->prm.budget = 24;
    pl->prm.p = 0.9;
    pl->rank = R;
    plan_alloc_indexers(pl);
    memcpy(pl->idx_q, pb->wq, sizeof pb->wq);
    memcpy(pl->idx_k, pb->wk, sizeof pb->wk);
}

typedef struct {
    float rows[N * N];  /* (N, N) probability rows seen by the observer */
    int calls;
} capture;

static void cap_rows(void *user, const attn_call *c, const float *p, int ldp)
{
    capture *cp = user;
    for (int i = 0; i < c->n_q; i++) {
        int t = c->q_pos0 + i;
        memset(cp->rows + t * N, 0, N * sizeof(float));
        memcpy(cp->rows + t * N, p + (long)i * ldp, (size_t)c->n_kv * sizeof(float));
    }
    cp->calls++;
}

/* Runs head h through pol over positions 0..N-1: chunks of the given sizes
 * (the last repeated), then single steps from `decode_from`. out: (N, D). */
static long long drive(const attn_policy *pol, const problem *pb, int h, const int *chunks, int decode_from,
                       float *out, capture *cp)
{
    float *scratch = pb_malloc(attn_scratch_floats(N) * sizeof(float));
    attn_observer obs = {.user = cp, .on_rows = cap_rows};
    const int g = h / (H / HKV);
    long long kept = 0;
    for (int pos = 0, ci = 0; pos < N;) {
        int n = pos >= decode_from ? 1 : chunks[ci];
        if (chunks[ci + 1]) ci++;
        if (n > N - pos) n = N - pos;
        if (pos < decode_from && pos + n > decode_from) n = decode_from - pos;
        if (pol->on_append)
            for (int hh = 0; hh < H; hh++)
                pol->on_append(pol, 0, hh, hh / (H / HKV), pos, n, pb->kp + (pos * HKV + hh / (H / HKV)) * D,
                               pb->k + (pos * HKV + hh / (H / HKV)) * D, HKV * D);
        attn_call c = {
            .layer = 0, .head = h, .kv_head = g, .d = D, .q_pos0 = pos, .n_q = n, .n_kv = pos + n,
            .q = pb->q + (pos * H + h) * D, .ldq = H * D, .q_pre = pb->qp + (pos * H + h) * D, .ldq_pre = H * D,
            .k = pb->kc[g], .v = pb->vc[g], .n_span = 1, .out = out + pos * D, .ldo = D,
            .scale = 1.0f / sqrtf((float)D),
        };
        c.span[0] = (attn_span){0, pos + n, pb->kc[g], pb->vc[g], D};
        kept += pol->run(pol, &c, &obs, scratch);
        pos += n;
    }
    free(scratch);
    return kept;
}

/* Exact attention of query (t, h) over kept[0..t] in double; checks the
 * captured row and the output. Returns 0 and records a failure on mismatch. */
static int check_row(const problem *pb, int h, int t, const unsigned char *kept, const float *out, const capture *cp,
                     const char *what)
{
    const int g = h / (H / HKV);
    double s[N], mx = -1e300, sum = 0, o[D] = {0};
    for (int j = 0; j <= t; j++) {
        if (!kept[j]) continue;
        double dot = 0;
        for (int i = 0; i < D; i++) dot += (double)pb->q[(t * H + h) * D + i] * pb->k[(j * HKV + g) * D + i];
        s[j] = dot / sqrt((double)D);
        mx = fmax(mx, s[j]);
    }
    for (int j = 0; j <= t; j++)
        if (kept[j]) sum += exp(s[j] - mx);
    for (int j = 0; j < N; j++) {
        double pr = j <= t && kept[j] ? exp(s[j] - mx) / sum : 0.0;
        float got = cp->rows[t * N + j];
        if ((got != 0.0f) != (pr != 0.0) || fabs(got - pr) > 2e-6) {
            test_fail(__FILE__, __LINE__, "%s head %d query %d key %d: probability %.9g, expected %.9g", what, h, t,
                      j, got, pr);
            return 0;
        }
        for (int i = 0; i < D && pr != 0.0; i++) o[i] += pr * pb->v[(j * HKV + g) * D + i];
    }
    for (int i = 0; i < D; i++)
        if (fabs(out[t * D + i] - o[i]) > 1e-5) {
            test_fail(__FILE__, __LINE__, "%s head %d query %d: out[%d] %.9g, expected %.9g", what, h, t, i,
                      out[t * D + i], o[i]);
            return 0;
        }
    return 1;
}

/* Block selection in double, written out again: softmax of sc[0..t], block
 * masses, forced sink/local blocks, then top-p (k < 0) or top-k. */
/* Blocks of g holding a sink position or one of the last `local` up to t. */
static int ref_forced(const plan_params *m, int t, int u)
{
    int lo = u * m->block, hi = lo + m->block - 1;
    return lo < m->sink || (m->local > 0 && hi >= t - m->local + 1);
}

/* top-p (k < 0) or top-k selection of blocks by the softmax mass of sc; top-p
 * then adds blocks by mass until at least kmin were added. */
static void ref_select(const double *sc, int t, const plan_params *m, double p, int k, int kmin, unsigned char *kept)
{
    const int g = m->block, nb = t / g + 1;
    double mx = -1e300, sum = 0, mass[N] = {0};
    for (int j = 0; j <= t; j++) mx = fmax(mx, sc[j]);
    for (int j = 0; j <= t; j++) sum += exp(sc[j] - mx);
    for (int j = 0; j <= t; j++) mass[j / g] += exp(sc[j] - mx) / sum;
    unsigned char blk[N] = {0}, forced[N] = {0};
    for (int u = 0; u < nb; u++) forced[u] = ref_forced(m, t, u);
    memcpy(blk, forced, sizeof blk);
    if (k < 0 && p >= 1.0) memset(blk, 1, sizeof blk);
    double cum = 0;
    for (int taken = 0; taken < nb; taken++) {
        int best = -1;
        for (int u = 0; u < nb; u++) {   /* next heaviest not yet ranked (ties: lower index) */
            if (blk[u] == 2 || (k >= 0 && blk[u])) continue;
            if (best < 0 || mass[u] > mass[best]) best = u;
        }
        if (best < 0) break;
        if (k >= 0) {
            if (k-- == 0) break;
            blk[best] = 1;
            continue;
        }
        blk[best] = 2;
        cum += mass[best];
        if (cum >= p) break;
    }
    int added = 0;
    for (int u = 0; u < nb; u++) added += blk[u] == 2 && !forced[u];
    for (; k < 0 && added < kmin; added++) {
        int best = -1;
        for (int u = 0; u < nb; u++)
            if (!blk[u] && (best < 0 || mass[u] > mass[best])) best = u;
        if (best < 0) break;
        blk[best] = 1;
    }
    for (int j = 0; j < N; j++) kept[j] = j <= t && blk[j / g];
}

static double dot_d(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Indexer scores of query (t, h) in double: scale * (W_Q q_pre)·(W_K k_pre_j). */
static void ref_index_scores(const problem *pb, int h, int t, double *sc)
{
    const int g = h / (H / HKV);
    double qx[R];
    for (int a = 0; a < R; a++) qx[a] = dot_d(pb->wq[h] + a * D, pb->qp + (t * H + h) * D, D);
    for (int j = 0; j <= t; j++) {
        double s = 0;
        for (int a = 0; a < R; a++) s += qx[a] * dot_d(pb->wk[h] + a * D, pb->kp + (j * HKV + g) * D, D);
        sc[j] = s / sqrt((double)D);
    }
}

static void ref_exact_scores(const problem *pb, int h, int t, double *sc)
{
    const int g = h / (H / HKV);
    for (int j = 0; j <= t; j++) sc[j] = dot_d(pb->q + (t * H + h) * D, pb->k + (j * HKV + g) * D, D) / sqrt((double)D);
}

/* Quest: page bounds of post-RoPE keys, upper bounds, top-k pages + current (decode only). */
static void ref_quest(const problem *pb, int h, int t, const plan_params *m, unsigned char *kept)
{
    const int g = h / (H / HKV), P = m->page, cur = t / P, k = (m->budget + P - 1) / P;
    double ub[N];
    for (int u = 0; u < cur; u++) {
        ub[u] = 0;
        for (int i = 0; i < D; i++) {
            double mn = 1e300, mx = -1e300;
            for (int j = u * P; j < u * P + P; j++) {
                mn = fmin(mn, pb->k[(j * HKV + g) * D + i]);
                mx = fmax(mx, pb->k[(j * HKV + g) * D + i]);
            }
            double qd = pb->q[(t * H + h) * D + i];
            ub[u] += fmax(qd * mn, qd * mx);
        }
    }
    unsigned char pg[N] = {0};
    pg[cur] = 1;
    for (int n = 0; n < k; n++) {
        int best = -1;
        for (int u = 0; u < cur; u++)
            if (!pg[u] && (best < 0 || ub[u] > ub[best])) best = u;
        if (best < 0) break;
        pg[best] = 1;
    }
    for (int j = 0; j < N; j++) kept[j] = j <= t && pg[j / P];
}

/* Expected kept set of query (t, h) for a kind (quest: decode rows only). */
static void ref_kept(const problem *pb, const plan *pl, int kind, int h, int t, unsigned char *kept)
{
    const plan_params *m = &pl->prm;
    double sc[N];
    int kb = (m->budget + m->block - 1) / m->block;
    switch (kind) {
    case HEAD_LOCAL:
        for (int j = 0; j < N; j++) kept[j] = j <= t && (j < m->sink || j > t - m->window);
        break;
    case HEAD_TOPP_ORACLE: ref_exact_scores(pb, h, t, sc); ref_select(sc, t, m, m->p, -1, 0, kept); break;
    case HEAD_TOPK_ORACLE: ref_exact_scores(pb, h, t, sc); ref_select(sc, t, m, 0, kb, 0, kept); break;
    case HEAD_RTPURBO: { /* anchored: exact scores in the always-kept blocks */
        double ex[N];
        ref_index_scores(pb, h, t, sc);
        ref_exact_scores(pb, h, t, ex);
        for (int j = 0; j <= t; j++)
            if (ref_forced(m, t, j / m->block)) sc[j] = ex[j];
        ref_select(sc, t, m, m->p, -1, m->kmin, kept);
        break;
    }
    case HEAD_RTPURBO_TOPK: ref_index_scores(pb, h, t, sc); ref_select(sc, t, m, 0, kb, 0, kept); break;
    case HEAD_QUEST: ref_quest(pb, h, t, m, kept); break;
    default:
        for (int j = 0; j < N; j++) kept[j] = j <= t;
    }
}

/* Runs every head of a kind against the reference; queries before
 * decode_from are prefill (quest: dense there). Returns the overall density. */
static double check_kind(int kind, int decode_from, void (*tweak)(plan *), int *ok)
{
    static const int chunks[] = {37, 64, 70, 5, 0};
    problem *pb = problem_new(1234 + (uint64_t)kind);
    plan pl;
    small_plan(&pl, kind, pb);
    if (tweak) tweak(&pl);
    attn_policy *pol = plan_policy_new(&pl, kind, N);
    float *out = pb_malloc(N * D * sizeof(float));
    capture *cp = pb_calloc(1, sizeof *cp);
    long long kept_total = 0, vis = 0;
    *ok = 1;
    for (int h = 0; h < H && *ok; h++) {
        long long got = drive(pol, pb, h, chunks, decode_from, out, cp), want = 0;
        for (int t = 0; t < N && *ok; t++) {
            unsigned char kept[N];
            if (kind == HEAD_QUEST && t < decode_from) for (int j = 0; j < N; j++) kept[j] = j <= t;
            else ref_kept(pb, &pl, kind, h, t, kept);
            for (int j = 0; j <= t; j++) want += kept[j];
            *ok = check_row(pb, h, t, kept, out, cp, plan_kind_name(kind));
        }
        if (*ok && got != want) {
            test_fail(__FILE__, __LINE__, "%s head %d: policy counted %lld pairs, expected %lld",
                      plan_kind_name(kind), h, got, want);
            *ok = 0;
        }
        kept_total += got;
        vis += (long long)N * (N + 1) / 2;
    }
    if (pol->destroy) pol->destroy(pol);
    plan_free(&pl);
    free(out);
    free(cp);
    free(pb);
    return (double)kept_total / (double)vis;
}

#define CHECK_KIND(kind, decode_from, tweak, lo, hi)                                            \
    do {                                                                                        \
        int ok_;                                                                                \
        double dens_ = check_kind(kind, decode_from, tweak, &ok_);                              \
        if (!ok_) return;                                                                       \
        printf("    %s density %.4f\n", plan_kind_name(kind), dens_);                           \
        CHECK_MSG(dens_ >= (lo) && dens_ <= (hi), "density %.4f outside [%g, %g]", dens_, (double)(lo), (double)(hi)); \
    } while (0)

TEST(policy_local_matches_direct) { CHECK_KIND(HEAD_LOCAL, 150, NULL, 0.1, 0.5); }
TEST(policy_topp_oracle_matches_direct) { CHECK_KIND(HEAD_TOPP_ORACLE, 150, NULL, 0.05, 0.95); }
TEST(policy_topk_oracle_matches_direct) { CHECK_KIND(HEAD_TOPK_ORACLE, 150, NULL, 0.05, 0.95); }
TEST(policy_rtpurbo_matches_direct) { CHECK_KIND(HEAD_RTPURBO, 150, NULL, 0.05, 0.95); }
/* a low p that the forced blocks reach alone: the kmin floor adds the blocks */
static void low_p_floor(plan *pl)
{
    pl->prm.p = 0.05;
    pl->prm.kmin = 3;
}
TEST(policy_rtpurbo_floor_matches_direct) { CHECK_KIND(HEAD_RTPURBO, 150, low_p_floor, 0.05, 0.95); }
/* forced_middle is exactly the positions whose block keep_forced leaves out */
TEST(policy_forced_middle_matches_keep_forced)
{
    static const int gs[] = {1, 4, 64}, sinks[] = {0, 1, 4, 70}, locals[] = {0, 1, 64, 200};
    unsigned char keep[400];
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++)
                for (int q = 0; q < 300; q++) {
                    plan_params m = plan_defaults;
                    m.block = gs[a];
                    m.sink = sinks[b];
                    m.local = locals[c];
                    int lo, hi;
                    keep_forced(keep, m.block, q, &m);
                    forced_middle(m.block, q, &m, &lo, &hi);
                    for (int j = 0; j <= q; j++)
                        if ((j >= lo && j < hi) == keep[j / m.block]) {
                            CHECK_MSG(0, "g %d sink %d local %d q %d: position %d, middle [%d, %d), kept %d", m.block,
                                      m.sink, m.local, q, j, lo, hi, keep[j / m.block]);
                            return;
                        }
                }
}

TEST(policy_rtpurbo_topk_matches_direct) { CHECK_KIND(HEAD_RTPURBO_TOPK, 150, NULL, 0.05, 0.95); }
/* quest: prefill of 120 dense, then 80 decode steps with top-3 pages + the current one */
TEST(policy_quest_matches_direct) { CHECK_KIND(HEAD_QUEST, 120, NULL, 0.3, 0.95); }

/* Output of a policy against dense attention on the same problem. */
static void check_vs_dense(int kind, void (*tweak)(plan *), double tol, double *density)
{
    static const int chunks[] = {50, 0};
    problem *pb = problem_new(99);
    plan pl;
    small_plan(&pl, kind, pb);
    tweak(&pl);
    attn_policy *pol = plan_policy_new(&pl, kind, N);
    float *out = pb_malloc(N * D * sizeof(float)), *ref = pb_malloc(N * D * sizeof(float));
    capture *cp = pb_calloc(1, sizeof *cp);
    long long kept = 0;
    double worst = 0;
    for (int h = 0; h < H; h++) {
        kept += drive(pol, pb, h, chunks, 100, out, cp);
        drive(&attn_dense, pb, h, chunks, 100, ref, cp);
        for (int i = 0; i < N * D; i++) worst = fmax(worst, fabs(out[i] - ref[i]));
    }
    *density = (double)kept / (H * (double)N * (N + 1) / 2);
    if (pol->destroy) pol->destroy(pol);
    plan_free(&pl);
    free(out);
    free(ref);
    free(cp);
    free(pb);
    CHECK_MSG(worst <= tol, "%s: max |out - dense| = %.3g > %.3g", plan_kind_name(kind), worst, tol);
}

static void p_one(plan *pl) { pl->prm.p = 1.0; }
static void big_budget(plan *pl) { pl->prm.budget = N; }

TEST(policy_topp_one_equals_dense)
{
    double dens;
    check_vs_dense(HEAD_TOPP_ORACLE, p_one, 1e-6, &dens);
    CHECK(dens == 1.0);
    check_vs_dense(HEAD_RTPURBO, p_one, 1e-6, &dens);
    CHECK(dens == 1.0);
}

TEST(policy_quest_full_budget_equals_dense)
{
    double dens;
    check_vs_dense(HEAD_QUEST, big_budget, 1e-6, &dens);
    CHECK_MSG(dens == 1.0, "density %.6f", dens);
}

/* --- plans on the real model --- */

static int *text_ids(int want, int *n)
{
    const char *t = "In the beginning God created the heaven and the earth. And the earth was without form, and void; "
                    "and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the "
                    "waters. And God said, Let there be light: and there was light. ";
    char *buf = pb_malloc(strlen(t) * 8 + 1);
    buf[0] = 0;
    for (int i = 0; i < 8; i++) strcat(buf, t);
    int *ids;
    *n = tok_encode(fixture_tok(), buf, strlen(buf), 1, &ids);
    free(buf);
    if (*n > want) *n = want;
    return ids;
}

/* Prefill of n_pre tokens then single steps up to n; logits of every position. */
static float *run_model(session *s, const int *ids, int n_pre, int n)
{
    const int V = s->m->cfg.n_vocab;
    float *lg = pb_malloc((size_t)n * V * sizeof(float));
    session_eval(s, ids, n_pre, lg, n_pre);
    for (int t = n_pre; t < n; t++) session_eval(s, ids + t, 1, lg + (size_t)t * V, 1);
    return lg;
}

TEST(plan_dense_bit_identical_to_plain_forward)
{
    const model *m = fixture_model();
    int n;
    int *ids = text_ids(90, &n);
    session *a = session_new(m, n), *b = session_new(m, n);
    plan pl;
    pb_err err;
    plan_spec sp;
    CHECK(plan_parse("dense", &sp, &err));
    CHECK(plan_make(&pl, &m->cfg, &sp, NULL, &err));
    plan_apply(&pl, b, 1, 0);
    float *la = run_model(a, ids, 80, n), *lb = run_model(b, ids, 80, n);
    int same = !memcmp(la, lb, (size_t)n * m->cfg.n_vocab * sizeof(float));
    double dens = session_density(b, NULL);
    free(la);
    free(lb);
    session_free(a);
    session_free(b);
    plan_free(&pl);
    free(ids);
    CHECK_MSG(same, "logits differ");
    CHECK(dens == 1.0);
}

/* streaming with W smaller than a chunk: a ring of S + W rows gives the
 * same logits, bit for bit, as the same policy over a full cache. */
TEST(plan_ring_equals_full_cache)
{
    const model *m = fixture_model();
    const int S = 4, W = 40;
    int n;
    int *ids = text_ids(170, &n);
    CHECK(n == 170);
    plan pl;
    pb_err err;
    plan_spec sp;
    CHECK(plan_parse("streaming:sink=4,window=40", &sp, &err));
    CHECK(plan_make(&pl, &m->cfg, &sp, NULL, &err));
    session *ring = session_new(m, n), *full = session_new(m, n);
    ring->max_batch = full->max_batch = 64;  /* chunks longer than the window */
    plan_apply(&pl, ring, 1, 0);
    plan_apply(&pl, full, 0, 0);
    CHECK(session_kv_bytes(full) == session_kv_bytes_full(full));
    size_t want = 2 * (size_t)m->cfg.n_layer * m->cfg.n_head_kv * (S + W) * m->cfg.head_dim * sizeof(float);
    CHECK_MSG(session_kv_bytes(ring) == want, "ring holds %zu bytes, expected %zu", session_kv_bytes(ring), want);
    float *lr = run_model(ring, ids, 150, n), *lf = run_model(full, ids, 150, n);
    int same = !memcmp(lr, lf, (size_t)n * m->cfg.n_vocab * sizeof(float));
    /* density: sum over queries of min(S, t+1) + |window positions >= S|, over (t+1) */
    long long kept = 0, vis = 0;
    for (int t = 0; t < n; t++) {
        int lo = t - W + 1 > S ? t - W + 1 : S;
        kept += (t + 1 < S ? t + 1 : S) + (t + 1 > lo ? t + 1 - lo : 0);
        vis += t + 1;
    }
    attn_count *cnt = pb_malloc((size_t)m->cfg.n_layer * m->cfg.n_head * sizeof *cnt);
    double dens = session_density(ring, cnt);
    int counts_ok = 1;
    for (int i = 0; i < m->cfg.n_layer * m->cfg.n_head; i++) counts_ok &= cnt[i].kept == kept && cnt[i].visible == vis;
    /* a second sequence after reset gives the same logits again (stale ring rows unused) */
    session_reset(ring);
    float *lr2 = run_model(ring, ids, 150, n);
    int again = !memcmp(lr, lr2, (size_t)n * m->cfg.n_vocab * sizeof(float));
    session_density_reset(ring);
    double dens0 = session_density(ring, NULL);
    free(lr);
    free(lf);
    free(lr2);
    free(cnt);
    session_free(ring);
    session_free(full);
    plan_free(&pl);
    free(ids);
    CHECK_MSG(same, "ring and full-cache logits differ");
    CHECK_MSG(counts_ok, "per-head counts differ from the closed form (%lld of %lld)", kept, vis);
    CHECK_NEAR(dens, (double)kept / vis, 1e-12);
    CHECK_MSG(again, "logits differ after session_reset");
    CHECK(dens0 == 1.0);
}

/* duo: the KV heads of retrieval heads keep a full cache, the others a ring. */
TEST(plan_duo_kinds_and_layout)
{
    const model *m = fixture_model();
    const model_config *c = &m->cfg;
    unsigned char *retr = pb_malloc((size_t)c->n_layer * c->n_head);
    pb_err err;
    plan_spec sp;
    plan pl;
    CHECK(plan_parse_heads(c, "0.0, 2.5,29.8", retr, &err));
    CHECK(plan_parse("duo:window=64", &sp, &err));
    CHECK(plan_make(&pl, c, &sp, retr, &err));
    CHECK(plan_count(&pl, HEAD_DENSE) == 3 && plan_count(&pl, HEAD_LOCAL) == c->n_layer * c->n_head - 3);
    CHECK(pl.kind[2 * c->n_head + 5] == HEAD_DENSE && pl.kind[2 * c->n_head + 4] == HEAD_LOCAL);
    session *s = session_new(m, 512);
    plan_apply(&pl, s, 1, 0);
    /* the KV heads of the 3 retrieval heads keep full caches (512 rows), the
     * others rings of 4 sinks + 64 window rows: the bytes held say so */
    int group = c->n_head / c->n_head_kv, full = 0;
    for (int i = 0; i < c->n_layer * c->n_head_kv; i++) {
        int l = i / c->n_head_kv, g = i % c->n_head_kv, want_full = 0;
        for (int h = g * group; h < (g + 1) * group; h++) want_full |= retr[l * c->n_head + h];
        full += want_full;
    }
    CHECK(full == 3);
    size_t rows = (size_t)full * 512 + (size_t)(c->n_layer * c->n_head_kv - full) * (4 + 64);
    CHECK_MSG(session_kv_bytes(s) == 2 * rows * c->head_dim * sizeof(float), "kv bytes %zu", session_kv_bytes(s));
    CHECK(session_kv_bytes_full(s) == 2 * (size_t)c->n_layer * c->n_head_kv * 512 * c->head_dim * sizeof(float));
    CHECK(s->policy[0] == &attn_dense && s->policy[1] != &attn_dense);
    session_free(s);
    plan_free(&pl);
    free(retr);
}

/* rtpurbo on the real model with PCA indexers: runs, and at p = 1 with
 * every head retrieval it gives the dense logits up to float. */
TEST(plan_rtpurbo_pca_p1_close_to_dense)
{
    const model *m = fixture_model();
    int n;
    int *ids = text_ids(100, &n);
    unsigned char *retr = pb_malloc((size_t)m->cfg.n_layer * m->cfg.n_head);
    memset(retr, 1, (size_t)m->cfg.n_layer * m->cfg.n_head);
    pb_err err;
    plan_spec sp;
    plan pl;
    CHECK(plan_parse("rtpurbo:p=1,block=16", &sp, &err));
    CHECK(plan_make(&pl, &m->cfg, &sp, retr, &err));
    CHECK(plan_needs_indexers(&pl));
    indexer_calibrate(&pl, m, ids, 64);
    CHECK(!plan_needs_indexers(&pl) && pl.rank == m->cfg.head_dim / 8);
    session *a = session_new(m, n), *b = session_new(m, n);
    plan_apply(&pl, b, 1, 0);
    float *la = run_model(a, ids, 90, n), *lb = run_model(b, ids, 90, n);
    double worst = 0;
    for (size_t i = 0; i < (size_t)n * m->cfg.n_vocab; i++) worst = fmax(worst, fabs(la[i] - lb[i]));
    double dens = session_density(b, NULL);
    free(la);
    free(lb);
    session_free(a);
    session_free(b);
    plan_free(&pl);
    free(retr);
    free(ids);
    CHECK_MSG(worst < 1e-3, "max |logit diff| %.3g", worst);
    CHECK_MSG(dens == 1.0, "density %.6f", dens);
}
