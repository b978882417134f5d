/* test_results.c — tests of the results database (results/db.h): schema
 * migrations (fresh, old, newer, failing, concurrent), bad paths and files,
 * per-case transactions surviving a killed process, run metadata, and the
 * helpers (time statistics, config hash, command line, file fingerprint).
 *
 * Every test works in its own folder under /tmp, removed at the end. Tests
 * that must survive an exit (a killed run, a runtime error) fork a child.
 */
#include "tests/test.h"
#include "results/db.h"
#include "tests/fixture.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *join(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

/* The embedded schema cut after migration v (a database "created at v"). */
static char *schema_upto(int v)
{
    char mark[64];
    snprintf(mark, sizeof mark, "\n-- migration %d:", v + 1);
    const char *end = strstr(results_schema_sql, mark);
    size_t n = end ? (size_t)(end - results_schema_sql) + 1 : strlen(results_schema_sql);
    return strndup(results_schema_sql, n);
}

/* The embedded schema plus one more step (a database from the future). */
static char *schema_plus(const char *title, const char *sql)
{
    int latest = db_schema_latest(results_schema_sql);
    size_t n = strlen(results_schema_sql) + strlen(title) + strlen(sql) + 64;
    char *s = malloc(n);
    snprintf(s, n, "%s\n-- migration %d: %s\n%s\n", results_schema_sql, latest + 1, title, sql);
    return s;
}

static long long query_int(pb_db *db, const char *sql)
{
    sqlite3_stmt *st;
    sqlite3 *h = db_sqlite(db);
    DB_CHECK(h, sqlite3_prepare_v2(h, sql, -1, &st, NULL));
    long long v = DB_CHECK(h, sqlite3_step(st)) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    DB_CHECK(h, sqlite3_finalize(st));
    return v;
}

static int has_table(pb_db *db, const char *name)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'", name);
    return query_int(db, sql) == 1;
}

static int exit_code(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) != pid) return -100;
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? -WTERMSIG(st) : -101;
}

static bench_row sample_row(int64_t run_id, int64_t n_ctx)
{
    bench_row r = {0};
    r.run_id = run_id;
    r.bench = "attn-prefill";
    r.impl = "purbo";
    r.phase = "prefill";
    r.n_layer = 1;
    r.n_head = 9;
    r.n_kv_head = 3;
    r.head_dim = 64;
    r.n_ctx = n_ctx;
    r.n_tokens = n_ctx;
    double t[] = {0.012, 0.010, 0.011, 0.013, 0.0105};
    bench_stats(t, 5, &r);
    r.throughput = (double)n_ctx / r.t_median;
    r.throughput_unit = "tok/s";
    return r;
}

static const run_meta plain_meta = {.command = "purbo-test", .device = "cpu"};

TEST(results_schema_embedded)
{
    CHECK(db_schema_latest(results_schema_sql) >= 1);
    CHECK(strstr(results_schema_sql, "\n-- migration 1:") != NULL);
    /* the build embeds the current results/schema.sql (run from the repo root) */
    FILE *f = fopen("results/schema.sql", "rb");
    CHECK_MSG(f, "results/schema.sql not found: run from the repository root");
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    CHECK_MSG(strcmp(buf, results_schema_sql) == 0, "embedded schema differs from results/schema.sql");
}

