/* layer_time.h — one RTPurbo attention layer (batch 1) on the GPU, timed
 * whole and stage by stage, on inputs with planted structure: what the
 * throughput suite's `level: layer` measures (suites/SCHEMA.md).
 *
 * The heads split in two (layer_split_heads): the retrieval heads, rho of
 * the query heads rounded to whole KV groups (at least one group), and the
 * local heads, the other groups. Rounding to groups keeps every KV head
 * wholly one kind, so the local heads' KV really is bounded. Retrieval heads
 * are query heads 0 .. ret_heads-1 (KV heads 0 .. ret_kv-1); each kind has
 * its own token-major tensors (the layer's q projection ordered that way).
 *
 * Stages (LAYER_*), launched in this order on one stream:
 *   index:  block scores of the retrieval heads, blse (items, nb) f32: the
 *           indexer (prefill: attn_index_prefill_cuda, a query block's
 *           envelope, or with index_mean attn_index_prefill_mean_cuda;
 *           decode: attn_index_decode_cuda; r = d / 8) on planted index keys;
 *   select: sort-free top-p (attn_select_topp_cuda) into block lists;
 *   attend: block-sparse prefill or sparse split-KV decode on the lists;
 *   local:  the local heads, S sinks and a window of W (attn_local_prefill_cuda
 *           over the context as one chunk: on sm_90 with d 64 or 128 the
 *           Hopper kernel with the rule; attn_local_decode_cuda over the
 *           ring of S + W rows).
 *
 * Planted structure (identical on host and device: the hashes below): a
 * fraction f (the case's density) of each retrieval head's 64-key blocks is
 * planted: its keys score B above the others under the indexer, with B from
 * layer_boost so that the planted blocks hold a little more than p of the
 * mass and top-p keeps about them: the selected fraction comes out near f
 * (plus the forced sink and recent blocks). Needles: `needles` blocks per
 * retrieval head, spread over the context and not planted, each with one
 * key scoring B + ln 64 + 1 (alone e times as heavy as a planted block, so
 * the noise of a single key cannot rank it below the planted blocks): a
 * query must find them; layer_timer_needles counts the ones the last query's (block's)
 * lists kept. q, k, v are uniform random bf16 (q, k in [-2, 2), v in
 * [-1, 1)); one set of inputs (no rotation over copies: at short decode
 * contexts the retrieval KV can sit in L2).
 *
 * Timing as attn_time.h: warm-up, one launch sizing a burst (~0.5 ms, 1 to
 * 50 launches), event-timed bursts; seconds per launch.
 */
#ifndef PURBO_LAYER_TIME_H
#define PURBO_LAYER_TIME_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/attn_sparse.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __CUDACC__
#define LAYER_HD __host__ __device__
#else
#define LAYER_HD
#endif

enum { LAYER_INDEX, LAYER_SELECT, LAYER_ATTEND, LAYER_LOCAL, LAYER_N_STAGES };

typedef struct {
    int phase;           /* ATTN_TIME_PREFILL or ATTN_TIME_DECODE (attn_time.h) */
    int n_ctx, n_head, n_kv_head, d;
    double rho;          /* share of query heads that retrieve, in (0, 1] */
    double p;            /* top-p mass of the retrieval heads' selection */
    int sink, window;    /* local heads: S sink tokens, a window of W */
    int local;           /* retrieval heads: recent tokens always selected */
    int kmin;            /* retrieval heads: non-forced blocks at least */
    double density;      /* planted selected fraction, in (0, 1) */
    int needles;         /* needle blocks per retrieval head, 0 .. 64 */
    int index_mean;      /* prefill index: 0 the rows' envelope (attn_index_prefill_cuda),
                          * 1 the mean-pooled query (attn_index_prefill_mean_cuda) */
} layer_case;

typedef struct {
    int ret_heads, ret_kv; /* retrieval: query heads 0 .. ret_heads-1 */
    int loc_heads, loc_kv; /* local: the rest (0 when every group retrieves) */
    int r;                 /* index dims: d / 8 */
} layer_split;

/* ret_kv = round(rho * n_kv_head) clamped to [1, n_kv_head]. */
void layer_split_heads(const layer_case *c, layer_split *s);

/* The boost B of the planted keys over the others: the planted fraction f
 * of equal blocks then holds q = p + (1 - p) / 10 of the mass,
 * e^B = q (1 - f) / (f (1 - q)); 0 when p >= 1 or f >= q. */
double layer_boost(double f, double p);

/* KV bytes one layer holds at n_ctx tokens (bf16): RTPurbo: the retrieval
 * heads' K and V, their index keys (ret_heads x n x r) and the local heads'
 * K and V of min(n, S + W) rows; dense: every head's K and V. */
int64_t layer_kv_bytes(const layer_case *c, int64_t *dense);

