/* plan.c — the plan (plan.h): retrieval-head lists, building a plan from a
 * spec (plan_spec.c) and the retrieval heads, and the plan's small helpers.
 *
 * Errors name what is wrong (the head, the field), plus the file for a head
 * list read from one, never a command-line option: the caller adds where
 * the value came from.
 */
#include "policy/plan.h"

#include <errno.h>
#include <string.h>

static const char *kind_names[HEAD_KINDS] = {
    [HEAD_DENSE] = "dense", [HEAD_LOCAL] = "local", [HEAD_QUEST] = "quest",
    [HEAD_TOPK_ORACLE] = "topk-oracle", [HEAD_TOPP_ORACLE] = "topp-oracle",
    [HEAD_RTPURBO] = "rtpurbo", [HEAD_RTPURBO_TOPK] = "rtpurbo-topk",
};

const char *plan_kind_name(int kind)
{
    return kind >= 0 && kind < HEAD_KINDS ? kind_names[kind] : "?";
}

/* Parses a head list; where names the file in messages (NULL: a list given
 * inline). keep >= 0: only the first keep distinct heads listed are set (the
 * rest are still checked); *listed (if given) gets the distinct heads listed. */
static int parse_head_list(const model_config *c, const char *text, const char *where, unsigned char *retr,
                           int keep, int *listed, pb_err *err)
{
    memset(retr, 0, (size_t)c->n_layer * c->n_head);
    int line = 1, n = 0;
    unsigned char *seen = pb_calloc((size_t)c->n_layer * c->n_head, 1);
    for (const char *p = text; *p;) {
        if (*p == '#') {
            while (*p && *p != '\n') p++;
            continue;
        }
        if (*p == ',' || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            line += *p++ == '\n';
            continue;
        }
        size_t l = strcspn(p, ", \t\r\n#");
        char item[64];
        snprintf(item, sizeof item, "%.*s", (int)(l < 63 ? l : 63), p);
        char loc[32] = "";
        if (where) snprintf(loc, sizeof loc, "line %d: ", line);
        char *e1, *e2;
        long L = strtol(item, &e1, 10), H = *e1 == '.' ? strtol(e1 + 1, &e2, 10) : -1;
        if (*e1 != '.' || e1 == item || e2 == e1 + 1 || *e2) {
            free(seen);
            return pb_errf(err, where, -1, "%s'%s' is not LAYER.HEAD%s", loc, item,
                           where ? "" : " (nor a readable file)");
        }
        if (L < 0 || L >= c->n_layer || H < 0 || H >= c->n_head) {
            free(seen);
            return pb_errf(err, where, -1, "%shead %s out of range (%d layers, %d query heads)", loc, item,
                           c->n_layer, c->n_head);
        }
        if (!seen[L * c->n_head + H]) {
            seen[L * c->n_head + H] = 1;
            if (keep < 0 || n < keep) retr[L * c->n_head + H] = 1;
            n++;
        }
        p += l;
    }
    free(seen);
    if (listed) *listed = n;
    return 1;
}

int plan_parse_heads(const model_config *c, const char *text, unsigned char *retr, pb_err *err)
{
    return plan_parse_heads_first(c, text, -1, retr, NULL, err);
}

int plan_parse_heads_first(const model_config *c, const char *text, int keep, unsigned char *retr, int *listed,
                           pb_err *err)
{
    size_t n = (size_t)c->n_layer * c->n_head;
    if (!strcmp(text, "all") || !strcmp(text, "none")) {
        memset(retr, text[0] == 'a', n);
        if (keep >= 0 && text[0] == 'a') /* "all" lists every head in order */
            for (size_t i = (size_t)keep; i < n; i++) retr[i] = 0;
        if (listed) *listed = text[0] == 'a' ? (int)n : 0;
        return 1;
    }
    FILE *f = pb_fopen_read(text, 0, NULL); /* a FIFO without a writer reads empty, not forever */
    if (!f) {
        if (strchr(text, '/')) return pb_errf(err, text, -1, "%s", strerror(errno));
        return parse_head_list(c, text, NULL, retr, keep, listed, err);
    }
    size_t len;
    char *buf = pb_read_stream(f, &len);
    fclose(f);
    if (!buf) return pb_errf(err, text, -1, "%s", strerror(errno));
    int ok = parse_head_list(c, buf, text, retr, keep, listed, err);
    free(buf);
    return ok;
}

void plan_init_dense(plan *p, const model_config *c)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "dense");
    p->policy = PLAN_DENSE;
    p->n_layer = c->n_layer;
    p->n_head = c->n_head;
    p->n_head_kv = c->n_head_kv;
    p->head_dim = c->head_dim;
    p->prm = plan_defaults;
    p->kind = pb_calloc((size_t)c->n_layer * c->n_head, 1);
    p->rank = c->head_dim / 8 > 0 ? c->head_dim / 8 : 1;
}

void plan_free(plan *p)
{
    free(p->kind);
    free(p->idx_q);
    free(p->idx_k);
    memset(p, 0, sizeof *p);
}

