/* attn_sparse.h — block-sparse attention over per-item KV block lists: the
 * CPU twins (the oracle) and the CUDA kernels, one declaration set.
 *
 * Conventions (besides those of attn_kernels.h: bf16 as raw 16-bit words,
 * f32 accumulation, token-major layouts, GQA h -> h / (n_head / n_kv_head),
 * scale 1/sqrt(d), natural-log lse):
 *   - keys come in blocks of ATTN_SBLOCK = 64 positions: block b holds keys
 *     b*64 .. b*64+63 (the last block may be short: keys >= kv_len do not
 *     exist);
 *   - block lists in CSR form: item i attends the blocks
 *     idx[off[i]] .. idx[off[i+1]-1]; off: (n_items + 1) int64, idx: int32;
 *     no block twice in one list, every block < ceil(kv_len / 64); the CUDA
 *     kernels are fastest with each list ascending (they are correct in any
 *     order);
 *   - prefill items: i = qb * n_head + h, one per query block qb (query rows
 *     qb*64 .. qb*64+63) and query head h; row r (position q_offset + r)
 *     attends the keys j of its item's blocks with j <= q_offset + r and
 *     j < kv_len (causal inside a block that crosses the diagonal);
 *   - decode items: i = h, one query token that sees every key < kv_len of
 *     its head's blocks;
 *   - a row that sees no key gets out = 0 and lse = -inf.
 * CUDA kernels: d is 64 or 128; they return 0 or a cudaError_t value and
 * launch on the given stream (a cudaStream_t, NULL for the default).
 */
#ifndef PURBO_KERNELS_ATTN_SPARSE_H
#define PURBO_KERNELS_ATTN_SPARSE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { ATTN_SBLOCK = 64 };

/* ---- CPU twins (kernels/cpu/attn_ref.c) ---- */

/* q: (n_q, n_head, d) bf16; k, v: (kv_len, n_kv_head, d) bf16;
 * off, idx: prefill block lists (ceil(n_q / 64) * n_head items);
 * out: (n_q, n_head, d) f32; lse: (n_q, n_head) f32 (may be NULL).
 * Rows row0 .. row0+n_rows-1 only (the others are not written), so that
 * a check can sample rows of a long prefill. */
void attn_sparse_prefill_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                             const int64_t *off, const int32_t *idx, float *out, float *lse,
                             int n_q, int kv_len, int q_offset, int n_head, int n_kv_head, int d,
                             int row0, int n_rows);

/* q: (n_head, d) bf16; k, v: (kv_len, n_kv_head, d) bf16; off, idx: decode
 * block lists (n_head items); out: (n_head, d) f32; lse: (n_head) f32 (may
 * be NULL). */
void attn_sparse_decode_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                            const int64_t *off, const int32_t *idx, float *out, float *lse,
                            int kv_len, int n_head, int n_kv_head, int d);

/* The union of decode lists per KV head (the twin of
 * attn_sparse_union_cuda): uidx[uoff[g] .. uoff[g+1]) lists, ascending,
 * every block that some query head h of kv head g (h / G == g, G =
 * n_head / n_kv_head <= 32) lists; umask holds, per entry, bit h % G for
 * each such h. uoff: (n_kv_head + 1); uidx, umask: room for n_kv_head *
 * ceil(kv_len / 64) entries. The per-group sparse decode attends, for
 * each query head, exactly the blocks whose mask has its bit: the blocks
 * of its own list, so its output is attn_sparse_decode_ref's. */
void attn_sparse_union_ref(const int64_t *off, const int32_t *idx, int kv_len, int n_head, int n_kv_head,
                           int64_t *uoff, int32_t *uidx, uint32_t *umask);

/* The union of prefill lists per (query block, KV head): group u = qb *
 * n_kv_head + g merges the lists of items qb * n_head + g * G + r (r < G,
 * G = n_head / n_kv_head <= 32) as attn_sparse_union_ref merges decode
 * lists; its ucnt[u] entries sit at uidx[off[qb * n_head + g * G]] on (the
 * room of the group's own lists: a union is never longer than their sum),
 * ascending, umask bit r set when query head g * G + r lists the block.
 * uidx, umask: off[n_items] entries (those past each union not written);
 * ucnt: ceil(n_q / 64) * n_kv_head. */