TEST(results_fresh_db_gets_latest)
{
    char *d = fixture_tmpdir("results"), *path = join(d, "r.db");
    pb_err e = {{0}};
    pb_db *db = db_open(path, &e);
    CHECK_MSG(db, "%s", e.msg);
    int latest = db_schema_latest(results_schema_sql);
    CHECK(db_schema_version(db) == latest);
    CHECK(query_int(db, "SELECT count(*) FROM schema_version") == latest);
    CHECK(query_int(db, "SELECT max(version) FROM schema_version") == latest);
    CHECK(has_table(db, "runs") && has_table(db, "bench"));
    CHECK(query_int(db, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode='wal'") == 1);
    CHECK(query_int(db, "PRAGMA foreign_keys") == 1);
    db_close(db);
    /* reopening changes nothing */
    db = db_open(path, &e);
    CHECK_MSG(db, "%s", e.msg);
    CHECK(query_int(db, "SELECT count(*) FROM schema_version") == latest);
    db_close(db);
    free(path);
    fixture_rmtree(d);
}

TEST(results_old_db_is_migrated)
{
    char *d = fixture_tmpdir("results"), *path = join(d, "r.db");
    pb_err e = {{0}};
    char *v1 = schema_upto(1);
    pb_db *db = db_open_schema(path, v1, &e);
    CHECK_MSG(db, "%s", e.msg);
    CHECK(db_schema_version(db) == 1);
    int64_t run = db_run_begin(db, &plain_meta);
    bench_row r = sample_row(run, 512);
    db_bench_add(db, &r);
    db_close(db);

    /* the current build brings it to the latest version */
    db = db_open(path, &e);
    CHECK_MSG(db, "%s", e.msg);
    int latest = db_schema_latest(results_schema_sql);
    CHECK(db_schema_version(db) == latest);
    db_close(db);

    /* a further step is applied on open and keeps the data */
    char *next = schema_plus("test step", "ALTER TABLE bench ADD COLUMN extra REAL;\n"
                                          "CREATE TABLE extra_t(x INTEGER);");
    db = db_open_schema(path, next, &e);
    CHECK_MSG(db, "%s", e.msg);
    CHECK(db_schema_version(db) == latest + 1);
    CHECK(has_table(db, "extra_t"));
    CHECK(query_int(db, "SELECT count(*) FROM bench WHERE extra IS NULL AND n_ctx = 512") == 1);
    CHECK(query_int(db, "SELECT count(*) FROM schema_version WHERE title = 'test step'") == 1);
    db_close(db);
    free(v1);
    free(next);
    free(path);
    fixture_rmtree(d);
}

TEST(results_newer_db_is_refused)
{
    char *d = fixture_tmpdir("results"), *path = join(d, "r.db");
    pb_err e = {{0}};
    pb_db *db = db_open(path, &e);
    CHECK_MSG(db, "%s", e.msg);
    int latest = db_schema_version(db);
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO schema_version(version, title) VALUES (%d, 'future')",
             latest + 1);
    DB_CHECK(db_sqlite(db), sqlite3_exec(db_sqlite(db), sql, NULL, NULL, NULL));
    db_close(db);

    e.msg[0] = '\0';
    CHECK(db_open(path, &e) == NULL);
    char want[256];
    snprintf(want, sizeof want, "%s: results schema version %d is newer than this build knows (%d)",
             path, latest + 1, latest);
    CHECK_MSG(strncmp(e.msg, want, strlen(want)) == 0, "got: %s", e.msg);
    CHECK(strchr(e.msg, '\n') == NULL);
    free(path);
    fixture_rmtree(d);
}

TEST(results_failed_migration_rolls_back)
{
    char *d = fixture_tmpdir("results"), *path = join(d, "r.db");
    pb_err e = {{0}};
    pb_db *db = db_open(path, &e);
    CHECK_MSG(db, "%s", e.msg);
    int latest = db_schema_version(db);
    db_close(db);
    char *bad = schema_plus("broken", "CREATE TABLE half(x);\nTHIS IS NOT SQL;");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        db_open_schema(path, bad, &e);
        _exit(0); /* not reached: a broken migration is a runtime error */
    }
    CHECK(exit_code(pid) == 1);
    db = db_open(path, &e);
    CHECK_MSG(db, "%s", e.msg);
    CHECK(db_schema_version(db) == latest);
    CHECK(!has_table(db, "half"));
    db_close(db);
    free(bad);
    free(path);
    fixture_rmtree(d);
}

TEST(results_concurrent_first_open)
{
    char *d = fixture_tmpdir("results"), *path = join(d, "r.db");
    enum { N = 4 };
    pid_t pids[N];
    fflush(NULL);
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            pb_err e;
            pb_db *db = db_open(path, &e);
            if (!db) { fprintf(stderr, "%s\n", e.msg); _exit(2); }
            db_run_begin(db, &plain_meta);
            db_close(db);
            _exit(0);
        }
    }
    for (int i = 0; i < N; i++) CHECK(exit_code(pids[i]) == 0);
    pb_err e;
    pb_db *db = db_open(path, &e);
    CHECK_MSG(db, "%s", e.msg);
    CHECK(query_int(db, "SELECT count(*) FROM schema_version") == db_schema_latest(results_schema_sql));
    CHECK(query_int(db, "SELECT count(*) FROM runs") == N);
    db_close(db);
    free(path);
    fixture_rmtree(d);
}

