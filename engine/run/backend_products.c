/* backend_products.c — the CPU backend's product mode (backend.h): f32 (the
 * default, the reference) or bf16 (kernels/gemm_bf16.h), set by a command's
 * --cpu-products (backend_cpu_products_set), else $PURBO_CPU_PRODUCTS.
 * bf16 is refused, with one line naming where it was asked for, on a CPU
 * without AVX-512 BF16.
 */
#include "run/backend.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/gemm_bf16.h"

static const char *products_set; /* --cpu-products as given; NULL: the environment's */

/* The mode named `name` (NULL or "": f32), or -1 and err naming `what`. */
static int products_of(const char *name, const char *what, pb_err *err)
{
    if (!name || !*name || !strcmp(name, "f32")) return CPU_PRODUCTS_F32;
    if (strcmp(name, "bf16") != 0) {
        snprintf(err->msg, sizeof err->msg, "%s '%.64s' is not one of f32, bf16", what, name);
        return -1;
    }
    if (!gemm_bf16_usable()) {
        snprintf(err->msg, sizeof err->msg, "%s bf16: this CPU lacks AVX-512 BF16 (use f32)", what);
        return -1;
    }
    return CPU_PRODUCTS_BF16;
}

int backend_cpu_products(pb_err *err)
{
    if (products_set) return products_of(products_set, "--cpu-products", err);
    return products_of(getenv("PURBO_CPU_PRODUCTS"), "PURBO_CPU_PRODUCTS", err);
}

int backend_cpu_products_set(const char *name, pb_err *err)
{
    if (name && products_of(name, "--cpu-products", err) < 0) return 0;
    products_set = name;
    return 1;
}

const char *backend_cpu_products_name(int mode)
{
    return mode == CPU_PRODUCTS_BF16 ? "bf16" : "f32";
}
