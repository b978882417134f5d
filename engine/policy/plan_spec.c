/* plan_spec.c — the typed policy spec (plan.h): a policy by name, then its
 * fields one by one, then plan_spec_check; and plan_parse, the text grammar
 * NAME[:field=value[,field=value...]] on top of the same calls.
 *
 * Every caller builds a spec through these functions: the CLI from the text
 * of --policy, the suite runner from a method's typed YAML fields. Errors
 * name the field (or the policy) only, never where it came from: the caller
 * adds its own context ("--policy: ", or the suite's FILE:LINE:COL).
 *
 * Each policy accepts only the fields it uses (policies[].keys). k gives the
 * top-k budget in pages (quest) or blocks (the others); plan_spec_check
 * turns it into tokens once the unit is known, so fields may come in any
 * order.
 *
 * Two fields are given as text: by_length, the length rule (plan.h), whose
 * rows name local, kmin and p, each checked as that field would be and
 * only where the policy takes the field; and dense_layers, layers and
 * ranges of layers ("7", "5-9 12") whose heads run dense.
 */
#include <errno.h>
#include <string.h>

#include "policy/plan.h"

const plan_params plan_defaults = {
    .sink = 4, .window = 1024, .block = 64, .local = 64, .page = 16, .budget = 512, .p = 0.9, .kmin = 4,
    .rank = 0, .calib = 1024, .first_layer = 0, .last_layer = 4095,
};

/* the layer choice every policy but dense takes */
#define LAYER_KEYS "first_layer,last_layer,dense_layers"

static const struct {
    const char *name;
    const char *keys;   /* accepted fields, comma-separated */
} policies[PLAN_POLICIES] = {
    [PLAN_DENSE] = {"dense", ""},
    [PLAN_STREAMING] = {"streaming", "sink,window,phase," LAYER_KEYS},
    [PLAN_DUO] = {"duo", "sink,window,phase," LAYER_KEYS},
    [PLAN_QUEST] = {"quest", "page,budget,k," LAYER_KEYS},  /* decode only by its rule */
    [PLAN_TOPK_ORACLE] = {"topk-oracle", "block,sink,local,budget,k,phase,by_length," LAYER_KEYS},
    [PLAN_TOPP_ORACLE] = {"topp-oracle", "block,sink,local,p,phase,by_length," LAYER_KEYS},
    [PLAN_RTPURBO] = {"rtpurbo", "sink,window,block,local,p,kmin,r,calib,phase,by_length," LAYER_KEYS},
    [PLAN_RTPURBO_TOPK] = {"rtpurbo-topk", "sink,window,block,local,budget,k,r,calib,phase,by_length," LAYER_KEYS},
};

/* The integer fields: range and the PLAN_GIVEN_* bit they set (p is the one real field). */
static const struct {
    const char *key;
    long lo, hi;
    unsigned given;
} int_fields[] = {
    {"sink", 0, 1 << 24, PLAN_GIVEN_SINK}, {"window", 1, 1 << 24, PLAN_GIVEN_WINDOW},
    {"block", 1, 1 << 16, PLAN_GIVEN_BLOCK}, {"local", 0, 1 << 24, PLAN_GIVEN_LOCAL},
    {"page", 1, 1 << 16, 0}, {"budget", 1, 1 << 24, 0}, {"k", 1, 1 << 24, 0},
    {"r", 1, 4096, 0}, {"kmin", 0, 1 << 20, PLAN_GIVEN_KMIN}, {"calib", 16, 1 << 20, 0},
    {"phase", ATTN_PHASE_ALL, ATTN_PHASES - 1, 0}, {"first_layer", 0, 4095, 0}, {"last_layer", 0, 4095, 0},
};
enum { N_INT_FIELDS = sizeof int_fields / sizeof int_fields[0] };

const char *const plan_spec_keys[] = {"sink", "window", "block", "local", "page",  "budget",     "k",
                                      "p",    "kmin",   "r",     "calib", "phase", "first_layer", "last_layer"};
