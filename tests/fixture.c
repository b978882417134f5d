/* fixture.c — shared model/tokenizer for tests (fixture.h). */
#include "tests/fixture.h"

#include "tests/test.h"
#include "suites/runner_db.h"

#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static model *m;
static tokenizer *tok;

const model *fixture_model(void)
{
    if (!m) {
        pb_err err;
        m = model_load(test_model_path, &err);
        if (!m) pb_die_input(&err);
    }
    return m;
}

const tokenizer *fixture_tok(void)
{
    if (!tok) {
        pb_err err;
        tok = tok_from_gguf(fixture_model()->file, &err);
        if (!tok) pb_die_input(&err);
    }
    return tok;
}

static model *gm;
static gguf *gfile;   /* the tokenizer's own mapping: no weights loaded for it */
static tokenizer *gtok;

const model *fixture_gemma(void)
{
    if (!gm) {
        pb_err err;
        gm = model_load(test_gemma_path, &err);
        if (!gm) pb_die_input(&err);
    }
    return gm;
}

/* The tokenizer and its file live until exit; freed then, so the leak
 * checker of the sanitizer run sees nothing held. */
static void gemma_tok_free(void)
{
    tok_free(gtok);
    gguf_close(gfile);
}

const tokenizer *fixture_gemma_tok(void)
{
    if (!gtok) {
        pb_err err;
        if (!(gfile = gguf_open(test_gemma_path, &err)) || !(gtok = tok_from_gguf(gfile, &err)))
            pb_die_input(&err);
        atexit(gemma_tok_free);
    }
    return gtok;
}

char *fixture_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) { /* a pipe or a folder: no size to read */
        fclose(f);
        return NULL;
    }
    char *buf = pb_malloc((size_t)n + 1);
    size_t r = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[r] = 0;
    if (len) *len = r;
    return buf;
}

char *fixture_tmpdir(const char *tag)
{
    char *d = pb_malloc(strlen(tag) + 32);
    sprintf(d, "/tmp/purbo-%s-XXXXXX", tag);
    if (!mkdtemp(d)) { perror("mkdtemp"); exit(1); }
    chmod(d, 0755); /* readable by unprivileged children of some tests */
    return d;
}

static int rm_one(const char *p, const struct stat *s, int flag, struct FTW *f)
{
    (void)s; (void)flag; (void)f;
    return remove(p);
}

void fixture_rmtree(char *dir)
{
    chmod(dir, 0755);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

int fixture_shell(const char *cmd, char *out, size_t cap)
{
    out[0] = 0;
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int fixture_run_bin(const char *args, char *err, size_t errlen, int *lines)
{
    char cmd[2048], tmp[] = "/tmp/purbo-cli-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) return -1;
    close(fd);
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>%s", test_bin_path, args, tmp);
    int st = system(cmd);
    size_t n = 0;
    char *e = fixture_read(tmp, &n);
    unlink(tmp);
    *lines = 0;
    for (size_t i = 0; e && i < n; i++) *lines += e[i] == '\n';
    snprintf(err, errlen, "%s", e ? e : "");
    free(e);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void fixture_case_row(pb_db *db, int64_t run, const char *task, const char *method, const char *policy, int index,
                      int context, double score, double density)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO suite_cases(run_id, suite, task, task_type, method, policy, case_index, context, sample,"
             " seed, case_seed, prompt_hash, max_new, metric, answers, prediction, score, density)"
             " VALUES (%lld, 'pal', '%s', '%s', '%s', '%s', %d, %d, 0, 1, '0000000000000001',"
             " '0000000000000002', 8, 'exact', '[\"1\"]', '1', %.17g, %.17g)",
             (long long)run, task, task, method, policy ? policy : method, index, context, score, density);
    DB_CHECK(db_sqlite(db), sqlite3_exec(db_sqlite(db), sql, NULL, NULL, NULL));
}

void fixture_bench_row(pb_db *db, int64_t run, const char *task, const char *method, int index, int context,
                       const char *phase, const double *t, int n)
{
    bench_row r = {.run_id = run, .bench = "forward", .impl = "purbo", .phase = phase, .n_layer = 2, .n_head = 4,
                   .n_kv_head = 2, .head_dim = 16, .n_ctx = context, .n_tokens = context};
    bench_stats(t, n, &r);
    r.throughput = context / r.t_median;
    r.throughput_unit = "tok/s";
    db_case_begin(db);
    int64_t id = db_bench_add(db, &r);
    rdb_bench_link(db, id, run, "pal", task, method, method, index, "random", 1, 1.0, -1, -1);
    db_case_commit(db);
}
