/* bench_peer.c — llama.cpp as the CPU bench's peer (bench_peer.h): writes
 * the token ids to a temporary file, runs the peer script with the cases as
 * arguments and reads its answer lines ("ready", then one line per case, or
 * "error REASON"). Nothing of llama.cpp is linked: a machine without the
 * binding gets a reason, and the bench's own rows stand.
 */
#include "suites/bench_peer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/common.h"
#include "suites/peer.h"

/* Parses "PHASE A [B] T1 .. Tn [SETTING]" (prefill N t..; decode CTX M t..)
 * into cb. */
static int answer_line(char *l, int repeats, bench_peer_case cb, void *ctx)
{
    char *save = NULL, *tok = strtok_r(l, " ", &save);
    if (!tok || (strcmp(tok, "prefill") && strcmp(tok, "decode"))) return 0;
    const int decode = !strcmp(tok, "decode");
    char *a = strtok_r(NULL, " ", &save), *b = decode ? strtok_r(NULL, " ", &save) : a;
    if (!a || !b) return 0;
    double *t = pb_malloc((size_t)repeats * sizeof *t);
    int n = 0;
    while (n < repeats && (tok = strtok_r(NULL, " ", &save))) t[n++] = atof(tok);
    const char *setting = strtok_r(NULL, "", &save);    /* the rest: the peer's setting for the case */
    if (n == repeats) cb(ctx, decode ? "decode" : "prefill", atoi(a), atoi(b), t, n, setting ? setting : "");
    free(t);
    return n == repeats;
}

int bench_peer_llama(const bench_peer_args *a, bench_peer_case cb, void *ctx, char *info, size_t info_len,
                     char *why, size_t why_len)
{
    const char *py = getenv("PURBO_PYTHON");
    if (!py || !*py) py = "python3";
    char path[4096];
    const char *script = peer_script("PURBO_LLAMA_PEER", "llama_cpp_peer.py", path, sizeof path, why, why_len);
    if (!script) return 0;
    char ids_path[] = "/tmp/purbo-peer-ids-XXXXXX";
    int fd = mkstemp(ids_path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        snprintf(why, why_len, "%s: %s", ids_path, strerror(errno));
        return 0;
    }
    for (int i = 0; i < a->n_ids; i++) fprintf(f, "%d%c", a->ids[i], i % 32 == 31 ? '\n' : ' ');
    int wrote = fclose(f) == 0;
    char threads[16], sizes[256] = "", ctx_s[16], tok_s[16], rep_s[16];
    snprintf(threads, sizeof threads, "%d", a->threads);
    for (int k = 0; k < a->n_sizes; k++)
        snprintf(sizes + strlen(sizes), sizeof sizes - strlen(sizes), "%s%d", k ? "," : "", a->sizes[k]);
    snprintf(ctx_s, sizeof ctx_s, "%d", a->decode_ctx);
    snprintf(tok_s, sizeof tok_s, "%d", a->decode_tokens);
    snprintf(rep_s, sizeof rep_s, "%d", a->repeats);
    int out[2];
    if (!wrote || pipe(out)) {
        snprintf(why, why_len, "%s: %s", wrote ? "pipe" : ids_path, strerror(errno));
        unlink(ids_path);
        return 0;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execlp(py, py, script, a->model_path, ids_path, threads, sizes, ctx_s, tok_s, rep_s, (char *)NULL);
        printf("error %s: %s\n", py, strerror(errno));
        _exit(127);
    }
    close(out[1]);
    int ok = 0, cases = 0;
    if (pid < 0) snprintf(why, why_len, "fork: %s", strerror(errno));
    FILE *from = pid > 0 ? fdopen(out[0], "r") : NULL;
    if (from) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        snprintf(why, why_len, "%s %s exited before it was ready", py, script);
        while ((n = getline(&line, &cap, from)) >= 0) {
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
            if (!strncmp(line, "ready ", 6)) {
                snprintf(info, info_len, "%s", line + 6);
                ok = 1;
            } else if (!strncmp(line, "error ", 6)) {
                snprintf(why, why_len, "%s", line + 6);
                ok = 0;
                break;
            } else if (ok) {
                cases += answer_line(line, a->repeats, cb, ctx);
            }
        }
        free(line);
        fclose(from);
    } else {
        close(out[0]);
    }
    int st = 0;
    if (pid > 0) waitpid(pid, &st, 0);
    unlink(ids_path);
    if (ok && cases < a->n_sizes + 1) {
        snprintf(why, why_len, "%s gave %d of %d cases (exit status %d)", script, cases, a->n_sizes + 1,
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        ok = 0;
    }
    return ok;
}
