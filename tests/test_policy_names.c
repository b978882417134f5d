/* test_policy_names.c — one set of policy knob names: a suite method's
 * params are --policy's keys, and the shipped default suite's methods make
 * exactly the specs of their --policy spellings, with the values they had
 * under the former YAML names (sinks, top_k, quest's block: the budgets
 * below are k pages or blocks times their size). */
#include <string.h>

#include "suites/runner_method.h"
#include "tests/fixture.h"
#include "tests/test.h"

TEST(policy_names_default_suite_as_cli)
{
    static const struct {
        const char *method, *cli;
        int sink, window, block, page, budget;
        double p;
    } want[] = {
        {"streaming", "streaming:sink=4,window=256", 4, 256, 64, 16, 512, 0.9},
        {"duo", "duo:sink=4,window=256", 4, 256, 64, 16, 512, 0.9},
        {"quest", "quest:page=16,k=16", 4, 1024, 64, 16, 256, 0.9},
        {"topk-oracle", "topk-oracle:block=64,k=4", 4, 1024, 64, 16, 256, 0.9},
        {"topp-oracle", "topp-oracle:block=64,p=0.9", 4, 1024, 64, 16, 512, 0.9},
        {"rtpurbo", "rtpurbo:p=0.9,sink=4,window=256,block=64", 4, 256, 64, 16, 512, 0.9},
        {"rtpurbo-topk", "rtpurbo-topk:k=4,sink=4,window=256,block=64", 4, 256, 64, 16, 256, 0.9},
    };
    pb_err e;
    suite *s = suite_load("suites/default.yaml", &e);
    CHECK_MSG(s, "%s", e.msg);
    int seen = 0;
    for (int i = 0; i < s->n_methods; i++)
        for (int w = 0; w < (int)(sizeof want / sizeof want[0]); w++) {
            if (strcmp(s->methods[i].name, want[w].method)) continue;
            method_engine me;
            CHECK_MSG(method_prepare(s, &s->methods[i], fixture_model(), &me, &e), "%s", e.msg);
            plan_spec cli;
            CHECK_MSG(plan_parse(want[w].cli, &cli, &e), "%s", e.msg);
            const plan_params *a = &me.spec.prm, *b = &cli.prm;
            CHECK_MSG(me.spec.policy == cli.policy && !memcmp(a, b, sizeof *a), "%s differs from %s", want[w].method,
                      want[w].cli);
            CHECK_MSG(a->sink == want[w].sink && a->window == want[w].window && a->block == want[w].block &&
                          a->page == want[w].page && a->budget == want[w].budget && a->p == want[w].p,
                      "%s: sink %d window %d block %d page %d budget %d p %g", want[w].method, a->sink, a->window,
                      a->block, a->page, a->budget, a->p);
            method_release(&me);
            seen++;
        }
    suite_free(s);
    CHECK_MSG(seen == 7, "%d of 7 methods", seen);
}

/* Every spec key --policy takes is a suite param too, with the same range. */
TEST(policy_names_every_key_in_yaml)
{
    char path[] = "/tmp/purbo-names-XXXXXX.yaml";
    int fd = mkstemps(path, 5);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("name: t\nmodel: m\nmethods:\n"
          "  - {policy: rtpurbo, params: {sink: 2, window: 128, block: 32, local: 32, p: 0.8, kmin: 2, r: 8, "
          "calib: 512}}\n"
          "  - {name: q, policy: quest, params: {page: 8, budget: 128}}\n"
          "tasks: [{type: niah, contexts: [512]}]\n", f);
    fclose(f);
    pb_err e;
    suite *s = suite_load(path, &e);
    remove(path);
    CHECK_MSG(s, "%s", e.msg);
    plan_spec a, b;
    CHECK(plan_spec_init(&a, "rtpurbo", &e) && plan_parse("rtpurbo:sink=2,window=128,block=32,local=32,p=0.8,kmin=2,"
                                                          "r=8,calib=512", &b, &e));
    for (int i = 0; i < s->methods[0].n_params; i++)
        CHECK(plan_spec_set_real(&a, s->methods[0].params[i].key, s->methods[0].params[i].v, &e));
    CHECK(plan_spec_check(&a, &e) && !memcmp(&a.prm, &b.prm, sizeof a.prm) && s->methods[0].n_params == 8);
    CHECK(s->methods[1].n_params == 2 && !strcmp(s->methods[1].params[1].key, "budget"));
    suite_free(s);
}