const int plan_spec_n_keys = sizeof plan_spec_keys / sizeof plan_spec_keys[0];

static const char *const phase_names[ATTN_PHASES] = {"all", "prefill", "decode"};

int plan_spec_named_value(const char *key, const char *text, double *v, pb_err *err)
{
    if (strcmp(key, "phase")) return 0;
    for (int i = 0; i < ATTN_PHASES; i++)
        if (!strcmp(text, phase_names[i])) return *v = i, 1;
    char *end;
    errno = 0;
    strtod(text, &end);
    if (!errno && end != text && !*end) return 0;
    pb_errf(err, NULL, -1, "phase '%s' is none of all, prefill, decode", text);
    return -1;
}

const char *plan_policy_name(int policy)
{
    return policy >= 0 && policy < PLAN_POLICIES ? policies[policy].name : "?";
}

int plan_policy_uses_heads(int policy)
{
    return policy == PLAN_DUO || policy == PLAN_RTPURBO || policy == PLAN_RTPURBO_TOPK;
}

int plan_policy_has_window_blocks(int policy)
{
    return policy == PLAN_RTPURBO || policy == PLAN_RTPURBO_TOPK;
}

/* 1 if `key` is in the comma-separated list. */
static int list_has(const char *list, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = list; *p;) {
        size_t l = strcspn(p, ",");
        if (l == n && !strncmp(p, key, n)) return 1;
        p += l + (p[l] == ',');
    }
    return 0;
}

/* The spec's slot of integer field i. */
static int *int_slot(plan_spec *sp, int i)
{
    plan_params *m = &sp->prm;
    int *slot[N_INT_FIELDS] = {&m->sink,  &m->window, &m->block, &m->local, &m->page,        &m->budget,
                               &sp->k,    &m->rank,   &m->kmin,  &m->calib, &m->phase,       &m->first_layer,
                               &m->last_layer};
    return slot[i];
}

static int int_field(const char *key)
{
    for (int i = 0; i < N_INT_FIELDS; i++)
        if (!strcmp(int_fields[i].key, key)) return i;
    return -1;
}

int plan_policy_takes(int policy, const char *key)
{
    return policy >= 0 && policy < PLAN_POLICIES && list_has(policies[policy].keys, key);
}

/* 1 when the spec's policy takes field key; 0 + err naming it otherwise. */
static int takes(const plan_spec *sp, const char *key, pb_err *err)
{
    const char *keys = policies[sp->policy].keys;
    if (list_has(keys, key)) return 1;
    return pb_errf(err, NULL, -1, "%s has no parameter '%s'%s%s%s", policies[sp->policy].name, key,
                   *keys ? " (" : "", keys, *keys ? ")" : "");
}

/* 0, with err's message behind "by_length row N: ". */
static int row_err(pb_err *err, int row)
{
    char msg[sizeof err->msg];
    memcpy(msg, err->msg, sizeof msg);
    return pb_errf(err, NULL, -1, "by_length row %d: %s", row, msg);
}

int plan_spec_init(plan_spec *sp, const char *policy, pb_err *err)
{
    memset(sp, 0, sizeof *sp);
    sp->prm = plan_defaults;
    sp->policy = -1;
    for (int i = 0; i < PLAN_POLICIES; i++)
        if (!strcmp(policy, policies[i].name)) sp->policy = i;
    if (sp->policy < 0)
        return pb_errf(err, NULL, -1, "unknown policy '%s' (dense, streaming, duo, quest, topk-oracle, "
                       "topp-oracle, rtpurbo, rtpurbo-topk)", policy);
    snprintf(sp->text, sizeof sp->text, "%s", policy);
    return 1;
}

