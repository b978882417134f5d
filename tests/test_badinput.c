/* test_badinput.c — replays the bad-input corpus (tests/badinput/cases.txt):
 * each file given to the command its line names must exit with the status
 * it gives, print exactly one line on stderr that starts with its message,
 * and write nothing (the scratch folder stays empty). Each command runs
 * under `timeout`, so an input that hangs fails here instead of hanging.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/fixture.h"
#include "tests/test.h"

#define CORPUS "tests/badinput/"

/* s with every "@", "MODEL" and "TMP" replaced, into out[cap]. */
static void expand(const char *s, const char *file, const char *tmp, char *out, size_t cap)
{
    size_t o = 0;
    while (*s && o + 1 < cap) {
        const char *rep = NULL;
        size_t skip = 0;
        if (*s == '@') rep = file, skip = 1;
        else if (!strncmp(s, "MODEL", 5)) rep = test_model_path, skip = 5;
        else if (!strncmp(s, "TMP", 3)) rep = tmp, skip = 3;
        if (rep) {
            o += (size_t)snprintf(out + o, cap - o, "%s", rep);
            if (o >= cap) o = cap - 1;
            s += skip;
        } else {
            out[o++] = *s++;
        }
    }
    out[o] = 0;
}

static int dir_empty(const char *d)
{
    DIR *dir = opendir(d);
    if (!dir) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(dir));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(dir);
    return n == 0;
}

/* Splits "a | b | c | d" in place into 4 trimmed fields; 0 if not 4. */
static int fields(char *line, char *f[4])
{
    for (int i = 0; i < 4; i++) {
        while (*line == ' ') line++;
        f[i] = line;
        char *bar = i < 3 ? strstr(line, " | ") : line + strlen(line);
        if (!bar) return 0;
        char *end = bar;
        while (end > f[i] && end[-1] == ' ') end--;
        *end = 0;
        line = i < 3 ? bar + 3 : bar;
    }
    return 1;
}

TEST(badinput_corpus)
{
    size_t len;
    char *text = fixture_read(CORPUS "cases.txt", &len);
    CHECK_MSG(text, "cannot read " CORPUS "cases.txt (run from the repository root)");
    int n = 0, bad = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (*line == '#' || !*line) continue;
        char *f[4];
        CHECK_MSG(fields(line, f), "malformed line: %s", line);
        char file[256], *tmp = fixture_tmpdir("badinput"), args[2048], want[1024], cmd[4096], errp[600];
        snprintf(file, sizeof file, CORPUS "%s", f[0]);
        expand(f[2], file, tmp, args, sizeof args);
        expand(f[3], file, tmp, want, sizeof want);
        snprintf(errp, sizeof errp, "%s.err", tmp);
        snprintf(cmd, sizeof cmd, "timeout 120 %s %s >/dev/null 2>%s", test_bin_path, args, errp);
        int st = system(cmd);
        st = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        size_t elen = 0;
        char *err = fixture_read(errp, &elen);
        unlink(errp);
        int lines = 0;
        for (size_t i = 0; err && i < elen; i++) lines += err[i] == '\n';
        int empty = dir_empty(tmp);
        int ok = st == atoi(f[1]) && lines == 1 && err && !strncmp(err, want, strlen(want)) && empty;
        if (!ok) {
            test_fail(__FILE__, __LINE__, "%s: status %d (want %s), %d lines, %s: %s (want \"%s\")", f[0], st, f[1],
                      lines, empty ? "nothing written" : "wrote into the scratch folder", err ? err : "", want);
            bad++;
        }
        free(err);
        fixture_rmtree(tmp); /* frees tmp */
        n++;
    }
    free(text);
    printf("    %d corpus files, %d handled as the corpus says\n", n, n - bad);
    CHECK_MSG(n >= 50, "only %d cases in the corpus", n);
}
