/* cli_plan.c — the --policy / --retrieval-heads options that generate and
 * passkey share: parse, build the plan, fit PCA indexers on KJV text when an
 * rtpurbo plan has none, and apply it to the session (cli.h). */
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "policy/indexer.h"
#include "policy/policy.h"
#include "model/textsrc.h"

void cli_policy_arg(const char *cmd, const char *value, plan_spec *spec)
{
    pb_err err;
    if (!plan_parse(value, spec, &err)) arg_bad(cmd, "%s", err.msg);
}

void cli_plan_indexers(plan *p, const model *m, const tokenizer *tok)
{
    pb_err err;
    size_t len;
    const char *text = text_kjv(&len, &err);
    if (!text) pb_die_input(&err);
    int *ids;
    int n = tok_encode(tok, text, len < (size_t)p->prm.calib * 8 ? len : (size_t)p->prm.calib * 8, 0, &ids);
    if (n > p->prm.calib) n = p->prm.calib;
    double t0 = pb_now();
    indexer_calibrate(p, m, ids, n);
    fprintf(stderr, "%s: PCA indexers (r = %d) for %d heads from %d KJV tokens in %.1f s\n", p->name, p->rank,
            plan_count(p, HEAD_RTPURBO) + plan_count(p, HEAD_RTPURBO_TOPK), n, pb_now() - t0);
    free(ids);
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
    if (plan_needs_indexers(p)) cli_plan_indexers(p, m, tok);
    plan_apply(p, s, 1);
}
