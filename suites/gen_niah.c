/* gen_niah.c — needle-in-a-haystack prompts: the depth x length grid
 * (task "niah", after gkamradt's LLMNeedleHaystackTester) and RULER's eight
 * niah_* tasks (after NVIDIA/RULER scripts/data/synthetic/niah.py).
 *
 * niah: one needle (the task's text, "{value}" replaced by a random value)
 * placed in the haystack at the sentence start nearest to depth% of the
 * haystack's bytes; the question follows the haystack.
 * niah_*: RULER's rules. num_keys x num_values needles "One of the special
 * magic {values} for {key} is: {value}." in random order; essay haystack:
 * needle i goes before sentence int(S * d_i / 100), the d_i distinct draws
 * from round(linspace(0, 100, 40)), pieces joined by spaces; noise and
 * needle haystacks: n lines joined by newlines, needles inserted at distinct
 * random line indices (needle haystack: distractor needles with other keys).
 * Answers: every value of each queried key; string_match_all.
 * Two deliberate differences from RULER: keys of one case are distinct and
 * distractor keys never equal a real key (RULER leaves both to chance).
 */
#include <string.h>

#include "suites/gen_impl.h"

/* ---- niah (depth x length grid) -------------------------------------------- */

/* gkamradt's system prompt (OpenAI provider of LLMNeedleHaystackTester). */
static const char NIAH_SYSTEM[] = "You are a helpful AI bot that answers questions for a user. Keep your response short and direct";

static void haystack_text(gen_job *j, long n, sbuf *hay)
{
    if (j->t->haystack == HAY_ESSAY) {
        gen_essay_words((const gen_essay *)j->ctx, n, hay);
        return;
    }
    for (long i = 0; i < n; i++) {
        if (i) sb_puts(hay, " ");
        sb_puts(hay, GEN_NOISE);
    }
}

static void build_niah(gen_job *j, long n)
{
    const suite_task *t = j->t;
    pb_rng r = {j->seed};
    char value[48];
    gen_value(&r, t->value_type, value);
    const char *vars[] = {"value", value, NULL};
    sbuf needle = {0}, hay = {0};
    sb_format(&needle, t->needle, vars);
    haystack_text(j, n, &hay);

    /* the sentence start (or the end) nearest to depth% of the haystack */
    size_t *st, pos = hay.n;
    int ns = gen_sentences(hay.s ? hay.s : "", hay.n, &st);
    double target = j->depth / 100.0 * (double)hay.n, bestd = (double)hay.n - target;
    for (int i = 0; i < ns; i++) {
        double d = (double)st[i] - target;
        if (d < 0) d = -d;
        if (d < bestd) bestd = d, pos = st[i];
    }
    free(st);

    j->hay_b = j->user.n;
    sb_putn(&j->user, hay.s ? hay.s : "", pos);
    if (pos == hay.n && pos) sb_puts(&j->user, " ");
    gen_needle_at(j, j->user.n);
    sb_puts(&j->user, needle.s);
    if (pos < hay.n) {
        sb_puts(&j->user, " ");
        sb_puts(&j->user, hay.s + pos);
    }
    j->hay_e = j->user.n;
    sb_puts(&j->user, "\n\n");
    sb_format(&j->user, t->question, vars);
    sb_puts(&j->user, " Don't give information outside the document or repeat your findings.");
    sb_format(&j->prefix, t->answer_prefix, vars);
    if (t->n_answers) {
        for (int i = 0; i < t->n_answers; i++) {
            sbuf a = {0};
            sb_format(&a, t->answers[i], vars);
            gen_answer(j, a.s ? a.s : "");
            free(a.s);
        }
    } else {
        gen_answer(j, value);
    }
    free(needle.s);
    free(hay.s);
}

int gen_niah(gen_job *j, suite_case *out, pb_err *err)
{
    if (j->t->haystack == HAY_ESSAY && !(j->ctx = (void *)gen_essay_get(err))) return 0;
    if (!j->system) j->system = NIAH_SYSTEM;
    j->build = build_niah;
    j->n_min = 1;
    j->unit_tokens = j->t->haystack == HAY_ESSAY ? 1.3 : 23;
    return gen_fit(j, out, err);
}

