/* retrieval.c — the retrieval probe: the repeated-span score of each query
 * head (METHOD.md §2).
 *
 * Document w (n_ctx tokens): a calibration window of the usual source
 * (KJV for even w, code for odd) as filler, with one 64-token span S (cut
 * from another place of the same source) inserted at position a, drawn
 * uniformly from [n_ctx/16, n_ctx/4), and appended at b = n_ctx - 64:
 *
 *   filler[0:a] S filler[a:n_ctx-128] S        (the second copy ends the document)
 *
 * so the copies are 3/4 n_ctx to 15/16 n_ctx apart. Measured queries: the
 * 64 tokens of the second copy, positions b+t, t = 0..63. Per query head:
 *   score      = mean over those queries of the mass on the whole first copy,
 *                keys a..a+63 (the paper's score);
 *   score_next = mean over t < 63 of the mass on key a+t+1, the token that
 *                followed the current token in the first copy (what an
 *                induction/copy head attends to).
 * Heads are ranked by score; the top 15% are the retrieval-head candidates.
 * score, score_next and rank are the probe's per-head results in memory
 * (probe_heads), computed once every document ran; the store records them.
 * A model's sliding layers (model.h, via probe_geom.cfg) are local already:
 * their heads are scored but ranked after every head of a global layer, and
 * the 15% counts the global layers' heads only.
 */
#include "probes/probe_impl.h"

#include <string.h>

#include "base/rng.h"

enum { SPAN = 64 };

typedef struct {
    probe_geom g;
    int *a;             /* (n_windows) first-copy start of each document */
    int cur;            /* window being run */
    double *span, *next; /* (n_layer, n_head) summed masses */
    long *n_span, *n_next;
    /* results, filled by finish */
    double *score, *score_next; /* (n_layer, n_head) */
    int *rank;                  /* (n_layer, n_head) 1 = highest score */
    int *order;                 /* (n_layer * n_head) head indices by rank */
    probe_heads res;            /* score, score_next, rank */
} retrieval;

static void ret_doc(void *user, const calib *c, uint64_t seed, int w, int *ids)
{
    retrieval *R = user;
    const int n = R->g.n_ctx;
    int *filler = pb_malloc((size_t)(n - SPAN) * sizeof *filler), span[SPAN];
    enum calib_source src = calib_window(c, seed, w, n - SPAN, filler, NULL);
    calib_tokens(c, src, seed ^ 0x5eed5ba11ull, w, SPAN, span, NULL);
    pb_rng r = {seed * 0x9e3779b97f4a7c15ull + (uint64_t)w * 0x632be59bd9b4e019ull + 7};
    int a = n / 16 + (int)rng_below(&r, (uint64_t)(n / 4 - n / 16));
    R->a[w] = a;
    memcpy(ids, filler, (size_t)a * sizeof *ids);
    memcpy(ids + a, span, sizeof span);
    memcpy(ids + a + SPAN, filler + a, (size_t)(n - 2 * SPAN - a) * sizeof *ids);
    memcpy(ids + n - SPAN, span, sizeof span);
    free(filler);
}

static void ret_begin(void *user, int w) { ((retrieval *)user)->cur = w; }

static void ret_rows(void *user, const attn_call *c, const float *p, int ldp)
{
    retrieval *R = user;
    const int b = R->g.n_ctx - SPAN, a = R->a[R->cur];
    const int x = c->layer * R->g.n_head + c->head;
    for (int r = 0; r < c->n_q; r++) {
        int t = c->q_pos0 + r - b;
        if (t < 0 || t >= SPAN) continue;
        const float *row = p + (size_t)r * ldp;
        double s = 0;
        for (int j = a; j < a + SPAN; j++) s += row[j];
        R->span[x] += s;
        R->n_span[x]++;
        if (t < SPAN - 1) {
            R->next[x] += row[a + t + 1];
            R->n_next[x]++;
        }
    }
}

/* Rows read: the second copy, queries in [n_ctx - 64, n_ctx). */
static int ret_want(void *user, int layer, int q_pos0, int n_q)
{
    const retrieval *R = user;
    const int b = R->g.n_ctx - SPAN;
    (void)layer;
    return q_pos0 + n_q > b && q_pos0 < b + SPAN;
}

/* 1 when head x may be a retrieval head: a head of a global layer (those
 * of sliding layers see their window only, whatever they score). */
static int eligible(const retrieval *R, int x)
{
    return !R->g.cfg || R->g.cfg->layer[x / R->g.n_head].kind == ATTN_GLOBAL;
}

/* Before: eligible first, then by score, highest first. */
static int ranks_before(const retrieval *R, int a, int b)
{
    if (eligible(R, a) != eligible(R, b)) return eligible(R, a);
    return R->score[a] > R->score[b];
}

/* The results from the sums: score, score_next, and the ranking: by score,
 * highest first (ties by index), the heads of sliding layers after all
 * others. */
static void ret_finish(retrieval *R)
{
    const int n = R->g.n_layer * R->g.n_head;
    for (int x = 0; x < n; x++) {
        R->score[x] = R->n_span[x] ? R->span[x] / R->n_span[x] : 0;
        R->score_next[x] = R->n_next[x] ? R->next[x] / R->n_next[x] : 0;
    }
    int *o = R->order;
    for (int i = 0; i < n; i++) o[i] = i;
    for (int i = 1; i < n; i++) { /* insertion sort: a few hundred heads */
        int v = o[i], j = i;
        while (j > 0 && ranks_before(R, v, o[j - 1])) {
            o[j] = o[j - 1];
            j--;
        }
        o[j] = v;
    }
    for (int k = 0; k < n; k++) R->rank[o[k]] = k + 1;
}

