/* calib.c — calibration text and its token windows (calib.h). */
#include "probes/calib.h"

#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "base/hash.h"
#include "base/rng.h"
#include "model/textsrc.h"

struct calib {
    const tokenizer *tok;
    char *text[2];      /* [enum calib_source] */
    size_t len[2];
    char desc[160];
};

calib *calib_from_texts(const tokenizer *tok, const char *kjv, size_t kjv_len, const char *code,
                        size_t code_len)
{
    calib *c = pb_calloc(1, sizeof *c);
    c->tok = tok;
    const char *t[2] = {kjv, code};
    size_t l[2] = {kjv_len, code_len};
    for (int s = 0; s < 2; s++) {
        c->text[s] = pb_malloc(l[s] + 1);
        memcpy(c->text[s], t[s], l[s]);
        c->text[s][l[s]] = 0;
        c->len[s] = l[s];
    }
    snprintf(c->desc, sizeof c->desc, "kjv %zu bytes fnv1a64 %016llx; code %zu bytes fnv1a64 %016llx",
             l[0], (unsigned long long)pb_fnv1a64(PB_FNV1A64_INIT, t[0], l[0]), l[1],
             (unsigned long long)pb_fnv1a64(PB_FNV1A64_INIT, t[1], l[1]));
    return c;
}

void calib_free(calib *c)
{
    if (!c) return;
    free(c->text[0]);
    free(c->text[1]);
    free(c);
}

const char *calib_describe(const calib *c) { return c->desc; }

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *calib_read_code(size_t *len, int *n_files, pb_err *err)
{
    static const char *what = "calibration code text";
    FILE *p = popen("dpkg -L libc6-dev 2>/dev/null", "r");
    if (!p) {
        pb_errf(err, what, -1, "cannot run dpkg -L libc6-dev");
        return NULL;
    }
    char **paths = NULL, line[PATH_MAX];
    int n = 0;
    while (fgets(line, sizeof line, p)) {
        size_t l = strcspn(line, "\n");
        line[l] = 0;
        struct stat st;
        if (strncmp(line, "/usr/include/", 13) || l < 3 || strcmp(line + l - 2, ".h") || stat(line, &st) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        paths = pb_realloc(paths, (size_t)(n + 1) * sizeof *paths);
        PB_CHECK((paths[n++] = strdup(line)) != NULL, "out of memory");
    }
    pclose(p);
    qsort(paths, (size_t)n, sizeof *paths, cmp_str);
    char *buf = NULL;
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        FILE *f = fopen(paths[i], "rb");
        size_t got = 0;
        char *t = f ? pb_read_stream(f, &got) : NULL;
        if (f) fclose(f);
        if (t) {
            buf = pb_realloc(buf, used + got + 2);
            memcpy(buf + used, t, got);
            used += got;
            buf[used++] = '\n';
            free(t);
        }
        free(paths[i]);
    }
    free(paths);
    *n_files = n;
    if (used < 100000) {
        free(buf);
        pb_errf(err, what, -1, "`dpkg -L libc6-dev` lists no headers under /usr/include (install libc6-dev; "
                               "`make deps` does)");
        return NULL;
    }
    buf[used] = 0;
    *len = used;
    return buf;
}

calib *calib_open(const tokenizer *tok, pb_err *err)
{
    size_t kl, cl;
    const char *kjv = text_kjv(&kl, err);
    if (!kjv) return NULL;
    int nf;
    char *code = calib_read_code(&cl, &nf, err);
    if (!code) return NULL;
    calib *c = calib_from_texts(tok, kjv, kl, code, cl);
    free(code);
    return c;
}

void calib_tokens(const calib *c, enum calib_source src, uint64_t seed, int w, int n, int *ids,
                  size_t *offset)
{
    const char *text = c->text[src];
    size_t len = c->len[src];
    /* the draw depends on (seed, source, w) only */
    pb_rng r = {seed * 0x2545f4914f6cdd1dull ^ ((uint64_t)w << 20) ^ (uint64_t)src};
    size_t slice = (size_t)n * 6 + 4096;
    if (slice > len) slice = len;
    size_t off = (size_t)rng_below(&r, len - slice + 1);
    for (;;) {
        size_t start = off;
        while (start > 0 && start < len && text[start - 1] != '\n') start++;
        int *tmp;
        /* one token more than asked: the slice's last token may be a cut word */
        int got = tok_encode(c->tok, text + start, (off + slice < len ? off + slice : len) - start, 0, &tmp);
        if (got > n) {
            memcpy(ids, tmp, (size_t)n * sizeof *ids);
            free(tmp);
            if (offset) *offset = start;
            return;
        }
        free(tmp);
        PB_CHECK(slice < len, "calibration source %s has only %d tokens, fewer than %d",
                 src == CALIB_KJV ? "kjv" : "code", got, n + 1);
        slice = slice * 2 < len ? slice * 2 : len;
        if (off + slice > len) off = len - slice;
    }
}

enum calib_source calib_window(const calib *c, uint64_t seed, int w, int n, int *ids, size_t *offset)
{
    enum calib_source src = (w & 1) ? CALIB_CODE : CALIB_KJV;
    calib_tokens(c, src, seed, w, n, ids, offset);
    return src;
}
