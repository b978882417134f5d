/* test_whole_step.c — where the forward pass hands a decode step to the
 * backend's whole-step hook (backend.h, decode; forward.c), checked on the
 * CPU backend with a recording hook in place of the CUDA graph: only for
 * one-token evals with decode_graph on, every head dense and no observer;
 * the session's position and density counts advance as dense attention's;
 * a hook that declines leaves the step to the op-by-op path, whose logits
 * are then those of a session without any hook. The CUDA hook itself is
 * tested on the GPU (tests/gpu/test_cuda_graph.c).
 */
#include <string.h>

#include "run/forward.h"
#include "tests/fixture.h"
#include "tests/test.h"

static struct {
    int calls, token, pos, accept;
    float *out;
} rec;

/* Records the call; when accepting, writes logits i * 0.5 (what no forward pass gives). */
static int fake_decode(backend *b, bk_kv *kv, int token, int pos, float *out_host)
{
    (void)kv;
    rec.calls++;
    rec.token = token;
    rec.pos = pos;
    rec.out = out_host;
    if (!rec.accept) return 0;
    if (out_host)
        for (int i = 0; i < b->m->cfg.n_vocab; i++) out_host[i] = (float)i * 0.5f;
    return 1;
}

static int pattern_ok(const float *lg, int V)
{
    for (int i = 0; i < V; i++)
        if (lg[i] != (float)i * 0.5f) return 0;
    return 1;
}

TEST(forward_whole_step_dispatch)
{
    const model *m = fixture_model();
    const model_config *c = &m->cfg;
    const int V = c->n_vocab, NH = c->n_layer * c->n_head;
    backend *b = backend_cpu_new(m), *plain = backend_cpu_new(m);
    b->decode = fake_decode;
    b->decode_graph = DECODE_GRAPH;
    session *s = session_new_on(b, 32), *ref = session_new_on(plain, 32);
    int ids[6] = {1, 504, 3458, 314, 4455, 30};
    float *lg = pb_malloc((size_t)V * sizeof(float)), *lr = pb_malloc((size_t)V * sizeof(float));
    memset(&rec, 0, sizeof rec);
    rec.accept = 1;

    session_eval(s, ids, 4, lg, 1);             /* prefill: never the hook */
    CHECK(rec.calls == 0 && s->n_past == 4);
    session_density_reset(s);
    session_eval(s, ids + 4, 1, lg, 1);         /* decode: the hook, at position 4 */
    CHECK(rec.calls == 1 && rec.token == ids[4] && rec.pos == 4 && rec.out == lg);
    CHECK(s->n_past == 5 && pattern_ok(lg, V));
    attn_count *cnt = pb_malloc((size_t)NH * sizeof *cnt);
    session_density(s, cnt);
    int counts_ok = 1;
    for (int i = 0; i < NH; i++) counts_ok &= cnt[i].kept == 5 && cnt[i].visible == 5;
    CHECK(counts_ok);
    session_eval(s, ids + 5, 1, NULL, 0);       /* no logits wanted: the hook gets NULL */
    CHECK(rec.calls == 2 && rec.out == NULL && s->n_past == 6);

    /* off, or a head that is not dense: op by op */
    session_reset(s);
    session_eval(s, ids, 4, lg, 1);
    b->decode_graph = 0;
    session_eval(s, ids + 4, 1, lg, 1);
    CHECK(rec.calls == 2 && !pattern_ok(lg, V));
    b->decode_graph = DECODE_GRAPH;
    attn_policy not_dense = attn_dense;         /* the same computation, another policy */
    const attn_policy *keep = s->policy[7];
    s->policy[7] = &not_dense;
    session_eval(s, ids + 5, 1, lg, 1);
    CHECK(rec.calls == 2 && s->n_past == 6);
    s->policy[7] = keep;

    /* a hook that declines: the step runs op by op, same logits as no hook */
    session_reset(s);
    rec.accept = 0;
    session_eval(s, ids, 5, NULL, 0);
    session_eval(s, ids + 5, 1, lg, 1);
    session_eval(ref, ids, 5, NULL, 0);
    session_eval(ref, ids + 5, 1, lr, 1);
    CHECK(rec.calls == 3 && rec.pos == 5 && s->n_past == 6);
    CHECK(!memcmp(lg, lr, (size_t)V * sizeof(float)));

    free(cnt);
    free(lg);
    free(lr);
    session_free(s);
    session_free(ref);
    backend_close(b);
    backend_close(plain);
}
