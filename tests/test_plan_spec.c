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
#include "run/attn_desc_rows.h"
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
    CHECK_MSG(!strcmp(err.msg, "quest has no parameter 'p' (page,budget,k,first_layer,last_layer,dense_layers)"),
              "%s", err.msg);
    /* the layers a policy acts on: a range, inside the model */
    CHECK(!plan_parse("rtpurbo:first_layer=10,last_layer=9", &b, &err));
    CHECK_MSG(!strcmp(err.msg, "first_layer 10 is above last_layer 9"), "%s", err.msg);
    CHECK(!plan_parse("duo:last_layer=4096", &b, &err) && strstr(err.msg, "last_layer 4096 is out of range"));
    CHECK(!plan_parse("dense:first_layer=1", &b, &err) && strstr(err.msg, "dense has no parameter 'first_layer'"));
}

/* first_layer .. last_layer: the heads of the other layers are dense, those
 * inside keep the policy's kinds; a range past the model is refused. */
TEST(plan_spec_layer_range)
{
    model_config c = {0};
    c.n_layer = 4, c.n_head = 2, c.n_head_kv = 1, c.head_dim = 8; /* every layer global (zero) */
    plan_spec sp;
    plan pl;
    pb_err err;
    CHECK_MSG(plan_parse("streaming:first_layer=1,last_layer=2", &sp, &err), "%s", err.msg);
    CHECK_MSG(plan_make(&pl, &c, &sp, NULL, &err), "%s", err.msg);
    for (int i = 0; i < 8; i++)
        CHECK_MSG(pl.kind[i] == (i / 2 == 1 || i / 2 == 2 ? HEAD_LOCAL : HEAD_DENSE), "head %d kind %d", i, pl.kind[i]);
    plan_free(&pl);
    CHECK(plan_parse("streaming:first_layer=4", &sp, &err));
    CHECK(!plan_make(&pl, &c, &sp, NULL, &err) && !strcmp(err.msg, "first_layer 4: the model has 4 layers"));
    /* dense_layers: single layers and ranges, with the range keys */
    CHECK_MSG(plan_parse("streaming:dense_layers=0  2-3,last_layer=2", &sp, &err), "%s", err.msg);
    CHECK_MSG(plan_make(&pl, &c, &sp, NULL, &err), "%s", err.msg);
    for (int i = 0; i < 8; i++)
        CHECK_MSG(pl.kind[i] == (i / 2 == 1 ? HEAD_LOCAL : HEAD_DENSE), "head %d kind %d", i, pl.kind[i]);
    plan_free(&pl);
    CHECK(plan_parse("streaming:dense_layers=4", &sp, &err));
    CHECK(!plan_make(&pl, &c, &sp, NULL, &err) && !strcmp(err.msg, "dense_layers: layer 4: the model has 4 layers"));
    plan_spec_init(&sp, "rtpurbo", &err);
    CHECK(plan_spec_set_real(&sp, "dense_layers", 7, &err) && sp.prm.dense_layer[7] && !sp.prm.dense_layer[6]);
    const char *bad[] = {"rtpurbo:dense_layers=", "rtpurbo:dense_layers=3-1", "rtpurbo:dense_layers=x",
                         "rtpurbo:dense_layers=128", "rtpurbo:dense_layers=1-", "rtpurbo:dense_layers=-1"};
    for (int i = 0; i < 6; i++)
        CHECK_MSG(!plan_parse(bad[i], &sp, &err) && strstr(err.msg, "dense_layers"), "%s: %s", bad[i], err.msg);
    CHECK(!plan_parse("dense:dense_layers=1", &sp, &err) && strstr(err.msg, "dense has no parameter 'dense_layers'"));
}

/* The one capability check: the CUDA backend (described without a device)
 * runs every plan whose heads describe their rule (every head kind does);
 * a head kind without a description is refused there with one line and
 * still runs on the CPU. */
