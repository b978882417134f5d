/* plan.c — parsing --policy / --retrieval-heads into a plan, and turning a
 * plan into policies on a session (plan.h).
 *
 * Spec grammar: NAME[:key=val[,key=val...]]. Each policy accepts only the
 * keys it uses (policies[].keys); anything else is bad input naming the key.
 * k=N gives the top-k budget in pages (quest) or blocks (the others); it is
 * converted to tokens once the unit is known.
 */
#include "policy/plan.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "policy/attn_sparse.h"

const plan_params plan_defaults = {
    .sink = 4, .window = 1024, .block = 64, .local = 64, .page = 16, .budget = 512, .p = 0.9, .kmin = 4,
    .rank = 0, .calib = 1024,
};

static const struct {
    const char *name;
    const char *keys;   /* accepted keys, comma-separated */
} policies[PLAN_POLICIES] = {
    [PLAN_DENSE] = {"dense", ""},
    [PLAN_STREAMING] = {"streaming", "sink,window"},
    [PLAN_DUO] = {"duo", "sink,window"},
    [PLAN_QUEST] = {"quest", "page,budget,k"},
    [PLAN_TOPK_ORACLE] = {"topk-oracle", "block,sink,local,budget,k"},
    [PLAN_TOPP_ORACLE] = {"topp-oracle", "block,sink,local,p"},
    [PLAN_RTPURBO] = {"rtpurbo", "sink,window,block,local,p,kmin,r,calib"},
    [PLAN_RTPURBO_TOPK] = {"rtpurbo-topk", "sink,window,block,local,budget,k,r,calib"},
};

static const char *kind_names[HEAD_KINDS] = {
    [HEAD_DENSE] = "dense", [HEAD_LOCAL] = "local", [HEAD_QUEST] = "quest",
    [HEAD_TOPK_ORACLE] = "topk-oracle", [HEAD_TOPP_ORACLE] = "topp-oracle",
    [HEAD_RTPURBO] = "rtpurbo", [HEAD_RTPURBO_TOPK] = "rtpurbo-topk",
};

const char *plan_policy_name(int policy)
{
    return policy >= 0 && policy < PLAN_POLICIES ? policies[policy].name : "?";
}

const char *plan_kind_name(int kind)
{
    return kind >= 0 && kind < HEAD_KINDS ? kind_names[kind] : "?";
}

/* 1 if `key` (length n) is in the comma-separated list. */
static int list_has(const char *list, const char *key, size_t n)
{
    for (const char *p = list; *p;) {
        size_t l = strcspn(p, ",");
        if (l == n && !strncmp(p, key, n)) return 1;
        p += l + (p[l] == ',');
    }
    return 0;
}

static int parse_int(const char *v, const char *key, long lo, long hi, int *out, pb_err *err)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end) return pb_errf(err, "--policy", -1, "%s '%s' is not an integer", key, v);
    if (x < lo || x > hi) return pb_errf(err, "--policy", -1, "%s %ld is out of range [%ld, %ld]", key, x, lo, hi);
    *out = (int)x;
    return 1;
}