int plan_spec_set_int(plan_spec *sp, const char *key, long v, pb_err *err)
{
    if (!takes(sp, key, err)) return 0;
    int i = int_field(key);
    if (i < 0) return plan_spec_set_real(sp, key, (double)v, err);
    if (v < int_fields[i].lo || v > int_fields[i].hi)
        return pb_errf(err, NULL, -1, "%s %ld is out of range [%ld, %ld]", key, v, int_fields[i].lo,
                       int_fields[i].hi);
    *int_slot(sp, i) = (int)v;
    sp->given |= int_fields[i].given;
    return 1;
}

int plan_spec_set_real(plan_spec *sp, const char *key, double v, pb_err *err)
{
    if (!takes(sp, key, err)) return 0;
    if (!strcmp(key, "by_length"))
        return pb_errf(err, NULL, -1, "by_length %g is not a rule (\"FROM key=value ...; FROM ...\")", v);
    if (!strcmp(key, "dense_layers")) {
        char text[32];
        snprintf(text, sizeof text, "%.0f", v);
        if (v != (double)(long)v) return pb_errf(err, NULL, -1, "dense_layers %g is not a layer", v);
        return plan_spec_set(sp, key, text, err);
    }
    if (strcmp(key, "p") != 0) {
        if (v != (double)(long)v) return pb_errf(err, NULL, -1, "%s %g is not an integer", key, v);
        return plan_spec_set_int(sp, key, (long)v, err);
    }
    if (!(v > 0.0 && v <= 1.0)) return pb_errf(err, NULL, -1, "p %g is out of range (0, 1]", v);
    sp->prm.p = v;
    sp->given |= PLAN_GIVEN_P;
    return 1;
}

int plan_spec_set(plan_spec *sp, const char *key, const char *text, pb_err *err)
{
    if (!takes(sp, key, err)) return 0;
    if (!strcmp(key, "dense_layers")) {
        if (!plan_dense_layers_parse(text, &sp->prm, err)) return 0;
        sp->given |= PLAN_GIVEN_DENSE_LAYERS;
        return 1;
    }
    if (!strcmp(key, "by_length")) {
        plan_params prm = sp->prm;
        if (!plan_by_length_parse(text, &prm, err)) return 0;
        static const char *const row_keys[] = {"local", "kmin", "p"};
        static const unsigned row_bits[] = {PLAN_GIVEN_LOCAL, PLAN_GIVEN_KMIN, PLAN_GIVEN_P};
        for (int i = 0; i < prm.n_by_length; i++)
            for (int k = 0; k < 3; k++)
                if (prm.by_length[i].set & row_bits[k] && !takes(sp, row_keys[k], err)) return row_err(err, i + 1);
        sp->prm = prm;
        sp->given |= PLAN_GIVEN_BY_LENGTH;
        return 1;
    }
    char *end;
    errno = 0;
    double named;
    int nv = plan_spec_named_value(key, text, &named, err);
    if (nv) return nv > 0 && plan_spec_set_real(sp, key, named, err);
    if (int_field(key) >= 0) {
        long x = strtol(text, &end, 10);
        if (errno || end == text || *end) return pb_errf(err, NULL, -1, "%s '%s' is not an integer", key, text);
        return plan_spec_set_int(sp, key, x, err);
    }
    double x = strtod(text, &end);
    if (errno || end == text || *end) return pb_errf(err, NULL, -1, "%s '%s' is not a number", key, text);
    return plan_spec_set_real(sp, key, x, err);
}

int plan_spec_value_ok(const char *key, double v, pb_err *err)
{
    int i = int_field(key);
    if (i >= 0) { /* the range first: (long)v of a huge v is undefined */
        if (!(v >= int_fields[i].lo && v <= int_fields[i].hi))
            return pb_errf(err, NULL, -1, "%s %g is out of range [%ld, %ld]", key, v, int_fields[i].lo,
                           int_fields[i].hi);
        if (v != (double)(long)v) return pb_errf(err, NULL, -1, "%s %g is not an integer", key, v);
        return 1;
    }
    if (strcmp(key, "p")) return pb_errf(err, NULL, -1, "unknown parameter '%s'", key);
    if (!(v > 0.0 && v <= 1.0)) return pb_errf(err, NULL, -1, "p %g is out of range (0, 1]", v);
    return 1;
}

