/* test_policy_phase.c — a policy that acts in one phase only (plan.h's
 * phase key, attention.h's attn_phase): on the real model, a prompt then
 * single-token decode steps, against dense and against the same policy in
 * both phases.
 *
 * phase=decode: the prompt's logits are dense's bit for bit and every prompt
 * pair is attended (density 1 after the prompt), though the prompt's last
 * chunk would be one token (129 tokens in chunks of 64: the chunking leaves
 * none of one); the decode steps then attend fewer pairs than they see.
 * phase=prefill: the prompt's logits are the both-phase policy's bit for
 * bit, and every decode step attends every pair it sees. rtpurbo's index
 * keys come from the dense prompt too: decode-only rtpurbo at p = 1 gives
 * dense's logits up to float. The spec key takes names and numbers, and
 * quest and dense refuse it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fixture.h"
#include "policy/indexer.h"
#include "policy/plan.h"
#include "policy/policy.h"
#include "tests/test.h"

enum { N_PRE = 129, N_ALL = 145, CHUNK = 64 };

static int *prompt_ids(int *n)
{
    const char *t = "And God saw the light, that it was good: and God divided the light from the darkness. "
                    "And God called the light Day, and the darkness he called Night. ";
    char *buf = pb_malloc(strlen(t) * 12 + 1);
    buf[0] = 0;
    for (int i = 0; i < 12; i++) strcat(buf, t);
    int *ids;
    *n = tok_encode(fixture_tok(), buf, strlen(buf), 1, &ids);
    free(buf);
    return ids;
}

typedef struct {
    float *logits;          /* (N_ALL, n_vocab) */
    long long kept_pre, vis_pre, kept_dec, vis_dec;
} phase_run;

static void counts(session *s, long long *kept, long long *vis)
{
    const model_config *c = &s->m->cfg;
    attn_count *cnt = pb_malloc((size_t)c->n_layer * c->n_head * sizeof *cnt);
    session_density(s, cnt);
    *kept = *vis = 0;
    for (int i = 0; i < c->n_layer * c->n_head; i++) {
        *kept += cnt[i].kept;
        *vis += cnt[i].visible;
    }
    free(cnt);
}

/* The prompt (N_PRE tokens, chunks of CHUNK) then single steps to N_ALL,
 * under spec (NULL: dense); indexers, where the spec needs them, by PCA on
 * the prompt itself. */
static phase_run run_spec(const char *spec, const int *ids)
{
    const model *m = fixture_model();
    const int V = m->cfg.n_vocab;
    session *s = session_new(m, N_ALL);
    s->max_batch = CHUNK;
    s->dense_batch = CHUNK;  /* dense chunks as long as the policies' */
    plan pl;
    pb_err err;
    plan_spec sp;
    int have_plan = 0;
    if (spec) {
        unsigned char *retr = pb_malloc((size_t)m->cfg.n_layer * m->cfg.n_head);
        memset(retr, 1, (size_t)m->cfg.n_layer * m->cfg.n_head);
        PB_CHECK(plan_parse(spec, &sp, &err), "%s: %s", spec, err.msg);
        PB_CHECK(plan_make(&pl, &m->cfg, &sp, plan_policy_uses_heads(sp.policy) ? retr : NULL, &err), "%s: %s",
                 spec, err.msg);
        if (plan_needs_indexers(&pl)) indexer_calibrate(&pl, m, ids, 64);
        plan_apply(&pl, s, 1, 0);
        free(retr);
        have_plan = 1;
    }
    phase_run r;
    r.logits = pb_malloc((size_t)N_ALL * V * sizeof(float));
    session_eval(s, ids, N_PRE, r.logits, N_PRE);
    counts(s, &r.kept_pre, &r.vis_pre);
    for (int t = N_PRE; t < N_ALL; t++) session_eval(s, ids + t, 1, r.logits + (size_t)t * V, 1);
    counts(s, &r.kept_dec, &r.vis_dec);
    r.kept_dec -= r.kept_pre;
    r.vis_dec -= r.vis_pre;
    session_free(s);
    if (have_plan) plan_free(&pl);
    return r;
}

static int same_rows(const phase_run *a, const phase_run *b, int lo, int hi)
{
    const size_t V = (size_t)fixture_model()->cfg.n_vocab;
    return !memcmp(a->logits + lo * V, b->logits + lo * V, (size_t)(hi - lo) * V * sizeof(float));
}

