/* bench_peer.h — llama.cpp as the peer of `purbo-bench bench` on the CPU:
 * the same GGUF, the same token ids, the same cases (prefill of N tokens,
 * decode of M tokens after a context), the same thread count, timed by
 * suites/peers/llama_cpp_peer.py (its header has the protocol) through the
 * Python binding of llama.cpp, installed outside this repository. The
 * interpreter is $PURBO_PYTHON or python3; the script $PURBO_LLAMA_PEER or
 * suites/peers/llama_cpp_peer.py.
 */
#ifndef PURBO_BENCH_PEER_H
#define PURBO_BENCH_PEER_H

#include <stddef.h>

typedef struct {
    const char *model_path;
    const int *ids;                 /* at least max(sizes, decode_ctx + decode_tokens) */
    int n_ids;
    const int *sizes;               /* prefill lengths */
    int n_sizes;
    int decode_ctx, decode_tokens, repeats, threads;
} bench_peer_args;

/* One timed case: phase "prefill" (n_ctx = n_tokens = N) or "decode"; t:
 * seconds of each of n repeats; setting: what the peer chose for the case
 * ("flash_attn=on"), may be "". */
typedef void (*bench_peer_case)(void *ctx, const char *phase, int n_ctx, int n_tokens, const double *t, int n,
                                const char *setting);

/* Runs the peer over every case, calling cb for each as it comes. 1 when it
 * ran (info: its "ready" fields: versions, settings, CPU flags); 0 with a
 * one-line reason when the peer is missing or failed (cases already given
 * to cb stand). */
int bench_peer_llama(const bench_peer_args *a, bench_peer_case cb, void *ctx, char *info, size_t info_len,
                     char *why, size_t why_len);

#endif
