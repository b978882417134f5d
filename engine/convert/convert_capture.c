/* convert_capture.c — the converter's calibration capture: what the
 * indexer training of every retrieval head needs, taken from the dense
 * passes the conversion runs anyway (probes, probe.h).
 *
 * Two sources, two phases:
 *   documents  (phase 1, before the heads are known) — the retrieval
 *              probe's own documents (a 64-token span placed twice): a tee
 *              probe runs the retrieval probe and keeps every KV head's
 *              pre-RoPE keys and every query head's pre-RoPE queries at
 *              `doc_queries` positions: the 64 of the second copy, where
 *              retrieval heads copy from far back, and the rest drawn from
 *              [n_ctx/8, n_ctx - 64). These documents join the training
 *              set: calibration text alone has few long-range copies, the
 *              behaviour retrieval heads are kept for. A second probe
 *              (the locality probe) may see the same rows, so the head
 *              split can use both before phase 2.
 *   windows    (phase 2, the calibration pass, shared with the locality
 *              probe) — windows 0 .. n_train-1 train, the next n_eval
 *              evaluate. Per retrieval query head x (KV head g): every
 *              pre-RoPE key of g, and the queries of x at `queries`
 *              positions per window, drawn without replacement from
 *              [n_ctx/8, n_ctx) for training and [n_ctx/2, n_ctx) for
 *              evaluation (queries that see at least half the window, as
 *              the locality probe measures); and the moments of the PCA/SVD
 *              initialisation (indexer.h): q q^T of x, k and k k^T of g
 *              over every position of the training windows.
 * Training set of x: the n_train windows, then the documents; evaluation
 * set: the n_eval windows. Teacher rows are computed later, one head at a
 * time (kd_set_teacher), so the capture holds only q and k.
 */
#include "convert/convert_run.h"

#include <string.h>

#include "base/rng.h"

enum { SPAN = 64 }; /* the retrieval probe's span: its second copy ends each document */

struct convert_capture {
    model_config c;
    int n_ctx, n_train, n_eval, queries;
    uint64_t seed;
    int cur;                    /* window or document being run */
    /* phase 1: documents */
    probe inner;                /* the retrieval probe the tee runs */
    probe also;                 /* a probe of the calibration kind (locality) fed the same rows, or name NULL */
    int n_docs, doc_q;
    int *doc_pos;               /* (n_docs, doc_q) sorted query positions */
    float *dk;                  /* (n_docs, n_layer, n_head_kv, n_ctx, d) every key */
    float *dq;                  /* (n_docs, n_layer, doc_q, n_head, d) queries at doc_pos */
    /* phase 2: windows */
    const unsigned char *retr;  /* [n_layer * n_head] */
    kd_set *tr, *ev;            /* [n_layer * n_head], used for retrieval heads */
    indexer_moments *mq;        /* [n_layer * n_head] */
    indexer_moments *mk;        /* [n_layer * n_head_kv] */
    int *qa;                    /* [n_train + n_eval + 1] first query of each window, over both sets */
};

/* n distinct sorted positions from [lo, hi) into out, seeded. */
static void draw_positions(int *out, int n, int lo, int hi, uint64_t seed)
{
    int span = hi - lo, *all = pb_malloc((size_t)span * sizeof(int));
    for (int i = 0; i < span; i++) all[i] = lo + i;
    pb_rng r = {seed};
    for (int i = 0; i < n; i++) {
        int j = i + (int)rng_below(&r, (uint64_t)(span - i)), t = all[i];
        all[i] = all[j];
        all[j] = t;
    }
    for (int i = 0; i < n; i++) { /* insertion sort of the n drawn (a few hundred) */
        int v = all[i], j = i;
        while (j > 0 && out[j - 1] > v) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = v;
    }
    free(all);
}

convert_capture *convert_capture_new(const model_config *c, int n_ctx, int n_train, int n_eval, int queries,
                                     uint64_t seed)
{
    PB_CHECK(n_train >= 1 && n_eval >= 1 && queries >= 1 && queries <= n_ctx / 2 && n_ctx >= 4 * SPAN,
             "capture: %d+%d windows of %d, %d queries", n_train, n_eval, n_ctx, queries);
    convert_capture *cc = pb_calloc(1, sizeof *cc);
    cc->c = *c;
    cc->n_ctx = n_ctx;
    cc->n_train = n_train;
    cc->n_eval = n_eval;
    cc->queries = queries;
    cc->seed = seed;
    return cc;
}