/* Opens path expecting failure; the message must start with "PATH: " and
 * contain what. */
static int refused_with(const char *path, const char *what, char *got, size_t size)
{
    pb_err e = {{0}};
    pb_db *db = db_open(path, &e);
    snprintf(got, size, "%s", db ? "(opened)" : e.msg);
    if (db) { db_close(db); return 0; }
    size_t n = strlen(path);
    return strncmp(e.msg, path, n) == 0 && e.msg[n] == ':' && e.msg[n + 1] == ' ' &&
           strstr(e.msg + n, what) && !strchr(e.msg, '\n');
}

TEST(results_not_a_database)
{
    char *d = fixture_tmpdir("results"), *path = join(d, "notes.txt"), got[600];
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 100; i++) fprintf(f, "this is a text file, not a database\n");
    fclose(f);
    CHECK_MSG(refused_with(path, "not an SQLite database", got, sizeof got), "got: %s", got);
    /* and it was left as it was: no WAL switch, no tables */
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 100 * 36);
    free(path);

    /* some other program's SQLite database is not touched */
    path = join(d, "other.db");
    sqlite3 *h;
    CHECK(sqlite3_open(path, &h) == SQLITE_OK);
    CHECK(sqlite3_exec(h, "CREATE TABLE notes(x)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(h);
    CHECK_MSG(refused_with(path, "not a purbo results database", got, sizeof got), "got: %s", got);
    CHECK(sqlite3_open(path, &h) == SQLITE_OK);
    sqlite3_stmt *st2;
    CHECK(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st2, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st2) == SQLITE_ROW);
    CHECK(strcmp((const char *)sqlite3_column_text(st2, 0), "delete") == 0);
    sqlite3_finalize(st2);
    sqlite3_close(h);
    free(path);
    fixture_rmtree(d);
}

TEST(results_bad_paths)
{
    char *d = fixture_tmpdir("results"), got[600];
    char *missing = join(d, "no/such/folder/r.db");
    CHECK_MSG(refused_with(missing, "folder " , got, sizeof got) && refused_with(missing, "/no/such/folder does not exist", got, sizeof got), "got: %s", got);
    CHECK_MSG(refused_with(d, "is a folder", got, sizeof got), "got: %s", got);
    CHECK_MSG(refused_with("", "empty database path", got, sizeof got) == 0, "empty path opened");

    /* permissions: as an unprivileged user (root passes every access check) */
    char *ro = join(d, "ro.db"), *none = join(d, "none.db");
    char *rodir = join(d, "rodir"), *in_rodir = join(rodir, "r.db");
    pb_err e;
    pb_db *db = db_open(ro, &e);
    CHECK_MSG(db, "%s", e.msg);
    db_close(db);
    CHECK(chmod(ro, 0444) == 0);
    FILE *f = fopen(none, "w");
    fclose(f);
    CHECK(chmod(none, 0000) == 0);
    CHECK(mkdir(rodir, 0555) == 0);
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
        char out[3][600];
        int ok = refused_with(ro, "cannot open for reading and writing: Permission denied",
                              out[0], sizeof out[0]) &&
                 refused_with(none, "cannot open for reading and writing: Permission denied",
                              out[1], sizeof out[1]) &&
                 refused_with(in_rodir, "is not writable: Permission denied", out[2], sizeof out[2]);
        dprintf(fds[1], "%s | %s | %s", out[0], out[1], out[2]);
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    char msgs[2000] = {0};
    ssize_t n = read(fds[0], msgs, sizeof msgs - 1);
    (void)n;
    close(fds[0]);
    CHECK_MSG(exit_code(pid) == 0, "child: %s", msgs);
    free(missing);
    free(ro);
    free(none);
    free(in_rodir);
    free(rodir);
    fixture_rmtree(d);
}

