/* calib.c — calibration text and its token windows (calib.h). */
#include "calib.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "rng.h"
#include "textsrc.h"

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

static int has_sources(const char *root)
{
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/engine/forward.c", root);
    return access(p, R_OK) == 0;
}

int calib_find_root(char *root, size_t cap, pb_err *err)
{
    const char *env = getenv("PURBO_ROOT");
    if (env && *env) {
        if (!has_sources(env))
            return pb_errf(err, env, -1, "PURBO_ROOT has no engine/forward.c (the purbo sources)");
        snprintf(root, cap, "%s", env);
        return 1;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        for (int up = 0; up < 2; up++) { /* strip the file, then its folder */
            char *slash = strrchr(exe, '/');
            if (!slash) break;
            *slash = 0;
        }
        if (*exe && has_sources(exe)) {
            snprintf(root, cap, "%s", exe);
            return 1;
        }
    }
    if (has_sources(".")) {
        snprintf(root, cap, ".");
        return 1;
    }
    return pb_errf(err, "calibration code text", -1,
                   "cannot find the purbo sources (engine/forward.c) above the binary or in the "
                   "current folder; set PURBO_ROOT");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_source(const char *name)
{
    size_t l = strlen(name);
    return (l > 2 && (!strcmp(name + l - 2, ".c") || !strcmp(name + l - 2, ".h"))) ||
           (l > 3 && !strcmp(name + l - 3, ".cu"));
}

char *calib_read_code(const char *root, size_t *len, int *n_files, pb_err *err)
{
    static const char *dirs[] = {"engine", "kernels", "kernels/cpu", "kernels/cuda", "probes",
                                 "plots",  "results", "suites",      "tests"};
    char **paths = NULL;
    int n = 0;
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", root, dirs[d]);
        DIR *dp = opendir(dir);
        if (!dp) continue;
        for (struct dirent *e; (e = readdir(dp));) {
            if (!is_source(e->d_name)) continue;
            paths = pb_realloc(paths, (size_t)(n + 1) * sizeof *paths);
            size_t l = strlen(dir) + strlen(e->d_name) + 2;
            paths[n] = pb_malloc(l);
            snprintf(paths[n++], l, "%s/%s", dir, e->d_name);
        }
        closedir(dp);
    }
    qsort(paths, (size_t)n, sizeof *paths, cmp_str);
    char *buf = NULL;
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        FILE *f = fopen(paths[i], "rb");
        struct stat st;
        if (f && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
            buf = pb_realloc(buf, used + (size_t)st.st_size + 2);
            used += fread(buf + used, 1, (size_t)st.st_size, f);
            buf[used++] = '\n';
        }
        if (f) fclose(f);
        free(paths[i]);
    }
    free(paths);
    *n_files = n;
    if (!buf) {
        pb_errf(err, root, -1, "no C sources found for the calibration code text");
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
    char root[PATH_MAX];
    if (!calib_find_root(root, sizeof root, err)) return NULL;
    int nf;
    char *code = calib_read_code(root, &cl, &nf, err);
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
