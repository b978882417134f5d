/* plot_kit.c — the shared toolkit of the chart families (plot_kit.h): output
 * names, data files from SQL, and the one gnuplot runner. Knows no chart:
 * the families call it, it calls none of them.
 */
#include "plots/plot_kit.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void plot_fmt(char *out, size_t n, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int r = vsnprintf(out, n, f, ap);
    va_end(ap);
    PB_CHECK(r >= 0 && (size_t)r < n, "text too long: %s...", out);
}

void plot_path(char *out, size_t n, const char *dir, const char *file)
{
    plot_fmt(out, n, "%s/%s", dir, file);
}

FILE *plot_open(const char *dir, const char *file, char *path, size_t n)
{
    plot_path(path, n, dir, file);
    FILE *f = fopen(path, "w");
    PB_CHECK(f, "%s: %s", path, strerror(errno));
    return f;
}

int plot_dump(pb_db *db, const char *dir, const char *file, const char *sql, int64_t case_id, int64_t case2,
              int group, int blank)
{
    sqlite3 *h = db_sqlite(db);
    sqlite3_stmt *st;
    DB_CHECK(h, sqlite3_prepare_v2(h, sql, -1, &st, NULL));
    DB_CHECK(h, sqlite3_bind_int64(st, 1, case_id));
    if (sqlite3_bind_parameter_count(st) >= 2) DB_CHECK(h, sqlite3_bind_int64(st, 2, case2));
    char path[4096], prev[128] = "";
    FILE *f = plot_open(dir, file, path, sizeof path);
    int n = 0, nc = sqlite3_column_count(st);
    fprintf(f, "#");
    for (int c = 0; c < nc; c++) fprintf(f, " %s", sqlite3_column_name(st, c));
    fprintf(f, "\n");
    while (DB_CHECK(h, sqlite3_step(st)) == SQLITE_ROW) {
        if (group >= 0) {
            const char *g = (const char *)sqlite3_column_text(st, group);
            if (n > 0 && strcmp(prev, g ? g : "") != 0)
                for (int b = 0; b < blank; b++) fputc('\n', f);
            snprintf(prev, sizeof prev, "%s", g ? g : "");
        }
        for (int c = 0; c < nc; c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            fprintf(f, "%s%s", c ? "\t" : "", v ? v : "NaN");
        }
        fputc('\n', f);
        n++;
    }
    DB_CHECK(h, sqlite3_finalize(st));
    PB_CHECK(fclose(f) == 0, "%s: %s", path, strerror(errno));
    return n;
}

/* Runs argv (gnuplot ...) in dir, stdout discarded; gnuplot missing or
 * failing is a runtime error naming file. */
static void run_gnuplot(const char *dir, const char *const *argv, const char *file)
{
    fflush(NULL);
    pid_t pid = fork();
    PB_CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(126);
        if (!freopen("/dev/null", "w", stdout)) _exit(126);
        execvp("gnuplot", (char *const *)argv);
        _exit(127);
    }
    int st;
    PB_CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    PB_CHECK(!(WIFEXITED(st) && WEXITSTATUS(st) == 127),
             "gnuplot not found (Debian package gnuplot-nox; make deps installs it)");
    PB_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "gnuplot failed on %s/%s", dir, file);
}

/* Ahead of every script: the output format, PNG unless gnuplot was started
 * with -e "purbo_svg=1"; the scripts take their terminal and output name
 * from it. And gnuplot's colour-blind-safe default colours (podo: Okabe and
 * Ito's), for the lines a script does not colour itself. */
static const char FORMAT_LINES[] =
    "# the format: PNG; gnuplot -e \"purbo_svg=1\" draws the same chart as NAME.svg\n"
    "set colorsequence podo\n"
    "if (!exists(\"purbo_svg\")) purbo_svg = 0\n"
    "purbo_term = purbo_svg ? \"svg\" : \"pngcairo\"\n"
    "purbo_out(f) = purbo_svg ? f[1:strlen(f) - 4] . \".svg\" : f\n";

int plot_gnuplot(const char *dir, const char *script, const char *vars, const char *const *args, const char *png)
{
    const plot_script *s = plot_scripts;
    while (s->name && strcmp(s->name, script)) s++;
    PB_CHECK(s->name, "no embedded plot script %s.gp", script);
    char file[300], path[4096], svg[4096];
    plot_fmt(file, sizeof file, "%s.gp", script);
    FILE *f = plot_open(dir, file, path, sizeof path);
    fputs(FORMAT_LINES, f);
    if (vars) fprintf(f, "# written by purbo-bench plot: the run's settings, then plots/%s.gp\n%s\n", script, vars);
    fputs(s->text, f);
    PB_CHECK(fclose(f) == 0, "%s: %s", path, strerror(errno));

    const char *argv[20] = {"gnuplot", "-e", "purbo_svg=1"};
    int n = 3;
    if (args) argv[n++] = "-c";
    argv[n++] = file;
    for (int i = 0; args && args[i]; i++) {
        PB_CHECK(n < 19, "gnuplot %s: too many arguments", file);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    if (png) plot_path(path, sizeof path, dir, png);
    else plot_fmt(path, sizeof path, "%s/%s.png", dir, script);
    size_t pl = strlen(path);
    PB_CHECK(pl > 4 && !strcmp(path + pl - 4, ".png"), "plot %s: the output %s is not a .png", script, path);
    plot_fmt(svg, sizeof svg, "%.*s.svg", (int)(pl - 4), path);
    unlink(path);
    unlink(svg);
    argv[2] = "purbo_svg=0";
    run_gnuplot(dir, argv, file);
    struct stat sb;
    if (!(stat(path, &sb) == 0 && sb.st_size > 0)) return 0;
    argv[2] = "purbo_svg=1";
    run_gnuplot(dir, argv, file);
    PB_CHECK(stat(svg, &sb) == 0 && sb.st_size > 0, "gnuplot drew %s but not %s", path, svg);
    return 1;
}
