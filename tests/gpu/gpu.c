/* gpu.c — shared state and helpers of the GPU tests (gpu.h). */
#include "tests/gpu/gpu.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kernels/attn_kernels.h"
#include "tests/fixture.h"
#include "tests/test.h"

static backend *cpu, *cuda;
static char why[256];
static int opened;
static pb_rng rng;
static int seeded;

static void open_once(void)
{
    if (opened) return;
    opened = 1;
    cpu = backend_cpu_new(fixture_model());
    if (backend_cuda_available(why, sizeof why)) cuda = backend_cuda_new(fixture_model(), why, sizeof why);
    if (cuda) printf("    device: %s\n", cuda->device);
}

backend *gpu_cpu(void)
{
    open_once();
    return cpu;
}

backend *gpu_cuda(void)
{
    open_once();
    return cuda;
}

const char *gpu_why(void)
{
    return why;
}

static backend *gcpu, *gcuda;
static char gwhy[256];

static void open_gemma(void)
{
    static int opened;
    if (opened) return;
    opened = 1;
    gcpu = backend_cpu_new(fixture_gemma());
    gcuda = backend_cuda_new(fixture_gemma(), gwhy, sizeof gwhy);
}

backend *gpu_gemma_cpu(void)
{
    open_gemma();
    return gcpu;
}

backend *gpu_gemma_cuda(void)
{
    open_gemma();
    if (!gcuda) test_fail(__FILE__, __LINE__, "no CUDA backend for Gemma: %s", gwhy);
    return gcuda;
}

pb_rng *gpu_rng(void)
{
    if (!seeded) {
        const char *e = getenv("PURBO_SEED");
        rng.s = e ? strtoull(e, NULL, 10) : (uint64_t)time(NULL);
        printf("    seed %llu (PURBO_SEED to replay)\n", (unsigned long long)rng.s);
        seeded = 1;
    }
    return &rng;
}

void gpu_fill(float *x, size_t n, float lo, float hi)
{
    pb_rng *r = gpu_rng();
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)rng_unit(r);
}

void gpu_round_bf16(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = attn_bf16_to_f32(attn_f32_to_bf16(x[i]));
}

void gpu_fill_bf16(uint16_t *x, size_t n, float amp)
{
    float *f = pb_malloc(n * sizeof(float));
    gpu_fill(f, n, -amp, amp);
    for (size_t i = 0; i < n; i++) x[i] = attn_f32_to_bf16(f[i]);
    free(f);
}

void gpu_poison(backend *b, void *p, size_t bytes)
{
    unsigned char *h = pb_malloc(bytes);
    memset(h, 0xff, bytes);
    b->upload(b, p, h, bytes);
    free(h);
}

gpu_err gpu_compare(const float *out, const float *ref, size_t n)
{
    gpu_err e = {0, 0, 0};
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(out[i])) {
            e.n_bad++;
            continue;
        }
        double d = (double)out[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
        if (fabs(d) > e.max_abs) e.max_abs = fabs(d);
    }
    e.rel_l2 = den > 0 ? sqrt(num / den) : sqrt(num);
    return e;
}