/* The planting seed of a timer's seed (the hashes below take it). */
static inline LAYER_HD uint64_t layer_plant_seed(uint32_t seed) { return (uint64_t)seed * 0x100000001b3ull + 17u; }

/* uniform in [0, 1) from (seed, i): splitmix64, 24 bits */
static inline LAYER_HD float layer_hash_unit(uint64_t seed, uint64_t i)
{
    uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f);
}

/* Needle k (0 .. needles-1) of nb blocks: spread over 1 .. nb-3 (never the
 * sink block nor the two newest); -1 when nb < needles + 4. */
static inline LAYER_HD int layer_needle_block(int k, int needles, int nb)
{
    if (nb < needles + 4) return -1;
    return 1 + (int)((int64_t)(2 * k + 1) * (nb - 3) / (2 * needles));
}

static inline LAYER_HD int layer_is_needle(int b, int needles, int nb)
{
    for (int k = 0; k < needles; k++)
        if (layer_needle_block(k, needles, nb) == b) return 1;
    return 0;
}

/* 1 when block b of retrieval head h is planted (never a needle block). */
static inline LAYER_HD int layer_planted(uint64_t seed, int b, int h, float f, int needles, int nb)
{
    return layer_hash_unit(seed ^ 0x5bd1e995ull, (uint64_t)b * 4099u + (uint64_t)h) < f &&
           !layer_is_needle(b, needles, nb);
}

/* The lift of key j of retrieval head h under the indexer: B on every key
 * of a planted block, B + ln 64 + 1 on key 37 of a needle block, else 0. */
static inline LAYER_HD float layer_key_lift(uint64_t seed, int j, int h, float f, float boost, int needles, int nb)
{
    const int b = j / 64;
    if (layer_planted(seed, b, h, f, needles, nb)) return boost;
    if (j % 64 == 37 && layer_is_needle(b, needles, nb)) return boost + 5.158883f; /* + ln 64 + 1 */
    return 0.0f;
}

/* Planted index keys, element i of qx (n_q, H, R) (every row of head h the
 * same vector qx_h, uniform in [-1, 1)) and of kx (H, n, R): uniform in
 * [-1, 1) plus lift * sqrt(d) / |qx_h|^2 * qx_h (layer_key_lift), so that
 * key j scores exactly its lift more under scale 1/sqrt(d); kx before its
 * bf16 rounding. */
static inline LAYER_HD float layer_planted_qx(uint64_t seed, uint64_t i, int H, int R)
{
    return 2 * layer_hash_unit(seed + 7, i % ((uint64_t)H * R)) - 1;
}
static inline LAYER_HD float layer_planted_kx(uint64_t seed, uint64_t i, int n, int H, int R, int d, float f,
                                              float boost, int needles, int nb)
{
    const int c = (int)(i % R), j = (int)((i / R) % n), h = (int)(i / ((uint64_t)R * n));
    float v = 2 * layer_hash_unit(seed + 1, i) - 1;
    const float lift = layer_key_lift(seed, j, h, f, boost, needles, nb);
    if (lift != 0) {
        float q2 = 0;
        for (int e = 0; e < R; e++) {
            const float qe = layer_planted_qx(seed, (uint64_t)h * R + e, H, R);
            q2 += qe * qe;
        }
        v += lift * sqrtf((float)d) / q2 * layer_planted_qx(seed, (uint64_t)h * R + c, H, R);
    }
    return v;
}

/* The planted block score (log-sum-exp of its 64 keys' indexer scores)
 * of block b of retrieval head h: ln 64 for a plain block, ln 64 + B for a
 * planted one, ln(63 + 64 e^(B+1)) for a needle's, plus a jitter in [0, 0.05). */
static inline LAYER_HD float layer_planted_blse(uint64_t seed, int b, int h, float f, float boost, int needles,
                                                int nb)
{
    float base = 4.158883f; /* ln 64 */
    float j = 0.05f * layer_hash_unit(seed ^ 0x27d4eb2full, (uint64_t)b * 4099u + (uint64_t)h);
    if (layer_is_needle(b, needles, nb)) return logf(63.0f + 64.0f * expf(boost + 1.0f)) + j;
    return base + (layer_planted(seed, b, h, f, needles, nb) ? boost : 0.0f) + j;
}

/* Needles kept: of the lists of n_items items (off: n_items + 1 absolute
 * offsets, idx: the entries from off[0] on), the number of (item, needle)
 * pairs whose needle block is listed; *total gets n_items * needles (the
 * needles that exist at nb blocks). */
int layer_needles_found(const int64_t *off, const int32_t *idx, int n_items, int needles, int nb, int *total);

/* Planted index keys on the host (the device's values; kx rounded to
 * bf16): qx (n_q, H, R) f32, kx (H, n, R) bf16. */
