/* args.c — command-line helpers (args.h). */
#include "cli/args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"

void arg_bad(const char *cmd, const char *fmt, ...)
{
    char msg[1024];
    int n = snprintf(msg, sizeof msg, "purbo-bench %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    pb_escape_line(msg, sizeof msg); /* values from the command line and files, made printable */
    fprintf(stderr, "%s\n", msg);
    exit(2);
}

const char *arg_val(const char *cmd, int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] != 0) return NULL;
    if (*i + 1 >= argc) arg_bad(cmd, "option %s needs a value", name);
    return argv[++*i];
}

int arg_flag(char **argv, int i, const char *name)
{
    return strcmp(argv[i], name) == 0;
}

long arg_long(const char *cmd, const char *name, const char *val, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end) arg_bad(cmd, "%s '%s' is not an integer", name, val);
    if (v < lo || v > hi) arg_bad(cmd, "%s %ld is out of range [%ld, %ld]", name, v, lo, hi);
    return v;
}

double arg_double(const char *cmd, const char *name, const char *val, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (errno || end == val || *end) arg_bad(cmd, "%s '%s' is not a number", name, val);
    if (!(v >= lo && v <= hi)) arg_bad(cmd, "%s %g is out of range [%g, %g]", name, v, lo, hi);
    return v;
}

int arg_results_opt(const char *cmd, int argc, char **argv, int *i, arg_results *o)
{
    const char *v;
    if ((v = arg_val(cmd, argc, argv, i, "--db"))) o->db = v;
    else if (o->takes_run && (v = arg_val(cmd, argc, argv, i, "--run"))) o->run = v;
    else return 0;
    return 1;
}

char *arg_read_file(const char *cmd, const char *path, size_t *len)
{
    int in = !strcmp(path, "-"); /* standard input */
    FILE *f = in ? stdin : pb_fopen_read(path, 0, NULL); /* a pipe is fine; a FIFO without a writer reads empty */
    if (!f) arg_bad(cmd, "%s: %s", path, strerror(errno));
    char *buf = pb_read_stream(f, len);
    if (!in) fclose(f);
    if (!buf) arg_bad(cmd, "%s: read error", path);
    return buf;
}
