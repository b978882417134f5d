/* test_planfile.c — the .purbo plan file (engine/policy/planfile.h): a round trip
 * through the disk, and each way a plan is refused (another model, a
 * truncated or padded file, a bad checksum, bad magic, version, flags or
 * fields), each with its one-line message; and the plan file turned into
 * the engine's plan.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results/db.h"
#include "tests/fixture.h"
#include "policy/planfile.h"
#include "base/rng.h"
#include "tests/test.h"

/* A plan for the fixture model: 3 retrieval heads with random indexers. */
static void sample_plan(plan_file *p, const model *m)
{
    plan_file_init(p, m, 8);
    p->sink = 4;
    p->window = 512;
    p->block = 64;
    p->local = 64;
    p->p = 0.9f;
    int heads[3] = {5, 40, 200};
    pb_rng r = {9};
    size_t rd = (size_t)p->r * p->head_dim;
    for (int k = 0; k < 3; k++) {
        p->cls[heads[k]] = PLAN_CLASS_RETRIEVAL;
        for (size_t j = 0; j < rd; j++) {
            p->idx_q[heads[k] * rd + j] = (float)(rng_unit(&r) - 0.5);
            p->idx_k[heads[k] * rd + j] = (float)(rng_unit(&r) - 0.5) * 1e-3f;
        }
    }
}

TEST(planfile_round_trip)
{
    const model *m = fixture_model();
    CHECK(m);
    plan_file p, q;
    sample_plan(&p, m);
    char path[] = "/tmp/purbo-plan-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    pb_err e;
    CHECK_MSG(plan_file_write(path, &p, &e), "%s", e.msg);
    CHECK_MSG(plan_file_read(path, m, &q, &e), "%s", e.msg);
    unlink(path);
    CHECK(q.model_fp == p.model_fp && q.n_layer == 30 && q.n_head == 9 && q.n_head_kv == 3 && q.head_dim == 64);
    CHECK(q.sink == 4 && q.window == 512 && q.block == 64 && q.local == 64 && q.p == 0.9f && q.r == 8);
    CHECK(plan_file_n_retrieval(&q) == 3 && q.cls[40] == PLAN_CLASS_RETRIEVAL && q.cls[41] == PLAN_CLASS_LOCAL);
    size_t n = (size_t)30 * 9 * 8 * 64 * sizeof(float);
    CHECK(memcmp(p.idx_q, q.idx_q, n) == 0 && memcmp(p.idx_k, q.idx_k, n) == 0);
    /* the expected size: 68 + 270 classes (+2 padding) + 3 heads x 2 x 8 x 64 x 4 + 8 */
    size_t sz;
    unsigned char *b = plan_file_serialise(&p, &sz);
    CHECK(sz == 340 + 3 * 2 * 8 * 64 * 4 + 8);
    CHECK(memcmp(b, "PURBOPLN", 8) == 0 && b[8] == 1 && b[68 + 5] == 1 && b[68 + 6] == 0);
    free(b);
    plan_file_free(&p);
    plan_file_free(&q);
}

/* Parses a buffer that must be refused; the message must contain want. */
static int refused(const unsigned char *b, size_t n, const model *m, const char *want, char *msg)
{
    plan_file q;
    pb_err e;
    memset(&q, 0xab, sizeof q);
    if (plan_file_parse(b, n, "x.purbo", m, &q, &e)) {
        plan_file_free(&q);
        snprintf(msg, 512, "accepted, wanted \"%s\"", want);
        return 0;
    }
    snprintf(msg, 512, "%s", e.msg);
    return strncmp(e.msg, "x.purbo: ", 9) == 0 && strstr(e.msg, want) != NULL && !strchr(e.msg, '\n');
}

static void reseal(unsigned char *b, size_t n)
{
    uint64_t h = pb_fnv1a64(PB_FNV1A64_INIT, b, n - 8);
    for (int i = 0; i < 8; i++) b[n - 8 + i] = (unsigned char)(h >> (8 * i));
}

