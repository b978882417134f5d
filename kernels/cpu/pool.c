/* pool.c — the CPU worker pool (pool.h).
 *
 * One job at a time. The job's state is one atomic word, generation << 32 |
 * next task index; its fields (fn, arg, n) sit in one of two slots chosen
 * by the generation's parity. A thread takes a task by a compare-and-swap
 * of the word that succeeds only while the generation is still the one it
 * read the fields for: a job's fields are rewritten two generations later,
 * after the word has moved on, so a slow worker that read stale fields can
 * never take a task with them. The caller takes tasks too, then waits only
 * for the tasks taken to finish (done == n), not for every worker to show
 * up: a worker that lost its CPU to another process costs nothing. Workers
 * spin (POOL_SPIN pauses) before sleeping on a condition variable; the
 * caller signals only when some worker sleeps (sleepers and the word are
 * sequentially consistent, so one of the two sides always sees the other).
 */
#include "kernels/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef __x86_64__
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define POOL_SPIN (1 << 11)

typedef void (*task_fn)(void *, int, int);

static struct {
    int threads;                        /* caller + workers */
    struct {
        _Atomic(task_fn) fn;
        _Atomic(void *) arg;
        atomic_int n;
    } slot[2];                          /* the job of generation g is slot[g & 1] */
    _Atomic uint64_t word;              /* generation << 32 | next task index */
    atomic_int done;                    /* tasks of the current job finished */
    atomic_int sleepers;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_mutex_t job;                /* one caller at a time */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .job = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static _Thread_local int in_task;       /* a worker, or a caller inside its own loop */
static _Thread_local int my_slot;       /* a worker's slot (callers: 0) */

/* Runs the tasks of generation g that are still free; fn, arg, n were read
 * for g (possibly stale: then the first claim fails). */
static void run_tasks(uint32_t g, task_fn fn, void *arg, int n, int thread)
{
    uint64_t w = atomic_load(&pool.word);
    for (;;) {
        if ((uint32_t)(w >> 32) != g || (int)(uint32_t)w >= n) return;
        if (!atomic_compare_exchange_weak(&pool.word, &w, w + 1)) continue;
        fn(arg, (int)(uint32_t)w, thread);
        atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
        w = atomic_load(&pool.word);
    }
}

static void *worker(void *p)
{
    const int thread = (int)(intptr_t)p;
    in_task = 1;
    my_slot = thread;
    uint32_t seen = 0;
    for (;;) {
        uint32_t g;
        int spins = 0;
        while ((g = (uint32_t)(atomic_load(&pool.word) >> 32)) == seen) {
            if (++spins < POOL_SPIN) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&pool.mu);
            atomic_fetch_add(&pool.sleepers, 1);
            while ((uint32_t)(atomic_load(&pool.word) >> 32) == seen) pthread_cond_wait(&pool.cv, &pool.mu);
            atomic_fetch_sub(&pool.sleepers, 1);
            pthread_mutex_unlock(&pool.mu);
            spins = 0;
        }
        seen = g;
        run_tasks(g, atomic_load(&pool.slot[g & 1].fn), atomic_load(&pool.slot[g & 1].arg),
                  atomic_load(&pool.slot[g & 1].n), thread);
    }
    return NULL;
}

/* A forked child has none of the workers: it runs every loop alone. */
static void pool_after_fork(void)
{
    pool.threads = 1;
    pthread_mutex_init(&pool.job, NULL);
    pthread_mutex_init(&pool.mu, NULL);
}

static void pool_start(void)
{
    pthread_atfork(NULL, NULL, pool_after_fork);
    int t = 0;
    const char *env = getenv("PURBO_THREADS");
    if (env && *env) t = atoi(env);
    if (t <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        t = c < 1 ? 1 : (int)c;
    }
    if (t > POOL_MAX_THREADS) t = POOL_MAX_THREADS;
    pool.threads = 1;
    for (int i = 1; i < t; i++) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &at, worker, (void *)(intptr_t)i) == 0) pool.threads++;
        pthread_attr_destroy(&at);
        if (pool.threads == i) break;   /* no thread to be had: fewer workers */
    }
}

int cpu_pool_threads(void)
{
    pthread_once(&pool_once, pool_start);
    return pool.threads;
}

void cpu_pool_for(int n, void (*fn)(void *arg, int i, int thread), void *arg)
{
    if (n <= 0) return;
    if (n == 1 || in_task || cpu_pool_threads() == 1 || pthread_mutex_trylock(&pool.job) != 0) {
        int was = in_task;
        in_task = 1;    /* loops inside these tasks stay on this thread too */
        for (int i = 0; i < n; i++) fn(arg, i, my_slot);
        in_task = was;
        return;
    }
    const uint32_t g = (uint32_t)(atomic_load(&pool.word) >> 32) + 1;
    atomic_store(&pool.slot[g & 1].fn, fn);
    atomic_store(&pool.slot[g & 1].arg, arg);
    atomic_store(&pool.slot[g & 1].n, n);
    atomic_store(&pool.done, 0);
    atomic_store(&pool.word, (uint64_t)g << 32);    /* publishes the job */
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.mu);
        pthread_cond_broadcast(&pool.cv);
        pthread_mutex_unlock(&pool.mu);
    }
    in_task = 1;
    run_tasks(g, fn, arg, n, 0);
    in_task = 0;
    for (int spins = 0; atomic_load_explicit(&pool.done, memory_order_acquire) < n;)
        if (++spins < POOL_SPIN) cpu_relax();
        else sched_yield();     /* a worker holding a task lost its CPU: give it ours */
    pthread_mutex_unlock(&pool.job);
}
