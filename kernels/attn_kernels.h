/* attn_kernels.h — dense causal attention: the CPU twins (the oracle) and the
 * CUDA kernels, one declaration set for both backends.
 *
 * Conventions every implementation keeps:
 *   - bf16 tensors are passed as raw 16-bit words (uint16_t on the CPU side,
 *     device pointers as void * on the CUDA side); accumulation is f32.
 *   - layouts are row-major, token-major, batch 1:
 *       q:   (n_q, n_head, d)          k, v: (kv_len, n_kv_head, d)
 *       out: (n_q, n_head, d)          lse:  (n_q, n_head), natural log
 *   - GQA: n_head is a multiple of n_kv_head; query head h reads kv head
 *     h / (n_head / n_kv_head).
 *   - causal with an offset: query row i sits at position q_offset + i and
 *     attends kv positions j with j <= q_offset + i and j < kv_len (a chunk
 *     of queries attending a longer cache passes q_offset = kv_len - n_q).
 *   - sliding window (the _window forms; 0 = none): query position p also
 *     needs j > p - window, i.e. it sees p-window+1 .. p.
 *   - scale 1/sqrt(d); lse[i][h] = log(sum_j exp(scale * q.k_j)).
 *   - local heads (sinks + window over a bounded ring cache): the
 *     attn_local_* section below states its own row mapping and order.
 *   - CUDA kernels: d is 64, 128 or 256; they return 0 or a cudaError_t
 *     value, and launch on the given stream (a cudaStream_t, NULL for the
 *     default).
 */
#ifndef PURBO_ATTN_KERNELS_H
#define PURBO_ATTN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* bf16 <-> f32 (round to nearest even; NaN stays NaN). */
static inline float attn_bf16_to_f32(uint16_t h)
{
    union { uint32_t u; float f; } x = { (uint32_t)h << 16 };
    return x.f;
}
static inline uint16_t attn_f32_to_bf16(float f)
{
    union { float f; uint32_t u; } x = { f };
    if ((x.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x.u >> 16) | 0x40);
    return (uint16_t)((x.u + 0x7fffu + ((x.u >> 16) & 1u)) >> 16);
}

/* ---- CPU twins (kernels/cpu/attn_ref.c): plain f32, the oracle ---- */

/* q: (n_q, n_head, d) bf16; k, v: (kv_len, n_kv_head, d) bf16;
 * out: (n_q, n_head, d) f32; lse: (n_q, n_head) f32 (may be NULL). */
void attn_prefill_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                      float *out, float *lse, int n_q, int kv_len, int q_offset,
                      int n_head, int n_kv_head, int d);

/* One query token after a cache of kv_len tokens (it sees all of them).
 * q: (n_head, d) bf16; k, v: (kv_len, n_kv_head, d) bf16;
 * out: (n_head, d) f32; lse: (n_head) f32 (may be NULL). */
void attn_decode_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                     float *out, float *lse, int kv_len, int n_head, int n_kv_head, int d);

/* The same two with a sliding window (0: none, as above). */
void attn_prefill_window_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                             float *out, float *lse, int n_q, int kv_len, int q_offset,
                             int n_head, int n_kv_head, int d, int window);
void attn_decode_window_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                            float *out, float *lse, int kv_len, int n_head, int n_kv_head, int d, int window);

/* ---- CUDA (kernels/cuda/attn_*.cu) ---- */

/* Causal prefill, flash attention (online softmax, f32 accumulation).
 * q: (n_q, n_head, d); k, v: (kv_len, n_kv_head, d); out: (n_q, n_head, d),
 * all bf16 on the device; lse: (n_q, n_head) f32 on the device. */
int attn_prefill_cuda(const void *q, const void *k, const void *v, void *out, float *lse,
                      int n_q, int kv_len, int q_offset, int n_head, int n_kv_head, int d,
                      void *stream);
/* The same with a chosen kernel version (1 .. attn_prefill_versions()), for
 * the dev harness and bench notes; attn_prefill_cuda runs the best one.
 * Versions 3 and up use TMA: q, k, v 16-byte aligned. */
int attn_prefill_cuda_version(int version, const void *q, const void *k, const void *v,
                              void *out, float *lse, int n_q, int kv_len, int q_offset,
                              int n_head, int n_kv_head, int d, void *stream);
int attn_prefill_versions(void);
/* Causal prefill with a sliding window (0: none, the same as
 * attn_prefill_cuda). Windowed calls and d = 256 run the sm_80-style kernel
 * (version 2's tiles); the rest the best version. */
int attn_prefill_window_cuda(const void *q, const void *k, const void *v, void *out, float *lse,
                             int n_q, int kv_len, int q_offset, int n_head, int n_kv_head, int d, int window,
                             void *stream);