TEST(planfile_rejections)
{
    const model *m = fixture_model();
    CHECK(m);
    plan_file p;
    sample_plan(&p, m);
    size_t n;
    unsigned char *good = plan_file_serialise(&p, &n), *b = malloc(n + 16);
    char msg[512];
    plan_file q;
    pb_err e;
    CHECK_MSG(plan_file_parse(good, n, "x.purbo", m, &q, &e), "%s", e.msg);
    plan_file_free(&q);

    /* another model: same shape, another configuration value -> another fingerprint */
    model other = *m;
    other.cfg.rope_base = 10000.0f;
    CHECK_MSG(refused(good, n, &other, "made for another model", msg), "%s", msg);
    /* truncated anywhere */
    size_t cuts[] = {0, 7, 12, 40, 67, 68, 400, n - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++)
        CHECK_MSG(refused(good, cuts[k], m, "truncated", msg), "cut at %zu: %s", cuts[k], msg);
    /* trailing bytes */
    memcpy(b, good, n);
    b[n] = 0;
    CHECK_MSG(refused(b, n + 1, m, "1 bytes after the end", msg), "%s", msg);
    /* a flipped bit in an indexer entry, in a class byte, in the header */
    size_t spots[] = {n - 100, 68 + 7, 44};
    for (size_t k = 0; k < 3; k++) {
        memcpy(b, good, n);
        b[spots[k]] ^= 0x10;
        CHECK_MSG(refused(b, n, m, "bad checksum", msg), "flip at %zu: %s", spots[k], msg);
    }
    /* the checksum itself damaged */
    memcpy(b, good, n);
    b[n - 1] ^= 1;
    CHECK_MSG(refused(b, n, m, "bad checksum", msg), "%s", msg);
    /* magic, version, flags (resealed, so only the field is wrong) */
    memcpy(b, good, n);
    b[0] = 'X';
    reseal(b, n);
    CHECK_MSG(refused(b, n, m, "bad magic", msg), "%s", msg);
    memcpy(b, good, n);
    b[8] = 3;
    reseal(b, n);
    CHECK_MSG(refused(b, n, m, "plan version 3", msg), "%s", msg);
    memcpy(b, good, n);
    b[12] = 1;
    reseal(b, n);
    CHECK_MSG(refused(b, n, m, "flags", msg), "%s", msg);
    /* a class value and a count that disagree, p out of range (resealed) */
    memcpy(b, good, n);
    b[68 + 9] = 7;
    reseal(b, n);
    CHECK_MSG(refused(b, n, m, "unknown class 7", msg), "%s", msg);
    memcpy(b, good, n);
    b[64] = 4;
    CHECK_MSG(refused(b, n, m, "truncated", msg), "%s", msg); /* 4 heads imply a longer file */
    memcpy(b, good, n);
    b[56 + 3] = 0x40; /* p = 2.x */
    reseal(b, n);
    CHECK_MSG(refused(b, n, m, "p = ", msg), "%s", msg);
    /* a parameter out of the range the policies take, under a valid checksum:
     * window 0 (a local head would keep nothing), block 0, a huge sink */
    const struct { size_t off; uint32_t v; const char *want; } fields[] = {
        {44, 0, "window = 0 out of range [1, 16777216]"},
        {48, 0, "block = 0 out of range [1, 65536]"},
        {40, 1u << 25, "sink = 33554432 out of range"},
        {52, 0xffffffffu, "local = 4294967295 out of range"},
    };
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        memcpy(b, good, n);
        for (int i = 0; i < 4; i++) b[fields[k].off + i] = (unsigned char)(fields[k].v >> (8 * i));
        reseal(b, n);
        CHECK_MSG(refused(b, n, m, fields[k].want, msg), "%s", msg);
        CHECK_MSG(strstr(msg, "offset "), "the offset of the field: %s", msg);
    }
    /* without a model, a plan parses on its own */
    CHECK(plan_file_parse(good, n, "x.purbo", NULL, &q, &e));
    plan_file_free(&q);
    /* a file that cannot be read, and a folder that cannot be written */
    CHECK(!plan_file_read("/nonexistent/a.purbo", m, &q, &e) && strstr(e.msg, "/nonexistent/a.purbo: cannot open"));
    CHECK(!plan_file_write("/nonexistent/a.purbo", &p, &e) && strstr(e.msg, "cannot write"));
    /* a FIFO with no writer: refused at once (the open must not block) */
    char fifo[] = "/tmp/purbo-plan-fifo-XXXXXX";
    CHECK(mkdtemp(fifo));
    char fpath[64];
    snprintf(fpath, sizeof fpath, "%s/p.purbo", fifo);
    CHECK(mkfifo(fpath, 0600) == 0);
    int got = plan_file_read(fpath, m, &q, &e);
    unlink(fpath);
    rmdir(fifo);
    CHECK(!got);
    CHECK_MSG(strstr(e.msg, "p.purbo: not a regular file"), "%s", e.msg);
    free(good);
    free(b);
    plan_file_free(&p);
}

