/* gen_impl.h — what the task generators (gen_*.c) share: a growable string,
 * random needle values, the KJV "essay" haystack, sentence boundaries, and
 * the job that sizes a prompt to its token budget (gen_impl.c implements
 * them), and the families' entry points, which only the dispatcher (gen.c)
 * calls. A family includes this header alone, never gen.h.
 *
 * A family fills a gen_job's `build`: given a haystack amount n (words,
 * sentences, ...) it writes the user message and the answer prefix, the
 * haystack span and needle starts (byte offsets into the user message) and
 * the answers. build must be a pure function of (job, n): it re-seeds its
 * generator from job->seed on every call, so the search over n only changes
 * the amount. gen_fit then picks the largest n whose chat-templated prompt
 * fits job->budget tokens.
 */
#ifndef PURBO_GEN_IMPL_H
#define PURBO_GEN_IMPL_H

#include "suites/gen_case.h"
#include "model/tokenizer.h"
#include "base/rng.h"

typedef struct {
    char *s;
    size_t n, cap;
} sbuf;

void sb_putn(sbuf *b, const char *s, size_t n);
void sb_puts(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends fmt with "{name}" fields replaced: vars = {name, value, name, value, ..., NULL}. */
void sb_format(sbuf *b, const char *fmt, const char *const *vars);

typedef struct gen_job gen_job;
struct gen_job {
    /* inputs */
    const suite_task *t;
    const tokenizer *tok;
    uint64_t seed;
    int context, budget;
    double depth;          /* percent or -1 */
    const char *system;    /* NULL: the model's default system prompt */
    suite_metric metric;   /* the family's default when the task says METRIC_DEFAULT */
    int raw;               /* 1: no chat template (a few-shot example sized on its own) */
    const char *what;      /* names the sized text in errors: NULL = "the prompt" */
    /* set by the family before gen_fit */
    void (*build)(gen_job *j, long n);
    void *ctx;
    long n_min, n_max;     /* haystack amount range */
    double unit_tokens;    /* a guess of tokens per unit, to start the search */
    /* written by build (cleared by gen_fit before each call) */
    sbuf user, prefix;
    size_t hay_b, hay_e;   /* offsets into user */
    size_t *nd;
    int n_nd, cap_nd;
    char **answers;
    int n_answers;
};

void gen_needle_at(gen_job *j, size_t user_offset);
void gen_job_free(gen_job *j); /* frees what build wrote (not the inputs) */
void gen_answer(gen_job *j, const char *s);
/* Finds the amount, builds the case. 0 + *err if even n_min does not fit. */
int gen_fit(gen_job *j, suite_case *out, pb_err *err);
/* The error helper for generators: "FILE:L:C: task 'x': ...". */
int gen_fail(gen_job *j, pb_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Random needle values (RULER): numbers = 7 digits, words = adjective-noun
 * from words.c, uuids = version-4 UUIDs. out holds >= 48 bytes. */
void gen_value(pb_rng *r, val_type t, char *out);
/* k distinct indices of [0, n) in random order (k <= n). */
void gen_sample(pb_rng *r, int n, int k, int *out);
void gen_shuffle_int(pb_rng *r, int *a, int n);
void gen_sort_int(int *a, int n); /* ascending */
/* RULER's needle depths: round(linspace(0, 100, 40)), i.e. round(100 i / 39). */
int gen_ruler_depth(int i);

/* RULER's "noise" haystack sentence (also the passkey filler). */
extern const char GEN_NOISE[];

/* The KJV as an essay: verse references dropped, verses joined by single
 * spaces. NULL + *err if the text is unavailable. Cached for the process. */
typedef struct {
    const char *text;
    const int *word;   /* start offset of each word; word[n_words] = len + 1 */
    int n_words;
} gen_essay;
const gen_essay *gen_essay_get(pb_err *err);
/* Appends the first n words (wrapping to the start, as RULER repeats it). */
void gen_essay_words(const gen_essay *e, long n, sbuf *out);
/* RULER's essay haystack with items in it (niah.py, variable_tracking.py):
 * the first n words split into S sentences; item i goes before sentence
 * int(S * d_i / 100), the d_i k distinct draws from gen_ruler_depth; the
 * pieces joined by single spaces. Item starts are recorded as needles
 * (offset base + position in ctx). */
void gen_essay_insert(gen_job *j, pb_rng *r, const gen_essay *e, long n, const char *const *items, int k, sbuf *ctx,
                      size_t base);
/* Sentence starts in s[0, len): offsets i where a sentence begins (0 first),
 * i.e. after [.?!] (and closing quotes or brackets) and spaces. Returns the
 * count; *starts is malloc'ed. */
int gen_sentences(const char *s, size_t len, size_t **starts);
/* Distinct lowercase KJV words of 3+ letters, sorted (cwe's large pool). */
const char *const *gen_kjv_vocab(int *n, pb_err *err);

/* The families (gen_niah.c, gen_vt.c, gen_cwe.c, gen_fwe.c, gen_passkey.c):
 * each sets up j and calls gen_fit (passkey builds the case itself). */
int gen_niah(gen_job *j, suite_case *out, pb_err *err);
int gen_ruler_niah(gen_job *j, suite_case *out, pb_err *err);
int gen_vt(gen_job *j, suite_case *out, pb_err *err);
int gen_cwe(gen_job *j, suite_case *out, pb_err *err);
int gen_fwe(gen_job *j, suite_case *out, pb_err *err);
int gen_passkey(gen_job *j, suite_case *out, pb_err *err);

#endif
