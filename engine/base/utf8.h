/* utf8.h — strict UTF-8 decoding: no overlongs, surrogates or code points
 * above U+10FFFF; a byte that does not start a valid sequence decodes alone
 * as UC_INVALID, so a scan over any bytes advances and drops nothing.
 */
#ifndef PURBO_UTF8_H
#define PURBO_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define UC_INVALID 0xFFFFFFFFu

/* Decodes the code point at s (n > 0 bytes available) into *cp and returns
 * its length in bytes (1–4); an invalid or truncated sequence gives
 * *cp = UC_INVALID and length 1. */
size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp);

#endif
