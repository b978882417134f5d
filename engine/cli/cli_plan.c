/* cli_plan.c — the --policy / --retrieval-heads options that generate and
 * passkey share: parse, build the plan, fit PCA indexers on KJV text when an
 * rtpurbo plan has none, and apply it to the session (cli.h). The policy
 * layer's errors name the field or the head only; this file adds the option
 * they came from ("--policy: ", "--retrieval-heads: "). */
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "policy/indexer.h"
#include "policy/policy.h"

void cli_policy_arg(const char *cmd, const char *value, plan_spec *spec)
{
    pb_err err;
    if (!plan_parse(value, spec, &err)) arg_bad(cmd, "--policy: %s", err.msg);
}

void cli_plan_apply(const char *cmd, const model *m, const tokenizer *tok, const plan_spec *spec, const char *heads,
                    plan *p, session *s)
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
    if (plan_needs_indexers(p) && !indexer_calibrate_kjv(p, m, tok, &err)) pb_die_input(&err);
    plan_apply(p, s, 1);
}
