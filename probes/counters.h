/* counters.h — hardware counters per kernel through CUPTI's Range Profiling
 * API (cupti_range_profiler.h + cupti_profiler_host.h, CUDA 13).
 *
 * hwc_open loads CUPTI (the library cupti.c finds), initialises the
 * profiler, reads the chip's name and counter availability, and checks each
 * metric of HWM_METRICS (probes/hw_metrics.h) on the chip alone: the ones it
 * lacks are named in hwc_missing and never asked for. hwc_collect runs a
 * function with every kernel it launches profiled: auto range (one range per
 * launch) and kernel replay (CUPTI reruns each kernel as many passes as the
 * configuration needs, saving and restoring the memory it writes), so the
 * function runs once and its results stand, only slower.
 *
 * Fails soft: no device, no CUPTI, no permission to read counters
 * (CUPTI_ERROR_INSUFFICIENT_PRIVILEGES), or none of the metrics on the chip
 * -> NULL / 0 and one line in why; the caller goes on without counters.
 * Not with the Activity API region of cupti.h open: one profiler at a time.
 * Implemented in counters.cu (the host header of CUPTI is C++).
 */
#ifndef PURBO_COUNTERS_H
#define PURBO_COUNTERS_H

#include <stddef.h>

#include "probes/hw_metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hwc hwc;

/* NULL and one line in why when counters cannot be read here. */
hwc *hwc_open(char *why, size_t why_len);
/* Loads CUPTI and initialises its profiler without touching CUDA (hwc_open
 * does it otherwise, after making the context current): for callers that
 * want it before the CUDA driver starts. 1, or 0 and why. */
int hwc_preinit(char *why, size_t why_len);
/* The chip ("GH100") and the space-separated metrics it lacks ("" if none). */
const char *hwc_chip(const hwc *h);
const char *hwc_missing(const hwc *h);
/* Replay passes per kernel of the configuration. */
int hwc_passes(const hwc *h);
/* Runs fn(arg) profiled, waits for the device, fills out (metrics the chip
 * lacks NaN). max_ranges: the launches to make room for (<= 0: the most,
 * 16384; launches past it are dropped and counted). 1, or 0 and why (out
 * empty); after a failure h stays usable for hwc_close only. */
int hwc_collect(hwc *h, int max_ranges, void (*fn)(void *), void *arg, hwm_ranges *out, char *why, size_t why_len);
void hwc_close(hwc *h);

#ifdef __cplusplus
}
#endif

#endif
