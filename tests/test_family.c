/* test_family.c — the architecture description (model.h, family.h): what
 * model_read_config makes of a llama and a gemma3 file, the refusal of an
 * unknown architecture or of a family key that is missing (one line naming
 * the file and the key, exit 2 from the command line), the two pieces of
 * the forward pass only gemma3 uses (half-split RoPE, the sliding window of
 * the dense policy), and plans leaving sliding layers alone.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/ops.h"
#include "model/gguf.h"
#include "model/model.h"
#include "policy/plan.h"
#include "run/attention.h"
#include "tests/fixture.h"
#include "tests/gguf_build.h"
#include "tests/test.h"

/* A GGUF with the keys of arch (leaving out the key named skip) and one F32
 * tensor token_embd.weight (640, 4); written to path. */
static void write_config(const char *path, const char *arch, const char *skip)
{
    struct { const char *suffix; int f; double v; } keys[] = {
        {"context_length", 0, 32768}, {"embedding_length", 0, 640}, {"block_count", 0, 18},
        {"feed_forward_length", 0, 2048}, {"attention.head_count", 0, 4}, {"attention.head_count_kv", 0, 1},
        {"attention.key_length", 0, 256}, {"attention.value_length", 0, 256},
        {"attention.sliding_window", 0, 512}, {"rope.freq_base", 1, 1e6},
        {"attention.layer_norm_rms_epsilon", 1, 1e-6},
    };
    const int nk = (int)(sizeof keys / sizeof keys[0]);
    char name[128];
    int n = 0;
    for (int i = 0; i < nk; i++) n += !(skip && !strcmp(keys[i].suffix, skip));
    gbuf b = {0};
    gb_header(&b, 1, (uint64_t)n + 1);
    gb_kv_str(&b, "general.architecture", arch);
    for (int i = 0; i < nk; i++) {
        if (skip && !strcmp(keys[i].suffix, skip)) continue;
        snprintf(name, sizeof name, "%s.%s", arch, keys[i].suffix);
        if (keys[i].f) {
            gb_key(&b, name, GGUF_F32);
            gb_f32(&b, (float)keys[i].v);
        } else gb_kv_u32(&b, name, (uint32_t)keys[i].v);
    }
    const uint64_t ne[2] = {640, 4};
    gb_tensor(&b, "token_embd.weight", 2, ne, 0, 0);
    gb_pad(&b, 32);
    gb_zeros(&b, 640 * 4 * 4);
    FILE *f = fopen(path, "wb");
    fwrite(b.p, 1, b.n, f);
    fclose(f);
    gb_free(&b);
}

/* model_read_config on a written file: 1 ok (c filled), 0 with err. */
static int read_config(const char *path, model_config *c, pb_err *err)
{
    gguf *g = gguf_open(path, err);
    if (!g) return 0;
    int ok = model_read_config(g, c, err);
    gguf_close(g);
    return ok;
}

TEST(family_gemma3_description)
{
    const char *p = "/tmp/purbo-test-gemma3-config.gguf";
    write_config(p, "gemma3", NULL);
    model_config c;
    pb_err err = {{0}};
    int ok = read_config(p, &c, &err);
    unlink(p);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK(c.head_dim == 256 && c.n_head == 4 && c.n_head_kv == 1 && c.n_layer == 18);
    CHECK(c.rope_style == ROPE_NEOX && c.ffn_act == FFN_GELU_TANH && c.qk_norm && c.post_norms);
    CHECK(c.norm_offset == 0.0f);
    CHECK_NEAR(c.embd_scale, 25.298221, 1e-5);
    CHECK(c.n_sliding == 15);
    for (int l = 0; l < 18; l++) {
        int global = l == 5 || l == 11 || l == 17;
        CHECK_MSG(c.layer[l].kind == (global ? ATTN_GLOBAL : ATTN_SLIDING), "layer %d kind %d", l, c.layer[l].kind);
        CHECK(c.layer[l].window == (global ? 0 : 512));
        CHECK(model_layer_rope_base(&c, l) == (global ? 1e6f : 1e4f));
    }
}

