/* gen_vt.c — RULER's variable tracking (vt), after NVIDIA/RULER
 * scripts/data/synthetic/variable_tracking.py.
 *
 * num_chains chains "VAR A = 12345", "VAR B = VAR A ", ... (num_hops hops,
 * 5-letter upper-case names, a 5-digit value) hidden in a haystack. Noise
 * haystack: n noise lines, each chain's lines inserted at sorted random
 * positions (line j of a chain at position p_j + j), joined by newlines.
 * Essay haystack: the chains' lines interleaved at random (each chain's order
 * kept), each inserted as "LINE." before sentence int(S * d / 100), d drawn
 * from RULER's 40 depths. The question asks for every variable holding the
 * first chain's value; the answer is that chain's names (string_match_all).
 * Before the task comes one solved example (RULER's few-shot): the same task
 * with 3-letter names and at most 10 hops, sized to fewshot_tokens on its
 * own (auto: context / 4 clamped to [300, 500]; RULER uses 500), followed by its answer.
 * Difference from RULER: names within a case are always distinct.
 */
#include <limits.h>
#include <string.h>

#include "suites/gen_impl.h"

/* RULER scripts/data/synthetic/constants.py, TASKS['variable_tracking'] */
static const char TEMPLATE[] =
    "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n{context}\n"
    "Question: Find all variables that are assigned the value {query} in the text above.";
static const char PREFIX[] =
    " Answer: According to the chain(s) of variable assignment in the text above, {num_v} variables are assigned "
    "the value {query}, they are: ";

typedef struct {
    int icl;          /* building the few-shot example: 3-letter names, <= 10 hops */
    const gen_essay *essay;
    const char *fewshot; /* the solved example put before the task, or NULL */
} vt_ctx;

typedef struct {
    char (*name)[8];  /* (hops + 1) per chain */
    char **line;      /* the chain lines, chain-major */
    int chains, len;  /* len = hops + 1 */
    char value[8];
} vt_chains;

static void draw_chains(pb_rng *r, int chains, int hops, int letters, vt_chains *c)
{
    c->chains = chains;
    c->len = hops + 1;
    int n = chains * c->len;
    c->name = pb_calloc((size_t)n, sizeof *c->name);
    c->line = pb_calloc((size_t)n, sizeof *c->line);
    for (int i = 0; i < n; i++) {
        int dup;
        do {
            for (int k = 0; k < letters; k++) c->name[i][k] = (char)('A' + rng_below(r, 26));
            c->name[i][letters] = 0;
            dup = 0;
            for (int k = 0; k < i; k++) dup |= !strcmp(c->name[k], c->name[i]);
        } while (dup);
    }
    for (int ch = 0; ch < chains; ch++) {
        char value[8];
        snprintf(value, sizeof value, "%d", (int)(10000 + rng_below(r, 89999))); /* np.random.randint(10000, 99999) */
        if (ch == 0) memcpy(c->value, value, sizeof value);
        char **L = c->line + ch * c->len;
        char (*v)[8] = c->name + ch * c->len;
        sbuf b = {0};
        sb_printf(&b, "VAR %s = %s", v[0], value);
        L[0] = b.s;
        for (int j = 0; j < hops; j++) {
            sbuf e = {0};
            sb_printf(&e, "VAR %s = VAR %s ", v[j + 1], v[j]);
            L[j + 1] = e.s;
        }
    }
}

static void free_chains(vt_chains *c)
{
    for (int i = 0; i < c->chains * c->len; i++) free(c->line[i]);
    free(c->line);
    free(c->name);
}

/* Noise: lines[] grows as each chain's lines go in at p_j + j (RULER). */
static void noise_context(gen_job *j, pb_rng *r, long n, const vt_chains *c, sbuf *ctx, size_t base)
{
    long cap = n + (long)c->chains * c->len, m = n;
    const char **lines = pb_malloc((size_t)cap * sizeof *lines);
    for (long i = 0; i < n; i++) lines[i] = GEN_NOISE;
    int *pos = pb_malloc((size_t)c->len * sizeof *pos);
    for (int ch = 0; ch < c->chains; ch++) {
        gen_sample(r, (int)m, c->len, pos);
        gen_sort_int(pos, c->len);
        for (int k = 0; k < c->len; k++) {
            long at = pos[k] + k;
            memmove(lines + at + 1, lines + at, (size_t)(m - at) * sizeof *lines);
            lines[at] = c->line[ch * c->len + k];
            m++;
        }
    }
    for (long i = 0; i < m; i++) {
        if (i) sb_puts(ctx, "\n");
        if (lines[i] != GEN_NOISE) gen_needle_at(j, base + ctx->n);
        sb_puts(ctx, lines[i]);
    }
    free(pos);
    free(lines);
}

/* Essay: the lines in RULER's shuffle_sublists_heap order (a random merge
 * keeping each chain's order), each as "LINE." at a RULER depth. */