TEST(planfile_fingerprint)
{
    const model *m = fixture_model();
    CHECK(m);
    uint64_t a = model_fingerprint(m), b = model_fingerprint(m);
    CHECK(a == b);
    model other = *m;
    other.cfg.n_ctx_train = 4096;
    CHECK(model_fingerprint(&other) != a);
    other = *m;
    other.file = NULL;
    CHECK(model_fingerprint(&other) != a); /* the weights count */
}

/* A plan file becomes the engine's plan: rtpurbo keeps its indexers and
 * heads; duo and streaming take its heads, sinks and window. */
TEST(planfile_to_engine_plan)
{
    const model *m = fixture_model();
    CHECK(m);
    plan_file f;
    plan_file_init(&f, m, 4);
    f.sink = 8, f.window = 256, f.block = 32, f.local = 96, f.p = 0.8f;
    f.cls[13] = f.cls[100] = PLAN_CLASS_RETRIEVAL;
    for (int j = 0; j < 4 * 64; j++) f.idx_q[13 * 256 + j] = (float)j, f.idx_k[100 * 256 + j] = -(float)j;
    plan p;
    pb_err e;
    CHECK_MSG(plan_from_file(&p, &m->cfg, &f, NULL, "x.purbo", &e), "%s", e.msg);
    CHECK(p.policy == PLAN_RTPURBO && p.rank == 4 && p.prm.sink == 8 && p.prm.window == 256 && p.prm.block == 32);
    CHECK(p.prm.local == 96 && fabs(p.prm.p - 0.8) < 1e-6 && strstr(p.name, "x.purbo"));
    CHECK(p.kind[13] == HEAD_RTPURBO && p.kind[100] == HEAD_RTPURBO && p.kind[14] == HEAD_LOCAL);
    CHECK(plan_count(&p, HEAD_RTPURBO) == 2 && p.idx_q[13 * 256 + 7] == 7.0f && p.idx_k[100 * 256 + 9] == -9.0f);
    plan_free(&p);
    plan_spec sp;
    CHECK(plan_parse("duo", &sp, &e));
    CHECK(plan_from_file(&p, &m->cfg, &f, &sp, "x.purbo", &e));
    CHECK(p.kind[13] == HEAD_DENSE && p.kind[14] == HEAD_LOCAL && p.prm.window == 256 && !p.idx_q);
    plan_free(&p);
    CHECK(plan_parse("streaming", &sp, &e));
    CHECK(plan_from_file(&p, &m->cfg, &f, &sp, "x.purbo", &e));
    CHECK(plan_count(&p, HEAD_LOCAL) == 270 && p.prm.sink == 8);
    plan_free(&p);
    /* keys the spec sets win over the file's; the rest, r and the indexers come from the file */
    CHECK(plan_parse("rtpurbo:window=64,p=0.95,sink=2", &sp, &e));
    CHECK(sp.given == (PLAN_GIVEN_WINDOW | PLAN_GIVEN_P | PLAN_GIVEN_SINK));
    CHECK(plan_from_file(&p, &m->cfg, &f, &sp, "x.purbo", &e));
    CHECK(p.prm.window == 64 && fabs(p.prm.p - 0.95) < 1e-9 && p.prm.sink == 2);
    CHECK(p.prm.block == 32 && p.prm.local == 96 && p.rank == 4 && p.idx_q[13 * 256 + 7] == 7.0f);
    plan_free(&p);
    plan_file_free(&f);
}

