/* gen_fwe.c — RULER's frequent words extraction (fwe), after NVIDIA/RULER
 * scripts/data/synthetic/freq_words_extraction.py.
 *
 * A vocabulary of V distinct random lower-case "coded" words (coded_wordlen
 * letters; V = (context - max_new) / 50 unless vocab_size is given), ranked
 * at random; rank 1 is replaced by "..." (noise). For n words in all, rank k
 * appears int(n k^-alpha / zeta(alpha)) times (a zeta distribution); the
 * words are shuffled and joined by spaces. Answer: ranks 2, 3 and 4, the
 * three most frequent real words (string_match_all).
 */
#include <math.h>
#include <string.h>

#include "suites/gen_impl.h"

/* RULER scripts/data/synthetic/constants.py, TASKS['freq_words_extraction'] */
static const char TEMPLATE[] =
    "Read the following coded text and track the frequency of each coded word. Find the three most frequently "
    "appeared coded words. {context}\nQuestion: Do not provide any explanation. Please ignore the dots '....'. What "
    "are the three most frequently appeared words in the above coded text?";
static const char PREFIX[] = " Answer: According to the coded text above, the three most frequently appeared words are:";

static double zeta(double a)
{
    /* direct sum to K, then the Euler-Maclaurin tail: K^(1-a)/(a-1) - K^-a / 2 + a K^(-a-1) / 12 */
    const int K = 1000;
    double s = 0;
    for (int k = 1; k < K; k++) s += pow(k, -a);
    return s + pow(K, 1 - a) / (a - 1) + 0.5 * pow(K, -a) + a * pow(K, -a - 1) / 12;
}

typedef struct {
    char (*vocab)[33];
    int v;
    double z;
} fwe_ctx;

static void build_fwe(gen_job *j, long n)
{
    const suite_task *t = j->t;
    const fwe_ctx *x = j->ctx;
    pb_rng r = {j->seed};
    long total = 0;
    long *cnt = pb_malloc((size_t)x->v * sizeof *cnt);
    for (int k = 0; k < x->v; k++) total += cnt[k] = (long)((double)n * pow(k + 1, -t->alpha) / x->z);
    int *list = pb_malloc((size_t)(total ? total : 1) * sizeof *list);
    long m = 0;
    for (int k = 0; k < x->v; k++)
        for (long c = 0; c < cnt[k]; c++) list[m++] = k;
    gen_shuffle_int(&r, list, (int)total);
    const char *cut = strstr(TEMPLATE, "{context}");
    sb_putn(&j->user, TEMPLATE, (size_t)(cut - TEMPLATE));
    j->hay_b = j->user.n;
    for (long i = 0; i < total; i++) {
        if (i) sb_puts(&j->user, " ");
        sb_puts(&j->user, list[i] == 0 ? "..." : x->vocab[list[i]]);
    }
    j->hay_e = j->user.n;
    sb_puts(&j->user, cut + strlen("{context}"));
    sb_puts(&j->prefix, PREFIX);
    for (int k = 1; k <= 3; k++) gen_answer(j, x->vocab[k]);
    free(cnt);
    free(list);
}

int gen_fwe(gen_job *j, suite_case *out, pb_err *err)
{
    const suite_task *t = j->t;
    fwe_ctx x = {0};
    x.v = t->vocab_size > 0 ? t->vocab_size : j->budget / 50;
    if (x.v < 5) return gen_fail(j, err, "vocabulary of %d coded words at context %d: fwe needs at least 5", x.v, j->context);
    if (pow(26, t->coded_wordlen) < 4.0 * x.v)
        return gen_fail(j, err, "coded_wordlen %d is too short for %d distinct words", t->coded_wordlen, x.v);
    x.z = zeta(t->alpha);
    /* the vocabulary depends on the seed only: drawn once, distinct, random order */
    pb_rng r = {j->seed ^ 0xf3e0ULL};
    int L = t->coded_wordlen;
    x.vocab = pb_calloc((size_t)x.v, sizeof *x.vocab);
    for (int i = 0; i < x.v; i++) {
        int dup;
        do {
            for (int k = 0; k < L; k++) x.vocab[i][k] = (char)('a' + rng_below(&r, 26));
            x.vocab[i][L] = 0;
            dup = 0;
            for (int k = 0; k < i && !dup; k++) dup = !strcmp(x.vocab[k], x.vocab[i]);
        } while (dup);
    }
    j->ctx = &x;
    j->build = build_fwe;
    j->n_min = 1;
    j->n_max = 1L << 26;
    j->unit_tokens = 3.0;
    int ok = gen_fit(j, out, err);
    free(x.vocab);
    return ok;
}
