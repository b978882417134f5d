/* attn_rows.h — the sparse attention policies' rules on the GPU, one query
 * row at a time: for every (query row, query head) the scores the rule
 * ranks by, the rule's selection, then exact softmax attention over the
 * kept keys. The CPU twins are the engine's policies (engine/policy/attn_*.c
 * and their shared row loop select_attend); tests/gpu/test_cuda_policy.c
 * compares the two on random inputs and on the model.
 *
 * A row of query position p (p = q_pos0 + i) sees keys 0 .. p. Rules:
 *   ROWS_LOCAL        keys 0 .. min(sink, p+1)-1 and max(p-window+1, sink) .. p;
 *   ROWS_QUEST        (decode) page c = p / page always; of the pages u < c the
 *                     k_units of largest bound sum_e max(q_e lo_ue, q_e hi_ue);
 *   ROWS_TOPK, _TOPP  scores scale q·k_j, softmax over 0..p pooled into units of
 *                     `block`; forced units (those holding positions < sink, and
 *                     with local > 0 those from max(p-local+1, 0) / block on);
 *                     TOPK adds the k_units heaviest other units, TOPP walks the
 *                     units by decreasing mass (ties: lower unit first) adding
 *                     each until the mass walked (forced ones included, summed in
 *                     double) reaches p; p >= 1 keeps every unit;
 *   ROWS_RTPURBO      scores scale (W_Q q_pre)·kx_j outside the forced positions
 *                     (forced_middle of attn_sparse.h), exact ones on them; TOPP,
 *                     then, when it added fewer than kmin units, TOPK for the rest;
 *   ROWS_RTPURBO_TOPK indexer scores everywhere, TOPK.
 * Keys and values are the bf16 cache; q, q_pre, index keys f32; arithmetic f32.
 * All pointers are device memory; launchers enqueue on `stream` and return 0
 * or a cudaError_t value.
 */
#ifndef PURBO_KERNELS_ATTN_ROWS_H
#define PURBO_KERNELS_ATTN_ROWS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { ROWS_LOCAL, ROWS_QUEST, ROWS_TOPK, ROWS_TOPP, ROWS_RTPURBO, ROWS_RTPURBO_TOPK };
enum { ATTN_ROWS_MAX_HEADS = 64 };

typedef struct {
    int rule;               /* ROWS_* */
    int sink, window;       /* LOCAL; sink also for the selectors' forced units */
    int block, local;       /* selectors */
    int page;               /* QUEST */
    int k_units;            /* TOPK, RTPURBO_TOPK, QUEST (and RTPURBO's floor walk) */
    int kmin;               /* RTPURBO */
    int r;                  /* RTPURBO kinds: indexer rank, 1 .. d */
    double p;               /* TOPP, RTPURBO */
} attn_rows_rule;

typedef struct {
    const float *q;         /* (n_q, n_head, d) post-RoPE */
    const float *q_pre;     /* (n_q, n_head, d) pre-RoPE (RTPURBO kinds) */
    const uint16_t *k, *v;  /* bf16, key j of KV head g at (j * n_kv_head + g) * d, j < q_pos0 + n_q;
                             * with kv_ld > 0 at (j * kv_ld + kv_slot[g]) * d instead */
    const float *wq;        /* (n_head, r, d) W_Q of the layer (RTPURBO kinds) */
    const float *kx;        /* (n_head, kx_ld, r) index keys of the layer (RTPURBO kinds); with
                             * kx_rows > 0 (kx_rows, kx_ld, r), head h's at row kx_row[h] */
    long kx_ld;
    int kx_rows;            /* 0: kx by head; else the heads keeping index keys, kx_row[h] < kx_rows */
    int kx_row[ATTN_ROWS_MAX_HEADS];
    const float *page_lo, *page_hi;  /* (n_kv_head, n_pages, d) QUEST page bounds ((kv_ld, n_pages, d)
                                      * with kv_ld > 0: KV head g's at slot kv_slot[g]) */
    int n_pages;
    uint16_t *out;          /* (n_q, n_head, d) bf16: the rows of the listed heads are written */
    unsigned long long *kept;  /* [n_head] (query, key) pairs attended, added; may be NULL */
    float *rows;            /* NULL, or (n_sel, n_q, rows_ld) probabilities over positions
                             * 0 .. q_pos0+n_q-1 (exactly 0 where a row attends nothing) */
    long rows_ld;
    int n_q, q_pos0, n_head, n_kv_head, d;   /* d 64, 128 or 256 */
    int n_sel;              /* heads run: heads[0 .. n_sel) */
    int heads[ATTN_ROWS_MAX_HEADS];
    int kv_ld;              /* 0: a cache row holds every KV head in order; else it holds kv_ld heads, KV
                             * head g (= h / (n_head / n_kv_head)) in slot kv_slot[g] (a layer whose other
                             * KV heads live elsewhere); kv_slot[g] < kv_ld for every g of a head run */
    int kv_slot[ATTN_ROWS_MAX_HEADS];
} attn_rows_args;

/* The rule over the rows of a->heads (grid: one CTA per row and head). The
 * scores of a row stay in shared memory: q_pos0 + n_q up to about 40K. */
int attn_rows_cuda(const attn_rows_rule *rule, const attn_rows_args *a, void *stream);

/* Index keys of positions pos0 .. pos0+n-1 for the heads listed:
 * kx[row(h)][pos0 + t] (r) = W_K[h] (r, d) · k_pre[t][h / group] (d), row(h)
 * = kx_row[h] (host array [n_head]), or h when kx_row is NULL.
 * kx: (rows, kx_ld, r); k_pre: (n, n_kv_head, d); wk: (n_head, r, d). */
int attn_rows_index_keys_cuda(float *kx, long kx_ld, const float *k_pre, const float *wk, int pos0, int n,
                              int n_head, int n_kv_head, int d, int r, const int *heads, int n_sel,
                              const int *kx_row, void *stream);

/* Quest page bounds after keys pos0 .. pos0+n-1 arrived: every page they
 * touch is recomputed from its first position: lo/hi[g][u] (d) = element-wise
 * min/max of the cached keys u*page .. min((u+1)*page, pos0+n)-1 of KV head
 * g. lo, hi: (n_kv_head, n_pages, d); k: the bf16 cache as above. */
int attn_rows_quest_bounds_cuda(float *lo, float *hi, int n_pages, const uint16_t *k, int pos0, int n,
                                int n_kv_head, int d, int page, void *stream);

/* Waits for every stream of the device (tests mixing these launchers, on
 * the default stream, with a backend's own stream). */
int attn_rows_wait(void);

#ifdef __cplusplus
}
#endif

#endif
