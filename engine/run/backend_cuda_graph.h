/* backend_cuda_graph.h — the CUDA backend's whole-step decode (backend.h,
 * decode): one token of the llama block through the fused kernels of
 * kernels/decode_kernels.h, captured once per cache as a CUDA graph and
 * replayed for every token. Private to the CUDA backend (backend_cuda.cu).
 *
 * The changing values (token id, position, kv length) live in a pinned host
 * step that the graph's first node copies to the device; every kernel reads
 * them there, so one graph serves every step of a cache (it is re-captured
 * only when the cache, its capacity or the mode changes).
 * Modes (backend.h, decode_graph): DECODE_GRAPH replays the graph;
 * DECODE_DIRECT launches the same kernels one by one (the graph's bitwise
 * twin, for tests and timing); either with DECODE_PDL: programmatic
 * dependent launch (each kernel starts while its predecessor finishes,
 * prefetches its weights, then waits for it; the same results bit for bit).
 */
#ifndef PURBO_BACKEND_CUDA_GRAPH_H
#define PURBO_BACKEND_CUDA_GRAPH_H

#include <stdint.h>

#include "run/backend.h"

typedef struct cu_decode cu_decode;

/* NULL (and a one-line reason in why) when b's model is not the llama
 * block these kernels cover (norms, activation, RoPE style, shapes).
 * stream: the backend's cudaStream_t. */
cu_decode *cu_decode_new(const backend *b, void *stream, char *why, size_t why_len);
void cu_decode_free(cu_decode *g);

/* One decode step on the cache kc, vc: (n_layer, n_ctx, n_head_kv, d) bf16:
 * token at position pos (< n_ctx), its k/v written at pos; out_host: NULL or
 * (n_vocab) f32 logits. mode as above (not 0). Waits for the step. */
void cu_decode_step(cu_decode *g, int mode, uint16_t *kc, uint16_t *vc, int n_ctx, int token, int pos,
                    float *out_host);

#endif
