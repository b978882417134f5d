/* test_generate.c — the sampler (run/sample.h) on hand-made logits, and
 * `generate`'s sampling options and chat turns on the bundled model:
 * temperature 0, top-k 1 and top-p 1e-9 are the greedy text byte for byte;
 * a seed gives one text; a conversation continued on one session answers
 * as the whole conversation run from scratch does. */
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "kernels/ops.h"
#include "run/sample.h"
#include "tests/fixture.h"
#include "tests/test.h"

/* Runs `purbo-bench ARGS` with stdout captured into out (stderr dropped). */
static int run_out(const char *args, char *out, size_t cap)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>/dev/null", test_bin_path, args);
    return fixture_shell(cmd, out, cap);
}

TEST(sample_greedy_cases_are_argmax)
{
    enum { V = 1000 };
    float lg[V];
    pb_rng r = {3};
    const sample_opts greedyish[] = {
        {.temperature = 0, .top_p = 1, .top_k = 0, .seed = 1},
        {.temperature = 1.5, .top_p = 1, .top_k = 1, .seed = 2},
        {.temperature = 1.5, .top_p = 1e-9, .top_k = 0, .seed = 3},
        {.temperature = 0.7, .top_p = 1e-9, .top_k = 50, .seed = 4},
    };
    for (int o = 0; o < 4; o++) {
        sampler s;
        sampler_init(&s, &greedyish[o], V);
        for (int step = 0; step < 50; step++) {
            for (int i = 0; i < V; i++) lg[i] = (float)(rng_unit(&r) * 8 - 4);
            if (step % 5 == 0) lg[17] = lg[400] = 9; /* a tie: the lower id, as cpu_argmax */
            int got = sampler_pick(&s, lg), want = cpu_argmax(lg, V);
            CHECK_MSG(got == want && (step % 5 || got == 17), "options %d step %d: %d, argmax %d", o, step, got, want);
        }
        sampler_free(&s);
    }
}

/* Frequencies of n draws on logits lg [V] with opts, into freq [V]. */
static void draw(const float *lg, int V, sample_opts o, int n, double *freq)
{
    sampler s;
    sampler_init(&s, &o, V);
    memset(freq, 0, (size_t)V * sizeof *freq);
    for (int i = 0; i < n; i++) freq[sampler_pick(&s, lg)] += 1.0 / n;
    sampler_free(&s);
}

TEST(sample_distribution_topk_topp)
{
    /* probabilities 0.4, 0.3, 0.2, 0.1 at temperature 1 (logits are their logs) */
    const float lg[4] = {logf(0.3f), logf(0.1f), logf(0.4f), logf(0.2f)};
    double f[4];
    enum { N = 40000 };
    draw(lg, 4, (sample_opts){.temperature = 1, .top_p = 1, .top_k = 0, .seed = 11}, N, f);
    CHECK_NEAR(f[0], 0.3, 0.015);
    CHECK_NEAR(f[1], 0.1, 0.015);
    CHECK_NEAR(f[2], 0.4, 0.015);
    CHECK_NEAR(f[3], 0.2, 0.015);
    /* top-k 2: the 0.4 and 0.3 only, renormalised to 4/7 and 3/7 */
    draw(lg, 4, (sample_opts){.temperature = 1, .top_p = 1, .top_k = 2, .seed = 12}, N, f);
    CHECK(f[1] == 0 && f[3] == 0);
    CHECK_NEAR(f[2], 4.0 / 7, 0.015);
    /* top-p 0.5: 0.4 is short of it, 0.4 + 0.3 reaches it */
    draw(lg, 4, (sample_opts){.temperature = 1, .top_p = 0.5, .top_k = 0, .seed = 13}, N, f);
    CHECK(f[1] == 0 && f[3] == 0);
    CHECK_NEAR(f[0], 3.0 / 7, 0.015);
    /* top-k 3 keeps 0.9 of the mass; top-p 0.75 of that is 0.675, reached by 0.4 + 0.3 */
    draw(lg, 4, (sample_opts){.temperature = 1, .top_p = 0.75, .top_k = 3, .seed = 14}, N, f);
    CHECK(f[1] == 0 && f[3] == 0);
    /* temperature 0.5 squares the odds: 0.16 : 0.09 : 0.04 : 0.01 */
    draw(lg, 4, (sample_opts){.temperature = 0.5, .top_p = 1, .top_k = 0, .seed = 15}, N, f);
    CHECK_NEAR(f[2], 0.16 / 0.30, 0.015);
    CHECK_NEAR(f[1], 0.01 / 0.30, 0.01);
    /* the same seed, the same draws; another seed, others */
    sampler a, b, c;
    sample_opts o = {.temperature = 1, .top_p = 0.95, .top_k = 0, .seed = 99};
    sampler_init(&a, &o, 4);
    sampler_init(&b, &o, 4);
    o.seed = 100;
    sampler_init(&c, &o, 4);
    int same = 1, differ = 0;
    for (int i = 0; i < 200; i++) {
        int x = sampler_pick(&a, lg);
        same &= x == sampler_pick(&b, lg);
        differ |= x != sampler_pick(&c, lg);
    }
    sampler_free(&a);
    sampler_free(&b);
    sampler_free(&c);
    CHECK(same && differ);
}