/* Version 2: a plan with a length rule. A plan without one is still written
 * as version 1 (the bytes above); with one, the rule sits after the header,
 * round-trips, is refused when out of order or range (at its offset), and
 * becomes the engine plan's rule unless the spec gives its own. */
TEST(planfile_length_rule)
{
    const model *m = fixture_model();
    CHECK(m);
    plan_file p, q;
    sample_plan(&p, m);
    pb_err e;
    plan_params rule = {0};
    CHECK_MSG(plan_by_length_parse("1536 kmin=1; 3072 local=256 kmin=4 p=0.65", &rule, &e), "%s", e.msg);
    p.n_by_length = rule.n_by_length;
    memcpy(p.by_length, rule.by_length, sizeof p.by_length);
    size_t n;
    unsigned char *good = plan_file_serialise(&p, &n), *b = malloc(n);
    CHECK(n == 340 + 4 + 2 * 20 + 3 * 2 * 8 * 64 * 4 + 8 && good[8] == 2);
    CHECK(good[68] == 2 && good[72] == 0 && good[73] == 6 && good[76] == 2 && good[84] == 1); /* from 1536, kmin */
    CHECK_MSG(plan_file_parse(good, n, "x.purbo", m, &q, &e), "%s", e.msg);
    CHECK(q.n_by_length == 2 && q.by_length[0].from == 1536 && q.by_length[0].set == PLAN_GIVEN_KMIN);
    CHECK(q.by_length[0].kmin == 1 && q.by_length[1].from == 3072 && q.by_length[1].local == 256);
    CHECK(q.by_length[1].set == (PLAN_GIVEN_LOCAL | PLAN_GIVEN_KMIN | PLAN_GIVEN_P) && q.by_length[1].kmin == 4);
    CHECK(fabs(q.by_length[1].p - 0.65) < 1e-6 && plan_file_n_retrieval(&q) == 3 && q.cls[40] == PLAN_CLASS_RETRIEVAL);
    CHECK(memcmp(p.idx_k, q.idx_k, (size_t)30 * 9 * 8 * 64 * sizeof(float)) == 0);
    plan_file_free(&q);
    char msg[512];
    const struct { size_t off; uint32_t v; const char *want; } bad[] = {
        {68, 9, "length rule of 9 rows"},
        {92, 1000, "row 2: from 1000 out of range or order"}, /* below row 1's 1536 */
        {96, 8, "row 2: unknown fields 0x8"},
        {96, 0, "row 2: unknown fields 0x0"},
        {104, 1u << 21, "row 2: a value out of range"},         /* kmin */
        {108, 0x3fc00000u, "row 2: a value out of range"},     /* p 1.5 */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        memcpy(b, good, n);
        for (int i = 0; i < 4; i++) b[bad[k].off + i] = (unsigned char)(bad[k].v >> (8 * i));
        reseal(b, n);
        CHECK_MSG(refused(b, n, m, bad[k].want, msg), "%zu: %s", k, msg);
    }
    /* into the engine plan: the file's rule, or the spec's instead */
    plan pl;
    CHECK_MSG(plan_from_file(&pl, &m->cfg, &p, NULL, "x.purbo", &e), "%s", e.msg);
    CHECK(pl.prm.n_by_length == 2 && pl.prm.by_length[1].local == 256);
    plan_params at = plan_params_for_prompt(&pl.prm, 5000);
    CHECK(at.local == 256 && at.kmin == 4 && fabs(at.p - 0.65) < 1e-6 && at.n_by_length == 0);
    plan_free(&pl);
    plan_spec sp;
    CHECK(plan_parse("rtpurbo:by_length=100 p=0.5", &sp, &e));
    CHECK(plan_from_file(&pl, &m->cfg, &p, &sp, "x.purbo", &e));
    CHECK(pl.prm.n_by_length == 1 && pl.prm.by_length[0].from == 100);
    plan_free(&pl);
    CHECK(plan_parse("duo", &sp, &e)); /* duo takes no rule: the file's is left out */
    CHECK(plan_from_file(&pl, &m->cfg, &p, &sp, "x.purbo", &e) && pl.prm.n_by_length == 0);
    plan_free(&pl);
    free(good);
    free(b);
    plan_file_free(&p);
}

