/* cupti.h — kernel timing through CUPTI's Activity API.
 *
 * cupti_begin .. cupti_end brackets a region (one case): every kernel the
 * process launches in between is recorded by CUPTI (activity kind
 * CONCURRENT_KERNEL, records CUpti_ActivityKernel10 in CUDA 13) with its
 * name, launch shape, resources and GPU start/end timestamps. cupti_store
 * writes them into the kernel_timings table (results/schema.sql) inside the
 * caller's case transaction.
 *
 * CUPTI is loaded with dlopen at the first cupti_begin (the library beside
 * the binary first, then the CUDA install), so the binary runs where it is
 * missing: cupti_begin then returns 0 with one line saying why, and the
 * caller goes on without kernel timings (fails soft). Regions do not nest;
 * one at a time per process.
 */
#ifndef PURBO_CUPTI_H
#define PURBO_CUPTI_H

#include <stddef.h>
#include <stdint.h>

#include "results/db.h"

typedef struct {
    char *name;             /* demangled ("rmsnorm_kernel(...)"), or the raw name if it is not C++ */
    char *mangled;          /* as CUPTI reports it */
    int grid[3], block[3];
    int registers;          /* per thread */
    int static_smem, dynamic_smem;  /* bytes per block */
    uint64_t start_ns, end_ns;      /* GPU timestamps (CUPTI clock, ns) */
    uint32_t device_id, stream_id, correlation_id;
} cupti_kernel;

/* Starts recording. 1 on success; 0 with a one-line reason in why (CUPTI
 * missing, refused, or no device). */
int cupti_begin(char *why, size_t why_len);
/* Waits for the device, flushes CUPTI's buffers and stops recording.
 * Returns the region's kernels sorted by start time (*n of them; NULL when
 * none), to be freed with cupti_kernels_free. *dropped gets the records
 * CUPTI reports lost (may be NULL). */
cupti_kernel *cupti_end(int *n, size_t *dropped);
void cupti_kernels_free(cupti_kernel *k, int n);

/* The CUPTI library, dlopen'ed once (beside the binary first, then the CUDA
 * install), for the Activity API here and the Range Profiler of counters.h:
 * the handle, or NULL and a one-line reason in why. */
void *cupti_library(char *why, size_t why_len);

/* Inserts the kernels as kernel_timings rows of run_id; bench_id is the
 * bench row of the case (0: none). Call inside db_case_begin/commit. */
void cupti_store(pb_db *db, int64_t run_id, int64_t bench_id, const char *case_name, const cupti_kernel *k,
                 int n);

#endif
