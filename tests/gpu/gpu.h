/* gpu.h — what the GPU tests share: the two backends over the bundled model
 * (opened once), a seed drawn per run (printed, so a failure can be
 * replayed with PURBO_SEED), random inputs, NaN poisoning and the error
 * measures the tolerances are stated in.
 *
 * These tests run on a machine with a CUDA device (build/purbo-gpu-test, or
 * the device bundle's copy); without one every test fails with the reason.
 */
#ifndef PURBO_TESTS_GPU_H
#define PURBO_TESTS_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "run/backend.h"
#include "base/rng.h"

/* The CPU and CUDA backends (NULL cuda: gpu_why() says why). */
backend *gpu_cpu(void);
backend *gpu_cuda(void);
const char *gpu_why(void);
/* The same two over Gemma-3-270M (fixture_gemma), opened at the first call;
 * gpu_gemma_cuda records a test failure naming the reason when it is NULL. */
backend *gpu_gemma_cpu(void);
backend *gpu_gemma_cuda(void);
/* The generator of this run, seeded once (time, or $PURBO_SEED). */
pb_rng *gpu_rng(void);

/* x[i] uniform in [lo, hi). */
void gpu_fill(float *x, size_t n, float lo, float hi);
/* x[i] = bf16 of a value uniform in [-amp, amp). */
void gpu_fill_bf16(uint16_t *x, size_t n, float amp);
/* Rounds each value to the nearest bf16 (inputs both backends see exactly). */
void gpu_round_bf16(float *x, size_t n);
/* Fills `bytes` of backend buffer p with 0xff bytes: NaN as f32 and as bf16. */
void gpu_poison(backend *b, void *p, size_t bytes);

typedef struct {
    double rel_l2;     /* ||out - ref|| / ||ref|| */
    double max_abs;    /* max |out - ref| */
    size_t n_bad;      /* non-finite outputs */
} gpu_err;
gpu_err gpu_compare(const float *out, const float *ref, size_t n);

#endif