int plan_spec_check(plan_spec *sp, pb_err *err)
{
    if (sp->policy < 0 || sp->policy >= PLAN_POLICIES) return pb_errf(err, NULL, -1, "no policy");
    if (sp->k) sp->prm.budget = sp->k * (sp->policy == PLAN_QUEST ? sp->prm.page : sp->prm.block);
    if (sp->prm.first_layer > sp->prm.last_layer)
        return pb_errf(err, NULL, -1, "first_layer %d is above last_layer %d", sp->prm.first_layer,
                       sp->prm.last_layer);
    return 1;
}

/* The next word of *p (spaces and tabs between words) into w[256]: 1, or 0 at the end. */
static int next_word(const char **p, char *w)
{
    while (**p == ' ' || **p == '\t') (*p)++;
    size_t l = strcspn(*p, " \t");
    if (!l) return 0;
    snprintf(w, 256, "%.*s", (int)l, *p);
    *p += l;
    return 1;
}

/* One row "FROM key=value ..." (NUL-terminated text) into *r; 1 or 0 + err. */
static int by_length_row(const char *text, int row, plan_length_row *r, pb_err *err)
{
    char tok[256], *end;
    memset(r, 0, sizeof *r);
    if (!next_word(&text, tok)) return pb_errf(err, NULL, -1, "by_length row %d is empty", row);
    errno = 0;
    long from = strtol(tok, &end, 10);
    if (errno || end == tok || *end || from < 1 || from > 1 << 24)
        return pb_errf(err, NULL, -1, "by_length row %d: '%s' is no prompt length in [1, 16777216]", row, tok);
    r->from = (int)from;
    while (next_word(&text, tok)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok) return pb_errf(err, NULL, -1, "by_length row %d: '%s' is not key=value", row, tok);
        *eq = 0;
        unsigned bit = !strcmp(tok, "local") ? PLAN_GIVEN_LOCAL : !strcmp(tok, "kmin") ? PLAN_GIVEN_KMIN
                       : !strcmp(tok, "p") ? PLAN_GIVEN_P : 0;
        if (!bit) return pb_errf(err, NULL, -1, "by_length row %d: '%s' is none of local, kmin, p", row, tok);
        if (r->set & bit) return pb_errf(err, NULL, -1, "by_length row %d: '%s' given twice", row, tok);
        errno = 0;
        double v = strtod(eq + 1, &end);
        if (errno || end == eq + 1 || *end)
            return pb_errf(err, NULL, -1, "by_length row %d: %s '%s' is not a number", row, tok, eq + 1);
        if (!plan_spec_value_ok(tok, v, err)) return row_err(err, row);
        r->set |= bit;
        if (bit == PLAN_GIVEN_LOCAL) r->local = (int)v;
        else if (bit == PLAN_GIVEN_KMIN) r->kmin = (int)v;
        else r->p = v;
    }
    if (!r->set) return pb_errf(err, NULL, -1, "by_length row %d sets none of local, kmin, p", row);
    return 1;
}

int plan_by_length_parse(const char *text, plan_params *prm, pb_err *err)
{
    plan_length_row rows[PLAN_MAX_BY_LENGTH];
    int n = 0;
    for (const char *p = text;;) {
        size_t l = strcspn(p, ";");
        if (n == PLAN_MAX_BY_LENGTH)
            return pb_errf(err, NULL, -1, "by_length has more than %d rows", PLAN_MAX_BY_LENGTH);
        char row[256];
        if (l >= sizeof row) return pb_errf(err, NULL, -1, "by_length row %d is too long", n + 1);
        snprintf(row, sizeof row, "%.*s", (int)l, p);
        if (!by_length_row(row, n + 1, &rows[n], err)) return 0;
        if (n && rows[n].from <= rows[n - 1].from)
            return pb_errf(err, NULL, -1, "by_length row %d: from %d does not follow %d (rows ascend)", n + 1,
                           rows[n].from, rows[n - 1].from);
        n++;
        if (!p[l]) break;
        p += l + 1;
    }
    memcpy(prm->by_length, rows, (size_t)n * sizeof rows[0]);
    prm->n_by_length = n;
    return 1;
}

