/* cli_plan.c — the plan options that generate and passkey share (cli.h):
 * --policy (the spec, through the typed API's text form), --retrieval-heads
 * and --plan, built into a plan for the loaded model.
 *
 * The policy layer's errors name the field or the head only; this file adds
 * the option they came from ("--policy: ", "--retrieval-heads: ") and exits
 * 2 with one line. Indexers are fitted later (cli_session.c), once the
 * backend is settled.
 */
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "policy/planfile.h"

void cli_policy_arg(const char *cmd, const char *value, plan_spec *spec)
{
    pb_err err;
    if (!plan_parse(value, spec, &err)) arg_bad(cmd, "--policy: %s", err.msg);
}

/* --policy and --retrieval-heads into p. */
static void plan_from_options(const char *cmd, const model *m, const plan_spec *spec, const char *heads, plan *p)
{
    pb_err err;
    plan_spec dense;
    if (!spec) {
        PB_CHECK(plan_spec_init(&dense, "dense", &err), "%s", err.msg);
        spec = &dense;
    }
    unsigned char *retr = NULL;
    if (heads) {
        retr = pb_malloc((size_t)m->cfg.n_layer * m->cfg.n_head);
        if (!plan_parse_heads(&m->cfg, heads, retr, &err)) arg_bad(cmd, "--retrieval-heads: %s", err.msg);
    }
    const char *name = plan_policy_name(spec->policy);
    if (plan_policy_uses_heads(spec->policy) && !retr)
        arg_bad(cmd, "--policy: %s needs --retrieval-heads (L.H,... or all or a file)", name);
    if (!plan_policy_uses_heads(spec->policy) && retr)
        arg_bad(cmd, "--retrieval-heads: applies to duo, rtpurbo and rtpurbo-topk, not %s", name);
    if (!plan_make(p, &m->cfg, spec, retr, &err)) arg_bad(cmd, "--policy: %s", err.msg);
    free(retr);
}

/* --plan F (with --policy, if given) into p. */
static void plan_from_planfile(const char *cmd, const model *m, const char *path, const plan_spec *spec,
                               const char *heads, plan *p)
{
    if (heads) arg_bad(cmd, "--plan brings its retrieval heads: drop --retrieval-heads");
    pb_err err;
    plan_file f;
    if (!plan_file_read(path, m, &f, &err)) pb_die_input(&err);
    if (!plan_from_file(p, &m->cfg, &f, spec, path, &err)) arg_bad(cmd, "--policy: %s", err.msg);
    plan_file_free(&f);
}

void cli_plan_make(const char *cmd, const model *m, const plan_spec *spec, const char *heads, const char *plan_path,
                   plan *p)
{
    if (plan_path) plan_from_planfile(cmd, m, plan_path, spec, heads, p);
    else plan_from_options(cmd, m, spec, heads, p);
}
