/* text_out.c — JSON strings and numbers, CSV fields (text_out.h). */
#include "results/text_out.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static int utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (!n || c > 0xf4) return 0;
    unsigned cp = c & (0x3f >> (n - 1));
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* Writes the JSON string of s into p (room for 6 bytes per input byte + 3). */
static size_t json_encode(char *p0, const char *s)
{
    char *p = p0;
    *p++ = '"';
    for (const unsigned char *u = (const unsigned char *)s; *u;) {
        int n = utf8_len(u);
        if (n == 1) {
            if (*u == '"' || *u == '\\') *p++ = '\\', *p++ = (char)*u;
            else if (*u < 0x20) p += sprintf(p, "\\u%04x", *u);
            else *p++ = (char)*u;
            u++;
        } else if (n == 0) {
            p += sprintf(p, "\\ufffd");
            u++;
        } else {
            memcpy(p, u, (size_t)n);
            p += n;
            u += n;
        }
    }
    *p++ = '"';
    *p = 0;
    return (size_t)(p - p0);
}

void json_buf_str(char **out, size_t *len, size_t *cap, const char *s)
{
    size_t need = *len + 6 * strlen(s) + 3;
    if (need > *cap) *out = pb_realloc(*out, *cap = need * 2);
    *len += json_encode(*out + *len, s);
}

void json_put_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    char *buf = pb_malloc(6 * strlen(s) + 3);
    json_encode(buf, s);
    fputs(buf, f);
    free(buf);
}

void json_put_num(FILE *f, double x)
{
    if (!isfinite(x)) {
        fputs("null", f);
        return;
    }
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    fputs(buf, f);
}

/* s with every invalid UTF-8 byte written as U+FFFD and '"' doubled when quoted. */
static void csv_put_text(FILE *f, const char *s, int quoted)
{
    for (const unsigned char *u = (const unsigned char *)s; *u;) {
        int n = utf8_len(u);
        if (n == 0) {
            fputs("\xef\xbf\xbd", f);
            u++;
            continue;
        }
        if (quoted && *u == '"') fputc('"', f);
        fwrite(u, 1, (size_t)n, f);
        u += n;
    }
}

void fmt_rate(double v, const char *unit, char *out, size_t n)
{
    static const char *const flops[] = {"TFLOP/s", "GFLOP/s", "MFLOP/s", "kFLOP/s"};
    static const char *const bytes[] = {"GB/s", "MB/s", "kB/s", "B/s"};
    const char *const *scale = !strcmp(unit, "TFLOP/s") ? flops : !strcmp(unit, "GB/s") ? bytes : NULL;
    int k = 0;
    while (scale && k < 3 && v != 0 && fabs(v) < 1) v *= 1000, k++;
    if (!scale) snprintf(out, n, "%.1f %s", v, unit);
    else if (fabs(v) >= 100 || v == 0) snprintf(out, n, "%.0f %s", v, scale[k]);
    else snprintf(out, n, "%.3g %s", v, scale[k]);
}

void csv_put_field(FILE *f, const char *s)
{
    if (!s) return;
    int quoted = strpbrk(s, ",\"\r\n") != NULL;
    if (quoted) fputc('"', f);
    csv_put_text(f, s, quoted);
    if (quoted) fputc('"', f);
}
