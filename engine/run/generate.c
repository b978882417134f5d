/* generate.c — greedy and sampled generation (generate.h). */
#include "run/generate.h"

int generate_sampled(session *s, sampler *sp, const int *prompt, int n_prompt, int max_new, const int *stop,
                     int n_stop, int *out, gen_stats *st, void (*on_token)(void *user, int id), void *user)
{
    const int V = s->m->cfg.n_vocab;
    float *logits = pb_malloc((size_t)V * sizeof(float));
    gen_stats z = {.n_prompt = n_prompt};
    double t0 = pb_now();
    session_eval(s, prompt, n_prompt, logits, 1);
    z.t_prefill = pb_now() - t0;
    double t1 = pb_now();
    int n = 0, n_dec = 0;
    while (n < max_new) {
        int id = sampler_pick(sp, logits);
        for (int i = 0; i < n_stop; i++) z.stopped |= id == stop[i];
        if (z.stopped) break;
        out[n++] = id;
        if (on_token) on_token(user, id);
        if (n == max_new || s->n_past >= s->n_ctx) break;
        session_eval(s, &id, 1, logits, 1);
        n_dec++;
    }
    z.n_gen = n;
    z.n_decode = n_dec;
    z.t_decode = pb_now() - t1;
    free(logits);
    if (st) *st = z;
    return n;
}

int generate_greedy(session *s, const int *prompt, int n_prompt, int max_new, const int *stop, int n_stop,
                    int *out, gen_stats *st, void (*on_token)(void *user, int id), void *user)
{
    sampler sp;
    sampler_init(&sp, &SAMPLE_GREEDY, s->m->cfg.n_vocab);
    int n = generate_sampled(s, &sp, prompt, n_prompt, max_new, stop, n_stop, out, st, on_token, user);
    sampler_free(&sp);
    return n;
}