void attn_sparse_prefill_union_lists_ref(const int64_t *off, const int32_t *idx, int n_q, int kv_len, int n_head,
                                         int n_kv_head, int32_t *uidx, uint32_t *umask, int32_t *ucnt);

/* Prefill attention over those unions (the twin of
 * attn_sparse_prefill_union_attend_cuda): each query head attends the
 * blocks of its group's union whose mask has its bit, i.e. its own list,
 * so the result is attn_sparse_prefill_ref's; same shapes and row range. */
void attn_sparse_prefill_union_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v, const int64_t *off,
                                   const int32_t *uidx, const uint32_t *umask, const int32_t *ucnt, float *out,
                                   float *lse, int n_q, int kv_len, int q_offset, int n_head, int n_kv_head, int d,
                                   int row0, int n_rows);

/* Top-p block selection (the rtpurbo policy's rule, one list per item).
 * Item i (prefill items as above; decode: n_q = 1, q_offset = kv_len - 1)
 * sees blocks 0 .. V-1, V = (q_offset + its last row) / 64 + 1; its first
 * row sits at position f = q_offset + qb * 64. Forced blocks: the sink
 * blocks (b * 64 < min(sink, f + 1)) and, when local > 0, the blocks from
 * max(0, f - local + 1) / 64 on. The masses m_b = exp(blse[i][b] - LSE_i)
 * (LSE_i over the V blocks) are ranked by decreasing mass, ties by lower
 * block first; the list is the forced blocks plus the non-forced blocks of
 * the shortest prefix of that ranking whose mass (forced blocks included)
 * reaches p and which holds at least min(kmin, non-forced blocks) non-forced
 * blocks; p >= 1 keeps every block. For one decode row with blse the
 * per-block log-sum-exp of its anchored scores this is exactly
 * keep_forced + select_rtpurbo of engine/policy (block 64). Lists come out
 * ascending. */
typedef struct {
    int sink, local; /* tokens */
    int kmin;        /* non-forced blocks at least */
    double p;        /* mass to reach */
} attn_select_params;

/* blse: (n_items, ld) f32 (row i: entries 0 .. V_i-1 read); off: (n_items
 * + 1) int64 out; idx: out, room for off[n_items] entries (at most the sum
 * of the V_i). */
void attn_select_topp_ref(const float *blse, size_t ld, int n_q, int q_offset, int n_head,
                          const attn_select_params *prm, int64_t *off, int32_t *idx);

/* Indexer scores of one decode query, pooled per block, anchored (the
 * rtpurbo policy's row): for query head h at position p = kv_len - 1, key j
 * scores s_j = scale * qx_h . kx_{j,h} (the r-dim indexer) when j's block is
 * not forced (see attn_select_params), and the exact scale * q_h . k_j
 * when it is; blse[h][b] = log(sum over j in block b of exp(s_j)).
 * qx: (n_head, r) f32; kx: (n_head, kv_len, r) bf16 (index keys per query
 * head, head-major: one head's keys contiguous); q: (n_head, d) bf16; k: (kv_len, n_kv_head, d) bf16; blse:
 * (n_head, ld) f32, entries 0 .. (kv_len-1)/64 written; scale 1/sqrt(d). */
void attn_index_decode_ref(const float *qx, const uint16_t *kx, const uint16_t *q, const uint16_t *k,
                           float *blse, size_t ld, int kv_len, int n_head, int n_kv_head, int d, int r,
                           const attn_select_params *prm);

