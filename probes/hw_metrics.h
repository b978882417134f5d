/* hw_metrics.h — hardware counters per kernel and the roofline built on them.
 *
 * HWM_METRICS is the list of counters asked of the chip, in a fixed order
 * (index = HWM_* below): time, DRAM bytes, SM / tensor / FMA pipe activity,
 * the op counters that give FLOPs, L2 hit rate, achieved occupancy. A chip
 * may lack some; the collector (probes/counters.h) checks each and reads only
 * what the chip has, so every value slot may be NaN (not measured).
 *
 * hwm_ranges is what one collection returns: one range per kernel launch (auto
 * range), in launch order, with a value per metric. hwm_store writes the
 * measured values (never the NaN ones) into hw_metrics (migration 7) inside
 * the caller's case transaction; hwm_store_ceilings writes the card's two
 * measured ceilings into hw_ceilings.
 *
 * The roofline of a run (hwm_roofline): one point per kernel of a case,
 * its launches' time, FLOP and bytes summed, where per launch
 *   flop      = tensor ops (bf16 and fp16 sources, f32 accumulate, as counted by
 *               sm__ops_path_tensor_*: 2 per multiply-add) + 2 ffma + fadd + fmul
 *               (thread-level FP32 instructions);
 *   bytes     = DRAM bytes read + written;
 *   intensity = flop / bytes (FLOP per DRAM byte), achieved = flop / time;
 *   bound     = "memory" when intensity < peak_flop / peak_bw (the ridge),
 *               else "compute"; pct = the achieved rate of the bounding resource
 *               over its ceiling: bytes/time over the copy bandwidth (memory),
 *               achieved over the bf16 GEMM rate (compute).
 * and the rates are those of the sums. A launch without time or bytes is
 * left out; flop 0 (no FP op counters) keeps the point with intensity 0 (the
 * table shows it, the log plot cannot).
 */
#ifndef PURBO_HW_METRICS_H
#define PURBO_HW_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "results/db.h"

enum {
    HWM_TIME_NS,      /* gpu__time_duration.sum (ns, the profiled pass) */
    HWM_DRAM_READ,    /* dram__bytes_read.sum */
    HWM_DRAM_WRITE,   /* dram__bytes_write.sum */
    HWM_SM_PCT,       /* sm__throughput.avg.pct_of_peak_sustained_elapsed */
    HWM_TENSOR_PCT,   /* sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_elapsed */
    HWM_FMA_PCT,      /* sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_elapsed */
    HWM_OPS_BF16,     /* sm__ops_path_tensor_src_bf16_dst_fp32.sum */
    HWM_OPS_FP16,     /* sm__ops_path_tensor_src_fp16_dst_fp32.sum */
    HWM_FFMA,         /* smsp__sass_thread_inst_executed_op_ffma_pred_on.sum */
    HWM_FADD,         /* smsp__sass_thread_inst_executed_op_fadd_pred_on.sum */
    HWM_FMUL,         /* smsp__sass_thread_inst_executed_op_fmul_pred_on.sum */
    HWM_L2_HIT_PCT,   /* lts__t_sector_hit_rate.pct */
    HWM_OCCUPANCY,    /* sm__warps_active.avg.pct_of_peak_sustained_active */
    HWM_N
};
extern const char *const HWM_METRICS[HWM_N];

/* One collection: n_range kernel launches x HWM_N metrics. */
typedef struct {
    int n_range;
    char **range;     /* [n_range] range names as the profiler gives them (malloc'd) */
    double *value;    /* [n_range * HWM_N], row-major; NaN: not measured */
    int passes;       /* replay passes per kernel the configuration needs */
    size_t dropped;   /* ranges the profiler could not hold */
} hwm_ranges;

void hwm_ranges_free(hwm_ranges *r);

/* Writes r's measured values as hw_metrics rows of run (bench_id 0: none),
 * case case_name, seq = the range's index; the kernel's name is names[seq]
 * when names has exactly r->n_range entries (the same region's kernel
 * timings, launch order), else the range's own name. Call inside
 * db_case_begin/commit. Returns the rows written. */
int hwm_store(pb_db *db, int64_t run, int64_t bench_id, const char *case_name, const hwm_ranges *r,
              const char *const *names, int n_names);

/* The card's ceilings of a run. */
typedef struct {
    double bw;        /* bytes / s: a device-to-device copy (read + written) */
    double flops;     /* FLOP / s: a bf16 GEMM, f32 accumulate (2 n^3 per product) */
    double copy_bytes;/* bytes copied per launch */
    int gemm_n;       /* n of the n x n x n GEMM */
} hwm_ceilings;

/* Inserts (or replaces) run's two ceilings in hw_ceilings ('dram_bw' in
 * bytes/s, 'bf16_gemm' in FLOP/s, detail naming the workload). Opens its
 * own transaction. */
void hwm_store_ceilings(pb_db *db, int64_t run, const hwm_ceilings *c);
/* Reads run's ceilings: 1, or 0 when the run has none. */
int hwm_load_ceilings(pb_db *db, int64_t run, hwm_ceilings *c);

/* One kernel of one case on the roofline: its launches summed (time, FLOP,
 * bytes), the rates from the sums. */
typedef struct {
    char case_name[160];
    char kernel[100];   /* hwm_kernel_short of the stored name (cut to 99 bytes) */
    int seq;            /* the first launch's */
    int launches;
    double time_s, flop, bytes, intensity, flop_s, bw;  /* bw: bytes / s achieved */
    int memory_bound;   /* intensity below the ridge */
    double pct;         /* of the bounding ceiling, 0..100+ */
} hwm_point;

/* Computes one launch's point from its metric values v[HWM_N] (NaN:
 * missing) and the ceilings. 1, or 0 when time or DRAM bytes are missing or
 * zero. */
int hwm_point_eval(const double *v, const hwm_ceilings *c, hwm_point *p);
/* The rates, bound and pct of p from its time_s, flop and bytes. */
void hwm_point_finish(hwm_point *p, const hwm_ceilings *c);
/* A kernel's name for tables and plot keys: "void " and a leading
 * "(anonymous namespace)::" dropped, cut at the first '(' or '<', spaces
 * and quotes made '_'. */
void hwm_kernel_short(char *out, size_t n, const char *name);

/* Every kernel of every case of run with counters, as points (cases in the
 * order stored, kernels by first launch); *n of them, malloc'd (NULL when
 * none). Needs the run's ceilings: without them returns NULL with *n = -1. */
hwm_point *hwm_roofline(pb_db *db, int64_t run, int *n);

/* The table of % of ceiling: one line per point, kernel names cut to
 * width 48, with a header naming the two ceilings. */
void hwm_print(FILE *f, const hwm_point *p, int n, const hwm_ceilings *c);

#endif