#define GEN_ARGS "generate --model %s --prompt 'The capital of France is' --max-new 24 --backend cpu"

/* generate: the greedy text is unchanged by temperature 0, top-k 1 and
 * top-p 1e-9; a seed gives one text, another seed another. */
TEST(cli_generate_sampling)
{
    char args[1400], greedy[4096], out[4096], again[4096];
    snprintf(args, sizeof args, GEN_ARGS, test_model_path);
    CHECK(run_out(args, greedy, sizeof greedy) == 0 && strlen(greedy) > 10);
    const char *same[] = {"--temperature 0", "--temperature 1.3 --top-k 1 --seed 4",
                          "--temperature 2 --top-p 1e-9 --seed 9", "--top-p 1e-9"};
    for (int i = 0; i < 4; i++) {
        snprintf(args, sizeof args, GEN_ARGS " %s", test_model_path, same[i]);
        CHECK_MSG(run_out(args, out, sizeof out) == 0 && !strcmp(out, greedy), "%s:\n%s\ngreedy:\n%s", same[i], out,
                  greedy);
    }
    snprintf(args, sizeof args, GEN_ARGS " --temperature 1.5 --seed 7", test_model_path);
    CHECK(run_out(args, out, sizeof out) == 0 && run_out(args, again, sizeof again) == 0);
    CHECK_MSG(!strcmp(out, again) && strcmp(out, greedy), "seed 7:\n%s\nagain:\n%s", out, again);
    snprintf(args, sizeof args, GEN_ARGS " --temperature 1.5 --seed 8", test_model_path);
    CHECK(run_out(args, again, sizeof again) == 0);
    CHECK_MSG(strcmp(out, again), "seeds 7 and 8 gave one text:\n%s", out);
    char err[1024];
    int lines;
    snprintf(args, sizeof args, GEN_ARGS " --top-p 0", test_model_path);
    CHECK(fixture_run_bin(args, err, sizeof err, &lines) == 2 && lines == 1 && strstr(err, "--top-p"));
    snprintf(args, sizeof args, GEN_ARGS " --temperature -1", test_model_path);
    CHECK(fixture_run_bin(args, err, sizeof err, &lines) == 2 && lines == 1 && strstr(err, "--temperature"));
}

/* generate --turns: a reply cut by --max-new (its last token not yet in the
 * cache) and the next turn answered on the same session equal the whole
 * conversation run as one prompt; standard input works as a file. */
TEST(cli_generate_chat_turns)
{
    const tokenizer *tok = fixture_tok();
    char *dir = fixture_tmpdir("turns"), path[512], conv[512], args[2048], out[4096], one[4096];
    snprintf(path, sizeof path, "%s/turns.txt", dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs("What is the capital of France?\n\nAnd of Italy?\n", f);
    fclose(f);
    snprintf(args, sizeof args, "generate --model %s --turns %s --max-new 5 --backend cpu", test_model_path, path);
    CHECK(run_out(args, out, sizeof out) == 0);
    char *nl = strchr(out, '\n');
    CHECK_MSG(nl && nl[1] && strchr(nl + 1, '\n') && !strchr(strchr(nl + 1, '\n') + 1, '\n'), "two lines: %s", out);
    *nl = 0; /* out: the first reply; nl + 1: the second and its newline */
    char *a = tok_chat_prompt(tok, NULL, "What is the capital of France?"), *b = tok_chat_turn(tok, "And of Italy?");
    snprintf(conv, sizeof conv, "%s/conv.txt", dir);
    f = fopen(conv, "w");
    CHECK(f);
    fprintf(f, "%s%s%s", a, out, b);
    fclose(f);
    free(a);
    free(b);
    snprintf(args, sizeof args, "generate --model %s --prompt-file %s --max-new 5 --backend cpu", test_model_path,
             conv);
    CHECK(run_out(args, one, sizeof one) == 0);
    CHECK_MSG(!strcmp(one, nl + 1), "turns:\n%s|%s\none prompt:\n%s", out, nl + 1, one);
    /* the same from standard input, with sampling: twice the same */
    snprintf(args, sizeof args, "generate --model %s --turns - --max-new 8 --temperature 0.9 --seed 3 --backend cpu"
             " < %s", test_model_path, path);
    CHECK(run_out(args, out, sizeof out) == 0 && run_out(args, one, sizeof one) == 0 && !strcmp(out, one));
    /* no turn at all; a conversation beyond --ctx: runtime failure, exit 1 */
    char err[1024];
    int lines;
    snprintf(args, sizeof args, "generate --model %s --turns - < /dev/null", test_model_path);
    CHECK(fixture_run_bin(args, err, sizeof err, &lines) == 2 && lines == 1 && strstr(err, "no turn"));
    snprintf(args, sizeof args, "generate --model %s --turns %s --ctx 50 --backend cpu", test_model_path, path);
    int st = fixture_run_bin(args, err, sizeof err, &lines);
    CHECK_MSG(st == 1 && strstr(err, "does not fit"), "status %d: %s", st, err);
    fixture_rmtree(dir);
}