TEST(policy_phase_acts_in_its_phase_only)
{
    int n;
    int *ids = prompt_ids(&n);
    CHECK_MSG(n >= N_ALL, "prompt of %d tokens", n);
    const char *both = "topp-oracle:p=0.5,block=16,local=16,sink=4";
    phase_run dense = run_spec(NULL, ids), all = run_spec(both, ids);
    phase_run dec = run_spec("topp-oracle:p=0.5,block=16,local=16,sink=4,phase=decode", ids);
    phase_run pre = run_spec("topp-oracle:p=0.5,block=16,local=16,sink=4,phase=prefill", ids);
    /* the both-phase policy does cut pairs in each phase, else nothing below could fail */
    CHECK_MSG(all.kept_pre < all.vis_pre && all.kept_dec < all.vis_dec, "kept %lld/%lld, %lld/%lld", all.kept_pre,
              all.vis_pre, all.kept_dec, all.vis_dec);
    CHECK_MSG(same_rows(&dec, &dense, 0, N_PRE), "decode-only: the prompt's logits differ from dense");
    CHECK_MSG(dec.kept_pre == dec.vis_pre, "decode-only: prompt kept %lld of %lld", dec.kept_pre, dec.vis_pre);
    CHECK_MSG(dec.kept_dec < dec.vis_dec, "decode-only: decode kept all %lld", dec.vis_dec);
    CHECK_MSG(!same_rows(&dec, &dense, N_PRE, N_ALL), "decode-only: decode logits equal dense's");
    CHECK_MSG(same_rows(&pre, &all, 0, N_PRE), "prefill-only: the prompt's logits differ from the policy's");
    CHECK(pre.kept_pre == all.kept_pre && pre.vis_pre == all.vis_pre);
    CHECK_MSG(pre.kept_dec == pre.vis_dec, "prefill-only: decode kept %lld of %lld", pre.kept_dec, pre.vis_dec);
    phase_run *rs[] = {&dense, &all, &dec, &pre};
    for (int i = 0; i < 4; i++) free(rs[i]->logits);
    free(ids);
}

TEST(policy_phase_rtpurbo_decode_keeps_prompt_index_keys)
{
    int n;
    int *ids = prompt_ids(&n);
    phase_run dense = run_spec(NULL, ids);
    phase_run dec = run_spec("rtpurbo:p=1,block=16,local=16,window=32,phase=decode", ids);
    const size_t V = (size_t)fixture_model()->cfg.n_vocab;
    double worst = 0;
    for (size_t i = (size_t)N_PRE * V; i < (size_t)N_ALL * V; i++)
        worst = fmax(worst, fabs(dec.logits[i] - dense.logits[i]));
    CHECK_MSG(same_rows(&dec, &dense, 0, N_PRE), "the prompt's logits differ from dense");
    CHECK_MSG(worst < 1e-3, "decode: max |logit diff| to dense %.3g at p = 1", worst);
    CHECK(dec.kept_dec == dec.vis_dec);
    free(dense.logits);
    free(dec.logits);
    free(ids);
}

TEST(policy_phase_spec_key)
{
    plan_spec sp;
    pb_err err;
    CHECK(plan_parse("rtpurbo:phase=decode", &sp, &err) && sp.prm.phase == ATTN_PHASE_DECODE);
    CHECK(plan_parse("streaming:phase=1", &sp, &err) && sp.prm.phase == ATTN_PHASE_PREFILL);
    CHECK(plan_parse("topp-oracle", &sp, &err) && sp.prm.phase == ATTN_PHASE_ALL);
    CHECK(plan_spec_init(&sp, "duo", &err) && plan_spec_set_real(&sp, "phase", 2, &err) &&
          sp.prm.phase == ATTN_PHASE_DECODE);
    double v;
    CHECK(plan_spec_named_value("phase", "prefill", &v, &err) == 1 && v == 1);
    CHECK(plan_spec_named_value("p", "prefill", &v, &err) == 0 && plan_spec_named_value("phase", "2", &v, &err) == 0);
    struct { const char *spec, *needle; } bad[] = {
        {"quest:phase=decode", "quest has no parameter 'phase'"},
        {"dense:phase=all", "dense has no parameter 'phase'"},
        {"topp-oracle:phase=sideways", "phase 'sideways' is none of all, prefill, decode"},
        {"topp-oracle:phase=3", "phase 3 is out of range [0, 2]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = 0;
        CHECK_MSG(!plan_parse(bad[i].spec, &sp, &err), "'%s' accepted", bad[i].spec);
        CHECK_MSG(strstr(err.msg, bad[i].needle), "'%s': message '%s'", bad[i].spec, err.msg);
    }
    /* one phase only: no KV head keeps a ring, so the other phase sees every key */
    const model *m = fixture_model();
    plan pl;
    CHECK(plan_parse("streaming:window=32,phase=prefill", &sp, &err));
    CHECK(plan_make(&pl, &m->cfg, &sp, NULL, &err));
    session *s = session_new(m, 256);
    plan_apply(&pl, s, 1, 0);
    CHECK(session_kv_bytes(s) == session_kv_bytes_full(s));
    session_free(s);
    plan_free(&pl);
}
