/* run_gpus.c — `run --gpus`: a child process per device, each a shard of
 * the run in its own database, then the merge (run_gpus.h). */
#include "suites/run_gpus.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plots/plot_suite.h"
#include "suites/merge.h"
#include "suites/runner.h"
#include "suites/runner_db.h"
#include "suites/suite.h"

int gpus_parse(const char *gpus, char *why, size_t why_len)
{
    int n = 0;
    for (const char *p = gpus;; n++) {
        size_t l = strcspn(p, ",");
        if (!l) return snprintf(why, why_len, "--gpus '%s': an empty device id", gpus), 0;
        for (size_t i = 0; i < l; i++)
            if (!(p[i] == '-' || (p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'z') ||
                  (p[i] >= 'A' && p[i] <= 'Z')))
                return snprintf(why, why_len, "--gpus '%s': '%.*s' is not a device id (an index or GPU-UUID)", gpus,
                                (int)l, p), 0;
        for (const char *q = gpus; q < p; q += strcspn(q, ",") + 1)
            if (strcspn(q, ",") == l && !strncmp(q, p, l))
                return snprintf(why, why_len, "--gpus '%s': device %.*s given twice", gpus, (int)l, p), 0;
        if (!p[l]) return n + 1;
        p += l + 1;
    }
}

/* BASE.shard-i-of-n.EXT for the database path db. malloc'd. */
static char *shard_path(const char *db, int i, int n, const char *ext)
{
    size_t l = strlen(db);
    if (l > 3 && !strcmp(db + l - 3, ".db")) l -= 3;
    size_t cap = l + 64;
    char *p = pb_malloc(cap);
    snprintf(p, cap, "%.*s.shard-%d-of-%d.%s", (int)l, db, i, n, ext);
    return p;
}

/* Whether argv[i] is option name (either form); *skip gets how many words it takes. */
static int is_opt(char **argv, int i, const char *name, int *skip)
{
    size_t l = strlen(name);
    if (strncmp(argv[i], name, l)) return 0;
    if (!argv[i][l]) return *skip = 2, 1;
    if (argv[i][l] == '=') return *skip = 1, 1;
    return 0;
}

/* Which child status the run reports: bad input, then stopped, then failed. */
static int rank(int st)
{
    return st == 2 ? 3 : st == RUNNER_INTERRUPTED ? 2 : st == 1 ? 1 : 0;
}

static volatile sig_atomic_t g_sig;
static void on_signal(int sig) { g_sig = sig; }

/* The last line of the file at path into buf (empty when none). */
static void last_line(const char *path, char *buf, size_t n)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (line[0] != '\n') snprintf(buf, n, "%s", line);
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
}

