/* test_plan_spec.c — the policy layer's front door: the NAME[:key=val,...]
 * text and the typed field API give the same spec and name the field (never
 * a command-line option) in their errors; retrieval-head lists and files
 * parse or fail at the place; and the one capability check (plan_runs_on)
 * says which plans a backend can run, the CUDA backend described without a
 * device.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "policy/plan.h"
#include "policy/policy.h"
#include "tests/test.h"

/* --- spec parsing --- */

TEST(plan_parse_specs)
{
    plan_spec sp;
    pb_err err;
    CHECK(plan_parse("rtpurbo-topk:k=4,block=32,r=4,sink=0", &sp, &err));
    CHECK(sp.policy == PLAN_RTPURBO_TOPK && sp.prm.block == 32 && sp.prm.budget == 128 && sp.prm.rank == 4 &&
          sp.prm.sink == 0 && sp.prm.window == 1024);
    CHECK(plan_parse("quest:k=3,page=8", &sp, &err) && sp.prm.budget == 24);
    CHECK(plan_parse("topp-oracle:p=0.5", &sp, &err) && sp.prm.p == 0.5 && sp.prm.block == 64);
    CHECK(plan_parse("streaming", &sp, &err) && sp.prm.sink == 4 && sp.prm.window == 1024);
    struct { const char *spec, *needle; } bad[] = {
        {"sparse", "unknown policy 'sparse'"},
        {"streaming:page=4", "no parameter 'page'"},
        {"streaming:window=0", "window 0 is out of range"},
        {"streaming:window=12x", "window '12x' is not an integer"},
        {"topp-oracle:p=1.5", "p 1.5"},
        {"topp-oracle:p", "'p' is not key=value"},
        {"dense:window=4", "dense has no parameter 'window'"},
        {"quest:budget=10,,page=2", "bad parameter list"},
        {"topp-oracle:kmin=2", "topp-oracle has no parameter 'kmin'"},
        {"rtpurbo:kmin=-1", "kmin -1 is out of range"},
    };
    CHECK(plan_parse("rtpurbo:kmin=0", &sp, &err) && sp.prm.kmin == 0);
    CHECK(plan_parse("rtpurbo", &sp, &err) && sp.prm.kmin == 4);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = 0;
        CHECK_MSG(!plan_parse(bad[i].spec, &sp, &err), "'%s' accepted", bad[i].spec);
        CHECK_MSG(strstr(err.msg, bad[i].needle) && !strstr(err.msg, "--policy") && !strchr(err.msg, '\n'),
                  "'%s': message '%s'", bad[i].spec, err.msg);
    }
}

/* A list written best first: keep its first k distinct heads (a sweep over
 * rho reads one ranked list); a repeat counts once; the rest still checked. */
TEST(plan_parse_heads_first_keeps_the_top)
{
    model_config c = {.n_layer = 4, .n_head = 3, .n_head_kv = 1, .head_dim = 8};
    unsigned char r[12];
    int listed = -1;
    pb_err err;
    CHECK(plan_parse_heads_first(&c, "2.2, 1.1 2.2 0.0 3.1", 2, r, &listed, &err));
    CHECK_MSG(listed == 4 && r[8] && r[4] && r[0] + r[10] == 0, "listed %d", listed);
    CHECK(plan_parse_heads_first(&c, "2.2, 1.1 2.2 0.0 3.1", 3, r, &listed, &err) && r[0] && !r[10]);
    CHECK(plan_parse_heads_first(&c, "2.2, 1.1", 5, r, &listed, &err) && listed == 2 && r[8] && r[4]);
    CHECK(plan_parse_heads_first(&c, "2.2, 1.1", 0, r, &listed, &err) && r[8] + r[4] == 0);
    CHECK(!plan_parse_heads_first(&c, "2.2, 9.9", 1, r, &listed, &err) && strstr(err.msg, "out of range"));
    CHECK(plan_parse_heads_first(&c, "all", 5, r, &listed, &err) && listed == 12 && r[4] && !r[5]);
}

TEST(plan_parse_heads_lists_and_files)
{
    model_config c = {.n_layer = 4, .n_head = 3, .n_head_kv = 1, .head_dim = 8};
    unsigned char r[12];
    pb_err err;
    CHECK(plan_parse_heads(&c, "0.1,3.2 1.0", r, &err));
    CHECK(r[1] && r[11] && r[3] && r[0] + r[2] + r[4] == 0);
    CHECK(plan_parse_heads(&c, "all", r, &err) && r[0] && r[11]);
    CHECK(plan_parse_heads(&c, "none", r, &err) && !r[0] && !r[11]);
    const char *path = "/tmp/purbo-test-heads.txt";
    FILE *f = fopen(path, "w");
    fputs("# retrieval heads\n2.2\n1.1, 0.0  # two more\n3.x\n", f);
    fclose(f);
    CHECK(!plan_parse_heads(&c, path, r, &err));
    CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, "line 4") && strstr(err.msg, "'3.x'"), "%s", err.msg);
    f = fopen(path, "w");
    fputs("# retrieval heads\n2.2\n1.1, 0.0  # two more\n", f);
    fclose(f);
    CHECK(plan_parse_heads(&c, path, r, &err) && r[8] && r[4] && r[0] && r[1] + r[11] == 0);
    unlink(path);
    CHECK(!plan_parse_heads(&c, "4.0", r, &err) && strstr(err.msg, "out of range"));
    CHECK(!plan_parse_heads(&c, "1.3", r, &err) && strstr(err.msg, "1.3"));
    CHECK(!plan_parse_heads(&c, "1-2", r, &err) && strstr(err.msg, "not LAYER.HEAD"));
    CHECK(!plan_parse_heads(&c, "/nonexistent/heads", r, &err) && strstr(err.msg, "/nonexistent/heads"));
    plan_spec sp;
    plan pl;
    CHECK(plan_parse("duo", &sp, &err) && !plan_make(&pl, &c, &sp, NULL, &err) && strstr(err.msg, "duo needs retrieval heads") &&
          !strstr(err.msg, "--"));
    CHECK(plan_parse("streaming", &sp, &err) && !plan_make(&pl, &c, &sp, r, &err) && strstr(err.msg, "streaming"));
    CHECK(plan_parse("rtpurbo:r=9", &sp, &err) && !plan_make(&pl, &c, &sp, r, &err) && strstr(err.msg, "r 9"));
}