/* SmolLM2 (llama): the zero description, every layer global at the file's base. */
TEST(family_llama_description)
{
    const model_config *c = &fixture_model()->cfg;
    CHECK(!strcmp(c->arch_name, "llama"));
    CHECK(c->rope_style == ROPE_ADJACENT && c->ffn_act == FFN_SILU && !c->qk_norm && !c->post_norms);
    CHECK(c->embd_scale == 0.0f && c->norm_offset == 0.0f && c->n_sliding == 0);
    for (int l = 0; l < c->n_layer; l++) {
        CHECK(c->layer[l].kind == ATTN_GLOBAL && c->layer[l].window == 0);
        CHECK(model_layer_rope_base(c, l) == c->rope_base);
    }
}

/* One line on stderr naming the file and the key, exit 2. */
static void refused(const char *path, const char *want_key)
{
    char args[256], err[1024];
    snprintf(args, sizeof args, "info %s", path);
    int lines, st = fixture_run_bin(args, err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1, "status %d, %d lines: %s", st, lines, err);
    CHECK_MSG(strstr(err, path) && strstr(err, want_key), "message: %s", err);
    model_config c;
    pb_err e = {{0}};
    CHECK(!read_config(path, &c, &e));
    CHECK_MSG(strstr(e.msg, path) && strstr(e.msg, want_key), "message: %s", e.msg);
}

TEST(family_unknown_arch_refused)
{
    const char *p = "/tmp/purbo-test-mamba.gguf";
    write_config(p, "mamba", NULL);
    refused(p, "general.architecture");
    unlink(p);
}

TEST(family_missing_key_refused)
{
    const char *p = "/tmp/purbo-test-gemma3-nokey.gguf";
    const char *need[] = {"attention.sliding_window", "attention.key_length", "rope.freq_base", "block_count"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        write_config(p, "gemma3", need[i]);
        char key[96];
        snprintf(key, sizeof key, "gemma3.%s", need[i]);
        refused(p, key);
    }
    /* llama does without sliding_window, key_length and freq_base */
    write_config(p, "llama", "attention.sliding_window");
    model_config c;
    pb_err e = {{0}};
    int ok = read_config(p, &c, &e);
    unlink(p);
    CHECK_MSG(ok, "%s", e.msg);
    CHECK(c.n_sliding == 0 && c.rope_style == ROPE_ADJACENT);
}

/* The half-split rotation equals the adjacent-pair one with each head's
 * dims reordered (i, i + d/2) → (2i, 2i + 1). */
TEST(family_rope_neox)
{
    enum { N = 3, H = 2, D = 16 };
    float a[N * H * D], b[N * H * D];
    for (int i = 0; i < N * H * D; i++) a[i] = (float)((i * 37) % 11) - 5.0f;
    for (int t = 0; t < N * H; t++)
        for (int i = 0; i < D / 2; i++) {
            b[t * D + 2 * i] = a[t * D + i];
            b[t * D + 2 * i + 1] = a[t * D + i + D / 2];
        }
    cpu_rope_neox(a, N, H, D, 7, 10000.0f);
    cpu_rope(b, N, H, D, 7, 10000.0f);
    for (int t = 0; t < N * H; t++)
        for (int i = 0; i < D / 2; i++) {
            CHECK(a[t * D + i] == b[t * D + 2 * i]);
            CHECK(a[t * D + i + D / 2] == b[t * D + 2 * i + 1]);
        }
    /* and it moved something */
    CHECK(a[D + 1] != (float)(((D + 1) * 37) % 11) - 5.0f);
}

/* The dense policy on a sliding layer: query p attends p-W+1 .. p only,
 * checked against softmax over exactly those keys in double precision, for
 * a prefill that spans several query blocks and a decode row. */