static void essay_context(gen_job *j, pb_rng *r, long n, const vt_chains *c, sbuf *ctx, size_t base)
{
    const vt_ctx *x = j->ctx;
    int k = c->chains * c->len;
    char **flat = pb_malloc((size_t)k * sizeof *flat);
    double *prio = pb_malloc((size_t)c->chains * sizeof *prio);
    int *next = pb_calloc((size_t)c->chains, sizeof *next);
    for (int ch = 0; ch < c->chains; ch++) prio[ch] = rng_unit(r);
    for (int i = 0; i < k; i++) {
        int best = -1;
        for (int ch = 0; ch < c->chains; ch++)
            if (next[ch] < c->len && (best < 0 || prio[ch] < prio[best])) best = ch;
        const char *line = c->line[best * c->len + next[best]++];
        size_t len = strlen(line);
        while (len && line[len - 1] == ' ') len--;
        sbuf b = {0};
        sb_printf(&b, "%.*s.", (int)len, line);
        flat[i] = b.s;
        prio[best] = rng_unit(r);
    }
    gen_essay_insert(j, r, x->essay, n, (const char *const *)flat, k, ctx, base);
    for (int i = 0; i < k; i++) free(flat[i]);
    free(flat);
    free(prio);
    free(next);
}

static void build_vt(gen_job *j, long n)
{
    const suite_task *t = j->t;
    const vt_ctx *x = j->ctx;
    pb_rng r = {j->seed};
    int hops = x->icl && t->num_hops > 10 ? 10 : t->num_hops;
    vt_chains c;
    draw_chains(&r, t->num_chains, hops, x->icl ? 3 : 5, &c);
    if (x->fewshot) {
        sb_puts(&j->user, x->fewshot);
        sb_puts(&j->user, "\n");
    }
    const char *cut = strstr(TEMPLATE, "{context}");
    sb_putn(&j->user, TEMPLATE, (size_t)(cut - TEMPLATE));
    j->hay_b = j->user.n;
    sbuf ctx = {0};
    if (t->haystack == HAY_ESSAY) essay_context(j, &r, n, &c, &ctx, j->user.n);
    else noise_context(j, &r, n, &c, &ctx, j->user.n);
    sb_putn(&j->user, ctx.s ? ctx.s : "", ctx.n); /* ". \n" -> ".\n" of RULER never occurs here */
    j->hay_e = j->user.n;
    free(ctx.s);
    char num_v[16];
    snprintf(num_v, sizeof num_v, "%d", c.len);
    const char *vars[] = {"query", c.value, "num_v", num_v, NULL};
    sb_format(&j->user, cut + strlen("{context}"), vars);
    sb_format(&j->prefix, PREFIX, vars);
    for (int i = 0; i < c.len; i++) gen_answer(j, c.name[i]);
    free_chains(&c);
}

int gen_vt(gen_job *j, suite_case *out, pb_err *err)
{
    const suite_task *t = j->t;
    vt_ctx x = {0};
    /* the loader keeps an essay haystack to <= 40 lines (RULER's depths) */
    if (t->haystack == HAY_ESSAY && !(x.essay = gen_essay_get(err))) return 0;
    long n_min = t->haystack == HAY_ESSAY ? 1 : t->num_hops + 1;
    double unit = t->haystack == HAY_ESSAY ? 1.3 : 23;
    int few = t->fewshot_tokens >= 0 ? t->fewshot_tokens : j->context / 4 < 300 ? 300 : j->context / 4 < 500 ? j->context / 4 : 500;
    char *fewshot = NULL;
    if (few > 0) {
        /* RULER: the example's input (template + answer prefix, no chat
         * template), " ", its answers joined by spaces, then "\n" */
        vt_ctx xi = {1, x.essay, NULL};
        gen_job e = {.t = t, .tok = j->tok, .seed = j->seed ^ 0x5eedf00dULL, .context = few, .budget = few,
                     .raw = 1, .what = "the few-shot example (fewshot_tokens)", .build = build_vt, .ctx = &xi,
                     .n_min = n_min, .n_max = LONG_MAX / 4, .unit_tokens = unit};
        suite_case ex = {0};
        if (!gen_fit(&e, &ex, err)) {
            gen_job_free(&e);
            return 0;
        }
        sbuf b = {0};
        sb_puts(&b, ex.prompt);
        sb_puts(&b, " ");
        for (int i = 0; i < ex.n_answers; i++) sb_printf(&b, "%s%s", i ? " " : "", ex.answers[i]);
        sb_puts(&b, "\n");
        fewshot = b.s;
        gen_case_free(&ex);
        gen_job_free(&e);
    }
    x.fewshot = fewshot;
    j->ctx = &x;
    j->build = build_vt;
    j->n_min = n_min;
    j->unit_tokens = unit;
    int ok = gen_fit(j, out, err);
    free(fewshot);
    return ok;
}
