/* sample.c — greedy or temperature / top-k / top-p sampling (sample.h).
 *
 * Top-p without top-k sorts only the tokens that can be in the nucleus:
 * those of weight w >= (1 - p) Z / V (Z the total weight, V the
 * vocabulary). The ones below hold less than V of that, (1 - p) Z, so the
 * ones above hold more than p Z and the nucleus lies among them.
 */
#include "run/sample.h"

#include <math.h>
#include <stdlib.h>

#include "base/common.h"
#include "kernels/ops.h"

void sampler_init(sampler *s, const sample_opts *o, int n_vocab)
{
    PB_CHECK(o->temperature >= 0 && o->top_p > 0 && o->top_p <= 1 && o->top_k >= 0, "sampler_init: bad options");
    s->o = *o;
    s->rng = (pb_rng){o->seed};
    s->n_vocab = n_vocab;
    s->idx = pb_malloc((size_t)n_vocab * sizeof *s->idx);
    s->w = pb_malloc((size_t)n_vocab * sizeof *s->w);
}

void sampler_free(sampler *s)
{
    free(s->idx);
    free(s->w);
    s->idx = NULL;
    s->w = NULL;
}

static const float *sort_logits; /* qsort's context: the step's logits */

/* Higher logit first; ties: the lower id first (as cpu_argmax). */
static int by_logit(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    float x = sort_logits[i], y = sort_logits[j];
    if (x != y) return x > y ? -1 : 1;
    return (i > j) - (i < j);
}

int sampler_pick(sampler *s, const float *logits)
{
    const int V = s->n_vocab;
    if (s->o.temperature <= 0 || s->o.top_k == 1) return cpu_argmax(logits, V);
    int best = cpu_argmax(logits, V);
    double inv_t = 1.0 / s->o.temperature, mx = logits[best], z = 0;
    for (int i = 0; i < V; i++) z += exp((logits[i] - mx) * inv_t);
    int n = 0;
    int sorted = s->o.top_k > 0 || s->o.top_p < 1;
    double floor_w = s->o.top_k > 0 ? 0 : (1 - s->o.top_p) * z / V;
    for (int i = 0; i < V; i++)
        if (!sorted || exp((logits[i] - mx) * inv_t) >= floor_w) s->idx[n++] = i;
    if (sorted) {
        sort_logits = logits;
        qsort(s->idx, (size_t)n, sizeof *s->idx, by_logit);
        if (s->o.top_k > 0 && n > s->o.top_k) n = s->o.top_k;
    }
    double kept = 0;
    for (int i = 0; i < n; i++) kept += s->w[i] = exp((logits[s->idx[i]] - mx) * inv_t);
    if (s->o.top_p < 1) { /* the shortest prefix reaching p of the kept mass */
        double want = s->o.top_p * kept, acc = 0;
        int m = 0;
        while (m < n && (m == 0 || acc < want)) acc += s->w[m++];
        n = m;
        kept = acc;
    }
    double u = rng_unit(&s->rng) * kept, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += s->w[i];
        if (u < acc) return s->idx[i];
    }
    return s->idx[n - 1]; /* rounding: u at the very top */
}