void layer_planted_index_host(float *qx, uint16_t *kx, int n_q, int n, int H, int R, int d, uint64_t seed, float f,
                              float boost, int needles, int nb);

/* Planted block scores on the host for the CPU tests: blse (n_items, ld)
 * of prefill items i = qb * heads + h (decode: n_q = 1), blocks 0 .. V_i-1 */
void layer_planted_blse_host(float *blse, size_t ld, int n_q, int q_offset, int heads, uint64_t seed, float f,
                             float boost, int needles, int nb);

/* ---- CUDA (kernels/cuda/layer_time.cu) ---- */

typedef struct layer_timer layer_timer;

/* Inputs of case c on the device; NULL and a one-line reason in why when it
 * cannot run (no device, out of memory, a shape the kernels do not take). */
layer_timer *layer_timer_new(const layer_case *c, uint32_t seed, char *why, size_t why_len);
/* The whole layer: warmup untimed launches, then t_s[0 .. repeats). */
void layer_timer_run(layer_timer *t, int warmup, int repeats, double *t_s);
/* One stage alone (LAYER_*), timed the same way but without warm-up (call
 * it after layer_timer_run: the inputs and code are warm);
 * all zeros for a stage with no work (no local heads). */
void layer_timer_stage(layer_timer *t, int stage, int repeats, double *t_s);
/* Fills the outputs of every stage (block scores, lists, attention
 * outputs and LSEs) with 0xff bytes (NaN), for a test's next launch. */
void layer_timer_poison(layer_timer *t);
/* One more launch of the whole layer, waited for. */
void layer_timer_once(layer_timer *t);
/* Listed blocks / visible blocks over the retrieval heads' items. */
double layer_timer_density(layer_timer *t);
/* Needles kept by the last query's (decode) or last query block's
 * (prefill) lists of the retrieval heads; *total: needles planted there. */
int layer_timer_needles(layer_timer *t, int *total);
/* What ran: index "envelope", "mean" (prefill) or "indexer" (decode); local "sink+window". */
void layer_timer_kinds(const layer_timer *t, const char **index_kind, const char **local_kind);
/* Writes the whole layer's block lists (every head: the retrieval heads'
 * selection; the local heads' sink blocks and window blocks) in the format
 * of suites/peers/sparse_peer.py: int32 n, n_head, n_kv_head, d, n_items,
 * 0; int64 off[n_items + 1]; int32 idx[]. 0 and a reason on failure. */
int layer_timer_write_lists(layer_timer *t, const char *path, char *why, size_t why_len);

/* The device buffers copied to the host, for the GPU test (malloc'd; free
 * with layer_host_free). Shapes: q_ret (n_q, ret_heads, d), k_ret, v_ret
 * (n_ctx, ret_kv, d), q_loc (n_q, loc_heads, d), k_loc, v_loc (kv_loc,
 * loc_kv, d) with kv_loc = n_ctx (prefill) or S + W (decode: the ring),
 * bf16; qx (n_q, ret_heads, r) f32 and kx (ret_heads, n_ctx, r) bf16;
 * blse (items, nb); off (items + 1), idx; out_ret, out_loc bf16 like q. */
typedef struct {
    int n_q, kv_loc, nb, items;
    uint16_t *q_ret, *k_ret, *v_ret, *q_loc, *k_loc, *v_loc, *kx, *out_ret, *out_loc;
    float *qx, *blse;
    int64_t *off;
    int32_t *idx;
} layer_host;
void layer_timer_host(layer_timer *t, layer_host *h);
void layer_host_free(layer_host *h);

/* The CPU twin of one launch (kernels/cpu/layer_ref.c), composed of the
 * twins: on h's inputs, when index is 1 the block scores (the indexer
 * twins attn_index_prefill_ref / attn_index_decode_ref on qx, kx; seed
 * unused) into blse (items, nb) (index 0: blse is given), the selection (attn_select_topp_ref) into off (items + 1)
 * and idx (room for every visible block), then rows row0 .. row0+n_rows-1
 * (decode: 0, 1) of the sparse attention into out_ret (n_q, ret_heads, d)
 * f32 and of the window attention into out_loc (n_q, loc_heads, d) f32
 * (other rows not written; the local heads' keys before row0 reach the
 * twin through a ring, as in the engine). */
void layer_ref(const layer_case *c, const layer_host *h, uint32_t seed, int index, float *blse, int64_t *off,
               int32_t *idx, float *out_ret, float *out_loc, int row0, int n_rows);
/* The select parameters of the retrieval heads (sink, local, kmin, p). */
attn_select_params layer_select_params(const layer_case *c);
void layer_timer_free(layer_timer *t);

#ifdef __cplusplus
}
#endif

#endif