TEST(plan_runs_on_backends)
{
    model_config c = {.n_layer = 2, .n_head = 4, .n_head_kv = 2, .head_dim = 8};
    for (int k = ATTN_OPAQUE; k < ATTN_KINDS; k++) {
        CHECK_MSG(backend_runs_kind("cpu", k), "cpu kind %d", k);
        CHECK_MSG(backend_runs_kind("cuda", k) == (k != ATTN_OPAQUE), "cuda kind %d", k);
    }
    CHECK(!backend_runs_kind("cuda", ATTN_KINDS) && !backend_runs_kind("cuda", -1));
    unsigned char all[8], some[8] = {1, 0, 0, 0, 0, 0, 0, 1};
    memset(all, 1, sizeof all);
    const char *specs[] = {"dense", "streaming", "duo", "quest", "topk-oracle", "topp-oracle", "rtpurbo",
                           "rtpurbo-topk"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        for (int r = 0; r < 2; r++) {
            plan_spec sp;
            plan pl;
            pb_err err;
            err.msg[0] = 0;
            CHECK(plan_parse(specs[i], &sp, &err));
            const unsigned char *retr = plan_policy_uses_heads(sp.policy) ? (r ? all : some) : NULL;
            CHECK(plan_make(&pl, &c, &sp, retr, &err));
            CHECK_MSG(plan_runs_on(&pl, "cpu", &err), "%s on cpu", specs[i]);
            CHECK_MSG(plan_runs_on(&pl, "cuda", &err), "%s on cuda: %s", specs[i], err.msg);
            plan_free(&pl);
        }
    }
    /* the description kinds the factory's policies give, kind by kind */
    CHECK(head_attn_kind(HEAD_DENSE) == ATTN_DENSE && head_attn_kind(HEAD_LOCAL) == ATTN_LOCAL &&
          head_attn_kind(HEAD_QUEST) == ATTN_QUEST && head_attn_kind(HEAD_TOPK_ORACLE) == ATTN_TOPK &&
          head_attn_kind(HEAD_TOPP_ORACLE) == ATTN_TOPP && head_attn_kind(HEAD_RTPURBO) == ATTN_RTPURBO &&
          head_attn_kind(HEAD_RTPURBO_TOPK) == ATTN_RTPURBO_TOPK && head_attn_kind(HEAD_KINDS) == ATTN_OPAQUE);
    /* a head of no known kind: cpu takes it (its policy runs as code), cuda refuses in one line */
    plan_spec sp;
    plan pl;
    pb_err err;
    CHECK(plan_parse("streaming", &sp, &err) && plan_make(&pl, &c, &sp, NULL, &err));
    pl.kind[5] = HEAD_KINDS;
    CHECK(plan_runs_on(&pl, "cpu", &err));
    CHECK(!plan_runs_on(&pl, "cuda", &err));
    CHECK_MSG(!strcmp(err.msg, "policy streaming has no CUDA implementation (head kind ?)"), "%s", err.msg);
    CHECK(!strchr(err.msg, '\n'));
    plan_free(&pl);
    attn_desc opaque = {.kind = ATTN_OPAQUE};
    attn_rows_rule ru;
    CHECK(!attn_desc_rows(&opaque, &ru));
}

/* --- the PCA/SVD indexer --- */

/* Each policy the factory makes describes its rule (attention.h) with the
 * plan's parameters: what the CUDA backend runs in place of its code. */
TEST(policy_descriptions)
{
    model_config c = {.n_layer = 2, .n_head = 4, .n_head_kv = 2, .head_dim = 8};
    plan_spec sp;
    plan pl;
    pb_err err;
    CHECK_MSG(plan_parse("rtpurbo:sink=3,window=100,block=16,local=32,p=0.8,kmin=2", &sp, &err), "%s", err.msg);
    unsigned char retr[8] = {1, 0, 0, 0, 0, 0, 0, 1};
    CHECK_MSG(plan_make(&pl, &c, &sp, retr, &err), "%s", err.msg);
    pl.prm.page = 8;
    pl.prm.budget = 75;  /* k_units = ceil(75 / 16) = 5; quest: ceil(75 / 8) = 10 pages */
    plan_alloc_indexers(&pl);
    for (int k = 0; k < HEAD_KINDS; k++) {
        attn_policy *pol = plan_policy_new(&pl, k, 64);
        const attn_desc *d = &pol->desc;
        CHECK_MSG(d->kind == head_attn_kind(k), "%s: kind %d", plan_kind_name(k), d->kind);
        if (k == HEAD_LOCAL) CHECK(d->sink == 3 && d->window == 100);
        if (k == HEAD_QUEST) CHECK(d->page == 8 && d->k_units == 10);
        if (k >= HEAD_TOPK_ORACLE) {
            CHECK(d->sink == 3 && d->block == 16 && d->local == 32 && d->p == 0.8 && d->kmin == 2);
            CHECK_MSG(d->k_units == 5, "%s: k_units %d", plan_kind_name(k), d->k_units);
        }
        if (k == HEAD_RTPURBO || k == HEAD_RTPURBO_TOPK)
            CHECK(d->rank == pl.rank && d->idx_q == pl.idx_q && d->idx_k == pl.idx_k);
        /* the GPU row kernels' rule of it (dense runs on the dense kernels: none) */
        static const int rule_of[HEAD_KINDS] = {-1, ROWS_LOCAL, ROWS_QUEST, ROWS_TOPK, ROWS_TOPP, ROWS_RTPURBO,
                                                ROWS_RTPURBO_TOPK};
        attn_rows_rule ru = {.rule = -1};
        CHECK_MSG(attn_desc_rows(d, &ru) == (k != HEAD_DENSE) && ru.rule == rule_of[k], "%s: rule %d",
                  plan_kind_name(k), ru.rule);
        if (k != HEAD_DENSE)
            CHECK(ru.sink == d->sink && ru.window == d->window && ru.block == d->block && ru.local == d->local &&
                  ru.page == d->page && ru.k_units == d->k_units && ru.kmin == d->kmin && ru.r == d->rank &&
                  ru.p == d->p);
        if (pol->destroy) pol->destroy(pol);
    }
    plan_free(&pl);
}
