/* gen_cwe.c — RULER's common words extraction (cwe), after NVIDIA/RULER
 * scripts/data/synthetic/common_words_extraction.py.
 *
 * A numbered list "1. w 2. w ..." of n distinct words, shuffled: the first
 * num_cw of them ("common") repeated freq_cw times, the others freq_ucw
 * times. RULER's frequencies depend on the context: below 4096 tokens 6 and
 * 1 (its few-shot example: 20 words, 3 and 1), from 4096 on freq_cw and
 * freq_ucw (default 30 and 3; example: 40 words, 10 and 3); explicit values
 * in the suite apply at every length. Words come from our list (words.c)
 * while n fits it, else from the KJV vocabulary (RULER: wonderwords, else
 * its english_words.json). Answer: the common words (string_match_all).
 * num_fewshot solved examples come first, each the task text + answer prefix
 * + " " + its numbered answer; RULER formats them with the model's whole
 * template (chat markup inside the user turn), we leave the markup out.
 */
#include <string.h>

#include "suites/gen_impl.h"
#include "suites/words.h"

/* RULER scripts/data/synthetic/constants.py, TASKS['common_words_extraction'] ("10" is num_cw) */
static const char TEMPLATE[] =
    "Below is a numbered list of words. In these words, some appear more often than others. Memorize the ones that "
    "appear most often.\n{context}\nQuestion: What are the {num_cw} most common words in the above list?";
static const char PREFIX[] = " Answer: The top {num_cw} words that appear most often in the list are:";

typedef struct {
    const char *const *small; /* our words, distinct, sorted */
    int n_small;
    const char *const *large; /* the KJV vocabulary */
    int n_large;
    int cr, ur, ex_words, ex_cr, ex_ur;
} cwe_ctx;

static const char **our_words(int *n)
{
    static const char **all;
    static int n_all;
    if (!all) {
        int na, nn, nv;
        const char *const *a = words_adjectives(&na), *const *no = words_nouns(&nn), *const *v = words_verbs(&nv);
        all = pb_malloc((size_t)(na + nn + nv) * sizeof *all);
        const char *const *lists[3] = {a, no, v};
        int lens[3] = {na, nn, nv};
        for (int l = 0; l < 3; l++)
            for (int i = 0; i < lens[l]; i++) {
                int seen = 0;
                for (int k = 0; k < n_all && !seen; k++) seen = !strcmp(all[k], lists[l][i]);
                if (!seen) all[n_all++] = lists[l][i];
            }
    }
    *n = n_all;
    return all;
}

/* One list: context text into ctx, the common words into common[]. */
static void example(pb_rng *r, const cwe_ctx *x, int words, int cr, int ur, int cn, sbuf *ctx, const char **common)
{
    const char *const *pool = words <= x->n_small ? x->small : x->large;
    int *pick = pb_malloc((size_t)words * sizeof *pick);
    gen_sample(r, words <= x->n_small ? x->n_small : x->n_large, words, pick);
    long total = (long)cn * cr + (long)(words - cn) * ur;
    int *list = pb_malloc((size_t)total * sizeof *list);
    long m = 0;
    for (int i = 0; i < words; i++)
        for (int k = 0; k < (i < cn ? cr : ur); k++) list[m++] = pick[i];
    gen_shuffle_int(r, list, (int)total);
    for (long i = 0; i < total; i++) sb_printf(ctx, "%s%ld. %s", i ? " " : "", i + 1, pool[list[i]]);
    for (int i = 0; i < cn; i++) common[i] = pool[pick[i]];
    free(pick);
    free(list);
}

static void build_cwe(gen_job *j, long n)
{
    const suite_task *t = j->t;
    const cwe_ctx *x = j->ctx;
    pb_rng r = {j->seed};
    int cn = t->num_cw;
    char num_cw[16];
    snprintf(num_cw, sizeof num_cw, "%d", cn);
    const char *cut = strstr(TEMPLATE, "{context}");
    const char **common = pb_malloc((size_t)cn * sizeof *common);
    const char *vars[] = {"num_cw", num_cw, NULL};
    char head[256];
    snprintf(head, sizeof head, "%.*s", (int)(cut - TEMPLATE), TEMPLATE);
    for (int f = 0; f < t->num_fewshot; f++) {
        sb_format(&j->user, head, vars);
        sbuf ctx = {0};
        example(&r, x, x->ex_words, x->ex_cr, x->ex_ur, cn, &ctx, common);
        sb_puts(&j->user, ctx.s);
        free(ctx.s);
        sb_format(&j->user, cut + strlen("{context}"), vars);
        sb_format(&j->user, PREFIX, vars);
        sb_puts(&j->user, " ");
        for (int i = 0; i < cn; i++) sb_printf(&j->user, "%s%d. %s", i ? " " : "", i + 1, common[i]);
        sb_puts(&j->user, "\n");
    }
    sb_format(&j->user, head, vars);
    j->hay_b = j->user.n;
    sbuf ctx = {0};
    example(&r, x, (int)n, x->cr, x->ur, cn, &ctx, common);
    sb_putn(&j->user, ctx.s ? ctx.s : "", ctx.n);
    free(ctx.s);
    j->hay_e = j->user.n;
    sb_format(&j->user, cut + strlen("{context}"), vars);
    sb_format(&j->prefix, PREFIX, vars);
    for (int i = 0; i < cn; i++) gen_answer(j, common[i]);
    free(common);
}

int gen_cwe(gen_job *j, suite_case *out, pb_err *err)
{
    const suite_task *t = j->t;
    cwe_ctx x = {0};
    x.small = our_words(&x.n_small);
    if (!(x.large = gen_kjv_vocab(&x.n_large, err))) return 0;
    int big = j->context >= 4096;
    x.cr = t->freq_cw > 0 ? t->freq_cw : big ? 30 : 6;
    x.ur = t->freq_ucw > 0 ? t->freq_ucw : big ? 3 : 1;
    x.ex_words = big ? 40 : 20;
    x.ex_cr = big ? 10 : 3;
    x.ex_ur = big ? 3 : 1;
    if (t->num_cw >= x.ex_words || t->num_cw > x.n_small)
        return gen_fail(j, err, "num_cw %d: at most %d (the few-shot example has %d words)", t->num_cw,
                        x.ex_words - 1, x.ex_words);
    j->ctx = &x;
    j->build = build_cwe;
    j->n_min = t->num_cw;
    j->n_max = x.n_large;
    j->unit_tokens = 4.0 * x.ur;
    return gen_fit(j, out, err);
}
