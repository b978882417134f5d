/* attn_sparse.c — exact attention over per-row position sets, and block
 * selection, shared by the sparse policies (attn_sparse.h).
 *
 * sparse_attend for a block of b query rows:
 *   U      = union of the rows' positions, ascending (nu positions)
 *   Kg, Vg = (nu, d) rows of U gathered from the spans
 *   S      = scale · Q_blk Kg^T (BLAS), (b, nu)
 *   row i  : columns outside the row's set → −inf, softmax, then exactly 0
 *   O_blk  = P Vg (BLAS)
 * The gather makes the result independent of where keys are stored.
 *
 * select_attend is the selectors' shared row loop: the scorer is the only
 * thing an oracle and rtpurbo do differently.
 */
#include "policy/attn_sparse.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "kernels/ops.h"

sparse_work *sparse_work_new(int n_ctx, int d)
{
    sparse_work *w = pb_calloc(1, sizeof *w);
    w->n_ctx = n_ctx;
    w->d = d;
    w->kg = pb_malloc((size_t)n_ctx * d * sizeof(float));
    w->vg = pb_malloc((size_t)n_ctx * d * sizeof(float));
    w->col = pb_malloc((size_t)n_ctx * sizeof(int));
    w->mark = pb_malloc((size_t)n_ctx);
    w->mass = pb_malloc((size_t)n_ctx * sizeof(float));
    w->order = pb_malloc((size_t)n_ctx * sizeof(unit_score));
    w->keep = pb_malloc((size_t)n_ctx);
    return w;
}

void sparse_work_free(sparse_work *w)
{
    if (!w) return;
    free(w->kg);
    free(w->vg);
    free(w->col);
    free(w->mark);
    free(w->rows);
    free(w->mass);
    free(w->order);
    free(w->keep);
    free(w->sets.r);
    free(w);
}

void rows_begin(row_sets *rs)
{
    rs->n_rows = 0;
    rs->n = 0;
    rs->off[0] = 0;
}

void rows_add(row_sets *rs, int lo, int hi)
{
    if (lo >= hi) return;
    if (rs->n > rs->off[rs->n_rows] && rs->r[rs->n - 1].hi == lo) {
        rs->r[rs->n - 1].hi = hi;
        return;
    }
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? 2 * rs->cap : 256;
        rs->r = pb_realloc(rs->r, (size_t)rs->cap * sizeof *rs->r);
    }
    rs->r[rs->n++] = (pos_range){lo, hi};
}

void rows_end_row(row_sets *rs)
{
    PB_CHECK(rs->n_rows < ATTN_QBLOCK, "more than %d rows in a block", ATTN_QBLOCK);
    rs->off[++rs->n_rows] = rs->n;
}

void rows_add_units(row_sets *rs, const unsigned char *keep, int n_units, int g, int qpos)
{
    for (int u = 0; u < n_units; u++) {
        if (!keep[u]) continue;
        int hi = (u + 1) * g < qpos + 1 ? (u + 1) * g : qpos + 1;
        rows_add(rs, u * g, hi);
    }
}

/* Sets the columns of row (nu wide) outside ranges r[0..nr) to val. */
static void mask_row(float *row, int nu, const pos_range *r, int nr, const int *col, float val)
{
    int c0 = 0;
    for (int e = 0; e < nr; e++) {
        for (int j = c0; j < col[r[e].lo]; j++) row[j] = val;
        c0 = col[r[e].hi - 1] + 1;
    }
    for (int j = c0; j < nu; j++) row[j] = val;
}

void gather_keys(const attn_call *c, int lo, int hi, float *out)
{
    int sp = 0;
    for (int p = lo; p < hi; p++) {
        while (sp < c->n_span && p >= c->span[sp].pos + c->span[sp].n) sp++;
        PB_CHECK(sp < c->n_span && p >= c->span[sp].pos, "position %d is not stored (layer %d head %d)", p,
                 c->layer, c->head);
        const attn_span *a = &c->span[sp];
        memcpy(out + (size_t)(p - lo) * c->d, a->k + (size_t)(p - a->pos) * a->ld, (size_t)c->d * sizeof(float));
    }
}