/* ---- phase 1: the tee around the retrieval probe ---- */

static void doc_doc(void *user, const calib *c, uint64_t seed, int w, int *ids)
{
    convert_capture *cc = user;
    cc->inner.doc(cc->inner.st, c, seed, w, ids);
}

static void doc_begin(void *user, int w)
{
    convert_capture *cc = user;
    cc->cur = w;
    if (cc->inner.window_begin) cc->inner.window_begin(cc->inner.st, w);
    if (cc->also.name && cc->also.window_begin) cc->also.window_begin(cc->also.st, w);
}

static void doc_end(void *user, int w)
{
    convert_capture *cc = user;
    if (cc->inner.window_end) cc->inner.window_end(cc->inner.st, w);
    if (cc->also.name && cc->also.window_end) cc->also.window_end(cc->also.st, w);
}

static void doc_qk(void *user, int layer, int pos0, int n, const float *q, const float *k)
{
    convert_capture *cc = user;
    const int H = cc->c.n_head, HKV = cc->c.n_head_kv, d = cc->c.head_dim, L = cc->c.n_layer, w = cc->cur;
    if (cc->inner.obs.on_qk) cc->inner.obs.on_qk(cc->inner.st, layer, pos0, n, q, k);
    if (cc->also.name && cc->also.obs.on_qk) cc->also.obs.on_qk(cc->also.st, layer, pos0, n, q, k);
    for (int g = 0; g < HKV; g++)
        for (int t = 0; t < n; t++)
            memcpy(cc->dk + ((((size_t)w * L + layer) * HKV + g) * cc->n_ctx + pos0 + t) * d,
                   k + ((size_t)t * HKV + g) * d, d * sizeof(float));
    const int *pos = cc->doc_pos + (size_t)w * cc->doc_q;
    for (int i = 0; i < cc->doc_q; i++)
        if (pos[i] >= pos0 && pos[i] < pos0 + n)
            memcpy(cc->dq + (((size_t)w * L + layer) * cc->doc_q + i) * H * d, q + (size_t)(pos[i] - pos0) * H * d,
                   (size_t)H * d * sizeof(float));
}

static void doc_rows(void *user, const attn_call *c, const float *p, int ldp)
{
    convert_capture *cc = user;
    if (cc->inner.obs.on_rows) cc->inner.obs.on_rows(cc->inner.st, c, p, ldp);
    if (cc->also.name && cc->also.obs.on_rows) cc->also.obs.on_rows(cc->also.st, c, p, ldp);
}

static int doc_want(void *user, int layer, int q_pos0, int n_q)
{
    convert_capture *cc = user;
    return !cc->inner.obs.want_rows || cc->inner.obs.want_rows(cc->inner.st, layer, q_pos0, n_q);
}

static void doc_store(void *user, pb_db *db, const probe_case_info *ci)
{
    convert_capture *cc = user;
    cc->inner.store(cc->inner.st, db, ci);
    if (cc->also.name) cc->also.store(cc->also.st, db, ci);
}

static void doc_print(void *user, FILE *f)
{
    convert_capture *cc = user;
    cc->inner.print(cc->inner.st, f);
    if (cc->also.name) cc->also.print(cc->also.st, f);
}

static const probe_heads *doc_heads(void *user)
{
    convert_capture *cc = user;
    return cc->inner.heads ? cc->inner.heads(cc->inner.st) : NULL;
}

static void doc_free(void *user) { (void)user; /* the caller frees the inner probe and the capture */ }