/* Indexer scores of a prefill query block, pooled per key block: the
 * envelope of its rows. Item i = qb * n_head + h holds rows qb*64 ..
 * min(qb*64 + 64, n_q) - 1; row t sits at position f + t, f = q_offset +
 * qb*64, and scores the keys j <= f + t, j < kv_len:
 *   s_tj = scale * bf16(qx_t) . kx_j  when j's block is not forced for the
 *          item (forced as in attn_select_params, from f: the same blocks
 *          the selection forces), qx rounded to bf16 as the tensor cores
 *          take it;
 *   s_tj = scale * q_t . k_j  (exact) when it is.
 * Pool: each key takes its best row, e_j = max over the rows t that see j
 * of s_tj, and blse[i][b] = log(sum over j in b of exp(e_j)); -inf when no
 * row sees a key of b (keys >= kv_len). Entries 0 .. V_i-1 written.
 * Why the envelope suits top-p: one list serves all 64 rows, so a block
 * must rank as high as the row that needs it most. exp(e_j) >= exp(s_tj)
 * for every row t, so each row's weight on a block is bounded by the pooled
 * weight, and a key that only one row finds (a needle) enters the ranking
 * with that row's score; a mean over rows, or a mean-pooled query, would
 * shrink it about 64-fold, below the sink and recent blocks that every row
 * shares. The rows are 64 neighbouring positions of one head, whose score
 * scales agree, so no row drowns the others. The forced blocks carry exact
 * envelopes and anchor the masses as in decode. A 1-row block (n_q = 1,
 * q_offset = kv_len - 1, qx exact in bf16) gives attn_index_decode_ref's
 * values bit for bit.
 * qx: (n_q, n_head, r) f32; kx: (n_head, kv_len, r) bf16 (head-major, as in
 * decode); q: (n_q, n_head, d) bf16; k: (kv_len, n_kv_head, d) bf16; blse:
 * (n_items, ld) f32, ld >= (q_offset + n_q - 1) / 64 + 1; scale 1/sqrt(d). */
void attn_index_prefill_ref(const float *qx, const uint16_t *kx, const uint16_t *q, const uint16_t *k,
                            float *blse, size_t ld, int n_q, int kv_len, int q_offset, int n_head,
                            int n_kv_head, int d, int r, const attn_select_params *prm);

/* The cheap pooling (64 times fewer scores): the block's rows pooled into
 * one query before scoring, x = mean over its rows of qx_t (f32) and, for
 * forced blocks, qm = mean of q_t (f32); each key j <= L (L = the block's
 * last row position), j < kv_len, scores s_j = scale * x . kx_j (not
 * forced) or scale * qm . k_j (forced, from f as above), and blse[i][b] =
 * log(sum over j in b of exp(s_j)). exp(x . kx) is the geometric mean of
 * the rows' weights, so a key that only one row wants is weakened (its
 * logit divided by the rows); it suits blocks whose rows share their
 * targets, at a cost the sparse attention hides. A 1-row block is the
 * decode rule bit for bit (qx need not be exact in bf16 here). Same
 * shapes as attn_index_prefill_ref. */
void attn_index_prefill_mean_ref(const float *qx, const uint16_t *kx, const uint16_t *q, const uint16_t *k,
                                 float *blse, size_t ld, int n_q, int kv_len, int q_offset, int n_head,
                                 int n_kv_head, int d, int r, const attn_select_params *prm);

/* KV append with index keys: token t (0 .. n-1) lands in cache row pos0 + t:
 * kc[pos0+t] = bf16(k[t]), vc[pos0+t] = bf16(v[t]) (every KV head), and for
 * each listed query head h, kx[h][pos0+t][c] = bf16(sum over e of
 * wk[h][c][e] * k_pre[t][h / G][e]) for c < r, the sum in f32 fused
 * multiply-adds in order of e (the CUDA kernel matches it bit for bit).
 * kc, vc: (n_ctx, n_kv_head, d) bf16; k (post-RoPE), v, k_pre (pre-RoPE):
 * (n, n_kv_head, d) f32; wk: (n_head, r, d) f32; kx: (n_head, kx_ld, r)
 * bf16, kx_ld >= pos0 + n (the indexers read it with kx_ld = kv_len);
 * heads: n_sel distinct query heads (host memory; rows of other heads are
 * not written). */
void attn_kv_append_index_ref(uint16_t *kc, uint16_t *vc, uint16_t *kx, long kx_ld, const float *k,
                              const float *v, const float *k_pre, const float *wk, int pos0, int n,
                              int n_head, int n_kv_head, int d, int r, const int *heads, int n_sel);

/* ---- CUDA (kernels/cuda/attn_sparse_*.cu, attn_select.cu, attn_index.cu,
 * attn_index_prefill.cu) ---- */

/* The decode indexer on the GPU (one warp per 64-key block, two keys a
 * lane); r in {8, 16, 32}, d in {64, 128}; all pointers on the device. */
int attn_index_decode_cuda(const float *qx, const void *kx, const void *q, const void *k, float *blse, size_t ld,
                           int kv_len, int n_head, int n_kv_head, int d, int r, const attn_select_params *prm,
                           void *stream);

