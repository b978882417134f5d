/* meta.c — the facts a run row records beside its results: where and how
 * the binary runs (git state, host, CPU, build flags, library versions), the
 * command line, the config hash, and a model file's fingerprint (db.h).
 *
 * Build facts are compile-time: the Makefile passes PB_BUILD_CFLAGS (and
 * PB_BUILD_NVCC for a CUDA build) when compiling this file; the compiler's
 * own macros give its version. Git facts are read at run time from the
 * current directory, so a binary run outside a git tree records "unknown".
 */
#include "results/db.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml.h>

#ifndef PB_BUILD_CFLAGS
#define PB_BUILD_CFLAGS "unknown"
#endif

#if defined(__clang__)
#define PB_BUILD_CC "clang " __clang_version__
#elif defined(__GNUC__)
#define PB_BUILD_CC "gcc " __VERSION__
#else
#define PB_BUILD_CC "unknown"
#endif

/* Runs cmd through sh with stderr discarded. Copies the first output line
 * (without newline) to line; *n_out gets the total output size. Returns the
 * exit status, or -1 when it did not run to a normal exit. */
static int run_cmd(const char *cmd, char *line, size_t size, size_t *n_out)
{
    char full[512];
    snprintf(full, sizeof full, "%s 2>/dev/null", cmd);
    line[0] = '\0';
    *n_out = 0;
    FILE *f = popen(full, "r");
    if (!f) return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (*n_out == 0) {
            size_t k = strcspn(buf, "\n");
            if (k > n) k = n;
            if (k >= size) k = size - 1;
            memcpy(line, buf, k);
            line[k] = '\0';
        }
        *n_out += n;
    }
    int st = pclose(f);
    return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

static int is_sha(const char *s)
{
    if (strlen(s) != 40) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return 0;
    return 1;
}

static void cpu_model(char *out, size_t size)
{
    snprintf(out, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        char *v = strchr(line, ':');
        if (!v) continue;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        v[strcspn(v, "\n")] = '\0';
        if (*v) snprintf(out, size, "%s", v);
        break;
    }
    fclose(f);
}

void run_env_get(run_env *env)
{
    memset(env, 0, sizeof *env);
    size_t n;
    char line[256];
    if (run_cmd("git rev-parse HEAD", line, sizeof line, &n) == 0 && is_sha(line))
        memcpy(env->git_sha, line, 41); /* 40 hex digits and the NUL */
    else
        snprintf(env->git_sha, sizeof env->git_sha, "unknown");
    env->git_dirty = -1;
    if (strcmp(env->git_sha, "unknown") != 0 &&
        run_cmd("git status --porcelain --untracked-files=no", line, sizeof line, &n) == 0)
        env->git_dirty = n > 0;
    if (gethostname(env->host, sizeof env->host - 1) != 0)
        snprintf(env->host, sizeof env->host, "unknown");
    cpu_model(env->cpu_model, sizeof env->cpu_model);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    env->cpu_cores = cores > 0 ? (int)cores : 0;
    env->build_cc = PB_BUILD_CC;
    env->build_cflags = PB_BUILD_CFLAGS;
#ifdef PB_BUILD_NVCC
    env->build_nvcc = PB_BUILD_NVCC;
#endif
    env->sqlite_version = sqlite3_libversion();
    env->libyaml_version = yaml_get_version_string();
}

/* Characters that need no quoting in a POSIX shell word. */
static int shell_plain(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789_-+=./:,@%", *s))
            return 0;
    return 1;
}

char *db_command_line(int argc, char *const *argv)
{
    size_t cap = 1;
    for (int i = 0; i < argc; i++) cap += 4 * strlen(argv[i]) + 3;
    char *out = pb_malloc(cap), *p = out;
    for (int i = 0; i < argc; i++) {
        if (i) *p++ = ' ';
        if (shell_plain(argv[i])) {
            p = stpcpy(p, argv[i]);
            continue;
        }
        *p++ = '\'';
        for (const char *s = argv[i]; *s; s++) {
            if (*s == '\'') p = stpcpy(p, "'\\''");
            else *p++ = *s;
        }
        *p++ = '\'';
    }
    *p = '\0';
    return out;
}