probe convert_capture_docs(convert_capture *cc, const probe *retrieval, const probe *also, int n_docs,
                           int doc_queries)
{
    const model_config *c = &cc->c;
    PB_CHECK(!also || !also->doc, "capture_docs: %s builds its own documents", also ? also->name : "");
    if (also) cc->also = *also;
    PB_CHECK(retrieval->doc && n_docs >= 1 && doc_queries > SPAN && doc_queries - SPAN <= cc->n_ctx - SPAN - cc->n_ctx / 8,
             "capture_docs: %d documents, %d queries", n_docs, doc_queries);
    cc->inner = *retrieval;
    cc->n_docs = n_docs;
    cc->doc_q = doc_queries;
    cc->doc_pos = pb_malloc((size_t)n_docs * doc_queries * sizeof(int));
    for (int w = 0; w < n_docs; w++) {
        int *pos = cc->doc_pos + (size_t)w * doc_queries, nr = doc_queries - SPAN;
        draw_positions(pos, nr, cc->n_ctx / 8, cc->n_ctx - SPAN, cc->seed * 0x9e3779b97f4a7c15ull + 0xd0c + (uint64_t)w);
        for (int i = 0; i < SPAN; i++) pos[nr + i] = cc->n_ctx - SPAN + i;
    }
    cc->dk = pb_malloc((size_t)n_docs * c->n_layer * c->n_head_kv * cc->n_ctx * c->head_dim * sizeof(float));
    cc->dq = pb_malloc((size_t)n_docs * c->n_layer * doc_queries * c->n_head * c->head_dim * sizeof(float));
    return (probe){.name = retrieval->name, .st = cc,
                   .obs = {cc, doc_qk, doc_rows, doc_want, retrieval->obs.parallel_heads}, .doc = doc_doc,
                   .window_begin = doc_begin, .window_end = doc_end, .store = doc_store, .print = doc_print,
                   .heads = doc_heads, .free = doc_free};
}

/* ---- phase 2: the calibration windows ---- */

static void cap_begin(void *user, int w) { ((convert_capture *)user)->cur = w; }

static void cap_qk(void *user, int layer, int pos0, int n, const float *q, const float *k)
{
    convert_capture *cc = user;
    const int H = cc->c.n_head, HKV = cc->c.n_head_kv, d = cc->c.head_dim, w = cc->cur;
    const int train = w < cc->n_train, lw = train ? w : w - cc->n_train;
    for (int h = 0; h < H; h++) {
        int x = layer * H + h, g = h / (H / HKV);
        if (!cc->retr[x]) continue;
        kd_set *s = train ? &cc->tr[x] : &cc->ev[x];
        for (int t = 0; t < n; t++)
            memcpy(s->k + ((size_t)lw * cc->n_ctx + pos0 + t) * d, k + ((size_t)t * HKV + g) * d, d * sizeof(float));
        for (int i = cc->qa[w]; i < cc->qa[w + 1]; i++) {
            int j = i - (train ? 0 : cc->qa[cc->n_train]), p = s->q_pos[j];
            if (p >= pos0 && p < pos0 + n)
                memcpy(s->q + (size_t)j * d, q + ((size_t)(p - pos0) * H + h) * d, d * sizeof(float));
        }
        if (train) indexer_moments_add_q(&cc->mq[x], q + (size_t)h * d, n, H * d);
    }
    if (!train) return;
    for (int g = 0; g < HKV; g++)
        if (cc->mk[layer * HKV + g].d) indexer_moments_add_k(&cc->mk[layer * HKV + g], k + (size_t)g * d, n, HKV * d);
}

static void cap_store(void *user, pb_db *db, const probe_case_info *ci)
{
    (void)user, (void)db, (void)ci; /* the converter reports per head, after training */
}

static void cap_print(void *user, FILE *f) { (void)user, (void)f; }
static void cap_free(void *user) { (void)user; /* convert_capture_free, once the sets are used */ }

/* Copies document w's keys of x's KV head and x's queries into the set's
 * window n_train + w and its queries from q0. */
static void fill_doc(convert_capture *cc, int x, kd_set *s, int w, int q0)
{
    const int H = cc->c.n_head, HKV = cc->c.n_head_kv, d = cc->c.head_dim, L = cc->c.n_layer;
    const int layer = x / H, h = x % H, g = h / (H / HKV);
    memcpy(s->k + (size_t)(cc->n_train + w) * cc->n_ctx * d,
           cc->dk + (((size_t)w * L + layer) * HKV + g) * cc->n_ctx * d, (size_t)cc->n_ctx * d * sizeof(float));
    for (int i = 0; i < cc->doc_q; i++) {
        s->q_win[q0 + i] = cc->n_train + w;
        s->q_pos[q0 + i] = cc->doc_pos[(size_t)w * cc->doc_q + i];
        memcpy(s->q + (size_t)(q0 + i) * d, cc->dq + ((((size_t)w * L + layer) * cc->doc_q + i) * H + h) * d,
               d * sizeof(float));
    }
}

