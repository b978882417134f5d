/* pool.h — one process-wide pool of CPU worker threads for the CPU
 * kernels: a loop of n independent tasks runs over the pool's threads and
 * the caller, and returns when all n are done.
 *
 * Invariants: tasks must not depend on each other or on which thread runs
 * them (each writes its own outputs: split a product by output rows, never a
 * sum), so a result is the same whatever the thread count. The workers are
 * started once (first use) and kept; between loops they spin a little, then
 * sleep. A loop started from inside a task runs on that thread alone, with
 * its slot. A loop started by another thread while one runs also runs on
 * its thread alone, as slot 0: callers with per-thread scratch keep to one
 * calling thread (the engine does). $PURBO_THREADS sets the thread
 * count (default: the online CPUs, at most POOL_MAX_THREADS); 1 = no pool.
 */
#ifndef PURBO_POOL_H
#define PURBO_POOL_H

#define POOL_MAX_THREADS 16

/* The number of threads a loop uses (the caller included), >= 1. */
int cpu_pool_threads(void);

/* Runs fn(arg, i, thread) for every i in [0, n): thread (0 .. threads-1) is
 * the slot of the thread that runs task i (for per-thread scratch). */
void cpu_pool_for(int n, void (*fn)(void *arg, int i, int thread), void *arg);

#endif