int plan_make(plan *p, const model_config *c, const plan_spec *spec, const unsigned char *retr, pb_err *err)
{
    int uses_retr = plan_policy_uses_heads(spec->policy);
    if (uses_retr && !retr)
        return pb_errf(err, NULL, -1, "%s needs retrieval heads (L.H,... or all or a file)",
                       plan_policy_name(spec->policy));
    if (!uses_retr && retr)
        return pb_errf(err, NULL, -1, "retrieval heads apply to duo, rtpurbo and rtpurbo-topk, not %s",
                       plan_policy_name(spec->policy));
    if (spec->prm.rank > c->head_dim)
        return pb_errf(err, NULL, -1, "r %d exceeds the head dim %d", spec->prm.rank, c->head_dim);
    for (int l = c->n_layer; l < MODEL_MAX_LAYERS; l++)
        if (spec->prm.dense_layer[l])
            return pb_errf(err, NULL, -1, "dense_layers: layer %d: the model has %d layers", l, c->n_layer);
    if (spec->prm.first_layer >= c->n_layer)
        return pb_errf(err, NULL, -1, "first_layer %d: the model has %d layers", spec->prm.first_layer, c->n_layer);
    plan_init_dense(p, c);
    snprintf(p->name, sizeof p->name, "%s", spec->text);
    p->policy = spec->policy;
    p->prm = spec->prm;
    if (spec->prm.rank) p->rank = spec->prm.rank;
    static const int all_kind[PLAN_POLICIES] = {
        [PLAN_DENSE] = HEAD_DENSE, [PLAN_STREAMING] = HEAD_LOCAL, [PLAN_QUEST] = HEAD_QUEST,
        [PLAN_TOPK_ORACLE] = HEAD_TOPK_ORACLE, [PLAN_TOPP_ORACLE] = HEAD_TOPP_ORACLE,
    };
    int retr_kind = spec->policy == PLAN_DUO ? HEAD_DENSE
                    : spec->policy == PLAN_RTPURBO ? HEAD_RTPURBO : HEAD_RTPURBO_TOPK;
    for (int i = 0; i < c->n_layer * c->n_head; i++)
        p->kind[i] = (unsigned char)(uses_retr ? (retr[i] ? retr_kind : HEAD_LOCAL) : all_kind[spec->policy]);
    /* layers outside first_layer .. last_layer, and those listed dense, run dense */
    for (int i = 0; i < c->n_layer * c->n_head; i++) {
        const int l = i / c->n_head;
        if (l < spec->prm.first_layer || l > spec->prm.last_layer || spec->prm.dense_layer[l]) p->kind[i] = HEAD_DENSE;
    }
    /* sliding layers are local already: the model's window is their policy */
    for (int i = 0; i < c->n_layer * c->n_head; i++)
        if (c->layer[i / c->n_head].kind == ATTN_SLIDING) p->kind[i] = HEAD_DENSE;
    return 1;
}

int plan_count(const plan *p, int kind)
{
    int n = 0;
    for (int i = 0; i < p->n_layer * p->n_head; i++) n += p->kind[i] == kind;
    return n;
}

int plan_needs_indexers(const plan *p)
{
    return !p->idx_q && (plan_count(p, HEAD_RTPURBO) || plan_count(p, HEAD_RTPURBO_TOPK));
}

void plan_alloc_indexers(plan *p)
{
    size_t n = (size_t)p->n_layer * p->n_head * p->rank * p->head_dim;
    if (!p->idx_q) p->idx_q = pb_calloc(n, sizeof(float));
    if (!p->idx_k) p->idx_k = pb_calloc(n, sizeof(float));
}

void plan_summary(const plan *p, const session *s, char *buf, size_t len)
{
    double dens = session_density(s, NULL);
    long long vis = 0;
    for (int i = 0; i < p->n_layer * p->n_head; i++) vis += s->count[i].visible;
    /* duo's retrieval heads are its dense heads of global layers (sliding layers' heads are dense too) */
    const model_config *c = &s->m->cfg;
    int n_retr = plan_count(p, HEAD_RTPURBO) + plan_count(p, HEAD_RTPURBO_TOPK), n_slide = 0;
    for (int i = 0; i < p->n_layer * p->n_head; i++) {
        int sliding = c->layer[i / p->n_head].kind == ATTN_SLIDING;
        n_slide += sliding;
        n_retr += p->policy == PLAN_DUO && p->kind[i] == HEAD_DENSE && !sliding;
    }
    char retr[96] = "";
    if (plan_policy_uses_heads(p->policy) && !n_slide)
        snprintf(retr, sizeof retr, ", %d of %d heads retrieval", n_retr, p->n_layer * p->n_head);
    else if (plan_policy_uses_heads(p->policy))
        snprintf(retr, sizeof retr, ", %d of %d heads retrieval (%d in sliding layers: dense, windowed)", n_retr,
                 p->n_layer * p->n_head, n_slide);
    char rule[200] = "", text[180];
    plan_by_length_text(&p->prm, text, sizeof text);
    if (*text) snprintf(rule, sizeof rule, ", by prompt length: %s", text);
    snprintf(buf, len, "policy %s%s%s: density %.4f of %lld visible pairs; KV cache %.1f MiB of %.1f MiB full",
             p->name, retr, rule, dens, vis, session_kv_bytes(s) / 1048576.0, session_kv_bytes_full(s) / 1048576.0);
}
