/* ops_par.c — the forward pass operations of ops.c split over the CPU pool
 * (kernels/pool.h), for the CPU backend. Each splits only what is computed
 * independently: a matrix product by output columns (each part one BLAS
 * call on one thread: OpenBLAS's one-thread sgemm gives every output the
 * same sum whatever the columns around it, checked on both models' logits),
 * rows of a norm, tokens of RoPE, elements of the gated activations. So
 * results do not depend on the thread count. Small element-wise operations
 * run unsplit.
 */
#include "kernels/ops.h"

#include <cblas.h>

#include "kernels/pool.h"

/* Below this many multiply-adds or elements an operation stays on one thread. */
#define PAR_MIN_WORK (1L << 16)

typedef struct {
    float *y;
    const float *x, *w, *u, *nw;
    int n, in, out, cols;       /* matmul: columns per task */
    long len, per;              /* element-wise: elements, per task */
    int dim, rows, heads, d, pos0, style;
    float eps, base;
} par_job;

static void matmul_task(void *arg, int i, int thread)
{
    (void)thread;
    const par_job *j = arg;
    int o0 = i * j->cols, no = j->out - o0 < j->cols ? j->out - o0 : j->cols;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->n, no, j->in, 1.0f, j->x, j->in, j->w + (long)o0 * j->in,
                j->in, 0.0f, j->y + o0, j->out);
}

void cpu_matmul_par(float *y, const float *x, const float *w, int n, int in, int out)
{
    const int T = cpu_pool_threads();
    if (n == 1) {
        cpu_matmul(y, x, w, n, in, out);
        return;
    }
    /* 2 tasks a thread, columns in multiples of 64 */
    int cols = (out + 2 * T - 1) / (2 * T);
    cols = (cols + 63) / 64 * 64;
    par_job j = {.y = y, .x = x, .w = w, .n = n, .in = in, .out = out, .cols = cols};
    int blas = openblas_get_num_threads();
    openblas_set_num_threads(1);
    cpu_pool_for((out + cols - 1) / cols, matmul_task, &j);
    openblas_set_num_threads(blas);
}

static void rms_task(void *arg, int i, int thread)
{
    (void)thread;
    const par_job *j = arg;
    int r0 = i * j->rows, nr = j->n - r0 < j->rows ? j->n - r0 : j->rows;
    cpu_rmsnorm(j->y + (long)r0 * j->dim, j->x + (long)r0 * j->dim, j->nw, nr, j->dim, j->eps);
}

void cpu_rmsnorm_par(float *y, const float *x, const float *w, int n, int dim, float eps)
{
    const int T = cpu_pool_threads();
    if (T == 1 || (long)n * dim < PAR_MIN_WORK) {
        cpu_rmsnorm(y, x, w, n, dim, eps);
        return;
    }
    int rows = (n + 4 * T - 1) / (4 * T);
    par_job j = {.y = y, .x = x, .nw = w, .n = n, .dim = dim, .rows = rows, .eps = eps};
    cpu_pool_for((n + rows - 1) / rows, rms_task, &j);
}

static void rope_task(void *arg, int i, int thread)
{
    (void)thread;
    const par_job *j = arg;
    int t0 = i * j->rows, nt = j->n - t0 < j->rows ? j->n - t0 : j->rows;
    float *x = j->y + (long)t0 * j->heads * j->d;
    if (j->style) cpu_rope_neox(x, nt, j->heads, j->d, j->pos0 + t0, j->base);
    else cpu_rope(x, nt, j->heads, j->d, j->pos0 + t0, j->base);
}

void cpu_rope_par(float *x, int n, int n_heads, int d, int pos0, float base, int neox)
{
    const int T = cpu_pool_threads();
    par_job j = {.y = x, .n = n, .heads = n_heads, .d = d, .pos0 = pos0, .base = base, .style = neox};
    if (T == 1 || (long)n * n_heads * d < PAR_MIN_WORK) {
        j.rows = n;
        rope_task(&j, 0, 0);
        return;
    }
    j.rows = (n + 4 * T - 1) / (4 * T);
    cpu_pool_for((n + j.rows - 1) / j.rows, rope_task, &j);
}

static void geglu_task(void *arg, int i, int thread)
{
    (void)thread;
    const par_job *j = arg;
    long e0 = (long)i * j->per, ne = j->len - e0 < j->per ? j->len - e0 : j->per;
    if (j->style) cpu_geglu(j->y + e0, j->u + e0, ne);
    else cpu_swiglu(j->y + e0, j->u + e0, ne);
}

void cpu_gated_par(float *g, const float *u, long n, int gelu)
{
    const int T = cpu_pool_threads();
    par_job j = {.y = g, .u = u, .len = n, .per = n, .style = gelu};
    if (T == 1 || n < PAR_MIN_WORK) {
        geglu_task(&j, 0, 0);
        return;
    }
    j.per = (n + 4 * T - 1) / (4 * T);
    cpu_pool_for((int)((n + j.per - 1) / j.per), geglu_task, &j);
}