/* The prefill indexer on the GPU: one warp per item, four items (query
 * blocks) a CTA sharing each key block; the 64 x 64 score tiles on tensor
 * cores (mma m16n8k16 / m16n8k8, bf16 in, f32 out); r in {8, 16, 32}, d in
 * {64, 128, 256}; all pointers on the device. */
int attn_index_prefill_cuda(const float *qx, const void *kx, const void *q, const void *k, float *blse,
                            size_t ld, int n_q, int kv_len, int q_offset, int n_head, int n_kv_head,
                            int d, int r, const attn_select_params *prm, void *stream);

/* attn_index_prefill_mean_ref on the GPU: one warp per (item, 64/r key
 * blocks), the pooled query in shared memory, two keys a lane as in
 * decode; r in {8, 16, 32}, d in {64, 128, 256}; all on the device. */
int attn_index_prefill_mean_cuda(const float *qx, const void *kx, const void *q, const void *k, float *blse,
                                 size_t ld, int n_q, int kv_len, int q_offset, int n_head, int n_kv_head,
                                 int d, int r, const attn_select_params *prm, void *stream);

/* attn_kv_append_index_ref on the GPU, one launch: one CTA per token;
 * kc, vc, kx, k, v, k_pre, wk on the device, heads on the host; n_sel <=
 * ATTN_APPEND_MAX_HEADS. */
enum { ATTN_APPEND_MAX_HEADS = 128 };
int attn_kv_append_index_cuda(uint16_t *kc, uint16_t *vc, uint16_t *kx, long kx_ld, const float *k,
                              const float *v, const float *k_pre, const float *wk, int pos0, int n,
                              int n_head, int n_kv_head, int d, int r, const int *heads, int n_sel,
                              void *stream);

/* The same selection without sorting: per item, masses from the block
 * LSEs, a 4-pass radix select (256-bin histograms of count, non-forced
 * count and mass over the masses' float bits, each pass scanned from the
 * top) finds the boundary mass exactly; then a scan of the counts and an
 * ordered compaction write the lists. Few items over many blocks (decode,
 * short prefill chunks at long context) split each item over a cluster of
 * up to 8 CTAs (histograms merged through distributed shared memory);
 * many items run one CTA each; the choice is automatic and the lists the
 * same. blse, off, idx on the device; idx has room for idx_cap entries
 * (entries past it are not written: compare off[n_items] with idx_cap
 * after the call). V_i <= 32768. work: device scratch of
 * attn_select_workspace(...) bytes. */
size_t attn_select_workspace(int n_q, int n_head);
int attn_select_topp_cuda(const float *blse, size_t ld, int n_q, int q_offset, int n_head,
                          const attn_select_params *prm, int64_t *off, int32_t *idx, int64_t idx_cap,
                          void *work, size_t work_bytes, void *stream);
/* The same with the path named (for the dev harness): 1 one CTA an item,
 * 2 a cluster an item (at most 256 items), 0 the automatic choice. */
int attn_select_topp_cuda_version(int version, const float *blse, size_t ld, int n_q, int q_offset,
                                  int n_head, const attn_select_params *prm, int64_t *off, int32_t *idx,
                                  int64_t idx_cap, void *work, size_t work_bytes, void *stream);


/* Block-sparse causal prefill (Hopper: TMA + wgmma). q: (n_q, n_head, d),
 * k, v: (kv_len, n_kv_head, d), out: (n_q, n_head, d), bf16, 16-byte
 * aligned; lse: (n_q, n_head) f32; off, idx: the prefill block lists; all
 * on the device. q_offset >= 0. The versioned entry is for the dev harness
 * and bench notes (1 .. attn_sparse_prefill_versions()); the plain one runs
 * the best per-query-head version. */
int attn_sparse_prefill_cuda(const void *q, const void *k, const void *v, const int64_t *off,
                             const int32_t *idx, void *out, float *lse, int n_q, int kv_len,
                             int q_offset, int n_head, int n_kv_head, int d, void *stream);
int attn_sparse_prefill_cuda_version(int version, const void *q, const void *k, const void *v,
                                     const int64_t *off, const int32_t *idx, void *out, float *lse,
                                     int n_q, int kv_len, int q_offset, int n_head, int n_kv_head,
                                     int d, void *stream);
int attn_sparse_prefill_versions(void);

