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
#ifndef PURBO_ATTN_SPARSE_H
#define PURBO_ATTN_SPARSE_H

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

/* ---- CUDA (kernels/cuda/attn_sparse_*.cu) ---- */

/* Block-sparse causal prefill (Hopper: TMA + wgmma). q: (n_q, n_head, d),
 * k, v: (kv_len, n_kv_head, d), out: (n_q, n_head, d), bf16, 16-byte
 * aligned; lse: (n_q, n_head) f32; off, idx: the prefill block lists; all
 * on the device. q_offset >= 0. The versioned entry is for the dev harness
 * and bench notes (1 .. attn_sparse_prefill_versions()); the plain one runs
 * the best version. */
int attn_sparse_prefill_cuda(const void *q, const void *k, const void *v, const int64_t *off,
                             const int32_t *idx, void *out, float *lse, int n_q, int kv_len,
                             int q_offset, int n_head, int n_kv_head, int d, void *stream);
int attn_sparse_prefill_cuda_version(int version, const void *q, const void *k, const void *v,
                                     const int64_t *off, const int32_t *idx, void *out, float *lse,
                                     int n_q, int kv_len, int q_offset, int n_head, int n_kv_head,
                                     int d, void *stream);
int attn_sparse_prefill_versions(void);

/* Sparse split-KV decode: each head's block list cut into n_split chunks
 * (one warp each), then the LSE combine (attn_combine_cuda). q: (n_head, d),
 * k, v: (kv_len, n_kv_head, d), out: (n_head, d) bf16; lse: (n_head) f32
 * (may be NULL); off, idx: decode block lists; max_blocks: the longest
 * list (sizes the split); work: device scratch of
 * attn_sparse_decode_workspace(...) bytes. All on the device. */
size_t attn_sparse_decode_workspace(int max_blocks, int n_head, int d);
int attn_sparse_decode_cuda(const void *q, const void *k, const void *v, const int64_t *off,
                            const int32_t *idx, int max_blocks, void *out, float *lse, int kv_len,
                            int n_head, int n_kv_head, int d, void *work, size_t work_bytes,
                            void *stream);

#ifdef __cplusplus
}
#endif

#endif
