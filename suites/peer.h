/* peer.h — the attention kernels of other libraries, timed on the runner's
 * cases: torch's SDPA with the cuDNN and FlashAttention-2 backends and
 * FlexAttention, through suites/peers/sdpa_peer.py --serve run as a
 * coprocess (one per run, started at the first peer case).
 *
 * Protocol (one line each way, the script's header has it too):
 *   start:  "ready card=C torch=V device=D"   (or "error REASON", exit 3)
 *   ask:    "time IMPL PHASE N_HEAD N_KV_HEAD D N_CTX WARMUP REPEATS"
 *   or:     "lists IMPL PHASE N_HEAD N_KV_HEAD D N_CTX WARMUP REPEATS PATH" (flex
 *           on the block lists in PATH: peer_time_lists)
 *   answer: "ok gqa=native|repeat T1 .. Trepeats" (us per launch) or "err REASON"
 * The script times the way attn_time.h does: warm-up, a burst sized by one
 * launch, event-timed bursts, inputs rotated over > 150 MB.
 *
 * The interpreter is $PURBO_PYTHON or python3; the script
 * suites/peers/sdpa_peer.py under the working directory, or $PURBO_PEER.
 */
#ifndef PURBO_PEER_H
#define PURBO_PEER_H

#include <stddef.h>

#include "kernels/attn_time.h"

/* The path of peer script `name`: $env when set, else suites/peers/NAME
 * under the working directory or beside the binary (buf holds it); NULL and
 * a one-line reason when it is not readable. */
const char *peer_script(const char *env, const char *name, char *buf, size_t len, char *why, size_t why_len);

/* Peer implementations a suite method may name (`impl`). */
#define PEER_IMPLS "sdpa_cudnn", "sdpa_fa2", "flex"

typedef struct peer peer;

/* Starts the script; NULL and a one-line reason when it does not answer
 * "ready". info gets the ready line's fields ("card=... torch=... device=..."). */
peer *peer_open(char *info, size_t info_len, char *why, size_t why_len);
/* Times case c with impl: t_s[0 .. repeats) seconds per launch, gqa gets
 * "native" or "repeat". 0 and a reason when the peer refused the case (it
 * keeps serving) or died (later calls fail too). */
int peer_time(peer *p, const char *impl, const attn_time_case *c, int warmup, int repeats, double *t_s, char *gqa,
              size_t gqa_len, char *why, size_t why_len);
/* The same for FlexAttention (impl "flex") over the block lists in file
 * path (layer_timer_write_lists' format; c gives the shape, n_ctx and the
 * phase): request "lists IMPL PHASE N_HEAD N_KV_HEAD D N_CTX WARMUP REPEATS
 * PATH", the same answer. */
int peer_time_lists(peer *p, const char *impl, const attn_time_case *c, const char *path, int warmup, int repeats,
                    double *t_s, char *gqa, size_t gqa_len, char *why, size_t why_len);
/* The peers' process of a run, started at the first call (*p NULL and
 * *failed 0); NULL once it would not start (one line on stderr, *failed set). */
peer *peer_get(peer **p, int *failed);
void peer_close(peer *p);

#endif