int plan_dense_layers_parse(const char *text, plan_params *prm, pb_err *err)
{
    unsigned char set[MODEL_MAX_LAYERS] = {0};
    char w[256], *end;
    int n = 0;
    for (const char *p = text; next_word(&p, w); n++) {
        errno = 0;
        long a = strtol(w, &end, 10), b = a;
        int ok = !errno && end != w && a >= 0 && a < MODEL_MAX_LAYERS;
        if (ok && *end == '-') {
            const char *s = end + 1;
            b = strtol(s, &end, 10);
            ok = !errno && end != s && b >= a && b < MODEL_MAX_LAYERS;
        }
        if (!ok || *end)
            return pb_errf(err, NULL, -1, "dense_layers: '%s' is no layer or range A-B of layers 0-%d", w,
                           MODEL_MAX_LAYERS - 1);
        for (long l = a; l <= b; l++) set[l] = 1;
    }
    if (!n) return pb_errf(err, NULL, -1, "dense_layers names no layer");
    memcpy(prm->dense_layer, set, sizeof set);
    return 1;
}

void plan_by_length_text(const plan_params *prm, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < prm->n_by_length && at < len; i++) {
        const plan_length_row *r = &prm->by_length[i];
        at += (size_t)snprintf(buf + at, len - at, "%s%d", i ? "; " : "", r->from);
        if (at < len && r->set & PLAN_GIVEN_LOCAL) at += (size_t)snprintf(buf + at, len - at, " local=%d", r->local);
        if (at < len && r->set & PLAN_GIVEN_KMIN) at += (size_t)snprintf(buf + at, len - at, " kmin=%d", r->kmin);
        if (at < len && r->set & PLAN_GIVEN_P) at += (size_t)snprintf(buf + at, len - at, " p=%g", r->p);
    }
}

plan_params plan_params_for_prompt(const plan_params *prm, int n_prompt)
{
    plan_params out = *prm;
    const plan_length_row *use = NULL;
    for (int i = 0; i < prm->n_by_length; i++)
        if (prm->by_length[i].from <= n_prompt) use = &prm->by_length[i];
    if (use && use->set & PLAN_GIVEN_LOCAL) out.local = use->local;
    if (use && use->set & PLAN_GIVEN_KMIN) out.kmin = use->kmin;
    if (use && use->set & PLAN_GIVEN_P) out.p = use->p;
    out.n_by_length = 0;
    memset(out.by_length, 0, sizeof out.by_length);
    return out;
}

int plan_parse(const char *text, plan_spec *out, pb_err *err)
{
    size_t nl = strcspn(text, ":");
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)nl, text);
    if (!plan_spec_init(out, name, err)) return 0;
    snprintf(out->text, sizeof out->text, "%s", text);
    for (const char *p = text[nl] == ':' ? text + nl + 1 : text + nl; *p;) {
        size_t l = strcspn(p, ",");
        char item[256];
        if (l == 0 || l >= sizeof item) return pb_errf(err, NULL, -1, "bad parameter list in '%s'", text);
        memcpy(item, p, l);
        item[l] = 0;
        p += l + (p[l] == ',');
        char *eq = strchr(item, '=');
        if (!eq || eq == item) return pb_errf(err, NULL, -1, "'%s' is not key=value", item);
        *eq = 0;
        if (!plan_spec_set(out, item, eq + 1, err)) return 0;
    }
    return plan_spec_check(out, err);
}