TEST(family_dense_sliding_window)
{
    enum { NKV = 150, D = 8, W = 20 };
    float *k = malloc(NKV * D * sizeof(float)), *v = malloc(NKV * D * sizeof(float));
    float *q = malloc(NKV * D * sizeof(float)), *out = malloc(NKV * D * sizeof(float));
    float *scratch = malloc(attn_scratch_floats(NKV) * sizeof(float));
    for (int i = 0; i < NKV * D; i++) {
        k[i] = (float)(((i * 53) % 17) - 8) / 8.0f;
        v[i] = (float)(((i * 29) % 13) - 6) / 6.0f;
        q[i] = (float)(((i * 71) % 19) - 9) / 9.0f;
    }
    const int starts[2][2] = {{0, NKV}, {NKV - 1, 1}};  /* (q_pos0, n_q): prefill, then one decode row */
    double worst = 0;
    long long kept_all = 0;
    for (int r = 0; r < 2; r++) {
        int p0 = starts[r][0], nq = starts[r][1];
        attn_call c = {.d = D, .q_pos0 = p0, .n_q = nq, .n_kv = p0 + nq, .window = W,
                       .q = q + (size_t)p0 * D, .ldq = D, .k = k, .v = v, .n_span = 1,
                       .out = out, .ldo = D, .scale = 0.5f};
        c.span[0] = (attn_span){0, p0 + nq, k, v, D};
        long long kept = attn_dense.run(&attn_dense, &c, NULL, scratch);
        long long want_kept = 0;
        for (int i = 0; i < nq; i++) {
            int p = p0 + i, lo = p - W + 1 > 0 ? p - W + 1 : 0;
            want_kept += p + 1 - lo;
            double s[NKV], mx = -1e300, sum = 0;
            for (int j = lo; j <= p; j++) {
                s[j] = 0;
                for (int e = 0; e < D; e++) s[j] += 0.5 * q[(size_t)p * D + e] * k[(size_t)j * D + e];
                if (s[j] > mx) mx = s[j];
            }
            for (int j = lo; j <= p; j++) sum += (s[j] = exp(s[j] - mx));
            for (int e = 0; e < D; e++) {
                double o = 0;
                for (int j = lo; j <= p; j++) o += s[j] / sum * v[(size_t)j * D + e];
                double d = fabs(o - out[(size_t)i * D + e]);
                if (d > worst) worst = d;
            }
        }
        CHECK_MSG(kept == want_kept, "kept %lld pairs, want %lld", kept, want_kept);
        kept_all += kept;
    }
    free(k);
    free(v);
    free(q);
    free(out);
    free(scratch);
    CHECK_MSG(worst < 1e-5, "max |out - reference| %.3g", worst);
    CHECK(kept_all < (long long)NKV * (NKV + 1) / 2);  /* the window did cut */
}

/* Under every policy the heads of sliding layers stay dense (their window
 * is the model's); the policy acts on the global layers' heads only. */
TEST(family_plan_keeps_sliding_layers)
{
    model_config c = {.n_layer = 6, .n_head = 2, .n_head_kv = 1, .head_dim = 16};
    for (int l = 0; l < 6; l++)
        if (l != 5) c.layer[l] = (layer_desc){ATTN_SLIDING, 512, 10000.0f};
    const char *specs[] = {"streaming", "topp-oracle", "quest", "duo"};
    unsigned char retr[12] = {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};  /* 0.0, 0.1 (sliding), 5.0 (global) */
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        plan_spec sp;
        pb_err e = {{0}};
        CHECK_MSG(plan_parse(specs[k], &sp, &e), "%s", e.msg);
        plan p;
        int duo = !strcmp(specs[k], "duo");
        CHECK_MSG(plan_make(&p, &c, &sp, duo ? retr : NULL, &e), "%s", e.msg);
        for (int i = 0; i < 10; i++) CHECK_MSG(p.kind[i] == HEAD_DENSE, "%s: head %d kind %d", specs[k], i, p.kind[i]);
        int want10 = duo ? HEAD_DENSE : !strcmp(specs[k], "streaming") ? HEAD_LOCAL
                   : !strcmp(specs[k], "quest") ? HEAD_QUEST : HEAD_TOPP_ORACLE;
        CHECK_MSG(p.kind[10] == want10 && p.kind[11] == (duo ? HEAD_LOCAL : want10), "%s: global heads %d %d",
                  specs[k], p.kind[10], p.kind[11]);
        plan_free(&p);
    }
}

/* info on the Gemma file: the description as the forward pass will read it. */
TEST(family_info_gemma)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s info %s", test_bin_path, test_gemma_path);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = 0;
    int st = pclose(p);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    CHECK_MSG(strstr(buf, "arch         gemma3") && strstr(buf, "4 query, 1 kv (GQA group 4), head dim 256") &&
              strstr(buf, "half-split (neox)") && strstr(buf, "QK-norm, GELU(tanh) gate, pre- and post-norms") &&
              strstr(buf, "15 sliding, 3 global (layers 5 11 17); sliding window 512, RoPE base 10000"),
              "%s", buf);
}