/* The typed API gives the spec the text gives, in any field order, and its
 * errors name the field, never an option. */
TEST(plan_spec_typed_fields_match_text)
{
    plan_spec a, b;
    pb_err err;
    CHECK(plan_parse("topk-oracle:block=32,k=3,sink=2,local=16", &a, &err));
    CHECK(plan_spec_init(&b, "topk-oracle", &err) && plan_spec_set_int(&b, "k", 3, &err) &&
          plan_spec_set_int(&b, "local", 16, &err) && plan_spec_set_int(&b, "sink", 2, &err) &&
          plan_spec_set_int(&b, "block", 32, &err) && plan_spec_check(&b, &err));
    CHECK(a.policy == b.policy && a.given == b.given && !memcmp(&a.prm, &b.prm, sizeof a.prm));
    CHECK(b.prm.budget == 96 && b.given == (PLAN_GIVEN_BLOCK | PLAN_GIVEN_SINK | PLAN_GIVEN_LOCAL));
    CHECK(plan_spec_init(&b, "rtpurbo", &err) && plan_spec_set_real(&b, "p", 0.95, &err) &&
          plan_spec_set_real(&b, "window", 256.0, &err) && plan_spec_check(&b, &err));
    CHECK(b.prm.p == 0.95 && b.prm.window == 256 && b.given == (PLAN_GIVEN_P | PLAN_GIVEN_WINDOW));
    CHECK(!plan_spec_init(&b, "sliding", &err) && strstr(err.msg, "unknown policy 'sliding'") == err.msg);
    CHECK(plan_spec_init(&b, "rtpurbo", &err) && !plan_spec_set_real(&b, "p", 0.0, &err));
    CHECK_MSG(!strcmp(err.msg, "p 0 is out of range (0, 1]"), "%s", err.msg);
    CHECK(plan_spec_init(&b, "rtpurbo", &err) && !plan_spec_set(&b, "kmin", "x", &err));
    CHECK_MSG(!strcmp(err.msg, "kmin 'x' is not an integer"), "%s", err.msg);
    CHECK(plan_spec_init(&b, "rtpurbo", &err) && !plan_spec_set_real(&b, "window", 2.5, &err));
    CHECK_MSG(!strcmp(err.msg, "window 2.5 is not an integer"), "%s", err.msg);
    CHECK(plan_spec_init(&b, "streaming", &err) && !plan_spec_set_int(&b, "window", 0, &err));
    CHECK_MSG(!strcmp(err.msg, "window 0 is out of range [1, 16777216]"), "%s", err.msg);
    CHECK(plan_spec_init(&b, "quest", &err) && !plan_spec_set_real(&b, "p", 0.5, &err));
    CHECK_MSG(!strcmp(err.msg, "quest has no parameter 'p' (page,budget,k)"), "%s", err.msg);
}

/* The one capability check: the CUDA backend (described without a device)
 * runs a plan only when every head is dense; the CPU runs every plan. */
TEST(plan_runs_on_backends)
{
    model_config c = {.n_layer = 2, .n_head = 4, .n_head_kv = 2, .head_dim = 8};
    CHECK(backend_runs_policies("cpu") && !backend_runs_policies("cuda"));
    unsigned char all[8], some[8] = {1, 0, 0, 0, 0, 0, 0, 1};
    memset(all, 1, sizeof all);
    const struct { const char *spec; const unsigned char *retr; int on_cuda; } cases[] = {
        {"dense", NULL, 1}, {"streaming", NULL, 0}, {"quest", NULL, 0}, {"topp-oracle", NULL, 0},
        {"duo", all, 1}, {"duo", some, 0}, {"rtpurbo", some, 0}, {"rtpurbo-topk", all, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        plan_spec sp;
        plan pl;
        pb_err err;
        err.msg[0] = 0;
        CHECK(plan_parse(cases[i].spec, &sp, &err) && plan_make(&pl, &c, &sp, cases[i].retr, &err));
        CHECK_MSG(plan_runs_on(&pl, "cpu", &err), "%s on cpu", cases[i].spec);
        int ok = plan_runs_on(&pl, "cuda", &err);
        CHECK_MSG(ok == cases[i].on_cuda, "%s on cuda: %d", cases[i].spec, ok);
        if (!ok) {
            char want[128];
            snprintf(want, sizeof want, "policy %s has no CUDA implementation (cuda runs dense attention)",
                     cases[i].spec);
            CHECK_MSG(!strcmp(err.msg, want), "%s", err.msg);
        }
        plan_free(&pl);
    }
}

/* --- the PCA/SVD indexer --- */
