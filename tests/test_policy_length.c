/* test_policy_length.c — the length rule (plan.h's by_length): its text
 * and every way the text is refused; which row a prompt length picks; and
 * on the real model, that a session applied for a prompt of n tokens runs
 * exactly the row's settings (logits bit for bit those of the same policy
 * with the row's values given directly), shorter prompts the spec's own.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fixture.h"
#include "policy/indexer.h"
#include "policy/plan.h"
#include "policy/policy.h"
#include "tests/test.h"

/* plan_parse must refuse text with a message holding want. */
static int refuses(const char *text, const char *want, char *msg)
{
    plan_spec sp;
    pb_err e;
    if (plan_parse(text, &sp, &e)) {
        snprintf(msg, 256, "accepted, wanted \"%s\"", want);
        return 0;
    }
    snprintf(msg, 256, "%.200s", e.msg);
    return strstr(e.msg, want) != NULL;
}

TEST(policy_length_rule_text)
{
    plan_spec sp;
    pb_err e;
    CHECK_MSG(plan_parse("rtpurbo:local=64,by_length=1536 kmin=1;3072  local=256 kmin=4 p=0.65", &sp, &e), "%s",
              e.msg);
    CHECK(sp.given & PLAN_GIVEN_BY_LENGTH && sp.prm.n_by_length == 2 && sp.prm.local == 64);
    const plan_length_row *r = sp.prm.by_length;
    CHECK(r[0].from == 1536 && r[0].set == PLAN_GIVEN_KMIN && r[0].kmin == 1);
    CHECK(r[1].from == 3072 && r[1].local == 256 && r[1].kmin == 4 && fabs(r[1].p - 0.65) < 1e-12);
    char text[256];
    plan_by_length_text(&sp.prm, text, sizeof text);
    CHECK_MSG(!strcmp(text, "1536 kmin=1; 3072 local=256 kmin=4 p=0.65"), "%s", text);
    plan_params back = plan_defaults;
    CHECK(plan_by_length_parse(text, &back, &e) && back.n_by_length == 2 &&
          !memcmp(back.by_length, sp.prm.by_length, sizeof back.by_length));
    /* the rows by prompt length: below the first, the spec's own; from each row on, the row's */
    plan_params at = plan_params_for_prompt(&sp.prm, 1535);
    CHECK(at.local == 64 && at.kmin == 4 && fabs(at.p - 0.9) < 1e-12 && at.n_by_length == 0);
    at = plan_params_for_prompt(&sp.prm, 1536);
    CHECK(at.local == 64 && at.kmin == 1 && fabs(at.p - 0.9) < 1e-12);
    at = plan_params_for_prompt(&sp.prm, 3071);
    CHECK(at.kmin == 1 && at.local == 64);
    at = plan_params_for_prompt(&sp.prm, 3072);
    CHECK(at.local == 256 && at.kmin == 4 && fabs(at.p - 0.65) < 1e-12);
    at = plan_params_for_prompt(&plan_defaults, 100000); /* no rule: the settings as they are */
    CHECK(at.local == plan_defaults.local && at.kmin == plan_defaults.kmin);
    /* the oracles take it for the fields they have */
    CHECK(plan_parse("topp-oracle:by_length=2048 p=0.7 local=128", &sp, &e));
    CHECK(plan_policy_takes(PLAN_RTPURBO, "by_length") && !plan_policy_takes(PLAN_DUO, "by_length"));
    char msg[256];
    const char *bad[][2] = {
        {"rtpurbo:by_length=3072 p=0.65;1536 kmin=1", "row 2: from 1536 does not follow 3072"},
        {"rtpurbo:by_length=1536 kmin=1;1536 p=0.5", "row 2: from 1536 does not follow 1536"},
        {"rtpurbo:by_length=1536 window=128", "row 1: 'window' is none of local, kmin, p"},
        {"rtpurbo:by_length=1536 p=1.5", "row 1: p 1.5 is out of range (0, 1]"},
        {"rtpurbo:by_length=1536 p=0", "row 1: p 0 is out of range (0, 1]"},
        {"rtpurbo:by_length=1536 kmin=2.5", "row 1: kmin 2.5 is not an integer"},
        {"rtpurbo:by_length=1536 local=-1", "row 1: local -1 is out of range"},
        {"rtpurbo:by_length=1536 kmin=1 kmin=2", "row 1: 'kmin' given twice"},
        {"rtpurbo:by_length=1536", "row 1 sets none of local, kmin, p"},
        {"rtpurbo:by_length=0 kmin=1", "row 1: '0' is no prompt length"},
        {"rtpurbo:by_length=x kmin=1", "row 1: 'x' is no prompt length"},
        {"rtpurbo:by_length=1536 kmin", "row 1: 'kmin' is not key=value"},
        {"rtpurbo:by_length=1536 kmin=one", "row 1: kmin 'one' is not a number"},
        {"rtpurbo:by_length=1536 kmin=1;", "row 2 is empty"},
        {"rtpurbo:by_length=1 p=.5;2 p=.5;3 p=.5;4 p=.5;5 p=.5;6 p=.5;7 p=.5;8 p=.5;9 p=.5", "more than 8 rows"},
        {"topk-oracle:by_length=1536 kmin=1", "row 1: topk-oracle has no parameter 'kmin'"},
        {"duo:by_length=1536 local=64", "duo has no parameter 'by_length'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(refuses(bad[i][0], bad[i][1], msg), "%s: %s", bad[i][0], msg);
    plan_spec_init(&sp, "rtpurbo", &e);
    CHECK(!plan_spec_set_real(&sp, "by_length", 3, &e) && strstr(e.msg, "is not a rule"));
}

enum { N_PRE = 129, N_ALL = 137, CHUNK = 64 };

/* Logits of the prompt (N_PRE tokens) and a few decode steps under spec,
 * applied for a prompt of n_prompt tokens; PCA indexers on the prompt. */
static float *run_at(const char *spec, const int *ids, int n_prompt, double *density)
{
    const model *m = fixture_model();
    const int V = m->cfg.n_vocab, nh = m->cfg.n_layer * m->cfg.n_head;
    session *s = session_new(m, N_ALL);
    s->max_batch = CHUNK;
    s->dense_batch = CHUNK;
    plan pl;
    plan_spec sp;
    pb_err err;
    unsigned char *retr = pb_malloc((size_t)nh);
    for (int i = 0; i < nh; i++) retr[i] = i % 3 != 0; /* two heads in three select, the rest local */
    PB_CHECK(plan_parse(spec, &sp, &err), "%s: %s", spec, err.msg);
    PB_CHECK(plan_make(&pl, &m->cfg, &sp, retr, &err), "%s: %s", spec, err.msg);
    indexer_calibrate(&pl, m, ids, 64);
    plan_apply(&pl, s, 1, n_prompt);
    float *lg = pb_malloc((size_t)N_ALL * V * sizeof(float));
    session_eval(s, ids, N_PRE, lg, N_PRE);
    for (int t = N_PRE; t < N_ALL; t++) session_eval(s, ids + t, 1, lg + (size_t)t * V, 1);
    *density = session_density(s, NULL);
    session_free(s);
    plan_free(&pl);
    free(retr);
    return lg;
}

TEST(policy_length_rule_runs_the_row)
{
    const char *t = "In the beginning God created the heaven and the earth. And the earth was without form, "
                    "and void; and darkness was upon the face of the deep. ";
    char *buf = pb_malloc(strlen(t) * 10 + 1);
    buf[0] = 0;
    for (int i = 0; i < 10; i++) strcat(buf, t);
    int *ids, n = tok_encode(fixture_tok(), buf, strlen(buf), 1, &ids);
    free(buf);
    CHECK_MSG(n >= N_ALL, "prompt of %d tokens", n);
    const size_t bytes = (size_t)N_ALL * fixture_model()->cfg.n_vocab * sizeof(float);
    const char *base = "rtpurbo:block=16,sink=4,window=32,local=16,kmin=1,p=0.5";
    const char *rule = "rtpurbo:block=16,sink=4,window=32,local=16,kmin=1,p=0.5,by_length=100 local=48 kmin=3 p=0.8";
    const char *row = "rtpurbo:block=16,sink=4,window=32,local=48,kmin=3,p=0.8";
    double d_base, d_row, d_long, d_short;
    float *lb = run_at(base, ids, N_PRE, &d_base), *lr = run_at(row, ids, N_PRE, &d_row);
    float *l_long = run_at(rule, ids, N_PRE, &d_long), *l_short = run_at(rule, ids, 99, &d_short);
    /* the two settings differ on this prompt, else the checks below could not fail */
    CHECK_MSG(memcmp(lb, lr, bytes) && d_row > d_base, "density %.4f against %.4f", d_row, d_base);
    CHECK_MSG(!memcmp(l_long, lr, bytes) && d_long == d_row, "a 129-token prompt runs the row (from 100)");
    CHECK_MSG(!memcmp(l_short, lb, bytes) && d_short == d_base, "a 99-token prompt runs the spec's own");
    free(lb), free(lr), free(l_long), free(l_short);
    free(ids);
}
