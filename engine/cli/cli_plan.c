/* cli_plan.c — the --policy / --retrieval-heads options that generate and
 * passkey share: parse, build the plan, fit PCA indexers on KJV text when an
 * rtpurbo plan has none, and apply it to the session (cli.h). */
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "policy/indexer.h"
#include "policy/policy.h"

void cli_policy_arg(const char *cmd, const char *value, plan_spec *spec)
{
    pb_err err;
    if (!plan_parse(value, spec, &err)) arg_bad(cmd, "%s", err.msg);
}

void cli_plan_apply(const char *cmd, const model *m, const tokenizer *tok, const plan_spec *spec, const char *heads,
                    plan *p, session *s)
{
    pb_err err;
    plan_spec dense;
    if (!spec) {
        plan_parse("dense", &dense, &err);
        spec = &dense;
    }
    unsigned char *retr = NULL;
    if (heads) {
        retr = pb_malloc((size_t)m->cfg.n_layer * m->cfg.n_head);
        if (!plan_parse_heads(&m->cfg, heads, retr, &err)) arg_bad(cmd, "%s", err.msg);
    }
    if (!plan_make(p, &m->cfg, spec, retr, &err)) arg_bad(cmd, "%s", err.msg);
    free(retr);
    if (plan_needs_indexers(p) && !indexer_calibrate_kjv(p, m, tok, &err)) pb_die_input(&err);
    plan_apply(p, s, 1);
}
