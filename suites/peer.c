/* peer.c — the peers' coprocess (peer.h): fork/exec of the script with two
 * pipes, one request line out, one answer line back. */
#include "suites/peer.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/common.h"

struct peer {
    pid_t pid;
    FILE *to, *from;
    int dead;
    char *line;
    size_t cap;
};

/* The next answer line without its newline, or NULL at EOF. */
static char *read_line(peer *p)
{
    ssize_t n = getline(&p->line, &p->cap, p->from);
    if (n < 0) return NULL;
    while (n > 0 && (p->line[n - 1] == '\n' || p->line[n - 1] == '\r')) p->line[--n] = 0;
    return p->line;
}

const char *peer_script(const char *env, const char *name, char *buf, size_t len, char *why, size_t why_len)
{
    const char *script = getenv(env);
    if (!script || !*script) {
        /* the repository's script from the working directory, else from the
         * binary's place: ../suites/peers/ of build/purbo-bench, or one more
         * level up for a build in a subfolder (build/asan/purbo-bench) */
        snprintf(buf, len, "suites/peers/%s", name);
        script = buf;
        if (access(script, R_OK) != 0 && len > 64) {
            ssize_t n = readlink("/proc/self/exe", buf, len - 64);
            char *slash = n > 0 ? (buf[n] = 0, strrchr(buf, '/')) : NULL;
            for (int up = 1; slash && up <= 2; up++) {
                snprintf(slash, len - (size_t)(slash - buf), "%s/suites/peers/%s", up == 1 ? "/.." : "/../..", name);
                if (access(buf, R_OK) == 0) break;
            }
        }
    }
    if (access(script, R_OK)) {
        snprintf(why, why_len, "%s: %s (run from the repository root, or set %s to the script)", script,
                 strerror(errno), env);
        return NULL;
    }
    return script;
}

peer *peer_open(char *info, size_t info_len, char *why, size_t why_len)
{
    const char *py = getenv("PURBO_PYTHON");
    if (!py || !*py) py = "python3";
    char beside[4096];
    const char *script = peer_script("PURBO_PEER", "sdpa_peer.py", beside, sizeof beside, why, why_len);
    if (!script) return NULL;
    int up[2], down[2];
    if (pipe(up) || pipe(down)) {
        snprintf(why, why_len, "pipe: %s", strerror(errno));
        return NULL;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_len, "fork: %s", strerror(errno));
        return NULL;
    }
    if (pid == 0) {
        dup2(down[0], 0);
        dup2(up[1], 1);
        close(up[0]), close(up[1]), close(down[0]), close(down[1]);
        execlp(py, py, script, "--serve", (char *)NULL);
        fprintf(stderr, "%s: %s\n", py, strerror(errno));
        _exit(127);
    }
    close(up[1]);
    close(down[0]);
    signal(SIGPIPE, SIG_IGN); /* a dead peer is an answer of EOF, not a signal */
    peer *p = pb_calloc(1, sizeof *p);
    p->pid = pid;
    p->to = fdopen(down[1], "w");
    p->from = fdopen(up[0], "r");
    PB_CHECK(p->to && p->from, "fdopen: %s", strerror(errno));
    const char *l = read_line(p);
    if (!l || strncmp(l, "ready ", 6)) {
        snprintf(why, why_len, "%s %s --serve: %s", py, script,
                 !l ? "exited before it was ready" : !strncmp(l, "error ", 6) ? l + 6 : l);
        peer_close(p);
        return NULL;
    }
    snprintf(info, info_len, "%s", l + 6);
    return p;
}

/* Sends request kind (time, lists) for c, with " path" when path is not
 * NULL, and reads the answer. */
static int ask(peer *p, const char *kind, const char *impl, const attn_time_case *c, const char *path, int warmup,
               int repeats, double *t_s, char *gqa, size_t gqa_len, char *why, size_t why_len)
{
    if (p->dead) {
        snprintf(why, why_len, "the peer process has exited");
        return 0;
    }
    fprintf(p->to, "%s %s %s %d %d %d %d %d %d%s%s\n", kind, impl, c->phase == ATTN_TIME_PREFILL ? "prefill" : "decode",
            c->n_head, c->n_kv_head, c->d, c->n_ctx, warmup, repeats, path ? " " : "", path ? path : "");
    const char *l = fflush(p->to) ? NULL : read_line(p);
    if (!l) {
        p->dead = 1;
        snprintf(why, why_len, "the peer process exited while timing %s", impl);
        return 0;
    }
    if (!strncmp(l, "err ", 4)) {
        snprintf(why, why_len, "%s", l + 4);
        return 0;
    }
    const char *s = l;
    int n = 0, k = 0;
    char g[16];
    if (sscanf(s, "ok gqa=%15s%n", g, &k) != 1) goto bad;
    snprintf(gqa, gqa_len, "%s", g);
    s += k;
    for (; n < repeats; n++) {
        double us;
        if (sscanf(s, "%lf%n", &us, &k) != 1 || !(us > 0)) goto bad;
        t_s[n] = us * 1e-6;
        s += k;
    }
    while (*s == ' ') s++;
    if (*s) goto bad;
    return 1;
bad:
    snprintf(why, why_len, "the peer answered \"%.120s\" (wanted \"ok gqa=... \" and %d times)", l, repeats);
    return 0;
}

int peer_time(peer *p, const char *impl, const attn_time_case *c, int warmup, int repeats, double *t_s, char *gqa,
              size_t gqa_len, char *why, size_t why_len)
{
    return ask(p, "time", impl, c, NULL, warmup, repeats, t_s, gqa, gqa_len, why, why_len);
}

int peer_time_lists(peer *p, const char *impl, const attn_time_case *c, const char *path, int warmup, int repeats,
                    double *t_s, char *gqa, size_t gqa_len, char *why, size_t why_len)
{
    if (strchr(path, ' ') || strchr(path, '\n')) {
        snprintf(why, why_len, "the lists' path '%s' has a blank", path);
        return 0;
    }
    return ask(p, "lists", impl, c, path, warmup, repeats, t_s, gqa, gqa_len, why, why_len);
}

peer *peer_get(peer **p, int *failed)
{
    if (*p || *failed) return *p;
    char info[256], why[300];
    if (!(*p = peer_open(info, sizeof info, why, sizeof why))) {
        fprintf(stderr, "peers not run: %s\n", why);
        *failed = 1;
    } else {
        fprintf(stderr, "peers: %s\n", info);
    }
    return *p;
}

void peer_close(peer *p)
{
    if (!p) return;
    if (p->to) {
        if (!p->dead) fprintf(p->to, "quit\n");
        fclose(p->to);
    }
    if (p->from) fclose(p->from);
    int st;
    while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {}
    free(p->line);
    free(p);
}