int run_gpus(const char *gpus, const char *db, const char *plots, int argc, char **argv, pb_err *err)
{
    char why[300];
    err->msg[0] = 0;
    int n = gpus_parse(gpus, why, sizeof why);
    if (!n) return pb_errf(err, NULL, -1, "%s", why), 2;
    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    PB_CHECK(el > 0, "cannot find this program (/proc/self/exe): %s", strerror(errno));
    exe[el] = 0;
    /* the child's arguments: ours but those the parent owns, then the shard's */
    char **cargv = pb_calloc((size_t)argc + 12, sizeof *cargv);
    int cn = 0;
    cargv[cn++] = exe;
    cargv[cn++] = "run";
    for (int i = 1, skip; i < argc; i++) {
        if (is_opt(argv, i, "--gpus", &skip) || is_opt(argv, i, "--db", &skip) || is_opt(argv, i, "--plots", &skip) ||
            is_opt(argv, i, "--progress", &skip)) {
            i += skip - 1;
            continue;
        }
        cargv[cn++] = argv[i];
    }
    int fixed = cn;
    pid_t *pid = pb_calloc((size_t)n, sizeof *pid);
    char **logs = pb_calloc((size_t)n, sizeof *logs), **dbs = pb_calloc((size_t)n, sizeof *dbs);
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    g_sig = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    double t0 = pb_now();
    const char *dev = gpus;
    for (int i = 0; i < n; i++, dev += strcspn(dev, ",") + 1) {
        char spec[32], devid[128];
        snprintf(spec, sizeof spec, "%d/%d", i + 1, n);
        snprintf(devid, sizeof devid, "%.*s", (int)strcspn(dev, ","), dev);
        dbs[i] = shard_path(db, i + 1, n, "db");
        logs[i] = shard_path(db, i + 1, n, "log");
        cn = fixed;
        const char *extra[] = {"--shard", spec, "--db", dbs[i], "--progress", "lines", NULL};
        for (int k = 0; extra[k]; k++) cargv[cn++] = (char *)extra[k];
        cargv[cn] = NULL;
        int fd = open(logs[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            pb_errf(err, logs[i], -1, "cannot write the shard's log: %s", strerror(errno));
            n = i; /* the children started so far are waited for below */
            break;
        }
        fflush(NULL);
        pid[i] = fork();
        PB_CHECK(pid[i] >= 0, "fork: %s", strerror(errno));
        if (!pid[i]) {
            sigaction(SIGINT, &old_int, NULL);
            sigaction(SIGTERM, &old_term, NULL);
            setenv("CUDA_VISIBLE_DEVICES", devid, 1);
            dup2(fd, 1);
            dup2(fd, 2);
            execv(exe, cargv);
            fprintf(stderr, "cannot run %s: %s\n", exe, strerror(errno));
            _exit(1);
        }
        close(fd);
        fprintf(stderr, "shard %s on device %s: pid %ld, log %s\n", spec, devid, (long)pid[i], logs[i]);
    }
    int worst = err->msg[0] ? 2 : 0, left = n;
    while (left > 0) {
        int ws;
        pid_t w = waitpid(-1, &ws, 0);
        if (w < 0 && errno == EINTR) {
            for (int i = 0; i < n && g_sig; i++)
                if (pid[i] > 0) kill(pid[i], g_sig == SIGINT ? SIGINT : SIGTERM);
            g_sig = 0;
            continue;
        }
        PB_CHECK(w > 0, "waitpid: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            if (pid[i] != w) continue;
            pid[i] = -1;
            left--;
            int st = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
            char secs[32], tail[600];
            pb_fmt_secs(secs, sizeof secs, pb_now() - t0);
            last_line(logs[i], tail, sizeof tail);
            fprintf(stderr, "shard %d/%d: exit %d after %s%s%s\n", i + 1, n, st, secs, st ? ": " : "",
                    st ? tail : "");
            if (st != 0 && st != 1 && st != 2) st = RUNNER_INTERRUPTED; /* stopped, or killed by a signal */
            if (rank(st) > rank(worst)) worst = st;
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    int st = worst;
    if (worst == 2 && !err->msg[0])
        pb_errf(err, NULL, -1, "a shard refused its input (its log says why; the line above)");
    if (worst <= 1) { /* a shard that ended with failed pairs is merged as it is: the run is failed, as unsharded */
        merge_opts mo = {.out = db, .in = (const char *const *)dbs, .n_in = n, .partial = worst == 1};
        char *cmd = db_command_line(argc, argv), *full = pb_malloc(strlen(cmd) + 16);
        sprintf(full, "purbo-bench %s", cmd);
        mo.command = full;
        merge_result r;
        if (merge_run(&mo, &r, err)) {
            fprintf(stderr, "merge refused: %s\n", err->msg);
            st = 1;
        } else {
            merge_print(&mo, &r, stdout);
            if (plots) {
                pb_db *h = db_open_ro(db, err);
                if (!h || plot_suite(h, r.run, plots, err) < 0) st = 2;
                if (h) db_close(h);
            }
        }
        free(cmd);
        free(full);
    } else if (worst != 2) {
        fprintf(stderr, "not merged: the shards keep what they committed; the same command with --resume continues\n");
    }
    for (int i = 0; i < n; i++) free(logs[i]), free(dbs[i]);
    free(logs);
    free(dbs);
    free(pid);
    free(cargv);
    return st;
}
