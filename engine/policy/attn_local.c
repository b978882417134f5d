/* attn_local.c — the local policy (StreamingLLM): a query at position p
 * attends the sinks 0 .. S-1 and the window p-W+1 .. p, nothing else.
 *
 * It serves `streaming` (every head) and the non-retrieval heads of `duo`
 * and `rtpurbo`. It reads keys only through the call's spans, so it runs on
 * a ring of S + W entries (forward.c) as on a full cache, with the same
 * bits (sparse_attend gathers the positions in order either way).
 * Density per query: (min(S, p+1) + positions of the window ≥ S) / (p+1).
 */
#include "policy/attn_sparse.h"

typedef struct {
    int sink, window;
    sparse_work *w;
} local_state;

static long long local_run(const attn_policy *self, const attn_call *c, const attn_observer *obs, float *scratch)
{
    local_state *st = self->state;
    long long kept = 0;
    for (int i0 = 0; i0 < c->n_q; i0 += ATTN_QBLOCK) {
        int b = c->n_q - i0 < ATTN_QBLOCK ? c->n_q - i0 : ATTN_QBLOCK;
        row_sets *rs = &st->w->sets;
        rows_begin(rs);
        for (int i = 0; i < b; i++) {
            int p = c->q_pos0 + i0 + i;
            rows_add(rs, 0, st->sink < p + 1 ? st->sink : p + 1);
            int lo = p - st->window + 1 > st->sink ? p - st->window + 1 : st->sink;
            rows_add(rs, lo, p + 1);
            rows_end_row(rs);
        }
        kept += sparse_attend(c, i0, st->w, obs, scratch);
    }
    return kept;
}

static void local_destroy(attn_policy *self)
{
    local_state *st = self->state;
    sparse_work_free(st->w);
    free(st);
    free(self);
}

attn_policy *attn_local_new(const plan *p, int n_ctx)
{
    PB_CHECK(p->prm.window >= 1 && p->prm.sink >= 0, "local policy needs window >= 1, sink >= 0");
    local_state *st = pb_calloc(1, sizeof *st);
    st->sink = p->prm.sink;
    st->window = p->prm.window;
    st->w = sparse_work_new(n_ctx, p->head_dim);
    attn_policy *pol = pb_calloc(1, sizeof *pol);
    *pol = (attn_policy){.name = "local", .run = local_run, .destroy = local_destroy, .state = st,
                         .desc = {.kind = ATTN_LOCAL, .sink = st->sink, .window = st->window}};
    return pol;
}
