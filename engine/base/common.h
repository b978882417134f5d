/* common.h — error handling and allocation shared by every purbo file.
 *
 * Two kinds of failure, two exit codes (METHOD.md §6):
 *   - bad user input (corrupt file, bad flag, missing file): one line naming
 *     the file and the place, exit status 2. Library code never exits on bad
 *     input: it fills a pb_err and returns failure, so tests and fuzzers can
 *     drive it; the CLI turns the pb_err into the line and the exit.
 *   - runtime failure (out of memory, a library call failing): a line with
 *     the source file and line of the check, exit status 1 (PB_CHECK).
 */
#ifndef PURBO_COMMON_H
#define PURBO_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef __cplusplus /* the CUDA sources include this header (inside extern "C") */
#define _Noreturn [[noreturn]]
#endif

/* An input error: where (file + byte offset or line:col) and what. */
typedef struct {
    char msg[512];
} pb_err;

/* Formats "FILE: offset N: WHAT", escaped by pb_escape_line (offset < 0 leaves the offset out; file
 * NULL leaves the place out: "WHAT", for a layer whose caller adds it). Returns 0
 * so callers can write `return pb_errf(...)` in functions returning success. */
int pb_errf(pb_err *e, const char *file, long long offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Makes the NUL-terminated text in s[cap] (cap <= 1024) safe to print as one
 * line: newlines and carriage returns become spaces; other control bytes,
 * DEL, bytes that are not valid UTF-8 and C1 controls become \xNN (a
 * hostile file cannot put terminal escapes on stderr). Truncates to fit. */
void pb_escape_line(char *s, size_t cap);

/* Prints e->msg as one line on stderr and exits with status 2. */
_Noreturn void pb_die_input(const pb_err *e);

/* Prints "purbo: FILE:LINE: MESSAGE" (escaped as pb_errf does) and exits
 * with status 1. */
_Noreturn void pb_die_runtime(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define PB_CHECK(cond, ...)                                              \
    do {                                                                 \
        if (!(cond)) pb_die_runtime(__FILE__, __LINE__, __VA_ARGS__);    \
    } while (0)

/* Allocation that never returns NULL (runtime failure on exhaustion). */
#define pb_malloc(n) pb_malloc_at((n), __FILE__, __LINE__)
#define pb_calloc(n, s) pb_calloc_at((n), (s), __FILE__, __LINE__)
#define pb_realloc(p, n) pb_realloc_at((p), (n), __FILE__, __LINE__)
void *pb_malloc_at(size_t n, const char *file, int line);
void *pb_calloc_at(size_t n, size_t size, const char *file, int line);
void *pb_realloc_at(void *p, size_t n, const char *file, int line);

/* Creates a folder and its parents (like mkdir -p). 0 ok, -1 with errno. */
int pb_mkdir_p(const char *dir);

/* Opens path for reading without hanging on a FIFO that has no writer
 * (opened O_NONBLOCK, blocking again once open: a FIFO with no writer then
 * reads as empty). regular != 0 refuses anything but a regular file: NULL
 * with *not_regular = 1 and errno EISDIR (a folder) or EINVAL. Otherwise
 * NULL with errno set. */
FILE *pb_fopen_read(const char *path, int regular, int *not_regular);

/* The rest of stream f (a file or a pipe) as one malloc'd buffer with a NUL
 * after its *len bytes; NULL (errno set, nothing to free) on a read error. */
char *pb_read_stream(FILE *f, size_t *len);

/* Monotonic wall clock in seconds. */
double pb_now(void);
/* A duration of s seconds for progress lines and ETAs, into buf[n]: "?"
 * (negative or not finite), "42s", "3m07s", "2h05m" (seconds and minutes
 * truncated, whole seconds below a minute rounded). */
void pb_fmt_secs(char *buf, size_t n, double s);

#endif
