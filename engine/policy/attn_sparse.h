/* attn_sparse.h — what the sparse policies (engine/policy/attn_*.c) share: sets of
 * key positions per query row, exact attention restricted to them, and the
 * top-p / top-k block selection. Private to the policies, the factory (policy.c)
 * and the converter, which trains on the same selection.
 *
 * A policy works on blocks of at most ATTN_QBLOCK query rows: it decides,
 * for each row, the positions the row attends (ascending ranges, causal),
 * then sparse_attend computes exact softmax attention over exactly those
 * positions. sparse_attend gathers the union of the rows' positions into a
 * contiguous buffer in position order, whatever the storage (full cache or
 * ring), so a ring and a full cache give bit-identical outputs.
 */
#ifndef PURBO_ATTN_SPARSE_H
#define PURBO_ATTN_SPARSE_H

#include "run/attention.h"
#include "policy/plan.h"

typedef struct {
    int lo, hi;     /* positions lo .. hi-1 */
} pos_range;

/* Per-row position sets of one query block. Row i's ranges are
 * r[off[i] .. off[i+1]), ascending and disjoint. */
typedef struct {
    int n_rows;
    int off[ATTN_QBLOCK + 1];
    pos_range *r;
    int n, cap;
} row_sets;

/* A unit (block or page) and its pooled mass or score, for sorting. */
typedef struct {
    float m;
    int i;
} unit_score;

/* Working memory of one policy for a session of n_ctx positions, head dim d. */
typedef struct {
    int n_ctx, d;
    float *kg, *vg;         /* (n_ctx, d) gathered keys and values */
    int *col;               /* [n_ctx] column of a gathered position */
    unsigned char *mark;    /* [n_ctx] position marks (union of the rows) */
    float *rows;            /* (ATTN_QBLOCK, n_ctx) dense rows for observers, allocated on demand */
    float *mass;            /* [n_ctx] pooled mass per block (or score per page) */
    unit_score *order;      /* [n_ctx] sort buffer */
    unsigned char *keep;    /* [n_ctx] kept blocks / pages */
    row_sets sets;
} sparse_work;

sparse_work *sparse_work_new(int n_ctx, int d);
void sparse_work_free(sparse_work *w);

/* row_sets building: begin, then per row: add ranges ascending, end_row. */
void rows_begin(row_sets *rs);
void rows_add(row_sets *rs, int lo, int hi);   /* merges with the row's last range when adjacent */
void rows_end_row(row_sets *rs);
/* Adds the kept units (keep[u] != 0, unit u = positions u*g .. u*g+g-1) of a
 * query at position qpos, clipped causally. */
void rows_add_units(row_sets *rs, const unsigned char *keep, int n_units, int g, int qpos);

/* Exact softmax attention of the query rows i0 .. i0 + w->sets.n_rows - 1
 * of c: row i attends exactly the positions of its set (each row at least
 * one position, none after the query). Keys and values through c->span.
 * Fills those rows of c->out, shows them to obs as dense rows, returns the
 * number of (query, key) pairs attended. scratch: attn_scratch_floats(n_ctx). */
long long sparse_attend(const attn_call *c, int i0, sparse_work *w, const attn_observer *obs, float *scratch);

/* Keys of positions lo .. hi-1 of c (through c->span) into out (hi - lo, d). */
void gather_keys(const attn_call *c, int lo, int hi, float *out);

/* Block selection for one query row. mass: [n] pooled probability per unit;
 * keep: [n] with the always-kept units already set; order: [n] scratch.
 * topp: adds the smallest set of units, taken by decreasing mass, whose
 *       mass reaches p (all units when it never does, and when p ≥ 1);
 * topk: adds the k units of largest mass among those not already kept.
 * Ties go to the lower index. */
void select_topp(const float *mass, int n, double p, unsigned char *keep, unit_score *order);
void select_topk(const float *mass, int n, int k, unsigned char *keep, unit_score *order);

/* rtpurbo's top-p on the indexer's mass: keep has the forced units set
 * (keep_forced); adds the top-p units (select_topp, p = prm->p), then, while
 * fewer than prm->kmin units were added, the next units by mass. */
void select_rtpurbo(const float *mass, int n, const plan_params *prm, unsigned char *keep, unit_score *order);

/* The units a selector always keeps for a query at qpos: those holding the
 * sink positions < prm->sink and the last prm->local positions up to qpos.
 * keep: [qpos/g + 1] (cleared first). */
void keep_forced(unsigned char *keep, int g, int qpos, const plan_params *prm);

/* The positions between keep_forced's units for a query at qpos: the
 * middle [*lo, *hi) that a selector decides about (empty when *lo == *hi).
 * Positions below *lo are in the sink units, those from *hi to qpos in the
 * local units (none when prm->local == 0). */
void forced_middle(int g, int qpos, const plan_params *prm, int *lo, int *hi);

/* Softmax of scores s[0..n) in place, pooled into units of g positions:
 * mass[u] = sum of the probabilities of positions u*g .. u*g+g-1. */
void pool_softmax(float *s, int n, int g, float *mass);

/* The selections of select_attend. */
enum { SELECT_TOPP, SELECT_TOPK, SELECT_RTPURBO };

/* A selector's scores of one query block: fills s (b, kv_end), kv_end =
 * c->q_pos0 + i0 + b, row i with the scores of query i0 + i against the
 * positions 0 .. kv_end - 1 (only those up to the query are read). */
typedef void (*block_scorer)(void *user, const attn_call *c, int i0, int b, float *s);

/* The selectors' row loop (the oracles, rtpurbo). Per block of at most
 * ATTN_QBLOCK query rows: score(user, ...) fills the scores; then per row at
 * position p: pool_softmax over 0..p into units of prm->block, keep_forced,
 * the selection (SELECT_TOPP: select_topp with prm->p; SELECT_TOPK:
 * select_topk with k_units; SELECT_RTPURBO: select_rtpurbo), the kept units
 * as the row's set; then sparse_attend. s: attn_scratch_floats(n_ctx).
 * Returns the (query, key) pairs attended. */
long long select_attend(const attn_call *c, sparse_work *w, const plan_params *prm, int select, int k_units,
                        block_scorer score, void *user, const attn_observer *obs, float *s);

/* The description (attention.h) of a selector of kind (ATTN_TOPK, ATTN_TOPP,
 * ATTN_RTPURBO, ATTN_RTPURBO_TOPK) with parameters prm: sink, block, local,
 * p, kmin and k_units = ceil(budget / block), as select_attend uses them. */
attn_desc sparse_desc(const plan_params *prm, int kind);

/* The policies (policy.c creates them; each file holds one). */
attn_policy *attn_local_new(const plan *p, int n_ctx);
attn_policy *attn_quest_new(const plan *p, int n_ctx);
attn_policy *attn_oracle_new(const plan *p, int kind, int n_ctx);
attn_policy *attn_rtpurbo_new(const plan *p, int kind, int n_ctx);

#endif
