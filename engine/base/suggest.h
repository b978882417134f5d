/* suggest.h — "did you mean" hints for bad names in user input. */
#ifndef PURBO_SUGGEST_H
#define PURBO_SUGGEST_H

#include <stddef.h>

/* out = " (did you mean 'x'?)" for the closest of names[0..n) within a few
 * edits of got (case-insensitive), else "". */
void pb_suggest(const char *got, const char *const *names, int n, char *out, size_t cap);

#endif
