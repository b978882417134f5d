/* cli_planfile.c — the --plan option of generate and passkey: run a
 * converted model (purbo-bench convert) from its .purbo plan file (cli.h). */
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "policy/planfile.h"
#include "policy/policy.h"

void cli_planfile_apply(const char *cmd, const model *m, const char *path, const plan_spec *spec, const char *heads,
                        plan *p, session *s)
{
    if (heads) arg_bad(cmd, "--plan brings its retrieval heads: drop --retrieval-heads");
    if (strcmp(s->b->name, "cpu") != 0) arg_bad(cmd, "--plan runs on the cpu backend only (--backend cpu)");
    pb_err err;
    plan_file f;
    if (!plan_file_read(path, m, &f, &err)) pb_die_input(&err);
    if (!plan_from_file(p, &m->cfg, &f, spec, path, &err)) arg_bad(cmd, "--policy: %s", err.msg);
    plan_file_free(&f);
    plan_apply(p, s, 1);
}