int plan_parse(const char *text, plan_spec *out, pb_err *err)
{
    memset(out, 0, sizeof *out);
    out->prm = plan_defaults;
    snprintf(out->text, sizeof out->text, "%s", text);
    size_t nl = strcspn(text, ":");
    out->policy = -1;
    for (int i = 0; i < PLAN_POLICIES; i++)
        if (strlen(policies[i].name) == nl && !strncmp(text, policies[i].name, nl)) out->policy = i;
    if (out->policy < 0)
        return pb_errf(err, "--policy", -1, "unknown policy '%.*s' (dense, streaming, duo, quest, topk-oracle, "
                       "topp-oracle, rtpurbo, rtpurbo-topk)", (int)nl, text);
    const char *keys = policies[out->policy].keys, *name = policies[out->policy].name;
    int k_units = 0;
    for (const char *p = text[nl] == ':' ? text + nl + 1 : text + nl; *p;) {
        size_t l = strcspn(p, ",");
        char item[96];
        if (l == 0 || l >= sizeof item) return pb_errf(err, "--policy", -1, "bad parameter list in '%s'", text);
        memcpy(item, p, l);
        item[l] = 0;
        p += l + (p[l] == ',');
        char *eq = strchr(item, '=');
        if (!eq || eq == item) return pb_errf(err, "--policy", -1, "'%s' is not key=value", item);
        *eq = 0;
        const char *key = item, *v = eq + 1;
        if (!list_has(keys, key, strlen(key)))
            return pb_errf(err, "--policy", -1, "%s has no parameter '%s'%s%s%s", name, key,
                           *keys ? " (" : "", keys, *keys ? ")" : "");
        plan_params *m = &out->prm;
        int ok = 1;
        if (!strcmp(key, "sink")) ok = parse_int(v, key, 0, 1 << 24, &m->sink, err), out->given |= PLAN_GIVEN_SINK;
        else if (!strcmp(key, "window"))
            ok = parse_int(v, key, 1, 1 << 24, &m->window, err), out->given |= PLAN_GIVEN_WINDOW;
        else if (!strcmp(key, "block")) ok = parse_int(v, key, 1, 1 << 16, &m->block, err), out->given |= PLAN_GIVEN_BLOCK;
        else if (!strcmp(key, "local")) ok = parse_int(v, key, 0, 1 << 24, &m->local, err), out->given |= PLAN_GIVEN_LOCAL;
        else if (!strcmp(key, "page")) ok = parse_int(v, key, 1, 1 << 16, &m->page, err);
        else if (!strcmp(key, "budget")) ok = parse_int(v, key, 1, 1 << 24, &m->budget, err);
        else if (!strcmp(key, "k")) ok = parse_int(v, key, 1, 1 << 24, &k_units, err);
        else if (!strcmp(key, "r")) ok = parse_int(v, key, 1, 4096, &m->rank, err);
        else if (!strcmp(key, "kmin")) ok = parse_int(v, key, 0, 1 << 20, &m->kmin, err);
        else if (!strcmp(key, "calib")) ok = parse_int(v, key, 16, 1 << 20, &m->calib, err);
        else if (!strcmp(key, "p")) {
            char *end;
            errno = 0;
            double x = strtod(v, &end);
            if (errno || end == v || *end) return pb_errf(err, "--policy", -1, "p '%s' is not a number", v);
            if (!(x > 0.0 && x <= 1.0)) return pb_errf(err, "--policy", -1, "p %g is out of range (0, 1]", x);
            m->p = x;
            out->given |= PLAN_GIVEN_P;
        }
        if (!ok) return 0;
    }
    if (k_units) out->prm.budget = k_units * (out->policy == PLAN_QUEST ? out->prm.page : out->prm.block);
    return 1;
}

/* Parses a head list; where names the source in messages (file or option). */
static int parse_head_list(const model_config *c, const char *text, const char *where, int is_file,
                           unsigned char *retr, pb_err *err)
{
    memset(retr, 0, (size_t)c->n_layer * c->n_head);
    int line = 1;
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
        if (is_file) snprintf(loc, sizeof loc, "line %d: ", line);
        char *e1, *e2;
        long L = strtol(item, &e1, 10), H = *e1 == '.' ? strtol(e1 + 1, &e2, 10) : -1;
        if (*e1 != '.' || e1 == item || e2 == e1 + 1 || *e2)
            return pb_errf(err, where, -1, "%s'%s' is not LAYER.HEAD%s", loc, item,
                           is_file ? "" : " (nor a readable file)");
        if (L < 0 || L >= c->n_layer || H < 0 || H >= c->n_head)
            return pb_errf(err, where, -1, "%shead %s out of range (%d layers, %d query heads)", loc, item,
                           c->n_layer, c->n_head);
        retr[L * c->n_head + H] = 1;
        p += l;
    }
    return 1;
}

