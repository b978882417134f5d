/* common.c — the error and allocation helpers declared in common.h. */
#include "base/common.h"
#include "base/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void pb_escape_line(char *s, size_t cap)
{
    char in[1024];
    snprintf(in, sizeof in, "%s", s);
    size_t o = 0, len = strlen(in);
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 1 < cap;) {
        uint32_t cp;
        int n = (int)utf8_next(p, len - (size_t)(p - (const unsigned char *)in), &cp);
        if (cp == UC_INVALID || (cp < 0x20 && cp != '\n' && cp != '\r' && cp != '\t') || (cp >= 0x7f && cp < 0xa0))
            n = 0; /* not UTF-8, or a C0/C1 control or DEL */
        if (n && o + (size_t)n < cap) {
            for (int i = 0; i < n; i++, p++) s[o++] = (char)(*p == '\n' || *p == '\r' ? ' ' : *p);
        } else if (n || o + 4 >= cap) {
            break; /* no room for the whole character */
        } else {
            snprintf(s + o, cap - o, "\\x%02x", *p++);
            o += 4;
        }
    }
    s[o] = 0;
}

int pb_errf(pb_err *e, const char *file, long long offset, const char *fmt, ...)
{
    if (!e) return 0;
    int n = !file       ? (e->msg[0] = 0, 0)
            : offset >= 0 ? snprintf(e->msg, sizeof e->msg, "%s: offset %lld: ", file, offset)
                          : snprintf(e->msg, sizeof e->msg, "%s: ", file);
    if (n < 0 || (size_t)n >= sizeof e->msg) return 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg + n, sizeof e->msg - (size_t)n, fmt, ap);
    va_end(ap);
    pb_escape_line(e->msg, sizeof e->msg); /* one line, and no raw bytes from the input */
    return 0;
}

void pb_die_input(const pb_err *e)
{
    fprintf(stderr, "%s\n", e->msg);
    exit(2);
}

void pb_die_runtime(const char *file, int line, const char *fmt, ...)
{
    char msg[1024];
    int n = snprintf(msg, sizeof msg, "purbo: %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    pb_escape_line(msg, sizeof msg);
    fprintf(stderr, "%s\n", msg);
    exit(1);
}

void *pb_malloc_at(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);
    if (!p) pb_die_runtime(file, line, "out of memory (%zu bytes)", n);
    return p;
}

void *pb_calloc_at(size_t n, size_t size, const char *file, int line)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) pb_die_runtime(file, line, "out of memory (%zu x %zu bytes)", n, size);
    return p;
}

void *pb_realloc_at(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) pb_die_runtime(file, line, "out of memory (%zu bytes)", n);
    return q;
}

double pb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void pb_fmt_secs(char *buf, size_t n, double s)
{
    if (s < 0 || !isfinite(s)) snprintf(buf, n, "?");
    else if (s < 60) snprintf(buf, n, "%.0fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

int pb_mkdir_p(const char *dir)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) { errno = ENAMETOOLONG; return -1; }
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) return -1;
        *s = '/';
    }
    return mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

FILE *pb_fopen_read(const char *path, int regular, int *not_regular)
{
    if (not_regular) *not_regular = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    if (fstat(fd, &st) != 0 || fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) goto fail;
    if (regular && !S_ISREG(st.st_mode)) {
        if (not_regular) *not_regular = 1;
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        goto fail;
    }
    FILE *f = fdopen(fd, "rb");
    if (f) return f;
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return NULL;
}

char *pb_read_stream(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0, r;
    char *buf = pb_malloc(cap);
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0)
        if ((n += r) == cap - 1) buf = pb_realloc(buf, cap *= 2);
    if (ferror(f)) {
        int e = errno;
        free(buf);
        errno = e;
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}
