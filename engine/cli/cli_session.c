/* cli_session.c — the one load-open-apply-free sequence of generate and
 * passkey (cli.h): check the backend kind and load the model, then build the
 * plan, settle the backend the plan can run on, open it, fit indexers if
 * the plan needs them, and apply the plan to a fresh session; free it all.
 *
 * The backend is settled by plan_runs_on (policy.h), the check `run` uses
 * too: with --backend auto a plan that a usable CUDA device cannot run goes
 * to the CPU with one line saying so; with --backend cuda it is one line
 * and exit 2, before the backend opens or any indexer is fitted.
 */
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "policy/indexer.h"
#include "policy/policy.h"

void cli_session_load(cli_session *cs, const cli_session_opts *o)
{
    memset(cs, 0, sizeof *cs);
    cli_check_backend(o->cmd, o->backend);
    cs->m = cli_load_model(o->model_path, &cs->tok);
}

/* The backend kind to open for plan p: o->backend, or cpu where auto would
 * take a CUDA device the plan cannot run on. */
static const char *settle_backend(const cli_session_opts *o, const plan *p)
{
    pb_err err;
    if (!strcmp(o->backend, "cpu") || !backend_cuda_available(NULL, 0) || plan_runs_on(p, "cuda", &err))
        return o->backend;
    if (!strcmp(o->backend, "cuda")) arg_bad(o->cmd, "--backend cuda: %s", err.msg);
    fprintf(stderr, "purbo-bench %s: backend auto: cpu, since %s\n", o->cmd, err.msg);
    return "cpu";
}

void cli_session_open(cli_session *cs, const cli_session_opts *o, int n_ctx, int n_prompt)
{
    cli_plan_make(o->cmd, cs->m, o->spec, o->heads, o->plan_path, &cs->pl);
    cs->b = cli_open_backend(o->cmd, settle_backend(o, &cs->pl), cs->m);
    pb_err err;
    if (plan_needs_indexers(&cs->pl) && !indexer_calibrate_kjv(&cs->pl, cs->m, cs->tok, &err)) pb_die_input(&err);
    cs->s = session_new_on(cs->b, n_ctx);
    plan_apply(&cs->pl, cs->s, 1, n_prompt);
}

void cli_session_summary(const cli_session *cs, FILE *f)
{
    if (cs->pl.policy == PLAN_DENSE) return;
    char line[512];
    plan_summary(&cs->pl, cs->s, line, sizeof line);
    fprintf(f, "%s\n", line);
}

void cli_session_free(cli_session *cs)
{
    session_free(cs->s);
    plan_free(&cs->pl);
    backend_close(cs->b);
    tok_free(cs->tok);
    model_free(cs->m);
    memset(cs, 0, sizeof *cs);
}
