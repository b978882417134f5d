/* calib.h — the calibration text the probes run over, cut into windows of
 * model tokens.
 *
 * Two sources: natural text (the KJV, textsrc.h) and C code (the headers
 * of Debian's libc6-dev). Window w of a seed is drawn from KJV when w is
 * even and from code when w is odd; its start is a line start at a byte
 * offset drawn from (seed, w) alone, so window w is the same whatever the
 * number of windows asked for. A window is the first n tokens of the text
 * from that offset, tokenized by the model's tokenizer: windows are
 * measured in model tokens, never in bytes.
 *
 * The code text (calib_read_code): every *.h under /usr/include that
 * `dpkg -L libc6-dev` lists, concatenated in byte order of their paths
 * (about 470 files, 2.2 MB on Debian 12). It does not change with this
 * project's tree, so a conversion or probe run at two commits sees the
 * same windows; it changes only with the libc6-dev package, so
 * calib_describe names its size and FNV-1a hash, and probe and convert
 * record that in the run's config.
 */
#ifndef PURBO_CALIB_H
#define PURBO_CALIB_H

#include <stdint.h>

#include "base/common.h"
#include "model/tokenizer.h"

typedef struct calib calib;

enum calib_source { CALIB_KJV = 0, CALIB_CODE = 1 };

/* From the two texts (copied). Each must be long enough for the windows
 * asked of it (calib_window checks). */
calib *calib_from_texts(const tokenizer *tok, const char *kjv, size_t kjv_len, const char *code,
                        size_t code_len);
/* KJV through `bible`, code from calib_read_code. NULL + *err when either
 * is missing. */
calib *calib_open(const tokenizer *tok, pb_err *err);
void calib_free(calib *c);

/* Reads and concatenates the libc6-dev headers (malloc'ed, *len bytes,
 * *n_files files). NULL + *err when dpkg or the package is missing. */
char *calib_read_code(size_t *len, int *n_files, pb_err *err);

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