long long sparse_attend(const attn_call *c, int i0, sparse_work *w, const attn_observer *obs, float *s)
{
    const row_sets *rs = &w->sets;
    const int b = rs->n_rows, d = c->d, kv_end = c->q_pos0 + i0 + b;
    long long kept = 0;
    memset(w->mark, 0, (size_t)kv_end);
    for (int i = 0; i < b; i++) {
        PB_CHECK(rs->off[i + 1] > rs->off[i], "query %d attends nothing", c->q_pos0 + i0 + i);
        for (int e = rs->off[i]; e < rs->off[i + 1]; e++) {
            pos_range r = rs->r[e];
            PB_CHECK(r.lo >= 0 && r.lo < r.hi && r.hi <= c->q_pos0 + i0 + i + 1, "bad range [%d, %d) for query %d",
                     r.lo, r.hi, c->q_pos0 + i0 + i);
            memset(w->mark + r.lo, 1, (size_t)(r.hi - r.lo));
            kept += r.hi - r.lo;
        }
    }
    /* gather the union in position order */
    int nu = 0, sp = 0;
    for (int p = 0; p < kv_end; p++) {
        if (!w->mark[p]) continue;
        while (sp < c->n_span && p >= c->span[sp].pos + c->span[sp].n) sp++;
        PB_CHECK(sp < c->n_span && p >= c->span[sp].pos, "position %d is not stored (layer %d head %d)", p,
                 c->layer, c->head);
        const attn_span *a = &c->span[sp];
        memcpy(w->kg + (size_t)nu * d, a->k + (size_t)(p - a->pos) * a->ld, (size_t)d * sizeof(float));
        memcpy(w->vg + (size_t)nu * d, a->v + (size_t)(p - a->pos) * a->ld, (size_t)d * sizeof(float));
        w->col[p] = nu++;
    }
    const float *qb = c->q + (long)i0 * c->ldq;
    /* S (b, nu) = scale * Q_blk Kg^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, nu, d, c->scale, qb, c->ldq, w->kg, d, 0.0f, s, nu);
    for (int i = 0; i < b; i++) {
        float *row = s + (long)i * nu;
        const pos_range *r = rs->r + rs->off[i];
        int nr = rs->off[i + 1] - rs->off[i];
        mask_row(row, nu, r, nr, w->col, -INFINITY);
        cpu_softmax_rows(row, 1, nu);
        mask_row(row, nu, r, nr, w->col, 0.0f);
    }
    if (obs && obs->on_rows) {
        if (!w->rows) w->rows = pb_malloc((size_t)ATTN_QBLOCK * w->n_ctx * sizeof(float));
        memset(w->rows, 0, (size_t)b * kv_end * sizeof(float));
        for (int i = 0; i < b; i++)
            for (int e = rs->off[i]; e < rs->off[i + 1]; e++)
                for (int p = rs->r[e].lo; p < rs->r[e].hi; p++)
                    w->rows[(long)i * kv_end + p] = s[(long)i * nu + w->col[p]];
        attn_call sub = *c;
        sub.q_pos0 = c->q_pos0 + i0;
        sub.n_q = b;
        sub.n_kv = kv_end;
        sub.q = qb;
        sub.q_pre = c->q_pre + (long)i0 * c->ldq_pre;
        sub.out = c->out + (long)i0 * c->ldo;
        obs->on_rows(obs->user, &sub, w->rows, kv_end);
    }
    /* O_blk (b, d) = P Vg */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, d, nu, 1.0f, s, nu, w->vg, d, 0.0f,
                c->out + (long)i0 * c->ldo, c->ldo);
    return kept;
}