static int collect_ctx(const bench_row *r, void *ctx)
{
    int64_t *out = ctx;
    out[out[0]++ + 1] = r->n_ctx;
    return 0;
}

static int get_run(const run_row *r, void *ctx)
{
    char *out = ctx;
    snprintf(out, 256, "%s %s", r->status, r->finished_at ? r->finished_at : "-");
    return 0;
}

TEST(results_killed_run_keeps_committed_cases)
{
    char *d = fixture_tmpdir("results"), *path = join(d, "r.db");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        pb_err e;
        pb_db *db = db_open(path, &e);
        if (!db) _exit(2);
        int64_t run = db_run_begin(db, &plain_meta);
        for (int i = 1; i <= 2; i++) { /* own transactions */
            bench_row r = sample_row(run, 1024 * i);
            db_bench_add(db, &r);
        }
        bench_row r = sample_row(run, 3072);
        db_case_begin(db); /* an explicit case */
        db_bench_add(db, &r);
        db_case_commit(db);
        r = sample_row(run, 4096);
        db_case_begin(db);
        db_bench_add(db, &r);
        kill(getpid(), SIGKILL); /* killed before the case commits */
        _exit(0);
    }
    CHECK(exit_code(pid) == -SIGKILL);

    pb_err e;
    pb_db *db = db_open(path, &e);
    CHECK_MSG(db, "%s", e.msg);
    int64_t got[8] = {0};
    CHECK(db_bench_each(db, 1, collect_ctx, got) == 3);
    CHECK(got[0] == 3 && got[1] == 1024 && got[2] == 2048 && got[3] == 3072);
    char status[256];
    CHECK(db_runs_each(db, get_run, status) == 1);
    CHECK_MSG(strcmp(status, "running -") == 0, "run: %s", status);

    /* a rolled-back case leaves nothing; the run then ends */
    bench_row r = sample_row(1, 8192);
    db_case_begin(db);
    db_bench_add(db, &r);
    CHECK(query_int(db, "SELECT count(*) FROM bench") == 4); /* visible inside */
    db_case_rollback(db);
    CHECK(query_int(db, "SELECT count(*) FROM bench") == 3);
    db_run_end(db, 1, RUN_DONE);
    CHECK(db_runs_each(db, get_run, status) == 1);
    CHECK_MSG(strncmp(status, "done 20", 7) == 0, "run: %s", status);
    db_close(db);
    free(path);
    fixture_rmtree(d);
}

TEST(results_bench_row_round_trip)
{
    char *d = fixture_tmpdir("results"), *path = join(d, "r.db");
    pb_err e;
    pb_db *db = db_open(path, &e);
    CHECK_MSG(db, "%s", e.msg);
    int64_t run = db_run_begin(db, &plain_meta);
    bench_row r = {.run_id = run, .bench = "attn-decode", .impl = "torch-sdpa-cudnn",
                   .phase = "decode", .n_head = 32, .n_kv_head = 8, .head_dim = 128,
                   .n_ctx = 1 << 20, .n_tokens = 1, .repeats = 10, .t_median = 980e-6,
                   .t_min = 975e-6, .t_max = 1.1e-3, .t_p10 = 976e-6, .t_p90 = 990e-6,
                   .t_mad = 3e-6, .throughput = 4381, .throughput_unit = "GB/s",
                   .notes = "peer"};
    int64_t id = db_bench_add(db, &r);
    CHECK(id > 0);
    CHECK(query_int(db, "SELECT count(*) FROM bench WHERE n_layer IS NULL AND n_head = 32") == 1);
    int64_t got[4] = {0};
    CHECK(db_bench_each(db, run, collect_ctx, got) == 1 && got[1] == 1 << 20);
    CHECK(query_int(db, "SELECT throughput_unit = 'GB/s' AND abs(t_median - 980e-6) < 1e-12"
                        " AND impl = 'torch-sdpa-cudnn' FROM bench") == 1);
    CHECK(db_bench_each(db, run + 1, collect_ctx, got) == 0);
    db_close(db);
    free(path);
    fixture_rmtree(d);
}

typedef struct {
    char git_sha[48], host[256], build_cc[256], build_cflags[1024], sqlite_version[64];
    char started_at[64], fingerprint[64], config_hash[17], status[16];
    int git_dirty, cpu_cores, has_finished, has_cuda, has_seed;
    long long seed;
    char command[256], device[64], config[256];
} run_copy;