static const probe_heads *ret_heads(void *user)
{
    retrieval *R = user;
    ret_finish(R);
    return &R->res;
}

static void ret_store(void *user, pb_db *db, const probe_case_info *ci)
{
    retrieval *R = user;
    ret_finish(R);
    const int n = R->g.n_layer * R->g.n_head, *o = R->order;
    char q[200];
    snprintf(q, sizeof q, "the %d tokens of the second copy of a %d-token span, positions [%d, %d); first "
             "copy at a in [%d, %d)", SPAN, SPAN, R->g.n_ctx - SPAN, R->g.n_ctx, R->g.n_ctx / 16, R->g.n_ctx / 4);
    db_case_begin(db);
    int64_t id = probe_case_insert(db, ci, "retrieval", &R->g, q);
    sqlite3 *h = db_sqlite(db);
    sqlite3_stmt *st = db_prepare(db, "INSERT INTO probe_retrieval(run_id, case_id, layer, head, score,"
                                      " score_next, rank, n_queries) VALUES (?,?,?,?,?,?,?,?)");
    for (int k = 0; k < n; k++) {
        int x = o[k];
        DB_CHECK(h, sqlite3_bind_int64(st, 1, ci->run_id));
        DB_CHECK(h, sqlite3_bind_int64(st, 2, id));
        DB_CHECK(h, sqlite3_bind_int(st, 3, x / R->g.n_head));
        DB_CHECK(h, sqlite3_bind_int(st, 4, x % R->g.n_head));
        DB_CHECK(h, sqlite3_bind_double(st, 5, R->score[x]));
        DB_CHECK(h, sqlite3_bind_double(st, 6, R->score_next[x]));
        DB_CHECK(h, sqlite3_bind_int(st, 7, R->rank[x]));
        DB_CHECK(h, sqlite3_bind_int64(st, 8, R->n_span[x]));
        db_step_reset(st);
    }
    DB_CHECK(h, sqlite3_finalize(st));
    db_case_commit(db);
}

static void ret_print(void *user, FILE *f)
{
    retrieval *R = user;
    ret_finish(R);
    const int n = R->g.n_layer * R->g.n_head, *o = R->order;
    int n_elig = 0;
    for (int x = 0; x < n; x++) n_elig += eligible(R, x);
    const int top = (int)(0.15 * n_elig + 0.5);
    if (n_elig < n)
        fprintf(f, "retrieval: repeated-span score (mass of the 2nd copy on the 1st), top 15%% = %d of the %d heads of"
                " global layers (%d heads of sliding layers are local already)\n", top, n_elig, n - n_elig);
    else
        fprintf(f, "retrieval: repeated-span score (mass of the 2nd copy on the 1st), top 15%% = %d of %d heads\n", top, n);
    for (int k = 0; k < n && k < 10; k++)
        fprintf(f, "  #%-3d layer %2d head %d  score %.3f  next-token %.3f\n", k + 1, o[k] / R->g.n_head,
                o[k] % R->g.n_head, R->score[o[k]], R->score_next[o[k]]);
    if (top > 0 && top < n_elig)
        fprintf(f, "  score at the 15%% cut (#%d): %.3f; median head: %.3f\n", top, R->score[o[top - 1]],
                R->score[o[n_elig / 2]]);
    fprintf(f, "  as a plan (generate/passkey --retrieval-heads):");
    for (int k = 0; k < top; k++) fprintf(f, "%s%d.%d", k ? "," : " ", o[k] / R->g.n_head, o[k] % R->g.n_head);
    fprintf(f, "\n");
}

static void ret_free(void *user)
{
    retrieval *R = user;
    free(R->a);
    free(R->span);
    free(R->next);
    free(R->n_span);
    free(R->n_next);
    free(R->score);
    free(R->score_next);
    free(R->rank);
    free(R->order);
    free(R);
}

probe probe_retrieval(const probe_geom *g)
{
    retrieval *R = pb_calloc(1, sizeof *R);
    R->g = *g;
    size_t nh = (size_t)g->n_layer * g->n_head;
    R->a = pb_calloc((size_t)g->n_windows, sizeof *R->a);
    R->span = pb_calloc(nh, sizeof *R->span);
    R->next = pb_calloc(nh, sizeof *R->next);
    R->n_span = pb_calloc(nh, sizeof *R->n_span);
    R->n_next = pb_calloc(nh, sizeof *R->n_next);
    R->score = pb_calloc(nh, sizeof *R->score);
    R->score_next = pb_calloc(nh, sizeof *R->score_next);
    R->rank = pb_calloc(nh, sizeof *R->rank);
    R->order = pb_calloc(nh, sizeof *R->order);
    R->res = (probe_heads){.n_layer = g->n_layer, .n_head = g->n_head, .score = R->score,
                           .score_next = R->score_next, .rank = R->rank};
    return (probe){.name = "retrieval", .st = R, .obs = {R, NULL, ret_rows, ret_want, 1}, .doc = ret_doc,
                   .window_begin = ret_begin, .store = ret_store, .print = ret_print, .heads = ret_heads,
                   .free = ret_free};
}