probe convert_capture_windows(convert_capture *cc, const unsigned char *retr)
{
    const model_config *c = &cc->c;
    const int nh = c->n_layer * c->n_head, H = c->n_head, HKV = c->n_head_kv, nw = cc->n_train + cc->n_eval;
    const int queries = cc->queries, n_tq = cc->n_train * queries;
    cc->retr = retr;
    cc->tr = pb_calloc((size_t)nh, sizeof(kd_set));
    cc->ev = pb_calloc((size_t)nh, sizeof(kd_set));
    cc->mq = pb_calloc((size_t)nh, sizeof(indexer_moments));
    cc->mk = pb_calloc((size_t)c->n_layer * HKV, sizeof(indexer_moments));
    cc->qa = pb_malloc((size_t)(nw + 1) * sizeof(int));
    for (int w = 0; w <= nw; w++) cc->qa[w] = w * queries;
    int *pos = pb_malloc((size_t)nw * queries * sizeof(int));
    for (int w = 0; w < nw; w++)
        draw_positions(pos + (size_t)w * queries, queries, w < cc->n_train ? cc->n_ctx / 8 : cc->n_ctx / 2, cc->n_ctx,
                       cc->seed * 0x9e3779b97f4a7c15ull + 0x51ce + (uint64_t)w);
    for (int x = 0; x < nh; x++) {
        if (!retr[x]) continue;
        kd_set_init(&cc->tr[x], c->head_dim, cc->n_train + cc->n_docs, cc->n_ctx, n_tq + cc->n_docs * cc->doc_q);
        kd_set_init(&cc->ev[x], c->head_dim, cc->n_eval, cc->n_ctx, cc->n_eval * queries);
        for (int i = 0; i < nw * queries; i++) {
            kd_set *s = i < n_tq ? &cc->tr[x] : &cc->ev[x];
            int j = i < n_tq ? i : i - n_tq;
            s->q_win[j] = i / queries - (i < n_tq ? 0 : cc->n_train);
            s->q_pos[j] = pos[i];
        }
        for (int w = 0; w < cc->n_docs; w++) fill_doc(cc, x, &cc->tr[x], w, n_tq + w * cc->doc_q);
        indexer_moments_init(&cc->mq[x], c->head_dim);
        int kv = (x / H) * HKV + (x % H) / (H / HKV);
        if (!cc->mk[kv].d) indexer_moments_init(&cc->mk[kv], c->head_dim);
    }
    free(pos);
    free(cc->dk);
    free(cc->dq);
    cc->dk = cc->dq = NULL;
    return (probe){.name = "convert-capture", .st = cc, .obs = {cc, cap_qk, NULL, NULL, 0}, .window_begin = cap_begin,
                   .store = cap_store, .print = cap_print, .free = cap_free};
}

void convert_capture_free(convert_capture *cc)
{
    const int nh = cc->c.n_layer * cc->c.n_head;
    for (int x = 0; cc->retr && x < nh; x++) {
        if (!cc->retr[x]) continue;
        kd_set_free(&cc->tr[x]);
        kd_set_free(&cc->ev[x]);
        indexer_moments_free(&cc->mq[x]);
    }
    for (int i = 0; cc->mk && i < cc->c.n_layer * cc->c.n_head_kv; i++) indexer_moments_free(&cc->mk[i]);
    free(cc->tr);
    free(cc->ev);
    free(cc->mq);
    free(cc->mk);
    free(cc->qa);
    free(cc->doc_pos);
    free(cc->dk);
    free(cc->dq);
    free(cc);
}

kd_set *convert_capture_set(convert_capture *cc, int head, int eval)
{
    PB_CHECK(cc->retr && cc->retr[head], "head %d was not captured", head);
    return eval ? &cc->ev[head] : &cc->tr[head];
}

void convert_capture_pca(const convert_capture *cc, int head, int r, const unsigned char *dims, float *wq, float *wk)
{
    const int H = cc->c.n_head, HKV = cc->c.n_head_kv;
    int kv = (head / H) * HKV + (head % H) / (H / HKV);
    indexer_fit_dims(&cc->mq[head], &cc->mk[kv], r, dims, wq, wk);
}
