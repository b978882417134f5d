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
/* The results-database options of the commands that store or read runs:
 * --db PATH and, where the command takes one, --run R (kept as text: each
 * command says what a run may be). Fill in the defaults, then offer each
 * argument to arg_results_opt before the command's own options:
 *     arg_results ro = {.db = ARG_DB_DEFAULT, .run = "last", .takes_run = 1};
 *     for (...) { if (arg_results_opt(cmd, argc, argv, &i, &ro)) continue; ... } */
#define ARG_DB_DEFAULT "out/results.db"
typedef struct {
    const char *db;  /* --db PATH */
    const char *run; /* --run R as given, or the default */
    int takes_run;   /* 0: --run is not one of the command's options */
} arg_results;
/* 1 if argv[*i] is one of o's options: its value is stored in o and *i
 * advanced past it (a missing value is bad input, exit 2). 0 otherwise. */
int arg_results_opt(const char *cmd, int argc, char **argv, int *i, arg_results *o);
/* Reads a whole file, or standard input when path is "-" (bad input, exit
 * 2, if unreadable). *len gets its size. */
char *arg_read_file(const char *cmd, const char *path, size_t *len);

#endif
