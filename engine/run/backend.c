/* backend.c — choosing a backend by name (backend.h).
 *
 * "cpu" always works; "cuda" needs a device (and cuBLAS) and otherwise fails
 * with one line saying why; "auto" takes cuda when it can run and falls back
 * to the CPU silently (the caller prints b->device if it wants to say). A
 * backend that cannot run the model's description (backend_supports) counts
 * as one that cannot run. cpu and auto also check the CPU backend's product
 * mode (backend_products.c).
 */
#include "run/backend.h"

#include <string.h>

int backend_check(const char *kind, pb_err *err)
{
    char why[256] = "";
    if (!strcmp(kind, "cpu") || !strcmp(kind, "auto")) return backend_cpu_products(err) >= 0;
    if (strcmp(kind, "cuda") != 0) {
        snprintf(err->msg, sizeof err->msg, "--backend '%.64s' is not one of cpu, cuda, auto", kind);
        return 0;
    }
    if (backend_cuda_available(why, sizeof why)) return 1;
    snprintf(err->msg, sizeof err->msg, "--backend cuda: %s", why);
    return 0;
}

backend *backend_open(const char *kind, const model *m, pb_err *err)
{
    char why[256] = "";
    if (!backend_check(kind, err)) return NULL;
    if (!strcmp(kind, "cpu")) return backend_cpu_new(m);
    backend *b = backend_cuda_available(NULL, 0) ? backend_cuda_new(m, why, sizeof why) : NULL;
    if (b && !backend_supports(b, m, why, sizeof why)) {
        backend_close(b);
        b = NULL;
    }
    if (b || !strcmp(kind, "auto")) return b ? b : backend_cpu_new(m);
    snprintf(err->msg, sizeof err->msg, "--backend cuda: %s", why);
    return NULL;
}

void backend_close(backend *b)
{
    if (b) b->close(b);
}

int backend_runs_kind(const char *name, int kind)
{
    return strcmp(name, "cuda") != 0 || (kind > ATTN_OPAQUE && kind < ATTN_KINDS);
}