/* ---- RULER niah_* ---------------------------------------------------------- */

/* RULER scripts/data/synthetic/constants.py, TASKS['niah'] (template and
 * answer_prefix), and niah.py's rewrite to the singular when one value is
 * asked for ("Some" -> "A", "are all" -> "is", "are" -> "is", values -> value). */
static const char T_PLURAL[] =
    "Some special magic {type_needle_v} are hidden within the following text. Make sure to memorize it. I will quiz "
    "you about the {type_needle_v} afterwards.\n{context}\nWhat are all the special magic {type_needle_v} for {query} "
    "mentioned in the provided text?";
static const char P_PLURAL[] = " The special magic {type_needle_v} for {query} mentioned in the provided text are";
static const char T_SINGULAR[] =
    "A special magic {type_needle_v} is hidden within the following text. Make sure to memorize it. I will quiz "
    "you about the {type_needle_v} afterwards.\n{context}\nWhat is the special magic {type_needle_v} for {query} "
    "mentioned in the provided text?";
static const char P_SINGULAR[] = " The special magic {type_needle_v} for {query} mentioned in the provided text is";
/* niah.py: needle = "One of the special magic {type_needle_v} for {key} is: {value}." */
static const char NEEDLE[] = "One of the special magic {type_needle_v} for {key} is: {value}.";
static const char *const VPLURAL[] = {"numbers", "words", "uuids"};
static const char *const VSINGULAR[] = {"number", "word", "uuid"};

typedef struct {
    char (*keys)[48], (*vals)[48]; /* num_keys, num_keys * num_values */
    char **needles;                /* k = num_keys * num_values */
    int k;
} ruler_set;

static int taken(char (*keys)[48], int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i], s)) return 1;
    return 0;
}

static void make_needle(const suite_task *t, const char *key, const char *value, sbuf *out)
{
    const char *vars[] = {"type_needle_v", VPLURAL[t->value_type], "key", key, "value", value, NULL};
    sb_format(out, NEEDLE, vars);
}

static void ruler_draw(gen_job *j, pb_rng *r, ruler_set *rs)
{
    const suite_task *t = j->t;
    int nk = t->num_keys, nv = t->num_values;
    rs->k = nk * nv;
    rs->keys = pb_calloc((size_t)nk, sizeof *rs->keys);
    rs->vals = pb_calloc((size_t)rs->k, sizeof *rs->vals);
    rs->needles = pb_calloc((size_t)rs->k, sizeof *rs->needles);
    for (int i = 0; i < nk; i++) {
        do gen_value(r, t->key_type, rs->keys[i]);
        while (taken(rs->keys, i, rs->keys[i]));
        for (int v = 0; v < nv; v++) {
            gen_value(r, t->value_type, rs->vals[i * nv + v]);
            sbuf b = {0};
            make_needle(t, rs->keys[i], rs->vals[i * nv + v], &b);
            rs->needles[i * nv + v] = b.s;
        }
    }
    int *perm = pb_malloc((size_t)rs->k * sizeof *perm);
    for (int i = 0; i < rs->k; i++) perm[i] = i;
    gen_shuffle_int(r, perm, rs->k);
    char **sh = pb_malloc((size_t)rs->k * sizeof *sh);
    for (int i = 0; i < rs->k; i++) sh[i] = rs->needles[perm[i]];
    free(rs->needles);
    free(perm);
    rs->needles = sh;
}

static void ruler_free(ruler_set *rs)
{
    for (int i = 0; i < rs->k; i++) free(rs->needles[i]);
    free(rs->needles);
    free(rs->keys);
    free(rs->vals);
}

/* Line context: n lines (noise or distractor needles), the k needles inserted
 * at distinct random indices, joined by newlines (niah.py). */
