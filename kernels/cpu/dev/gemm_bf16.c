/* gemm_bf16.c (dev) — times the bf16 products (kernels/gemm_bf16.h) alone
 * beside the f32 ones (cpu_matmul_par: OpenBLAS sgemm split by columns over
 * the same pool) on the shapes of Gemma-3-270M's layers, n token rows each:
 * (in, out) = (640, 1024) q, (640, 256) k and v, (1024, 640) o,
 * (640, 2048) gate and up, (2048, 640) down.
 *
 *   make dev-gemm && build/dev/gemm_bf16 [N,N,...]     (default 256,512)
 *
 * Each product: one untimed run, then the fastest of REPS; GFLOP/s =
 * 2 n in out / t. The bf16 time includes rounding x to bf16 (as the backend
 * calls it); the packing of W is done once, outside. Threads: the pool's
 * ($PURBO_THREADS). The machine should be otherwise idle. Exits 1 when the
 * CPU lacks AVX-512 BF16.
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/common.h"
#include "base/rng.h"
#include "kernels/gemm_bf16.h"
#include "kernels/ops.h"
#include "kernels/pool.h"

#define REPS 30

static double best_of(int bf16, float *y, const float *x, const float *w, const bf16_matrix *m, int n, int in,
                      int out, void *scratch)
{
    double best = 1e30;
    for (int r = 0; r <= REPS; r++) {
        double t = pb_now();
        if (bf16) gemm_bf16_par(y, x, m, n, scratch);
        else cpu_matmul_par(y, x, w, n, in, out);
        t = pb_now() - t;
        if (r > 0 && t < best) best = t;
    }
    return best;
}

int main(int argc, char **argv)
{
    if (!gemm_bf16_usable()) {
        fprintf(stderr, "gemm_bf16: this CPU lacks AVX-512 BF16\n");
        return 1;
    }
    int ns[16] = {256, 512}, nn = 2;
    if (argc > 1) {
        nn = 0;
        for (char *p = argv[1]; *p && nn < 16;) {
            ns[nn++] = (int)strtol(p, &p, 10);
            if (*p == ',') p++;
        }
    }
    static const int shapes[][2] = {{640, 1024}, {640, 256}, {1024, 640}, {640, 2048}, {2048, 640}};
    pb_rng rng = {1};
    printf("threads %d, fastest of %d\n%5s %5s %5s  %10s  %10s  %6s\n", cpu_pool_threads(), REPS, "n", "in", "out",
           "bf16 GF/s", "f32 GF/s", "ratio");
    for (int q = 0; q < nn; q++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int n = ns[q], in = shapes[s][0], out = shapes[s][1];
            float *x = pb_malloc((size_t)n * in * sizeof(float)), *w = pb_malloc((size_t)out * in * sizeof(float));
            float *y = pb_malloc((size_t)n * out * sizeof(float));
            for (long i = 0; i < (long)n * in; i++) x[i] = (float)(rng_unit(&rng) - 0.5);
            for (long i = 0; i < (long)out * in; i++) w[i] = (float)(rng_unit(&rng) - 0.5);
            bf16_matrix m;
            gemm_bf16_pack(&m, w, out, in);
            void *scratch = pb_malloc(gemm_bf16_scratch_bytes(n, in));
            const double fl = 2.0 * n * in * out;
            double tb = best_of(1, y, x, w, &m, n, in, out, scratch), tf = best_of(0, y, x, w, &m, n, in, out, NULL);
            printf("%5d %5d %5d  %10.1f  %10.1f  %5.2fx\n", n, in, out, fl / tb * 1e-9, fl / tf * 1e-9, tf / tb);
            gemm_bf16_free(&m);
            free(scratch);
            free(x);
            free(w);
            free(y);
        }
    return 0;
}