static int copy_run(const run_row *r, void *ctx)
{
    run_copy *c = ctx;
    snprintf(c->git_sha, sizeof c->git_sha, "%s", r->env.git_sha);
    snprintf(c->host, sizeof c->host, "%s", r->env.host);
    snprintf(c->build_cc, sizeof c->build_cc, "%s", r->env.build_cc);
    snprintf(c->build_cflags, sizeof c->build_cflags, "%s", r->env.build_cflags);
    snprintf(c->sqlite_version, sizeof c->sqlite_version, "%s", r->env.sqlite_version);
    snprintf(c->started_at, sizeof c->started_at, "%s", r->started_at);
    snprintf(c->fingerprint, sizeof c->fingerprint, "%s", r->meta.model_fingerprint);
    snprintf(c->config_hash, sizeof c->config_hash, "%s", r->config_hash);
    snprintf(c->status, sizeof c->status, "%s", r->status);
    snprintf(c->command, sizeof c->command, "%s", r->meta.command);
    snprintf(c->device, sizeof c->device, "%s", r->meta.device);
    snprintf(c->config, sizeof c->config, "%s", r->meta.config);
    c->git_dirty = r->env.git_dirty;
    c->cpu_cores = r->env.cpu_cores;
    c->has_finished = r->finished_at != NULL;
    c->has_cuda = r->meta.cuda_runtime || r->meta.cuda_driver;  /* build_nvcc: set by any CUDA build */
    c->has_seed = r->meta.has_seed;
    c->seed = r->meta.seed;
    return 1;
}

TEST(results_run_metadata_filled)
{
    char *d = fixture_tmpdir("results"), *path = join(d, "r.db"), *model = join(d, "m.gguf");
    FILE *f = fopen(model, "w");
    fprintf(f, "GGUF not really");
    fclose(f);
    pb_err e;
    pb_db *db = db_open(path, &e);
    CHECK_MSG(db, "%s", e.msg);
    char *argv[] = {"purbo-bench", "probe", "all", "--ctx", "4096"};
    char *cmd = db_command_line(5, argv);
    const char *kv[] = {"ctx", "4096", "probe", "all"};
    char *cfg = config_canonical(kv, 2);
    run_meta m = {.command = cmd, .device = "cpu", .model_path = model, .config = cfg,
                  .has_seed = 1, .seed = 42};
    int64_t id = db_run_begin(db, &m);
    CHECK(id == 1);
    run_copy c;
    CHECK(db_runs_each(db, copy_run, &c) == 1);
    int hex = strlen(c.git_sha) == 40 && strspn(c.git_sha, "0123456789abcdef") == 40;
    CHECK_MSG(hex || strcmp(c.git_sha, "unknown") == 0, "git_sha %s", c.git_sha);
    CHECK(hex ? (c.git_dirty == 0 || c.git_dirty == 1) : c.git_dirty == -1);
    if (access(".git", F_OK) == 0) CHECK_MSG(hex, "in a git tree, git_sha is %s", c.git_sha);
    CHECK(c.host[0] && strcmp(c.host, "unknown") != 0);
    CHECK(c.cpu_cores >= 1);
    CHECK(!strncmp(c.build_cc, "gcc ", 4) || !strncmp(c.build_cc, "clang ", 6));
    CHECK_MSG(strstr(c.build_cflags, "-std=c11") != NULL, "build_cflags: %s", c.build_cflags);
    CHECK(strcmp(c.sqlite_version, sqlite3_libversion()) == 0);
    /* "2026-11-27T10:00:00.123Z" */
    CHECK_MSG(strlen(c.started_at) == 24 && c.started_at[4] == '-' && c.started_at[10] == 'T' &&
              c.started_at[23] == 'Z', "started_at %s", c.started_at);
    CHECK(strcmp(c.status, "running") == 0 && !c.has_finished);
    CHECK(strcmp(c.command, "purbo-bench probe all --ctx 4096") == 0);
    CHECK(strcmp(c.device, "cpu") == 0);
    CHECK(strcmp(c.config, "ctx=4096\nprobe=all\n") == 0);
    char want_fp[64], want_hash[17];
    CHECK(db_file_fingerprint(model, want_fp, &e));
    CHECK(strcmp(c.fingerprint, want_fp) == 0);
    config_hash(cfg, want_hash);
    CHECK(strcmp(c.config_hash, want_hash) == 0);
    CHECK(c.has_seed && c.seed == 42);
    CHECK(!c.has_cuda);
    CHECK(query_int(db, "SELECT count(*) FROM runs WHERE libyaml_version LIKE '0.%'") == 1);
    db_run_end(db, id, RUN_FAILED);
    CHECK(db_runs_each(db, copy_run, &c) == 1);
    CHECK(strcmp(c.status, "failed") == 0 && c.has_finished);
    db_close(db);
    free(cmd);
    free(cfg);
    free(model);
    free(path);
    fixture_rmtree(d);
}

