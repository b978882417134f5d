/* planfile.h — the .purbo plan file: what `purbo-bench convert` produces
 * and the rtpurbo policy runs (engine/convert/CONVERT.md documents it with the converter).
 *
 * A plan says, for one model, which query heads are retrieval heads (they
 * get a trained indexer and top-p block selection) and which are local
 * (S sinks + a window of W recent tokens), with the selection parameters
 * and the indexers W_Q, W_K (r, d) of every retrieval head.
 *
 * Binary layout, version 1, little-endian, no padding except where noted
 * (version 2 differs only where marked):
 *   off  size  field
 *     0     8  magic "PURBOPLN"
 *     8     4  u32 version = 1 or 2
 *    12     4  u32 flags = 0 (reserved; readers reject other values)
 *    16     8  u64 model fingerprint (model_fingerprint below)
 *    24     4  u32 n_layer
 *    28     4  u32 n_head            query heads per layer
 *    32     4  u32 n_head_kv
 *    36     4  u32 head_dim d
 *    40     4  u32 sink S            sink tokens every head keeps
 *    44     4  u32 window W          local heads' window (tokens, query included)
 *    48     4  u32 block             selection granularity of retrieval heads (64)
 *    52     4  u32 local             retrieval heads always keep the last `local` tokens' blocks
 *    56     4  f32 p                 top-p mass, in (0, 1]
 *    60     4  u32 r                 indexer rank, 1 <= r <= d
 *    64     4  u32 n_retrieval       number of class-1 heads
 *  version 2 only, the length rule (plan.h: by_length); what follows moves
 *  on by 4 + 20 n bytes:
 *    68     4  u32 n               rows, 0..8
 *    72  20 n  per row: u32 from (prompt tokens, ascending), u32 fields
 *              (1 local, 2 kmin, 4 p: which of the next three apply),
 *              u32 local, u32 kmin, f32 p
 *    68     H  u8 class[H], H = n_layer * n_head, head (l, h) at l * n_head + h:
 *              0 = local, 1 = retrieval, and in version 2 2 = dense (the head
 *              attends to every key under every policy the plan runs)
 *     .     .  zero bytes up to a multiple of 4
 *     .     .  per retrieval head in class order: f32 W_Q[r][d], then f32 W_K[r][d]
 *              (row-major; the policy scores s_j = (W_Q q).(W_K k_j) / sqrt(d) on
 *              pre-RoPE q and k)
 *   end-8   8  u64 FNV-1a 64 (pb_fnv1a64) of every byte before it
 * The size is fixed by the header: a longer or shorter file is rejected.
 * A plan without a length rule or dense heads is written as version 1, so
 * its bytes do not change; readers take both versions.
 *
 * Reading checks, in order: the file opens; magic; version; flags; shape
 * fields in range; the size the header implies; the checksum; classes and
 * parameters; non-finite matrix entries; then the model (fingerprint and
 * shape). Every failure is one pb_err line "FILE: what is wrong" (exit 2 at
 * the CLI). Writing goes to FILE.tmp.PID, then rename(): a reader never
 * sees half a plan.
 */
#ifndef PURBO_PLANFILE_H
#define PURBO_PLANFILE_H

#include <stdint.h>

#include "base/common.h"
#include "model/model.h"
#include "policy/plan.h"

#define PLANFILE_MAGIC "PURBOPLN"
#define PLANFILE_VERSION 2u

enum { PLAN_CLASS_LOCAL = 0, PLAN_CLASS_RETRIEVAL = 1, PLAN_CLASS_DENSE = 2 /* version 2 */ };

typedef struct {
    uint64_t model_fp;          /* model_fingerprint of the model it is for */
    int n_layer, n_head, n_head_kv, head_dim;
    int sink, window, block, local;
    float p;
    int r;
    unsigned char *cls;         /* [n_layer * n_head] PLAN_CLASS_* */
    float *idx_q, *idx_k;       /* (n_layer * n_head, r, d); rows of local heads are zero */
    int n_by_length;            /* the length rule (plan.h), 0 rows: none (version 1) */
    plan_length_row by_length[PLAN_MAX_BY_LENGTH];
} plan_file;

/* Allocates cls (all local) and zeroed idx_q/idx_k for the model's shape;
 * sets model_fp and shape from m, the rest to 0. */
void plan_file_init(plan_file *p, const model *m, int r);
void plan_file_free(plan_file *p);
int plan_file_n_retrieval(const plan_file *p);

/* FNV-1a 64 over the model's configuration, every tensor's name, shape and
 * type, and every tensor's bytes (the quantized data as stored): two files
 * with the same weights agree, any other difference disagrees. */
uint64_t model_fingerprint(const model *m);

/* Writes p to path (via a temp file and rename). 1, or 0 + e (the path
 * cannot be written). Non-finite matrix entries are a runtime error. */
int plan_file_write(const char *path, const plan_file *p, pb_err *e);

/* Reads and checks path; with m non-NULL also that it was made for m.
 * 1 and *p filled (plan_file_free it), or 0 + e and *p untouched. */
int plan_file_read(const char *path, const model *m, plan_file *p, pb_err *e);

/* The same on a buffer (tests, fuzzing); name is used in messages. */
int plan_file_parse(const unsigned char *buf, size_t size, const char *name, const model *m, plan_file *p, pb_err *e);

/* The serialised bytes of p (malloc'ed, *size). */
unsigned char *plan_file_serialise(const plan_file *p, size_t *size);

/* The engine's plan (plan.h) of policy spec (NULL: rtpurbo) with f's
 * retrieval heads, r and, for the rtpurbo kinds, indexers, and f's S, W,
 * block, local and p except those the spec set (spec.given: e.g.
 * "rtpurbo:window=256" runs the plan with another window), and f's length
 * rule where the policy takes one and the spec gave none; f's dense heads
 * are dense under every policy. 1, or 0 + e when the policy
 * cannot take them. */
int plan_from_file(plan *p, const model_config *c, const plan_file *f, const plan_spec *spec, const char *name,
                   pb_err *e);

#endif
