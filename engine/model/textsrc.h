/* textsrc.h — long natural text for prompts, benchmarks and calibration.
 *
 * The King James Bible from Debian's bible-kjv (`bible -f Gen1:1-Rev22:21`,
 * 4.4 MB, public domain), read once per process through the `bible`
 * program. Deterministic: the same bytes on every machine with the package.
 */
#ifndef PURBO_TEXTSRC_H
#define PURBO_TEXTSRC_H

#include "base/common.h"

/* The whole text (cached; do not free). NULL + *err if `bible` is missing. */
const char *text_kjv(size_t *len, pb_err *err);

#endif