/* Block-sparse prefill with one pass per (query block, KV head) over the
 * union of its query heads' lists (kernels/cuda/attn_sparse_prefill_union.cu):
 * each K/V block is loaded once for the G heads of a group, each head
 * still attending only its own blocks (the output of the per-head kernels).
 * G = n_head / n_kv_head <= 4, d 64 or 128. _lists_cuda builds the unions
 * (the twin: attn_sparse_prefill_union_lists_ref; uidx, umask: off[n_items]
 * entries, ucnt: ceil(n_q / 64) * n_kv_head); _attend_cuda attends over
 * them; _cuda does both in work (attn_sparse_prefill_union_workspace bytes,
 * n_entries = off[n_items]). All on the device. It pays only where a
 * group's lists overlap: 1.10-1.27x the per-head kernel on correlated
 * heads (corr 0.75, G 4, d 128), slower on independent ones (the layer
 * suite's: its attend stage 91.4 against 65.5 ms at 1M) and at G 3, d 64
 * (0.70-0.90x); bench/sparse.md. So the layer and the timers run per head,
 * and this is for callers that know their heads share blocks. */
int attn_sparse_prefill_union_lists_cuda(const int64_t *off, const int32_t *idx, int n_q, int kv_len, int n_head,
                                         int n_kv_head, int32_t *uidx, uint32_t *umask, int32_t *ucnt, void *stream);
int attn_sparse_prefill_union_attend_cuda(const void *q, const void *k, const void *v, const int64_t *off,
                                          const int32_t *uidx, const uint32_t *umask, const int32_t *ucnt, void *out,
                                          float *lse, int n_q, int kv_len, int q_offset, int n_head, int n_kv_head,
                                          int d, void *stream);
size_t attn_sparse_prefill_union_workspace(int64_t n_entries, int n_q, int n_kv_head);
int attn_sparse_prefill_union_cuda(const void *q, const void *k, const void *v, const int64_t *off,
                                   const int32_t *idx, int64_t n_entries, void *out, float *lse, int n_q, int kv_len,
                                   int q_offset, int n_head, int n_kv_head, int d, void *work, size_t work_bytes,
                                   void *stream);

/* Sparse split-KV decode: the block lists cut into n_split chunks (one
 * warp each), then the LSE combine (attn_combine_cuda). q: (n_head, d),
 * k, v: (kv_len, n_kv_head, d), out: (n_head, d) bf16; lse: (n_head) f32
 * (may be NULL); off, idx: decode block lists; max_blocks: the longest
 * list (sizes the split); work: device scratch of
 * attn_sparse_decode_workspace(...) bytes. All on the device. Version 1
 * reads each query head's blocks; version 2 (G = n_head / n_kv_head <=
 * 16) builds each KV head's union (attn_sparse_union_cuda) and reads each
 * of its blocks once for the G heads, each head still attending only its
 * own blocks (the same output). The plain entry picks (attn_sparse_decode.cu
 * states the rule); the versioned one is for the dev harness. */
size_t attn_sparse_decode_workspace(int max_blocks, int kv_len, int n_head, int n_kv_head, int d);
int attn_sparse_decode_cuda(const void *q, const void *k, const void *v, const int64_t *off,
                            const int32_t *idx, int max_blocks, void *out, float *lse, int kv_len,
                            int n_head, int n_kv_head, int d, void *work, size_t work_bytes,
                            void *stream);
int attn_sparse_decode_cuda_version(int version, const void *q, const void *k, const void *v,
                                    const int64_t *off, const int32_t *idx, int max_blocks, void *out,
                                    float *lse, int kv_len, int n_head, int n_kv_head, int d, void *work,
                                    size_t work_bytes, void *stream);
int attn_sparse_decode_versions(void);

/* The union step of version 2 (see attn_sparse_union_ref): off, idx: decode
 * lists (n_head items, each list at most max_blocks long); uoff, uidx,
 * umask: outputs as the twin's; work: device scratch of
 * attn_sparse_union_workspace(...) bytes. All on the device. */
size_t attn_sparse_union_workspace(int kv_len, int n_kv_head);
int attn_sparse_union_cuda(const int64_t *off, const int32_t *idx, int max_blocks, int kv_len, int n_head,
                           int n_kv_head, int64_t *uoff, int32_t *uidx, uint32_t *umask, void *work,
                           size_t work_bytes, void *stream);

#ifdef __cplusplus
}
#endif

#endif
