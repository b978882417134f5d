/* cmd_bench.c — `purbo-bench bench-cpu`: prefill and decode speed of the CPU
 * engine on real text (the KJV, tokenized by the model's tokenizer).
 *
 * Prefill: a fresh cache, N tokens in one session_eval with the last
 * position's logits (what generation needs), median of --repeats runs.
 * Decode: after a prefill of --decode-ctx tokens, --decode-tokens single
 * token steps; the median step time gives tokens/s. Timing is wall clock;
 * the machine should be otherwise idle.
 */
#include <string.h>

#include "args.h"
#include "cli.h"
#include "forward.h"
#include "textsrc.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int cmd_bench_cpu(int argc, char **argv)
{
    const char *model_path = NULL, *sizes_arg = "512,2048,8192";
    int repeats = 3, decode_ctx = 2048, decode_tokens = 32;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_flag(argv, i, "--help")) {
            printf("usage: purbo-bench bench-cpu --model M [options]\n"
                   "  Prefill and decode tokens/s of the CPU engine on KJV text.\n"
                   "  --sizes A,B,..      prefill lengths (default 512,2048,8192)\n"
                   "  --repeats N         prefill runs per length, median reported (default 3)\n"
                   "  --decode-ctx N      context before the decode steps (default 2048)\n"
                   "  --decode-tokens N   decode steps timed (default 32)\n");
            return 0;
        } else if ((v = arg_val("bench-cpu", argc, argv, &i, "--model"))) model_path = v;
        else if ((v = arg_val("bench-cpu", argc, argv, &i, "--sizes"))) sizes_arg = v;
        else if ((v = arg_val("bench-cpu", argc, argv, &i, "--repeats"))) repeats = (int)arg_long("bench-cpu", "--repeats", v, 1, 1000);
        else if ((v = arg_val("bench-cpu", argc, argv, &i, "--decode-ctx"))) decode_ctx = (int)arg_long("bench-cpu", "--decode-ctx", v, 1, 1 << 24);
        else if ((v = arg_val("bench-cpu", argc, argv, &i, "--decode-tokens"))) decode_tokens = (int)arg_long("bench-cpu", "--decode-tokens", v, 1, 100000);
        else arg_bad("bench-cpu", "unknown option %s", argv[i]);
    }
    if (!model_path) arg_bad("bench-cpu", "--model is required");
    int sizes[16], n_sizes = 0, max_n = decode_ctx + decode_tokens;
    for (const char *p = sizes_arg; *p && n_sizes < 16;) {
        char num[32];
        size_t l = strcspn(p, ",");
        if (l == 0 || l >= sizeof num) arg_bad("bench-cpu", "bad --sizes '%s'", sizes_arg);
        memcpy(num, p, l);
        num[l] = 0;
        sizes[n_sizes] = (int)arg_long("bench-cpu", "--sizes", num, 1, 1 << 24);
        if (sizes[n_sizes] > max_n) max_n = sizes[n_sizes];
        n_sizes++;
        p += l + (p[l] == ',');
    }
    tokenizer *tok;
    model *m = cli_load_model(model_path, &tok);
    if (max_n > m->cfg.n_ctx_train)
        arg_bad("bench-cpu", "%d tokens exceed the model's context %d", max_n, m->cfg.n_ctx_train);
    pb_err err;
    size_t tl;
    const char *text = text_kjv(&tl, &err);
    if (!text) pb_die_input(&err);
    int *ids;
    /* enough text for max_n tokens: ~4 bytes a token, with margin */
    size_t want = (size_t)max_n * 8 < tl ? (size_t)max_n * 8 : tl;
    int n_ids = tok_encode(tok, text, want, 0, &ids);
    PB_CHECK(n_ids >= max_n, "KJV text gave only %d tokens", n_ids);

    session *s = session_new(m, max_n);
    float *logits = pb_malloc((size_t)m->cfg.n_vocab * sizeof(float));
    double *t = pb_malloc((size_t)(repeats > decode_tokens ? repeats : decode_tokens) * sizeof(double));
    printf("%-8s %7s %8s %10s %10s %10s\n", "phase", "tokens", "repeats", "median s", "tok/s", "min..max s");
    for (int k = 0; k < n_sizes; k++) {
        for (int r = 0; r < repeats; r++) {
            session_reset(s);
            double t0 = pb_now();
            session_eval(s, ids, sizes[k], logits, 1);
            t[r] = pb_now() - t0;
        }
        double med = median(t, repeats);
        printf("%-8s %7d %8d %10.3f %10.1f %5.3f..%.3f\n", "prefill", sizes[k], repeats, med, sizes[k] / med,
               t[0], t[repeats - 1]);
        fflush(stdout);
    }
    session_reset(s);
    session_eval(s, ids, decode_ctx, logits, 1);
    for (int i = 0; i < decode_tokens; i++) {
        double t0 = pb_now();
        session_eval(s, &ids[decode_ctx + i], 1, logits, 1);
        t[i] = pb_now() - t0;
    }
    double med = median(t, decode_tokens);
    printf("%-8s %7d %8d %10.5f %10.1f %5.4f..%.4f  (at context %d)\n", "decode", decode_tokens, 1, med,
           1.0 / med, t[0], t[decode_tokens - 1], decode_ctx);
    free(t);
    free(logits);
    free(ids);
    session_free(s);
    tok_free(tok);
    model_free(m);
    return 0;
}
