/* runner_progress.c — the suite runner's progress on stderr
 * (runner_progress.h): the bar is cut to the terminal's width and redrawn
 * in place; lines mode prints only finished pairs. */
#include "suites/runner_progress.h"

#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/common.h"

void prog_show(run_progress *p, const char *what, const char *result)
{
    if (p->mode == RUNNER_PROGRESS_NONE || (p->mode == RUNNER_PROGRESS_LINES && !result)) return;
    double el = pb_now() - p->t0;
    char eta[32];
    pb_fmt_secs(eta, sizeof eta, p->done ? el / p->done * (p->total - p->done) : -1);
    if (p->mode == RUNNER_PROGRESS_LINES) {
        fprintf(stderr, "[%d/%d] %s: %s  (ETA %s)\n", p->done, p->total, what, result, eta);
        return;
    }
    char bar[25];
    int fill = p->total ? 24 * p->done / p->total : 24;
    for (int i = 0; i < 24; i++) bar[i] = i < fill ? '#' : '.';
    bar[24] = 0;
    struct winsize ws;
    int cols = ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 80;
    char line[512];
    int n = snprintf(line, sizeof line, "[%s] %d/%d  ETA %s  %s%s%s", bar, p->done, p->total, eta, what,
                     result ? ": " : " ...", result ? result : "");
    if (n >= cols) line[cols - 1 < (int)sizeof line ? cols - 1 : (int)sizeof line - 1] = 0;
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
}

void prog_end(run_progress *p)
{
    if (p->mode == RUNNER_PROGRESS_BAR) fputc('\n', stderr);
}
