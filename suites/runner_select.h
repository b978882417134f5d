/* runner_select.h — which tasks and methods a `run` invocation takes: the
 * --only / --methods lists, and, for a resumed shard, the selection the
 * shard was split over (runs.shard_scope: "only=T,..;methods=M,..", "all"
 * for every one), which the shard keeps (runner.c: plan_shards). */
#ifndef PURBO_RUNNER_SELECT_H
#define PURBO_RUNNER_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "base/common.h"
#include "suites/suite.h"

typedef struct {
    unsigned char *task, *method;   /* [n_tasks], [n_methods]: 1 where selected (malloc'd) */
} run_select;

/* Selects the comma lists only and methods (NULL: every one) of s. An
 * unknown name: 0 + *err "FILE: OPT: no task 'x' in the suite (it has: ...)",
 * OPT "--only" / "--methods", or `what` for both when given. */
int run_select_lists(const suite *s, const char *file, const char *what, const char *only, const char *methods,
                     run_select *out, pb_err *err);
void run_select_free(run_select *sel);

/* The scope text of a selection: "only=LIST;methods=LIST" ("all" for NULL). */
void run_select_scope(const char *only, const char *methods, char *buf, size_t n);

/* Run `run` (shard I/N of db_path) was split over scope rec; this invocation
 * selects `now` (--only only, --methods methods). Fills *split with rec's
 * selection; 0 + *err when rec is unreadable or `now` reaches a task or
 * method outside it. */
int run_select_recorded(const suite *s, const char *db_path, int64_t run, int shard_index, int shard_count,
                        const char *rec, const run_select *now, const char *only, const char *methods,
                        run_select *split, pb_err *err);

#endif
