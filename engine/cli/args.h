/* args.h — the small command-line helpers every subcommand uses.
 *
 * Options take the forms "--name value" and "--name=value". A bad or
 * missing value is bad input: one line "purbo-bench CMD: what", exit 2.
 */
#ifndef PURBO_ARGS_H
#define PURBO_ARGS_H

#include <stddef.h>

/* If argv[*i] is option `name`, returns its value (advancing *i past a
 * separate value); otherwise NULL. */
const char *arg_val(const char *cmd, int argc, char **argv, int *i, const char *name);
/* 1 if argv[i] is exactly the flag `name`. */
int arg_flag(char **argv, int i, const char *name);
/* Parses an integer in [lo, hi] or exits 2 naming the option. */
long arg_long(const char *cmd, const char *name, const char *val, long lo, long hi);
double arg_double(const char *cmd, const char *name, const char *val, double lo, double hi);
/* "purbo-bench CMD: MESSAGE", exit 2. */
_Noreturn void arg_bad(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads a whole file (bad input, exit 2, if unreadable). *len gets its size. */
char *arg_read_file(const char *cmd, const char *path, size_t *len);

#endif