/* Dense heads (class 2, version 2): a plan with them but no rule is
 * version 2 with a rule of 0 rows; they round-trip, a version 1 file may
 * not hold them, and in the engine's plan they are dense under every
 * policy: the same kinds as the spec key dense_layers gives. */
TEST(planfile_dense_heads)
{
    const model *m = fixture_model();
    CHECK(m);
    plan_file p, q;
    sample_plan(&p, m); /* retrieval heads 5 (layer 0), 40 (layer 4), 200 (layer 22) */
    for (int h = 0; h < 9; h++) p.cls[4 * 9 + h] = PLAN_CLASS_DENSE; /* layer 4, its retrieval head 40 too */
    memset(p.idx_q + 40 * 8 * 64, 0, 8 * 64 * sizeof(float));
    memset(p.idx_k + 40 * 8 * 64, 0, 8 * 64 * sizeof(float));
    pb_err e;
    size_t n;
    unsigned char *b = plan_file_serialise(&p, &n);
    CHECK(b[8] == 2 && b[68] == 0 && b[72 + 36] == PLAN_CLASS_DENSE && n == 344 + 2 * 2 * 8 * 64 * 4 + 8);
    CHECK_MSG(plan_file_parse(b, n, "x.purbo", m, &q, &e), "%s", e.msg);
    CHECK(q.n_by_length == 0 && plan_file_n_retrieval(&q) == 2 && q.cls[40] == PLAN_CLASS_DENSE);
    CHECK(!memcmp(q.idx_q, p.idx_q, (size_t)270 * 8 * 64 * sizeof(float)));
    plan_file_free(&q);
    char msg[512];
    b[8] = 1; /* the same bytes called version 1: no room for a rule count, and no class 2 */
    reseal(b, n);
    CHECK_MSG(!plan_file_parse(b, n, "x.purbo", m, &q, &e), "version 1 with dense heads accepted");
    free(b);
    plan_file v1;
    sample_plan(&v1, m);
    unsigned char *c = plan_file_serialise(&v1, &n);
    c[68 + 3] = PLAN_CLASS_DENSE;
    reseal(c, n);
    CHECK_MSG(refused(c, n, m, "head 0.3 has unknown class 2", msg), "%s", msg);
    free(c);
    plan_file_free(&v1);
    const char *specs[] = {"rtpurbo", "duo", "streaming"};
    for (int k = 0; k < 3; k++) {
        plan a, d;
        plan_spec sp, sd;
        char text[64];
        snprintf(text, sizeof text, "%s:dense_layers=4", specs[k]);
        CHECK(plan_parse(specs[k], &sp, &e) && plan_parse(text, &sd, &e));
        CHECK_MSG(plan_from_file(&a, &m->cfg, &p, &sp, "x.purbo", &e), "%s", e.msg);
        plan_file p2;
        sample_plan(&p2, m); /* the same plan without dense heads, and the layer made dense by the spec */
        CHECK_MSG(plan_from_file(&d, &m->cfg, &p2, &sd, "x.purbo", &e), "%s", e.msg);
        CHECK_MSG(!memcmp(a.kind, d.kind, 270), "%s: the plan's dense heads differ from dense_layers", specs[k]);
        CHECK(a.kind[40] == HEAD_DENSE && a.kind[36] == HEAD_DENSE && a.kind[45] != HEAD_DENSE);
        plan_free(&a);
        plan_free(&d);
        plan_file_free(&p2);
    }
    plan_file_free(&p);
}