TEST(results_misuse_is_runtime_error)
{
    char *d = fixture_tmpdir("results"), *path = join(d, "r.db");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        pb_err e;
        pb_db *db = db_open(path, &e);
        if (!db) _exit(2);
        db_case_begin(db);
        db_case_begin(db); /* nested: exit 1 */
        _exit(0);
    }
    CHECK(exit_code(pid) == 1);
    pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        pb_err e;
        pb_db *db = db_open(path, &e);
        if (!db) _exit(2);
        bench_row r = sample_row(1, 64);
        r.phase = "training"; /* rejected by the CHECK constraint: exit 1 */
        db_run_begin(db, &plain_meta);
        db_bench_add(db, &r);
        _exit(0);
    }
    CHECK(exit_code(pid) == 1);
    free(path);
    fixture_rmtree(d);
}

TEST(results_bench_stats)
{
    bench_row r = {0};
    double t[] = {5, 1, 4, 2, 3};
    bench_stats(t, 5, &r);
    CHECK(r.repeats == 5);
    CHECK_NEAR(r.t_median, 3, 1e-12);
    CHECK_NEAR(r.t_min, 1, 1e-12);
    CHECK_NEAR(r.t_max, 5, 1e-12);
    CHECK_NEAR(r.t_p10, 1.4, 1e-12);
    CHECK_NEAR(r.t_p90, 4.6, 1e-12);
    CHECK_NEAR(r.t_mad, 1, 1e-12);
    CHECK(t[0] == 5 && t[1] == 1); /* input untouched */
    double two[] = {2, 1};
    bench_stats(two, 2, &r);
    CHECK_NEAR(r.t_median, 1.5, 1e-12);
    CHECK_NEAR(r.t_mad, 0.5, 1e-12);
    double one[] = {7};
    bench_stats(one, 1, &r);
    CHECK(r.repeats == 1 && r.t_median == 7 && r.t_p10 == 7 && r.t_p90 == 7 && r.t_mad == 0);
}

TEST(results_config_hash)
{
    /* FNV-1a 64 reference vectors */
    CHECK(pb_fnv1a64(PB_FNV1A64_INIT, "", 0) == 0xcbf29ce484222325ULL);
    CHECK(pb_fnv1a64(PB_FNV1A64_INIT, "a", 1) == 0xaf63dc4c8601ec8cULL);
    CHECK(pb_fnv1a64(PB_FNV1A64_INIT, "foobar", 6) == 0x85944171f73967e8ULL);
    char h[17];
    config_hash("foobar", h);
    CHECK(strcmp(h, "85944171f73967e8") == 0);

    const char *a[] = {"w", "512", "p", "0.9", "needle", "x=y\nz\\"};
    const char *b[] = {"needle", "x=y\nz\\", "w", "512", "p", "0.9"};
    char *ca = config_canonical(a, 3), *cb = config_canonical(b, 3);
    CHECK_MSG(strcmp(ca, "needle=x\\=y\\nz\\\\\np=0.9\nw=512\n") == 0, "got %s", ca);
    CHECK(strcmp(ca, cb) == 0);
    const char *c[] = {"w", "256", "p", "0.9", "needle", "x=y\nz\\"};
    char *cc = config_canonical(c, 3), hc[17];
    config_hash(ca, h);
    config_hash(cc, hc);
    CHECK(strcmp(h, hc) != 0);
    /* "a=b" + "c" vs "a" + "b=c" must not collide through the separator */
    const char *d1[] = {"a=b", "c"}, *d2[] = {"a", "b=c"};
    char *c1 = config_canonical(d1, 1), *c2 = config_canonical(d2, 1);
    CHECK(strcmp(c1, c2) != 0);
    char *empty = config_canonical(NULL, 0);
    CHECK(strcmp(empty, "") == 0);
    free(ca); free(cb); free(cc); free(c1); free(c2); free(empty);
}