/* Split-KV decode: one query token over a cache of kv_len tokens, then the
 * LSE combine. q: (n_head, d); k, v: (kv_len, n_kv_head, d); out: (n_head, d),
 * bf16 on the device; lse: (n_head) f32 on the device (may be NULL).
 * work: device scratch of attn_decode_workspace(...) bytes.
 * Needs n_head / n_kv_head <= 16. */
size_t attn_decode_workspace(int kv_len, int n_head, int n_kv_head, int d);
/* Enough for every kv_len <= max_kv_len (a cache that grows to a bound). */
size_t attn_decode_workspace_upto(int max_kv_len, int n_head, int n_kv_head, int d);
int attn_decode_cuda(const void *q, const void *k, const void *v, void *out, float *lse,
                     int kv_len, int n_head, int n_kv_head, int d, void *work, size_t work_bytes,
                     void *stream);
/* The same with a sliding window (0: none): the query sees the last
 * min(kv_len, window) keys; work: attn_decode_workspace of that many keys. */
int attn_decode_window_cuda(const void *q, const void *k, const void *v, void *out, float *lse,
                            int kv_len, int n_head, int n_kv_head, int d, int window, void *work,
                            size_t work_bytes, void *stream);

/* The same with kv_len read from device memory (*kv_len_dev >= 1) when the
 * kernels run, so one captured launch serves every step of a decode: always
 * ATTN_DEV_SPLITS splits per kv head, each of attn_dev_chunk(kv_len) keys
 * (split s covers keys s*chunk ..; one at or past kv_len writes lse -inf),
 * so the work per split shrinks with the context instead of the number of
 * busy warps. work: attn_decode_dev_workspace bytes; no lse. out NULL: the
 * split kernel only; its partials stay in work: part_o (ATTN_DEV_SPLITS,
 * n_head, d) f32, then part_lse (ATTN_DEV_SPLITS, n_head) f32.
 * pdl 1: launched with programmatic dependent launch (each kernel waits
 * for its predecessor before reading; kernels/decode_kernels.h). */
#define ATTN_DEV_SPLITS 64
#ifdef __CUDACC__
#define ATTN_HD __host__ __device__
#else
#define ATTN_HD
#endif
/* Keys per split for kv_len keys: at least 32, a multiple of 16, so that
 * ATTN_DEV_SPLITS splits cover them. */
static inline ATTN_HD int attn_dev_chunk(int kv_len)
{
    int c = (kv_len + ATTN_DEV_SPLITS - 1) / ATTN_DEV_SPLITS;
    c = (c + 15) / 16 * 16;
    return c < 32 ? 32 : c;
}
size_t attn_decode_dev_workspace(int n_head, int d);
int attn_decode_dev_cuda(const void *q, const void *k, const void *v, void *out, const int *kv_len_dev,
                         int n_head, int n_kv_head, int d, void *work, size_t work_bytes, int pdl, void *stream);

/* ---- Local heads: sinks + a sliding window over a bounded cache ----
 *
 * Rule: a query at position p sees keys 0 .. min(S, p+1)-1 (the sinks) and
 * max(p-W+1, S) .. p (the window); S >= 0, W >= 1 (engine/run/attention.h,
 * ATTN_LOCAL).
 * The ring: one layer's bounded cache of S + W rows, token-major like a full
 * cache, (S + W, n_kv_head, d) bf16. Position j < S lives in row j, position
 * j >= S in row S + (j - S) mod W (attn_local_row). After positions 0 .. P-1
 * were stored it holds the sinks 0 .. min(S, P)-1 and the positions
 * max(S, P-W) .. P-1: exactly what a query at P needs besides its own key.
 * Every pointer is a plain bf16 device pointer (void *; uint16_t * in the
 * CPU twins); S, W, positions are ints; `stream` a cudaStream_t (NULL: the
 * default). d 64, 128 or 256; n_head a multiple of n_kv_head (GQA as above).
 *
 * A chunk of n_q >= 1 queries at positions q_offset .. q_offset+n_q-1:
 *   1. attn_local_prefill_*: keys < q_offset come from the ring (it holds
 *      positions < q_offset), keys >= q_offset from the chunk's own k, v;
 *   2. then attn_local_store_*: the chunk's rows that the ring keeps (sinks,
 *      the chunk's last W positions) are written into it.
 * Decode (one query at position pos): store its k, v first (n = 1), then
 * attn_local_decode_*, which reads only the ring (S + W rows).
 * Storing a chunk before its prefill would be wrong once n_q > 1: a later
 * token of the chunk overwrites the row an earlier query still needs.
 */
static inline ATTN_HD int attn_local_row(int j, int S, int W)
{
    return j < S ? j : S + (j - S) % W;
}

