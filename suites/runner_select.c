/* runner_select.c — the tasks and methods of a `run` invocation
 * (runner_select.h): name lists, scope text, a resumed shard's split. */
#include "suites/runner_select.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Marks the names of a comma list in on[] (names[i] of n); 0 + err naming
 * an unknown one. */
static int select_names(const char *file, const char *opt, const char *list, const char *kind,
                        const char *const *names, int n, unsigned char *on, pb_err *err)
{
    if (!list) {
        memset(on, 1, (size_t)n);
        return 1;
    }
    memset(on, 0, (size_t)n);
    for (const char *p = list; *p;) {
        size_t l = strcspn(p, ",");
        int found = 0;
        for (int i = 0; i < n; i++)
            if (strlen(names[i]) == l && !strncmp(names[i], p, l)) on[i] = 1, found = 1;
        if (!found) {
            char all[300] = "";
            for (int i = 0; i < n; i++)
                snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", i ? ", " : "", names[i]);
            return pb_errf(err, file, -1, "%s: no %s '%.*s' in the suite (it has: %s)", opt, kind, (int)l, p, all);
        }
        p += l + (p[l] == ',');
    }
    return 1;
}

int run_select_lists(const suite *s, const char *file, const char *what, const char *only, const char *methods,
                     run_select *out, pb_err *err)
{
    const char **names = pb_malloc((size_t)(s->n_tasks + s->n_methods + 1) * sizeof *names);
    out->task = pb_malloc((size_t)s->n_tasks + 1);
    out->method = pb_malloc((size_t)s->n_methods + 1);
    for (int i = 0; i < s->n_tasks; i++) names[i] = s->tasks[i].name;
    int ok = select_names(file, what ? what : "--only", only, "task", names, s->n_tasks, out->task, err);
    for (int i = 0; i < s->n_methods; i++) names[i] = s->methods[i].name;
    ok = ok && select_names(file, what ? what : "--methods", methods, "method", names, s->n_methods, out->method,
                            err);
    free(names);
    return ok;
}

void run_select_free(run_select *sel)
{
    free(sel->task);
    free(sel->method);
    sel->task = sel->method = NULL;
}

void run_select_scope(const char *only, const char *methods, char *buf, size_t n)
{
    snprintf(buf, n, "only=%s;methods=%s", only ? only : "all", methods ? methods : "all");
}

int run_select_recorded(const suite *s, const char *db_path, int64_t run, int shard_index, int shard_count,
                        const char *rec, const run_select *now, const char *only, const char *methods,
                        run_select *split, pb_err *err)
{
    const char *m = strstr(rec, ";methods=");
    if (strncmp(rec, "only=", 5) || !m)
        return pb_errf(err, db_path, -1, "run %lld: unreadable shard selection '%s'", (long long)run, rec);
    char *r_only = strndup(rec + 5, (size_t)(m - rec - 5)), *r_meth = strdup(m + 9);
    PB_CHECK(r_only && r_meth, "out of memory");
    int ok = run_select_lists(s, db_path, "its shard selection", strcmp(r_only, "all") ? r_only : NULL,
                              strcmp(r_meth, "all") ? r_meth : NULL, split, err);
    for (int i = 0; ok && i < s->n_tasks; i++)
        if (now->task[i] && !split->task[i])
            ok = pb_errf(err, db_path, -1, "run %lld is shard %d/%d of tasks %s: --only %s reaches task '%s' outside it",
                         (long long)run, shard_index, shard_count, r_only, only ? only : "(all)", s->tasks[i].name);
    for (int i = 0; ok && i < s->n_methods; i++)
        if (now->method[i] && !split->method[i])
            ok = pb_errf(err, db_path, -1,
                         "run %lld is shard %d/%d of methods %s: --methods %s reaches method '%s' outside it",
                         (long long)run, shard_index, shard_count, r_meth, methods ? methods : "(all)",
                         s->methods[i].name);
    free(r_only);
    free(r_meth);
    return ok;
}
