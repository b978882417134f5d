/* calib.h — the calibration text the probes run over, cut into windows of
 * model tokens.
 *
 * Two sources: natural text (the KJV, textsrc.h) and code (this project's
 * own C/CUDA sources, read from disk). Window w of a seed is drawn from KJV
 * when w is even and from code when w is odd; its start is a line start at a
 * byte offset drawn from (seed, w) alone, so window w is the same whatever
 * the number of windows asked for. A window is the first n tokens of the
 * text from that offset, tokenized by the model's tokenizer: windows are
 * measured in model tokens, never in bytes.
 *
 * Where the code text comes from (calib_find_root): $PURBO_ROOT if set;
 * else the folder above the running binary's folder (build/purbo-bench →
 * the checkout); else the current directory — the first of these that holds
 * engine/forward.c. The files are every *.c, *.h and *.cu under engine/,
 * kernels/, kernels/cpu/, kernels/cuda/, probes/, plots/, results/, suites/
 * and tests/, concatenated in byte order of their paths. The code text
 * changes as the project does, so calib_describe names its size and FNV-1a
 * hash, and the probe command records that in the run's config.
 */
#ifndef PURBO_CALIB_H
#define PURBO_CALIB_H

#include <stdint.h>

#include "common.h"
#include "tokenizer.h"

typedef struct calib calib;

enum calib_source { CALIB_KJV = 0, CALIB_CODE = 1 };

/* From the two texts (copied). Each must be long enough for the windows
 * asked of it (calib_window checks). */
calib *calib_from_texts(const tokenizer *tok, const char *kjv, size_t kjv_len, const char *code,
                        size_t code_len);
/* KJV through `bible`, code from calib_find_root. NULL + *err when either is
 * missing. */
calib *calib_open(const tokenizer *tok, pb_err *err);
void calib_free(calib *c);

/* Fills root (size cap) with the project root holding the sources; 0 +
 * *err when none of the places above has them. */
int calib_find_root(char *root, size_t cap, pb_err *err);
/* Reads and concatenates the code files under root (malloc'ed, *len bytes,
 * *n_files files). NULL + *err when there are none. */
char *calib_read_code(const char *root, size_t *len, int *n_files, pb_err *err);

/* Window w: n tokens into ids (n). Returns the source; *offset (may be
 * NULL) gets the byte offset of the window's first token in that source.
 * A source too short for n tokens is a runtime error. */
enum calib_source calib_window(const calib *c, uint64_t seed, int w, int n, int *ids, size_t *offset);
/* n tokens of source src from a line start drawn from (seed, w). */
void calib_tokens(const calib *c, enum calib_source src, uint64_t seed, int w, int n, int *ids,
                  size_t *offset);

/* "kjv <bytes> fnv1a64 <hex>; code <bytes> fnv1a64 <hex>" (static in c). */
const char *calib_describe(const calib *c);

#endif