int plan_parse_heads(const model_config *c, const char *text, unsigned char *retr, pb_err *err)
{
    size_t n = (size_t)c->n_layer * c->n_head;
    if (!strcmp(text, "all") || !strcmp(text, "none")) {
        memset(retr, text[0] == 'a', n);
        return 1;
    }
    FILE *f = fopen(text, "rb");
    if (!f) {
        if (strchr(text, '/')) return pb_errf(err, text, -1, "%s", strerror(errno));
        return parse_head_list(c, text, "--retrieval-heads", 0, retr, err);
    }
    size_t len;
    char *buf = pb_read_stream(f, &len);
    fclose(f);
    if (!buf) return pb_errf(err, text, -1, "%s", strerror(errno));
    int ok = parse_head_list(c, buf, text, 1, retr, err);
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
    int uses_retr = spec->policy == PLAN_DUO || spec->policy == PLAN_RTPURBO || spec->policy == PLAN_RTPURBO_TOPK;
    if (uses_retr && !retr)
        return pb_errf(err, "--policy", -1, "%s needs --retrieval-heads (L.H,... or all or a file)",
                       plan_policy_name(spec->policy));
    if (!uses_retr && retr)
        return pb_errf(err, "--retrieval-heads", -1, "applies to duo, rtpurbo and rtpurbo-topk, not %s",
                       plan_policy_name(spec->policy));
    if (spec->prm.rank > c->head_dim)
        return pb_errf(err, "--policy", -1, "r %d exceeds the head dim %d", spec->prm.rank, c->head_dim);
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

attn_policy *plan_policy_new(const plan *p, int kind, int n_ctx)
{
    switch (kind) {
    case HEAD_DENSE: return (attn_policy *)&attn_dense;
    case HEAD_LOCAL: return attn_local_new(p, n_ctx);
    case HEAD_QUEST: return attn_quest_new(p, n_ctx);
    case HEAD_TOPK_ORACLE:
    case HEAD_TOPP_ORACLE: return attn_oracle_new(p, kind, n_ctx);
    case HEAD_RTPURBO:
    case HEAD_RTPURBO_TOPK: return attn_rtpurbo_new(p, kind, n_ctx);
    }
    pb_die_runtime(__FILE__, __LINE__, "unknown head kind %d", kind);
}

void plan_apply(const plan *p, session *s, int rings)
{
    const model_config *c = &s->m->cfg;
    PB_CHECK(p->n_layer == c->n_layer && p->n_head == c->n_head && p->n_head_kv == c->n_head_kv &&
             p->head_dim == c->head_dim, "plan for another model shape");
    const attn_policy *made[HEAD_KINDS] = {0};
    for (int i = 0; i < c->n_layer * c->n_head; i++) {
        int k = p->kind[i];
        if (!made[k]) {
            attn_policy *pol = plan_policy_new(p, k, s->n_ctx);
            if (pol->destroy) session_own_policy(s, pol);
            made[k] = pol;
        }
        s->policy[i] = made[k];
    }
    const int group = c->n_head / c->n_head_kv;
    kv_ring *layout = pb_calloc((size_t)c->n_layer * c->n_head_kv, sizeof *layout);
    for (int i = 0; rings && i < c->n_layer * c->n_head_kv; i++) {
        int l = i / c->n_head_kv, g = i % c->n_head_kv, local = 1;
        for (int h = g * group; h < (g + 1) * group; h++) local &= p->kind[l * c->n_head + h] == HEAD_LOCAL;
        if (local) layout[i] = (kv_ring){p->prm.sink, p->prm.window};
    }
    session_set_kv_layout(s, layout);
    free(layout);
    session_density_reset(s);
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
    if ((p->policy == PLAN_DUO || p->policy == PLAN_RTPURBO || p->policy == PLAN_RTPURBO_TOPK) && !n_slide)
        snprintf(retr, sizeof retr, ", %d of %d heads retrieval", n_retr, p->n_layer * p->n_head);
    else if (p->policy == PLAN_DUO || p->policy == PLAN_RTPURBO || p->policy == PLAN_RTPURBO_TOPK)
        snprintf(retr, sizeof retr, ", %d of %d heads retrieval (%d in sliding layers: dense, windowed)", n_retr,
                 p->n_layer * p->n_head, n_slide);
    snprintf(buf, len, "policy %s%s: density %.4f of %lld visible pairs; KV cache %.1f MiB of %.1f MiB full",
             p->name, retr, dens, vis, session_kv_bytes(s) / 1048576.0, session_kv_bytes_full(s) / 1048576.0);
}
