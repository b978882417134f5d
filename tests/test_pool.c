/* test_pool.c — the CPU worker pool (kernels/pool.h): every task of a loop
 * runs exactly once with a thread slot in range, loops follow each other
 * without losing or repeating tasks, and a loop started inside a task runs
 * on that thread alone, with its slot.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "kernels/pool.h"
#include "tests/test.h"

typedef struct {
    atomic_int *hits;       /* [n] */
    atomic_int bad_slot;
    atomic_int inner_bad;   /* a nested loop that ran a task on another slot */
    int threads, nested;
} pool_ctx;

static void inner_task(void *arg, int i, int thread)
{
    (void)i;
    pool_ctx *c = arg;
    if (thread != c->nested) atomic_fetch_add(&c->inner_bad, 1);     /* nested holds the outer slot */
}

static void count_task(void *arg, int i, int thread)
{
    pool_ctx *c = arg;
    atomic_fetch_add(&c->hits[i], 1);
    if (thread < 0 || thread >= c->threads) atomic_fetch_add(&c->bad_slot, 1);
    if (c->nested) {
        pool_ctx inner = {.threads = c->threads, .nested = thread};
        cpu_pool_for(3, inner_task, &inner);
        if (atomic_load(&inner.inner_bad)) atomic_fetch_add(&c->inner_bad, 1);
    }
}

TEST(pool_runs_every_task_once)
{
    const int T = cpu_pool_threads();
    CHECK(T >= 1 && T <= POOL_MAX_THREADS);
    const int sizes[] = {1, 2, 3, 7, 64, 1000};
    for (int round = 0; round < 200; round++) {
        int n = sizes[round % 6];
        pool_ctx c = {.hits = calloc((size_t)n, sizeof(atomic_int)), .threads = T, .nested = round % 5 == 0};
        cpu_pool_for(n, count_task, &c);
        int once = 1;
        for (int i = 0; i < n; i++) once &= atomic_load(&c.hits[i]) == 1;
        free(c.hits);
        CHECK_MSG(once, "round %d: a task of %d ran other than once", round, n);
        CHECK(atomic_load(&c.bad_slot) == 0);
        CHECK(atomic_load(&c.inner_bad) == 0);
    }
}
