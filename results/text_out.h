/* text_out.h — JSON and CSV text for the readers that export results
 * (export, report and compare in their machine formats).
 *
 * Invariants: json_put_str writes a valid JSON string for any byte string:
 * quote, backslash and control bytes escaped, valid UTF-8 passed through,
 * every byte of an invalid UTF-8 sequence written as U+FFFD, so a model's
 * cut-off multi-byte character never makes the output unreadable.
 * json_put_num writes null for a NaN or an infinity (JSON has neither).
 * csv_put_field quotes a field only when it holds a comma, quote, CR or LF
 * (RFC 4180: quotes doubled inside) and writes invalid UTF-8 bytes as
 * U+FFFD too.
 */
#ifndef PURBO_TEXT_OUT_H
#define PURBO_TEXT_OUT_H

#include <stddef.h>
#include <stdio.h>

/* s (NULL: null) as a JSON string on f. */
void json_put_str(FILE *f, const char *s);
/* The same appended at (*out)[*len], the buffer grown (NUL-terminated). */
void json_buf_str(char **out, size_t *len, size_t *cap, const char *s);
/* x in the fewest digits that read back as the same double; null if not finite. */
void json_put_num(FILE *f, double x);
/* A throughput in a prefix that fits its magnitude, 3 significant digits:
 * TFLOP/s below 1 as GFLOP/s (then MFLOP/s), GB/s below 1 as MB/s (then
 * kB/s); tok/s as is. "12.3 GFLOP/s" into out[n]. */
void fmt_rate(double v, const char *unit, char *out, size_t n);
/* One CSV field (NULL: empty). */
void csv_put_field(FILE *f, const char *s);

#endif