static void line_context(gen_job *j, pb_rng *r, long n, const ruler_set *rs, sbuf *ctx, size_t base)
{
    const suite_task *t = j->t;
    int k = rs->k;
    int *idx = pb_malloc((size_t)k * sizeof *idx);
    gen_sample(r, (int)n, k, idx);
    gen_sort_int(idx, k);
    /* inserting in descending index order puts needle i before original line idx[i] */
    int *order = pb_malloc((size_t)k * sizeof *order); /* needle placed at idx[i]: the (k-1-i)-th in niah.py's zip */
    for (int i = 0; i < k; i++) order[i] = k - 1 - i;
    long line = 0;
    int next = 0;
    for (long i = 0; i < n + k; i++) {
        if (i) sb_puts(ctx, "\n");
        if (next < k && idx[next] == line) {
            gen_needle_at(j, base + ctx->n);
            sb_puts(ctx, rs->needles[order[next]]);
            next++;
            continue;
        }
        if (t->haystack == HAY_NOISE) {
            sb_puts(ctx, GEN_NOISE);
        } else {
            char key[48], val[48];
            do gen_value(r, t->key_type, key);
            while (taken(rs->keys, t->num_keys, key));
            gen_value(r, t->value_type, val);
            make_needle(t, key, val, ctx);
        }
        line++;
    }
    free(idx);
    free(order);
}

static void build_ruler(gen_job *j, long n)
{
    const suite_task *t = j->t;
    pb_rng r = {j->seed};
    ruler_set rs;
    ruler_draw(j, &r, &rs);
    int single = t->num_queries * t->num_values == 1;
    const char *tmpl = single ? T_SINGULAR : T_PLURAL, *pre = single ? P_SINGULAR : P_PLURAL;
    const char *tv = (single ? VSINGULAR : VPLURAL)[t->value_type];

    /* the template up to {context}, the context, then the rest */
    const char *cut = strstr(tmpl, "{context}");
    const char *vars0[] = {"type_needle_v", tv, NULL};
    char head[512];
    snprintf(head, sizeof head, "%.*s", (int)(cut - tmpl), tmpl);
    sb_format(&j->user, head, vars0);
    j->hay_b = j->user.n;
    sbuf ctx = {0};
    if (t->haystack == HAY_ESSAY)
        gen_essay_insert(j, &r, (const gen_essay *)j->ctx, n, (const char *const *)rs.needles, rs.k, &ctx, j->user.n);
    else line_context(j, &r, n, &rs, &ctx, j->user.n);
    sb_putn(&j->user, ctx.s ? ctx.s : "", ctx.n);
    j->hay_e = j->user.n;
    free(ctx.s);

    /* queries: num_queries distinct keys; answers: all their values */
    int *qi = pb_malloc((size_t)t->num_queries * sizeof *qi);
    gen_sample(&r, t->num_keys, t->num_queries, qi);
    sbuf q = {0};
    for (int i = 0; i < t->num_queries; i++) {
        if (i) sb_puts(&q, i == t->num_queries - 1 ? ", and " : ", ");
        sb_puts(&q, rs.keys[qi[i]]);
        for (int v = 0; v < t->num_values; v++) gen_answer(j, rs.vals[qi[i] * t->num_values + v]);
    }
    const char *vars[] = {"type_needle_v", tv, "query", q.s, NULL};
    sb_format(&j->user, cut + strlen("{context}"), vars);
    sb_format(&j->prefix, pre, vars);
    free(q.s);
    free(qi);
    ruler_free(&rs);
}

int gen_ruler_niah(gen_job *j, suite_case *out, pb_err *err)
{
    const suite_task *t = j->t;
    int k = t->num_keys * t->num_values;
    /* the loader keeps an essay haystack to <= 40 needles (RULER's depths) */
    if (t->haystack == HAY_ESSAY && !(j->ctx = (void *)gen_essay_get(err))) return 0;
    j->build = build_ruler;
    j->n_min = t->haystack == HAY_ESSAY ? 1 : k;
    j->unit_tokens = t->haystack == HAY_ESSAY ? 1.3 : t->haystack == HAY_NOISE ? 23 : 20;
    return gen_fit(j, out, err);
}
