/* unicode.c — the class lookup over the generated tables (unicode.h says
 * what the classes are; the UTF-8 decoder is base/utf8.c). */
#include "model/unicode.h"

int uc_class(uint32_t cp)
{
    if (cp < 0x80) return uc_ascii[cp];
    int lo = 0, hi = uc_n_ranges - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < uc_ranges[mid].lo) hi = mid - 1;
        else if (cp > uc_ranges[mid].hi) lo = mid + 1;
        else return uc_ranges[mid].cls;
    }
    return UC_OTHER;
}
