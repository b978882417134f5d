/* textsrc.c — the KJV text through Debian's `bible` program (textsrc.h). */
#include "model/textsrc.h"

#include <string.h>

static char *kjv;
static size_t kjv_len;

const char *text_kjv(size_t *len, pb_err *err)
{
    if (!kjv) {
        FILE *p = popen("bible -f Gen1:1-Rev22:21 2>/dev/null", "r");
        if (!p) { pb_errf(err, "bible", -1, "cannot run the bible program (Debian package bible-kjv)"); return NULL; }
        size_t n = 0;
        char *buf = pb_read_stream(p, &n);
        int st = pclose(p);
        if (!buf || st != 0 || n < 1000000) {
            free(buf);
            pb_errf(err, "bible", -1, "`bible -f Gen1:1-Rev22:21` failed (install Debian's bible-kjv; `make deps` does)");
            return NULL;
        }
        kjv = buf;
        kjv_len = n;
    }
    *len = kjv_len;
    return kjv;
}
