/* gen_impl.c — the generators' toolkit (gen_impl.h): strings, random
 * values, the KJV essay, sentence splitting and the search that sizes a
 * prompt to its token budget. It calls no generator and not the dispatcher
 * (gen.c): the families and the dispatcher sit on top of it.
 */
#include "suites/gen_impl.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>

#include "model/textsrc.h"
#include "suites/words.h"

/* RULER scripts/data/synthetic/niah.py and variable_tracking.py: the "noise" haystack. */
const char GEN_NOISE[] = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";

/* ---- strings --------------------------------------------------------------- */

void sb_putn(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = 2 * (b->n + n + 1) + 64;
        b->s = pb_realloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    PB_CHECK(n >= 0 && (size_t)n < sizeof tmp, "sb_printf: %d bytes is too long", n);
    sb_putn(b, tmp, (size_t)n);
}

void sb_format(sbuf *b, const char *fmt, const char *const *vars)
{
    for (const char *p = fmt; *p;) {
        const char *q = strchr(p, '{');
        if (!q) {
            sb_puts(b, p);
            return;
        }
        sb_putn(b, p, (size_t)(q - p));
        int done = 0;
        for (const char *const *v = vars; v[0] && !done; v += 2) {
            size_t k = strlen(v[0]);
            if (!strncmp(q + 1, v[0], k) && q[1 + k] == '}') {
                sb_puts(b, v[1]);
                p = q + k + 2;
                done = 1;
            }
        }
        if (!done) {
            sb_putn(b, "{", 1);
            p = q + 1;
        }
    }
}

/* ---- random values --------------------------------------------------------- */

void gen_value(pb_rng *r, val_type t, char *out)
{
    if (t == VAL_NUMBERS) {
        /* RULER: random.randint(10**6, 10**7 - 1) */
        snprintf(out, 48, "%d", (int)(1000000 + rng_below(r, 9000000)));
    } else if (t == VAL_WORDS) {
        int na, nn;
        const char *const *a = words_adjectives(&na), *const *nouns = words_nouns(&nn);
        snprintf(out, 48, "%s-%s", a[rng_below(r, (uint64_t)na)], nouns[rng_below(r, (uint64_t)nn)]);
    } else {
        /* uuid.UUID(int=random.getrandbits(128), version=4) */
        unsigned char b[16];
        uint64_t x = rng_next(r), y = rng_next(r);
        for (int i = 0; i < 8; i++) b[i] = (unsigned char)(x >> (8 * i)), b[8 + i] = (unsigned char)(y >> (8 * i));
        b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
        b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
        char *p = out;
        for (int i = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
            p += sprintf(p, "%02x", b[i]);
        }
    }
}

void gen_shuffle_int(pb_rng *r, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int k = (int)rng_below(r, (uint64_t)i + 1), t = a[i];
        a[i] = a[k];
        a[k] = t;
    }
}

void gen_sample(pb_rng *r, int n, int k, int *out)
{
    PB_CHECK(k <= n, "gen_sample: %d of %d", k, n);
    int *a = pb_malloc((size_t)n * sizeof *a);
    for (int i = 0; i < n; i++) a[i] = i;
    for (int i = 0; i < k; i++) {
        int m = i + (int)rng_below(r, (uint64_t)(n - i)), t = a[i];
        a[i] = a[m];
        a[m] = t;
        out[i] = a[i];
    }
    free(a);
}

int gen_ruler_depth(int i) { return (200 * i + 39) / 78; /* round(100 i / 39), no ties for 0..39 */ }

/* ---- the essay ------------------------------------------------------------- */

static gen_essay essay; /* built once, kept for the process */

const gen_essay *gen_essay_get(pb_err *err)
{
    if (essay.text) return &essay;
    size_t n;
    const char *kjv = text_kjv(&n, err);
    if (!kjv) return NULL;
    /* each line is "REF verse text": drop REF, join verses by one space */
    char *out = pb_malloc(n + 1);
    size_t m = 0;
    int nw = 0;
    for (size_t i = 0; i < n;) {
        size_t e = i;
        while (e < n && kjv[e] != '\n') e++;
        size_t b = i;
        while (b < e && kjv[b] != ' ') b++;
        for (size_t k = b; k < e; k++) {
            if (isspace((unsigned char)kjv[k])) continue;
            if (k == b || isspace((unsigned char)kjv[k - 1])) {
                if (m) out[m++] = ' ';
                nw++;
            }
            out[m++] = kjv[k];
        }
        i = e + 1;
    }
    out[m] = 0;
    int *w = pb_malloc(((size_t)nw + 1) * sizeof *w);
    int k = 0;
    for (size_t i = 0; i < m; i++)
        if (i == 0 || out[i - 1] == ' ') w[k++] = (int)i;
    w[k] = (int)m + 1;
    essay.text = out;
    essay.word = w;
    essay.n_words = k;
    return &essay;
}

