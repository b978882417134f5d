/* shard.c — the pair numbering and the balanced shard plan (shard.h). */
#include "suites/shard.h"

#include <stdlib.h>
#include <string.h>

#include "suites/gen.h"
#include "suites/throughput.h"

/* A decimal number that is all digits; -1 when it is not one. */
static long parse_count(const char *s, size_t len)
{
    if (!len || len > 6) return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int shard_parse(const char *text, int *index, int *count, char *why, size_t why_len)
{
    const char *slash = strchr(text, '/');
    long i = slash ? parse_count(text, (size_t)(slash - text)) : -1;
    long n = slash ? parse_count(slash + 1, strlen(slash + 1)) : -1;
    if (i < 0 || n < 0)
        snprintf(why, why_len, "'%s' is not I/N (the shard I of N, both whole numbers, 1 <= I <= N)", text);
    else if (n < 1 || n > SHARD_MAX) snprintf(why, why_len, "'%s': the count must be 1 to %d", text, SHARD_MAX);
    else if (i < 1 || i > n) snprintf(why, why_len, "'%s': the shard must be 1 to %ld", text, n);
    else {
        *index = (int)i;
        *count = (int)n;
        return 1;
    }
    return 0;
}

int shard_n_cases(const suite_task *t)
{
    return t->type == TASK_THROUGHPUT ? tp_n_cases(t) : gen_n_cases(t);
}

int shard_n_pairs(const suite *s)
{
    int n = 0;
    for (int ti = 0; ti < s->n_tasks; ti++) n += shard_n_cases(&s->tasks[ti]) * s->n_methods;
    return n;
}

int shard_pair(const suite *s, int ti, int ci, int mi)
{
    int base = 0;
    for (int i = 0; i < ti; i++) base += shard_n_cases(&s->tasks[i]) * s->n_methods;
    return base + ci * s->n_methods + mi;
}

/* Decode steps cost this many prompt tokens (a step is a whole forward of
 * one token; a prompt's tokens share theirs). */
#define DECODE_STEP 16.0

double shard_cost(const suite_task *t, int ci)
{
    if (t->type != TASK_THROUGHPUT) {
        int per_ctx = (t->n_depths ? t->n_depths : 1) * t->samples;
        double ctx = t->contexts[ci / per_ctx];
        return (ctx + DECODE_STEP * t->max_new) * (1 + ctx / 32768);
    }
    static const model_config none;
    tp_case c;
    tp_case_get(t, &none, ci, &c);
    double ctx = c.context, reps = t->warmup + (t->max_repeats > t->repeats ? t->max_repeats : t->repeats);
    double once = c.phase == TP_PREFILL ? ctx : DECODE_STEP * c.tokens;
    return (ctx + reps * once) * (1 + ctx / 32768);
}

typedef struct {
    double cost;
    int pair;
} costed;

static int by_cost(const void *a, const void *b)
{
    const costed *x = a, *y = b;
    if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
    return (x->pair > y->pair) - (x->pair < y->pair);
}

int *shard_plan(const suite *s, const unsigned char *on, int count, double *load)
{
    int np = shard_n_pairs(s), n = 0;
    int *out = pb_calloc((size_t)np + 1, sizeof *out);
    costed *c = pb_malloc(((size_t)np + 1) * sizeof *c);
    for (int ti = 0, p = 0; ti < s->n_tasks; ti++)
        for (int ci = 0; ci < shard_n_cases(&s->tasks[ti]); ci++) {
            double cost = shard_cost(&s->tasks[ti], ci);
            for (int mi = 0; mi < s->n_methods; mi++, p++)
                if (on[p]) c[n++] = (costed){cost, p};
        }
    qsort(c, (size_t)n, sizeof *c, by_cost);
    double *sum = pb_calloc((size_t)count, sizeof *sum);
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int k = 1; k < count; k++)
            if (sum[k] < sum[best]) best = k;
        sum[best] += c[i].cost;
        out[c[i].pair] = best + 1;
    }
    if (load) memcpy(load, sum, (size_t)count * sizeof *sum);
    free(sum);
    free(c);
    return out;
}
