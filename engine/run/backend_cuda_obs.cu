/* backend_cuda_obs.cu — the CUDA backend's attention observers
 * (backend_cuda_obs.h): rows of the dense heads by attn_probs_cuda, two
 * device and pinned host buffers alternating so that one sub-block computes
 * and downloads while the observer reads the other.
 */
#include "run/backend_cuda_obs.h"

#include <math.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "kernels/attn_probs.h"
#include "kernels/cuda/cuda_check.h"

struct cuda_obs {
    float *rows_d[2];       /* two device sub-block buffers ... */
    float *rows_h[2];       /* ... and their pinned host copies, (n_head, ATTN_QBLOCK, kv_end) each */
    size_t cap;             /* floats each of the four holds */
    cudaEvent_t ev[2];      /* a sub-block's copy has landed */
};

/* Room for two sub-blocks of `n` floats, on the device and pinned on the host. */
static void rows_grow(cuda_obs *s, size_t n)
{
    if (n <= s->cap) return;
    for (int i = 0; i < 2; i++) {
        if (s->rows_d[i]) CUDA_CHECK(cudaFree(s->rows_d[i]));
        if (s->rows_h[i]) CUDA_CHECK(cudaFreeHost(s->rows_h[i]));
        CUDA_CHECK(cudaMalloc(&s->rows_d[i], n * sizeof(float)));
        CUDA_CHECK(cudaMallocHost(&s->rows_h[i], n * sizeof(float)));
        if (!s->ev[i]) CUDA_CHECK(cudaEventCreateWithFlags(&s->ev[i], cudaEventDisableTiming));
    }
    s->cap = n;
}

void cuda_obs_free(cuda_obs *s)
{
    if (!s) return;
    for (int i = 0; i < 2; i++) {
        if (s->rows_d[i]) CUDA_CHECK(cudaFree(s->rows_d[i]));
        if (s->rows_h[i]) CUDA_CHECK(cudaFreeHost(s->rows_h[i]));
        if (s->ev[i]) CUDA_CHECK(cudaEventDestroy(s->ev[i]));
    }
    free(s);
}

/* Sub-block k of call a (ATTN_QBLOCK queries from q0 = k * ATTN_QBLOCK):
 * its rows (n_head, nb, kv_end) computed into slot `slot` and copied to the
 * host, the slot's event recorded after the copy. */
static void rows_issue(cuda_obs *s, const model_config *c, const bk_attn *a, const uint16_t *kc, int k, int slot,
                       cudaStream_t stream)
{
    const int H = c->n_head, d = c->head_dim, q0 = k * ATTN_QBLOCK;
    const int nb = a->n - q0 < ATTN_QBLOCK ? a->n - q0 : ATTN_QBLOCK, kv_end = a->pos0 + q0 + nb;
    const size_t n = (size_t)H * nb * kv_end;
    CUDA_CHECK((cudaError_t)attn_probs_cuda(s->rows_d[slot], kv_end, a->q + (size_t)q0 * H * d, kc, nb, a->pos0 + q0,
                                            H, c->n_head_kv, d, a->window, stream));
    CUDA_CHECK(cudaMemcpyAsync(s->rows_h[slot], s->rows_d[slot], n * sizeof(float), cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaEventRecord(s->ev[slot], stream));
}

/* Hands the rows of heads (n_head, nb, kv_end) of one sub-block to the
 * observer, head by head, or on up to OBS_THREADS threads at once when it
 * takes heads in parallel (attention.h, parallel_heads). */
enum { OBS_THREADS = 16 };

typedef struct {
    const attn_observer *obs;
    attn_call call;         /* the sub-block's call; head and kv_head set per head */
    const float *rows;
    int n_head, group, next;  /* next: the next head to hand over (atomic) */
} obs_job;

static void *obs_worker(void *arg)
{
    obs_job *j = (obs_job *)arg;
    for (int h; (h = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < j->n_head;) {
        attn_call c = j->call;
        c.head = h;
        c.kv_head = h / j->group;
        j->obs->on_rows(j->obs->user, &c, j->rows + (size_t)h * c.n_q * c.n_kv, c.n_kv);
    }
    return NULL;
}

static void observe_heads(obs_job *j)
{
    static int n_cpu;
    if (!n_cpu) n_cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) > 0 ? (int)sysconf(_SC_NPROCESSORS_ONLN) : 1;
    int nt = j->obs->parallel_heads ? j->n_head : 1;
    if (nt > n_cpu) nt = n_cpu;
    if (nt > OBS_THREADS) nt = OBS_THREADS;
    pthread_t th[OBS_THREADS];
    int started[OBS_THREADS] = {0};
    for (int i = 1; i < nt; i++) started[i] = pthread_create(&th[i], NULL, obs_worker, j) == 0;
    obs_worker(j);  /* this thread too; a thread not started leaves its heads to the others */
    for (int i = 1; i < nt; i++)
        if (started[i]) pthread_join(th[i], NULL);
}

void cuda_obs_rows(cuda_obs **st, const model_config *c, const bk_attn *a, const uint16_t *kc, int n_ctx,
                   cudaStream_t stream)
{
    const int H = c->n_head, d = c->head_dim, nblk = (a->n + ATTN_QBLOCK - 1) / ATTN_QBLOCK;
    for (int h = 0; h < H; h++)
        PB_CHECK(a->policy[h]->desc.kind == ATTN_DENSE,
                 "layer %d head %d: the CUDA backend shows attention rows of dense heads only (policy '%s'; "
                 "use --backend cpu)", a->layer, h, a->policy[h]->name);
    int *want = (int *)pb_malloc((size_t)nblk * sizeof *want), nw = 0;
    for (int k = 0; k < nblk; k++) {
        const int q0 = k * ATTN_QBLOCK, nb = a->n - q0 < ATTN_QBLOCK ? a->n - q0 : ATTN_QBLOCK;
        if (!a->obs->want_rows || a->obs->want_rows(a->obs->user, a->layer, a->pos0 + q0, nb)) want[nw++] = k;
    }
    if (!nw) {
        free(want);
        return;
    }
    if (!*st) *st = (cuda_obs *)pb_calloc(1, sizeof **st);
    cuda_obs *s = *st;
    rows_grow(s, (size_t)H * ATTN_QBLOCK * n_ctx);
    rows_issue(s, c, a, kc, want[0], 0, stream);
    for (int w = 0; w < nw; w++) {
        const int k = want[w];
        if (w + 1 < nw) rows_issue(s, c, a, kc, want[w + 1], (w + 1) % 2, stream);
        CUDA_CHECK(cudaEventSynchronize(s->ev[w % 2]));
        const int q0 = k * ATTN_QBLOCK, nb = a->n - q0 < ATTN_QBLOCK ? a->n - q0 : ATTN_QBLOCK;
        obs_job j;
        memset(&j, 0, sizeof j);
        j.obs = a->obs;
        j.call.layer = a->layer;
        j.call.d = d;
        j.call.q_pos0 = a->pos0 + q0;
        j.call.n_q = nb;
        j.call.n_kv = a->pos0 + q0 + nb;
        j.call.window = a->window;
        j.call.scale = 1.0f / sqrtf((float)d);
        j.rows = s->rows_h[w % 2];
        j.n_head = H;
        j.group = H / c->n_head_kv;
        observe_heads(&j);
    }
    free(want);
}

