/* utf8.c — strict UTF-8 decoding (utf8.h): the tokenizer's pre-split, the
 * suite checker's byte scan and the escaping of error lines share it. */
#include "base/utf8.h"

size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v;
    /* the second byte's valid range is narrower for E0, ED, F0 and F4 */
    unsigned lo2 = 0x80, hi2 = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3; v = c & 0x0F;
        if (c == 0xE0) lo2 = 0xA0;      /* overlong */
        if (c == 0xED) hi2 = 0x9F;      /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4; v = c & 0x07;
        if (c == 0xF0) lo2 = 0x90;      /* overlong */
        if (c == 0xF4) hi2 = 0x8F;      /* above U+10FFFF */
    } else {
        *cp = UC_INVALID;               /* continuation byte, C0, C1, F5–FF */
        return 1;
    }
    if (n < len || s[1] < lo2 || s[1] > hi2) {
        *cp = UC_INVALID;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = UC_INVALID;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return len;
}