TEST(results_command_line)
{
    char *argv[] = {"purbo-bench", "run", "suites/smoke.yaml", "--note", "a b", "it's", ""};
    char *s = db_command_line(7, argv);
    CHECK_MSG(strcmp(s, "purbo-bench run suites/smoke.yaml --note 'a b' 'it'\\''s' ''") == 0,
              "got %s", s);
    free(s);
}

TEST(results_file_fingerprint)
{
    char *d = fixture_tmpdir("results"), *path = join(d, "big.bin");
    size_t n = 5u << 20;
    unsigned char *buf = malloc(n);
    for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)(i * 2654435761u >> 13);
    FILE *f = fopen(path, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    char fp1[64], fp2[64], fp3[64];
    pb_err e;
    CHECK_MSG(db_file_fingerprint(path, fp1, &e), "%s", e.msg);
    CHECK(strncmp(fp1, "fnv1a64s:", 9) == 0 && strstr(fp1, ":5242880") != NULL);
    f = fopen(path, "r+b"); /* one byte in the first MiB */
    fseek(f, 1000, SEEK_SET);
    fputc(buf[1000] ^ 1, f);
    fclose(f);
    CHECK(db_file_fingerprint(path, fp2, &e) && strcmp(fp1, fp2) != 0);
    f = fopen(path, "r+b"); /* one byte in the last MiB */
    fseek(f, (long)n - 10, SEEK_SET);
    fputc(buf[n - 10] ^ 1, f);
    fclose(f);
    CHECK(db_file_fingerprint(path, fp3, &e) && strcmp(fp2, fp3) != 0);

    /* a small file is hashed whole: size (8 bytes LE) then contents */
    char *small = join(d, "s.bin");
    f = fopen(small, "wb");
    fputs("abc", f);
    fclose(f);
    unsigned char le[8] = {3};
    uint64_t h = pb_fnv1a64(pb_fnv1a64(PB_FNV1A64_INIT, le, 8), "abc", 3);
    char want[64];
    snprintf(want, sizeof want, "fnv1a64s:%016llx:3", (unsigned long long)h);
    CHECK(db_file_fingerprint(small, fp1, &e) && strcmp(fp1, want) == 0);

    char *missing = join(d, "missing.gguf");
    CHECK(db_file_fingerprint(missing, fp1, &e) == 0);
    CHECK(strncmp(e.msg, missing, strlen(missing)) == 0 && strstr(e.msg, "No such file"));
    free(buf);
    free(missing);
    free(small);
    free(path);
    fixture_rmtree(d);
}

/* A runtime SQLite failure names the database file as well as the source line. */
TEST(results_runtime_error_names_the_database)
{
    char *d = fixture_tmpdir("results"), *path = join(d, "r.db"), *log = join(d, "err.txt");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(log, "w", stderr)) _exit(3);
        pb_err e;
        pb_db *db = db_open(path, &e);
        if (!db) _exit(2);
        bench_row r = sample_row(1, 64);
        r.phase = "training"; /* rejected by the CHECK constraint: exit 1 */
        db_run_begin(db, &plain_meta);
        db_bench_add(db, &r);
        _exit(0);
    }
    CHECK(exit_code(pid) == 1);
    size_t n;
    char *text = fixture_read(log, &n);
    CHECK(text);
    char want[600];
    snprintf(want, sizeof want, "sqlite: %s: ", path);
    CHECK_MSG(!strncmp(text, "purbo: results/", 15) && strstr(text, want) && strstr(text, "CHECK constraint failed"),
              "%s", text);
    free(text);
    free(log);
    free(path);
    fixture_rmtree(d);
}