static char *escape_to(char *p, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\') p = stpcpy(p, "\\\\");
        else if (*s == '=') p = stpcpy(p, "\\=");
        else if (*s == '\n') p = stpcpy(p, "\\n");
        else *p++ = *s;
    }
    return p;
}

char *config_canonical(const char *const *kv, size_t n_pairs)
{
    size_t *ord = pb_malloc((n_pairs ? n_pairs : 1) * sizeof *ord);
    size_t cap = 1;
    for (size_t i = 0; i < n_pairs; i++) {
        ord[i] = i;
        cap += 2 * (strlen(kv[2 * i]) + strlen(kv[2 * i + 1])) + 2;
    }
    /* insertion sort by key: configs are short, and it needs no global */
    for (size_t i = 1; i < n_pairs; i++)
        for (size_t j = i; j > 0 && strcmp(kv[2 * ord[j - 1]], kv[2 * ord[j]]) > 0; j--) {
            size_t t = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = t;
        }
    char *out = pb_malloc(cap), *p = out;
    for (size_t i = 0; i < n_pairs; i++) {
        const char *key = kv[2 * ord[i]];
        PB_CHECK(i == 0 || strcmp(kv[2 * ord[i - 1]], key) != 0,
                 "config_canonical: key \"%s\" given twice", key);
        p = escape_to(p, key);
        *p++ = '=';
        p = escape_to(p, kv[2 * ord[i] + 1]);
        *p++ = '\n';
    }
    *p = '\0';
    free(ord);
    return out;
}

void config_hash(const char *canonical, char out[17])
{
    uint64_t h = pb_fnv1a64(PB_FNV1A64_INIT, canonical, strlen(canonical));
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* Hashes n bytes of fd at off; returns 0 on a read error or short read. */
static int hash_range(int fd, off_t off, size_t n, uint64_t *h)
{
    unsigned char buf[1 << 16];
    while (n > 0) {
        size_t k = n < sizeof buf ? n : sizeof buf;
        ssize_t got = pread(fd, buf, k, off);
        if (got <= 0) {
            if (got == 0) errno = EIO;
            return 0;
        }
        *h = pb_fnv1a64(*h, buf, (size_t)got);
        off += got;
        n -= (size_t)got;
    }
    return 1;
}

int db_file_fingerprint(const char *path, char out[64], pb_err *e)
{
    enum { END = 1 << 20, BLOCK = 1 << 16, N_BLOCKS = 16 };
    int fd = open(path, O_RDONLY);
    if (fd < 0) return pb_errf(e, path, -1, "cannot read: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return pb_errf(e, path, -1, "not a regular file");
    }
    uint64_t size = (uint64_t)st.st_size, h = PB_FNV1A64_INIT;
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(size >> (8 * i));
    h = pb_fnv1a64(h, le, 8);
    int ok;
    if (size <= 2 * END + N_BLOCKS * BLOCK) {
        ok = hash_range(fd, 0, size, &h);
    } else {
        ok = hash_range(fd, 0, END, &h);
        for (uint64_t k = 1; ok && k <= N_BLOCKS; k++)
            ok = hash_range(fd, (off_t)(k * (size / (N_BLOCKS + 1))), BLOCK, &h);
        ok = ok && hash_range(fd, (off_t)(size - END), END, &h);
    }
    int err = errno;
    close(fd);
    if (!ok) return pb_errf(e, path, -1, "cannot read: %s", strerror(err));
    snprintf(out, 64, "fnv1a64s:%016llx:%llu", (unsigned long long)h,
             (unsigned long long)size);
    return 1;
}
