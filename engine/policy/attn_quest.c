/* attn_quest.c — the Quest policy (query-aware page selection, decode).
 *
 * Keys are grouped in pages of P positions; for every page the policy keeps
 * the element-wise min and max of its post-RoPE keys (per layer and KV head,
 * updated as keys arrive). A decoding query q scores page u by the upper
 * bound of q·k over the page, U_u = sum_d max(q_d·min_ud, q_d·max_ud), keeps
 * the k pages of largest bound (k = ceil(budget / P)) plus the current
 * page, and attends exactly over them.
 *
 * Quest accelerates decode only: a call with more than one query (prefill)
 * runs dense attention, and its density counts as dense.
 */
#include "policy/attn_sparse.h"

#include <string.h>

typedef struct {
    int page, k_pages, n_head, n_head_kv, d, n_pages, n_kv;
    int *leader;            /* [n_layer * n_head_kv] query head that updates the bounds, -1: none */
    float **lo, **hi;       /* [n_layer * n_head_kv] (n_pages, d) key min / max, NULL: unused */
    sparse_work *w;
} quest_state;

static void quest_append(const attn_policy *self, int layer, int head, int kv_head, int pos0, int n,
                         const float *k_pre, const float *k, int ld)
{
    (void)k_pre;
    quest_state *st = self->state;
    int i = layer * st->n_head_kv + kv_head;
    if (st->leader[i] != head) return;
    for (int t = 0; t < n; t++) {
        int p = pos0 + t;
        float *mn = st->lo[i] + (size_t)(p / st->page) * st->d, *mx = st->hi[i] + (size_t)(p / st->page) * st->d;
        const float *kr = k + (size_t)t * ld;
        if (p % st->page == 0) {
            memcpy(mn, kr, (size_t)st->d * sizeof(float));
            memcpy(mx, kr, (size_t)st->d * sizeof(float));
            continue;
        }
        for (int j = 0; j < st->d; j++) {
            mn[j] = kr[j] < mn[j] ? kr[j] : mn[j];
            mx[j] = kr[j] > mx[j] ? kr[j] : mx[j];
        }
    }
}

static long long quest_run(const attn_policy *self, const attn_call *c, const attn_observer *obs, float *s)
{
    if (c->n_q > 1) return attn_dense.run(&attn_dense, c, obs, s);  /* prefill: dense */
    quest_state *st = self->state;
    sparse_work *w = st->w;
    const int p = c->q_pos0, cur = p / st->page;
    const float *mn = st->lo[c->layer * st->n_head_kv + c->kv_head];
    const float *mx = st->hi[c->layer * st->n_head_kv + c->kv_head];
    for (int u = 0; u < cur; u++) {
        float ub = 0.0f;
        for (int j = 0; j < st->d; j++) {
            float a = c->q[j] * mn[(size_t)u * st->d + j], b = c->q[j] * mx[(size_t)u * st->d + j];
            ub += a > b ? a : b;
        }
        w->mass[u] = ub;
    }
    memset(w->keep, 0, (size_t)cur + 1);
    w->keep[cur] = 1;
    select_topk(w->mass, cur, st->k_pages, w->keep, w->order);
    rows_begin(&w->sets);
    rows_add_units(&w->sets, w->keep, cur + 1, st->page, p);
    rows_end_row(&w->sets);
    return sparse_attend(c, 0, w, obs, s);
}

static void quest_destroy(attn_policy *self)
{
    quest_state *st = self->state;
    for (int i = 0; i < st->n_kv; i++) {
        free(st->lo[i]);
        free(st->hi[i]);
    }
    free(st->lo);
    free(st->hi);
    free(st->leader);
    sparse_work_free(st->w);
    free(st);
    free(self);
}

attn_policy *attn_quest_new(const plan *p, int n_ctx)
{
    PB_CHECK(p->prm.page >= 1, "quest page %d", p->prm.page);
    quest_state *st = pb_calloc(1, sizeof *st);
    st->page = p->prm.page;
    st->k_pages = (p->prm.budget + p->prm.page - 1) / p->prm.page;
    st->n_head = p->n_head;
    st->n_head_kv = p->n_head_kv;
    st->d = p->head_dim;
    st->n_pages = (n_ctx + st->page - 1) / st->page;
    int nkv = st->n_kv = p->n_layer * p->n_head_kv, group = p->n_head / p->n_head_kv;
    st->leader = pb_malloc((size_t)nkv * sizeof(int));
    st->lo = pb_calloc((size_t)nkv, sizeof(float *));
    st->hi = pb_calloc((size_t)nkv, sizeof(float *));
    for (int i = 0; i < nkv; i++) {
        st->leader[i] = -1;
        int l = i / p->n_head_kv, g = i % p->n_head_kv;
        for (int h = g * group; h < (g + 1) * group && st->leader[i] < 0; h++)
            if (p->kind[l * p->n_head + h] == HEAD_QUEST) st->leader[i] = h;
        if (st->leader[i] < 0) continue;
        st->lo[i] = pb_malloc((size_t)st->n_pages * st->d * sizeof(float));
        st->hi[i] = pb_malloc((size_t)st->n_pages * st->d * sizeof(float));
    }
    st->w = sparse_work_new(n_ctx, st->d);
    attn_policy *pol = pb_calloc(1, sizeof *pol);
    *pol = (attn_policy){.name = "quest", .run = quest_run, .on_append = quest_append, .destroy = quest_destroy,
                         .state = st, .desc = {.kind = ATTN_QUEST, .page = st->page, .k_units = st->k_pages}};
    return pol;
}
