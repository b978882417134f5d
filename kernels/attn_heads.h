/* attn_heads.h — moving a subset of heads between a full head-major row and a
 * compact one: how a layer whose KV heads are kept in two storages (the
 * global heads' full cache, the local heads' ring) hands each storage's
 * kernels the query, key and value heads that belong to it, and puts their
 * outputs back.
 *
 * A row is token-major: token t, head h at (t * heads + h) * d. map[i] (i <
 * n_map) names the head of the wide row that slot i of the compact row holds;
 * the map's entries are distinct and < the wide row's head count; n_map <=
 * ATTN_HEADS_MAX. bf16 values are raw 16-bit words, rounded to nearest even.
 * Pointers of the CUDA launchers are device memory (the map is passed by
 * value); they enqueue on `stream` (a cudaStream_t, NULL: the default) and
 * return 0 or a cudaError_t value. CPU twins: kernels/cpu/attn_heads_ref.c.
 */
#ifndef PURBO_KERNELS_ATTN_HEADS_H
#define PURBO_KERNELS_ATTN_HEADS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { ATTN_HEADS_MAX = 64 };

/* dst: (n, n_map, d) bf16 = bf16(src (n, src_heads, d) f32 at heads map[]). */
void attn_heads_gather_ref(uint16_t *dst, const float *src, int n, int src_heads, const int *map, int n_map, int d);
int attn_heads_gather_cuda(uint16_t *dst, const float *src, int n, int src_heads, const int *map, int n_map, int d,
                           void *stream);

/* dst (n, dst_heads, d) bf16 at heads map[] = src (n, n_map, d) bf16; the
 * other heads of dst are left as they are. */
void attn_heads_scatter_ref(uint16_t *dst, int dst_heads, const uint16_t *src, int n, const int *map, int n_map,
                            int d);
int attn_heads_scatter_cuda(uint16_t *dst, int dst_heads, const uint16_t *src, int n, const int *map, int n_map,
                            int d, void *stream);

#ifdef __cplusplus
}
#endif

#endif