/* CPU twins (kernels/cpu/attn_ref.c).
 * q: (n_q, n_head, d); kr, vr: the ring (S + W, n_kv_head, d) holding the
 * positions < q_offset; kc, vc: the chunk's keys (n_q, n_kv_head, d) at
 * positions q_offset ..; out: (n_q, n_head, d) f32; lse: (n_q, n_head) f32
 * (may be NULL). */
void attn_local_prefill_ref(const uint16_t *q, const uint16_t *kr, const uint16_t *vr, const uint16_t *kc,
                            const uint16_t *vc, float *out, float *lse, int n_q, int q_offset, int S, int W,
                            int n_head, int n_kv_head, int d);
/* q: (n_head, d) at position pos; kr, vr: the ring holding positions
 * 0 .. pos (pos's own k, v stored); out: (n_head, d) f32; lse (n_head) or NULL. */
void attn_local_decode_ref(const uint16_t *q, const uint16_t *kr, const uint16_t *vr, float *out, float *lse,
                           int pos, int S, int W, int n_head, int n_kv_head, int d);
/* Stores the chunk kc, vc: (n, n_kv_head, d) at positions pos0 .. pos0+n-1
 * into the ring kr, vr: rows of positions < S and of the last W positions
 * of the chunk (the others would be overwritten within the chunk). */
void attn_local_store_ref(uint16_t *kr, uint16_t *vr, const uint16_t *kc, const uint16_t *vc, int pos0, int n,
                          int S, int W, int n_kv_head, int d);

/* CUDA (kernels/cuda/attn_local.cu). Same arguments, on the device; out
 * bf16; lse f32 or NULL. The prefill is the FA2-style kernel of
 * attn_prefill.cu walking the sink tiles, then the window's tiles (each key
 * loaded from the ring or the chunk by position): O(S + W) per query; a
 * first chunk (q_offset 0) of d 64 or 128 on sm_90 runs the Hopper kernel
 * with the same walk instead (version 2 below).
 * The decode is split-KV: the dense decode over the ring's first
 * min(pos+1, S+W) rows (version 2 below), or the warp body of
 * attn_decode.cuh over the ring's rows in position order (version 1), cut
 * into chunks of >= 128 keys so a long window fills the device, then
 * attn_combine_cuda; it needs n_head / n_kv_head
 * <= 16 and work: device scratch of attn_local_decode_workspace bytes
 * (enough for every pos with the same S, W). */
int attn_local_prefill_cuda(const void *q, const void *kr, const void *vr, const void *kc, const void *vc,
                            void *out, float *lse, int n_q, int q_offset, int S, int W, int n_head, int n_kv_head,
                            int d, void *stream);
/* The same with a chosen prefill version, for the dev harness and tests:
 * 1 the FA2-style kernel above (any call); 2 the Hopper kernel of
 * attn_prefill_sm90.cu walking the sink tile(s), then the window's tiles,
 * over kc, vc alone: only q_offset 0 (the chunk is the whole context; the
 * ring is not read), d 64 or 128, 16-byte aligned q, kc, vc, an sm_90
 * device. attn_local_prefill_cuda runs 2 where it applies, else 1. */
int attn_local_prefill_cuda_version(int version, const void *q, const void *kr, const void *vr, const void *kc,
                                    const void *vc, void *out, float *lse, int n_q, int q_offset, int S, int W,
                                    int n_head, int n_kv_head, int d, void *stream);
size_t attn_local_decode_workspace(int S, int W, int n_head, int n_kv_head, int d);
int attn_local_decode_cuda(const void *q, const void *kr, const void *vr, void *out, float *lse, int pos, int S,
                           int W, int n_head, int n_kv_head, int d, void *work, size_t work_bytes, void *stream);
/* The same with a chosen decode version: 1 the split kernel walking the
 * visible keys in position order; 2 (attn_local_decode_cuda's) the dense
 * split-KV decode over ring rows 0 .. min(pos, S+W-1), which are exactly
 * the keys the query sees (in another order: softmax does not care). */
int attn_local_decode_cuda_version(int version, const void *q, const void *kr, const void *vr, void *out, float *lse,
                                   int pos, int S, int W, int n_head, int n_kv_head, int d, void *work,
                                   size_t work_bytes, void *stream);
int attn_local_store_cuda(void *kr, void *vr, const void *kc, const void *vc, int pos0, int n, int S, int W,
                          int n_kv_head, int d, void *stream);

/* Combine of partial attention results over splits of the keys.
 * part_o: (n_split, n_head, d) f32, each split's normalised output;
 * part_lse: (n_split, n_head) f32 (-inf for a split that saw no key);
 * out: (n_head, d) bf16; lse: (n_head) f32 (may be NULL). All on the device.
 * A head for which every split has lse -inf gets out = 0 and lse = -inf. */
int attn_combine_cuda(const float *part_o, const float *part_lse, int n_split, int n_head,
                      int d, void *out, float *lse, void *stream);

#ifdef __cplusplus
}
#endif

#endif