void gen_essay_words(const gen_essay *e, long n, sbuf *out)
{
    /* RULER: " ".join((words * repeats)[:n]) */
    for (int first = 1; n > 0; first = 0) {
        long k = n < e->n_words ? n : e->n_words;
        if (!first) sb_putn(out, " ", 1);
        sb_putn(out, e->text, (size_t)(e->word[k] - 1));
        n -= k;
    }
}

int gen_sentences(const char *s, size_t len, size_t **starts)
{
    size_t cap = 64;
    int n = 0;
    *starts = pb_malloc(cap * sizeof **starts);
    (*starts)[n++] = 0;
    for (size_t i = 0; i < len; i++) {
        if (!strchr(".?!", s[i]) || !s[i]) continue;
        size_t k = i + 1;
        while (k < len && strchr("\"')]", s[k]) && s[k]) k++;
        if (k >= len || !isspace((unsigned char)s[k])) continue;
        while (k < len && isspace((unsigned char)s[k])) k++;
        if (k >= len) break;
        if ((size_t)n == cap) *starts = pb_realloc(*starts, (cap *= 2) * sizeof **starts);
        (*starts)[n++] = k;
        i = k - 1;
    }
    return n;
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
void gen_sort_int(int *a, int n) { qsort(a, (size_t)n, sizeof *a, cmp_int); }

void gen_essay_insert(gen_job *j, pb_rng *r, const gen_essay *e, long n, const char *const *items, int k, sbuf *ctx,
                      size_t base)
{
    sbuf hay = {0};
    gen_essay_words(e, n, &hay);
    size_t *st;
    int ns = gen_sentences(hay.s ? hay.s : "", hay.n, &st);
    int *di = pb_malloc((size_t)k * sizeof *di), *pos = pb_malloc(((size_t)k + 2) * sizeof *pos);
    gen_sample(r, 40, k, di);
    pos[0] = 0;
    for (int i = 0; i < k; i++) pos[i + 1] = (int)((long long)ns * gen_ruler_depth(di[i]) / 100);
    gen_sort_int(pos + 1, k);
    pos[k + 1] = ns;
    for (int i = 1; i <= k + 1; i++) {
        if (i > 1) sb_puts(ctx, " ");
        size_t a = pos[i - 1] < ns ? st[pos[i - 1]] : hay.n, b = pos[i] < ns ? st[pos[i]] : hay.n;
        while (b > a && hay.s[b - 1] == ' ') b--;
        if (b > a) sb_putn(ctx, hay.s + a, b - a);
        if (i - 1 < k) {
            sb_puts(ctx, " ");
            gen_needle_at(j, base + ctx->n);
            sb_puts(ctx, items[i - 1]);
        }
    }
    free(st);
    free(di);
    free(pos);
    free(hay.s);
}

static const char **vocab;
static int n_vocab;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

const char *const *gen_kjv_vocab(int *n, pb_err *err)
{
    if (!vocab) {
        const gen_essay *e = gen_essay_get(err);
        if (!e) return NULL;
        /* a lower-cased copy cut into NUL-terminated runs of letters (kept for the process) */
        size_t len = (size_t)e->word[e->n_words] - 1;
        char *low = pb_malloc(len + 1);
        for (size_t i = 0; i <= len; i++) {
            unsigned char c = (unsigned char)e->text[i];
            low[i] = isalpha(c) ? (char)tolower(c) : 0;
        }
        const char **all = pb_malloc((size_t)e->n_words * sizeof *all);
        int m = 0;
        for (size_t i = 0; i < len;) {
            size_t k = i;
            while (low[k]) k++;
            int word_start = i == 0 || e->text[i - 1] == ' ' || e->text[i - 1] == '(';
            if (k - i >= 3 && k - i <= 20 && word_start) all[m++] = low + i;
            i = k + 1;
        }
        qsort(all, (size_t)m, sizeof *all, cmp_str);
        int u = 0;
        for (int i = 0; i < m; i++)
            if (!u || strcmp(all[u - 1], all[i])) all[u++] = all[i];
        vocab = pb_realloc(all, (size_t)u * sizeof *all);
        n_vocab = u;
    }
    *n = n_vocab;
    return vocab;
}

/* ---- the job --------------------------------------------------------------- */

void gen_needle_at(gen_job *j, size_t off)
{
    if (j->n_nd == j->cap_nd) j->nd = pb_realloc(j->nd, (size_t)(j->cap_nd = 2 * j->cap_nd + 8) * sizeof *j->nd);
    j->nd[j->n_nd++] = off;
}

void gen_answer(gen_job *j, const char *s)
{
    j->answers = pb_realloc(j->answers, (size_t)(j->n_answers + 1) * sizeof *j->answers);
    size_t n = strlen(s) + 1;
    j->answers[j->n_answers++] = memcpy(pb_malloc(n), s, n);
}

static void job_clear(gen_job *j)
{
    j->user.n = j->prefix.n = 0;
    if (j->user.s) j->user.s[0] = 0;
    if (j->prefix.s) j->prefix.s[0] = 0;
    j->hay_b = j->hay_e = 0;
    j->n_nd = 0;
    for (int i = 0; i < j->n_answers; i++) free(j->answers[i]);
    j->n_answers = 0;
}

void gen_job_free(gen_job *j)
{
    job_clear(j);
    free(j->user.s);
    free(j->prefix.s);
    free(j->nd);
    free(j->answers);
}

int gen_fail(gen_job *j, pb_err *err, const char *fmt, ...)
{
    (void)j; /* gen_case puts the place in front */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return 0;
}

/* A build of amount n: the full prompt, its ids, offsets moved into the prompt. */
typedef struct {
    long n;
    char *prompt;
    int *ids, n_ids;
} trial;

static void trial_free(trial *t)
{
    free(t->prompt);
    free(t->ids);
    memset(t, 0, sizeof *t);
}

static size_t chat_header(const tokenizer *t, const char *system)
{
    char *m = tok_chat_prompt(t, system, "\x01");
    size_t h = (size_t)(strchr(m, 1) - m);
    free(m);
    return h;
}

static void measure(gen_job *j, long n, trial *t)
{
    job_clear(j);
    j->build(j, n);
    const char *user = j->user.s ? j->user.s : "";
    char *chat = j->raw ? memcpy(pb_malloc(j->user.n + 1), user, j->user.n + 1) : tok_chat_prompt(j->tok, j->system, user);
    size_t a = strlen(chat);
    t->n = n;
    t->prompt = pb_malloc(a + j->prefix.n + 1);
    memcpy(t->prompt, chat, a);
    memcpy(t->prompt + a, j->prefix.s ? j->prefix.s : "", j->prefix.n + 1);
    free(chat);
    t->n_ids = tok_encode(j->tok, t->prompt, a + j->prefix.n, 1, &t->ids);
}

int gen_fit(gen_job *j, suite_case *out, pb_err *err)
{
    trial best = {0}, cur = {0};
    measure(j, j->n_min, &best);
    if (best.n_ids > j->budget) {
        int got = best.n_ids;
        trial_free(&best);
        if (j->what) return gen_fail(j, err, "%s takes %d tokens at least, more than its %d", j->what, got, j->budget);
        return gen_fail(j, err, "at context %d the prompt takes %d tokens with the smallest haystack, more than "
                        "context - max_new = %d", j->context, got, j->budget);
    }
    long lo = j->n_min, hi = j->n_max + 1, last = lo; /* lo fits; hi does not (or is past the end) */
    int t_lo = best.n_ids, t0 = best.n_ids, t_hi = -1;
    double slope = j->unit_tokens > 0 ? j->unit_tokens : 1;
    long next = lo + (long)((j->budget - t_lo) / slope);
    for (int it = 0; hi - lo > 1 && it < 64; it++) {
        long n = next;
        if (it >= 10) n = t_hi < 0 ? (lo < LONG_MAX / 4 ? 2 * lo + 1 : hi - 1) : lo + (hi - lo) / 2;
        if (n <= lo) n = lo + 1;
        if (n >= hi) n = hi - 1;
        measure(j, n, &cur);
        last = n;
        if (cur.n_ids <= j->budget) {
            trial_free(&best);
            best = cur;
            lo = n;
            t_lo = cur.n_ids;
        } else {
            hi = n;
            t_hi = cur.n_ids;
            trial_free(&cur);
        }
        memset(&cur, 0, sizeof cur);
        /* secant: the bracket's slope when both ends are known, else the mean from n_min */
        if (t_hi >= 0) slope = (double)(t_hi - t_lo) / (double)(hi - lo);
        else if (lo > j->n_min) slope = (double)(t_lo - t0) / (double)(lo - j->n_min);
        if (slope <= 0) slope = 1e-3;
        next = lo + (long)((j->budget - t_lo) / slope);
    }
    if (last != best.n) { /* rebuild so that the job's offsets and answers describe best */
        job_clear(j);
        j->build(j, best.n);
    }
    size_t head = j->raw ? 0 : chat_header(j->tok, j->system);
    out->prompt = best.prompt;
    out->prompt_len = strlen(best.prompt);
    out->ids = best.ids;
    out->n_ids = best.n_ids;
    out->amount = best.n;
    out->hay_begin = head + j->hay_b;
    out->hay_end = head + j->hay_e;
    out->n_needles = j->n_nd;
    out->needles = pb_malloc((size_t)(j->n_nd + 1) * sizeof *out->needles);
    for (int i = 0; i < j->n_nd; i++) out->needles[i] = head + j->nd[i];
    out->n_answers = j->n_answers;
    out->answers = j->answers;
    j->answers = NULL;
    j->n_answers = 0;
    gen_finish(out);
    return 1;
}