static int by_mass(const void *a, const void *b)
{
    const unit_score *x = a, *y = b;
    if (x->m != y->m) return x->m > y->m ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static void sort_units(const float *mass, int n, unit_score *order)
{
    for (int i = 0; i < n; i++) order[i] = (unit_score){mass[i], i};
    qsort(order, (size_t)n, sizeof *order, by_mass);
}

void select_topp(const float *mass, int n, double p, unsigned char *keep, unit_score *order)
{
    if (p >= 1.0) {  /* every block has mass > 0 in exact arithmetic: keep all, whatever the rounding */
        memset(keep, 1, (size_t)n);
        return;
    }
    sort_units(mass, n, order);
    double cum = 0.0;
    for (int i = 0; i < n; i++) {
        keep[order[i].i] = 1;
        cum += order[i].m;
        if (cum >= p) break;
    }
}

void select_topk(const float *mass, int n, int k, unsigned char *keep, unit_score *order)
{
    sort_units(mass, n, order);
    for (int i = 0; i < n && k > 0; i++)
        if (!keep[order[i].i]) {
            keep[order[i].i] = 1;
            k--;
        }
}

void select_rtpurbo(const float *mass, int n, const plan_params *prm, unsigned char *keep, unit_score *order)
{
    if (n <= 0) return;
    int before = 0, after = 0;
    for (int u = 0; u < n; u++) before += keep[u];
    select_topp(mass, n, prm->p, keep, order);
    for (int u = 0; u < n; u++) after += keep[u];
    if (after - before < prm->kmin) select_topk(mass, n, prm->kmin - (after - before), keep, order);
}

void keep_forced(unsigned char *keep, int g, int qpos, const plan_params *prm)
{
    int n = qpos / g + 1;
    memset(keep, 0, (size_t)n);
    int sink_end = prm->sink < qpos + 1 ? prm->sink : qpos + 1;
    for (int u = 0; u * g < sink_end; u++) keep[u] = 1;
    if (prm->local > 0) {
        int lo = qpos - prm->local + 1 > 0 ? qpos - prm->local + 1 : 0;
        for (int u = lo / g; u < n; u++) keep[u] = 1;
    }
}

void forced_middle(int g, int qpos, const plan_params *prm, int *lo, int *hi)
{
    int sink_end = prm->sink < qpos + 1 ? prm->sink : qpos + 1;
    int a = (sink_end + g - 1) / g * g, b = qpos + 1;
    if (prm->local > 0) {
        int l = qpos - prm->local + 1 > 0 ? qpos - prm->local + 1 : 0;
        b = l / g * g;
    }
    if (a > qpos + 1) a = qpos + 1;
    *lo = a;
    *hi = b > a ? b : a;
}

void pool_softmax(float *s, int n, int g, float *mass)
{
    cpu_softmax_rows(s, 1, n);
    for (int u = 0; u * g < n; u++) {
        float m = 0.0f;
        int hi = (u + 1) * g < n ? (u + 1) * g : n;
        for (int j = u * g; j < hi; j++) m += s[j];
        mass[u] = m;
    }
}

attn_desc sparse_desc(const plan_params *prm, int kind)
{
    return (attn_desc){.kind = kind, .sink = prm->sink, .block = prm->block, .local = prm->local, .p = prm->p,
                       .kmin = prm->kmin, .k_units = (prm->budget + prm->block - 1) / prm->block};
}

long long select_attend(const attn_call *c, sparse_work *w, const plan_params *prm, int select, int k_units,
                        block_scorer score, void *user, const attn_observer *obs, float *s)
{
    const int g = prm->block;
    long long kept = 0;
    for (int i0 = 0; i0 < c->n_q; i0 += ATTN_QBLOCK) {
        int b = c->n_q - i0 < ATTN_QBLOCK ? c->n_q - i0 : ATTN_QBLOCK;
        int kv_end = c->q_pos0 + i0 + b;
        score(user, c, i0, b, s);
        rows_begin(&w->sets);
        for (int i = 0; i < b; i++) {
            int p = c->q_pos0 + i0 + i, nu = p / g + 1;
            pool_softmax(s + (long)i * kv_end, p + 1, g, w->mass);
            keep_forced(w->keep, g, p, prm);
            if (select == SELECT_TOPP) select_topp(w->mass, nu, prm->p, w->keep, w->order);
            else if (select == SELECT_RTPURBO) select_rtpurbo(w->mass, nu, prm, w->keep, w->order);
            else select_topk(w->mass, nu, k_units, w->keep, w->order);
            rows_add_units(&w->sets, w->keep, nu, g, p);
            rows_end_row(&w->sets);
        }
        kept += sparse_attend(c, i0, w, obs, s);
    }
    return kept;
}
