/* counters.cu — hardware counters per kernel through CUPTI's Range Profiler
 * (counters.h). Host code only; a .cu file because CUPTI's host header
 * (cupti_profiler_host.h) includes <string> and so compiles as C++ only.
 *
 * Open: dlopen (cupti_library) and resolve every entry point, then
 * cuptiProfilerInitialize, the chip name of device 0, the counter
 * availability image of the current context (the first call that needs the
 * privilege to read counters), one host object, the chip's base metrics
 * from it (a metric is on the chip when its base, the name before the
 * rollup, is listed), and the configuration image of the metrics it has,
 * with its pass count.
 * Collect: enable the range profiler on the context, size and initialise a
 * counter data image for HWC_MAX_RANGES ranges, set the configuration (auto
 * range, kernel replay, one nesting level), start, run the function, wait,
 * stop, decode, then evaluate every range's metrics on the host object;
 * disable. Each collect is independent; the profiler stays initialised
 * until hwc_close.
 *
 * Every call is checked: in hwc_open a failure is the soft one-line reason;
 * in hwc_collect too (the run goes on without counters), since a kernel the
 * profiler refuses to replay must not end the run.
 */
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <cupti_profiler_host.h>
#include <cupti_profiler_target.h>
#include <cupti_range_profiler.h>
#include <cupti_result.h>
#include <cupti_target.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "base/common.h"
#include "probes/counters.h"
#include "probes/cupti.h"
}

/* Launches one collection can hold at most: a prefill and a few decode
 * steps of the forward pass; more are dropped (hwm_ranges.dropped counts
 * them). A collect asks for fewer when it knows its launch count: the
 * counter data image, its initialisation and its decoding grow with it. */
#define HWC_MAX_RANGES 16384

#define HWC_API(X)                                                                                          \
    X(cuptiGetResultString) X(cuptiProfilerInitialize) X(cuptiProfilerDeInitialize) X(cuptiDeviceGetChipName) \
    X(cuptiProfilerGetCounterAvailability) X(cuptiProfilerHostInitialize) X(cuptiProfilerHostDeinitialize)   \
    X(cuptiProfilerHostConfigAddMetrics) X(cuptiProfilerHostGetConfigImageSize) X(cuptiProfilerHostGetBaseMetrics) \
    X(cuptiProfilerHostGetConfigImage) X(cuptiProfilerHostGetNumOfPasses)                                     \
    X(cuptiProfilerHostEvaluateToGpuValues) X(cuptiRangeProfilerEnable) X(cuptiRangeProfilerDisable)          \
    X(cuptiRangeProfilerGetCounterDataSize) X(cuptiRangeProfilerCounterDataImageInitialize)                  \
    X(cuptiRangeProfilerSetConfig) X(cuptiRangeProfilerStart) X(cuptiRangeProfilerStop)                       \
    X(cuptiRangeProfilerDecodeData) X(cuptiRangeProfilerGetCounterDataInfo)                                   \
    X(cuptiRangeProfilerCounterDataGetRangeInfo)

static struct {
    int loaded;
#define HWC_FIELD(f) decltype(&::f) p_##f;
    HWC_API(HWC_FIELD)
#undef HWC_FIELD
} P;

typedef CUresult (*ctx_get_current_fn)(CUcontext *);

struct hwc {
    char chip[64];
    char missing[1024];
    const char *names[HWM_N]; /* the metrics the chip has, in HWM order */
    int slot[HWM_N];          /* their HWM index */
    int n;
    CUpti_Profiler_Host_Object *host;
    uint8_t *avail;           /* the counter availability image: the host object keeps
                               * pointing into it, so it lives as long as host */
    uint8_t *config;
    size_t config_size;
    int passes;
    CUcontext ctx;
};

/* Each step names itself before it runs; with PURBO_COUNTERS_TRACE set it
 * also says so on stderr, so that a crash inside CUPTI shows where
 * (counters_run.c's check process runs with it set). */
static void step(const char *what)
{
    static int trace = -1;
    static double last;
    if (trace < 0) trace = getenv("PURBO_COUNTERS_TRACE") != NULL;
    if (!trace) return;
    double now = pb_now();
    if (last > 0) fprintf(stderr, "counters: (previous step %.3f s)\n", now - last);
    last = now;
    fprintf(stderr, "counters: step %s\n", what);
}

static const char *res_str(CUptiResult r)
{
    const char *s = NULL;
    if (P.p_cuptiGetResultString) P.p_cuptiGetResultString(r, &s);
    return s ? s : "unknown CUPTI error";
}

/* One line for a failing call; the privilege error gets its remedy. */
static int fail(char *why, size_t why_len, const char *call, CUptiResult r)
{
    if (r == CUPTI_ERROR_INSUFFICIENT_PRIVILEGES)
        snprintf(why, why_len, "no permission to read GPU counters (%s: %s; run as root or load nvidia with"
                 " NVreg_RestrictProfilingToAdminUsers=0)", call, res_str(r));
    else snprintf(why, why_len, "%s: %s", call, res_str(r));
    return 0;
}

#define TRY(call, ...)                                                                \
    do {                                                                              \
        step(#call);                                                                  \
        CUptiResult r_ = (call);                                                      \
        if (r_ != CUPTI_SUCCESS) { fail(why, why_len, #call, r_); __VA_ARGS__; }      \
    } while (0)

/* 1 when the library soname loads by name or from dir (CUPTI's own folder). */
static int found_beside(const char *soname, const char *dir)
{
    void *l = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!l && dir) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, soname);
        l = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    }
    return l != NULL; /* kept open: CUPTI loads it next */
}

static int load(char *why, size_t why_len)
{
    if (P.loaded) return 1;
    step("dlopen CUPTI");
    void *lib = cupti_library(why, why_len);
    if (!lib) return 0;
    /* the profiler's host and target halves live in libnvperf_*; CUPTI loads
     * them on first use and does not survive their absence everywhere */
    step("dlopen libnvperf_host.so, libnvperf_target.so");
    char dir[4096] = "";
    Dl_info info;
    void *sym = dlsym(lib, "cuptiGetResultString");
    if (sym && dladdr(sym, &info) && info.dli_fname) {
        snprintf(dir, sizeof dir, "%s", info.dli_fname);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else dir[0] = 0;
    }
    const char *need[2] = {"libnvperf_host.so", "libnvperf_target.so"};
    for (int i = 0; i < 2; i++)
        if (!found_beside(need[i], dir[0] ? dir : NULL)) {
            snprintf(why, why_len, "CUPTI's profiler needs %s (not found by name or in %s)", need[i],
                     dir[0] ? dir : "CUPTI's folder");
            return 0;
        }
    step("dlsym the profiler's entry points");
#define HWC_SYM(f)                                                                                \
    if (!(P.p_##f = (decltype(&::f))dlsym(lib, #f))) {                                                  \
        snprintf(why, why_len, "CUPTI unavailable: the library lacks %s (needs CUDA 13's)", #f); \
        return 0;                                                                                 \
    }
    HWC_API(HWC_SYM)
#undef HWC_SYM
    P.loaded = 1;
    return 1;
}

/* A host object for the chip; NULL on failure (why filled). */
static CUpti_Profiler_Host_Object *host_new(const char *chip, const uint8_t *avail, char *why, size_t why_len)
{
    CUpti_Profiler_Host_Initialize_Params p = {CUpti_Profiler_Host_Initialize_Params_STRUCT_SIZE};
    p.profilerType = CUPTI_PROFILER_TYPE_RANGE_PROFILER;
    p.pChipName = chip;
    p.pCounterAvailabilityImage = avail;
    TRY(P.p_cuptiProfilerHostInitialize(&p), return NULL);
    return p.pHostObject;
}

static void host_free(CUpti_Profiler_Host_Object *o)
{
    if (!o) return;
    CUpti_Profiler_Host_Deinitialize_Params p = {CUpti_Profiler_Host_Deinitialize_Params_STRUCT_SIZE};
    p.pHostObject = o;
    P.p_cuptiProfilerHostDeinitialize(&p);
}

static int add_metrics(CUpti_Profiler_Host_Object *o, const char **names, size_t n)
{
    CUpti_Profiler_Host_ConfigAddMetrics_Params p = {CUpti_Profiler_Host_ConfigAddMetrics_Params_STRUCT_SIZE};
    p.pHostObject = o;
    p.ppMetricNames = names;
    p.numMetrics = n;
    return P.p_cuptiProfilerHostConfigAddMetrics(&p) == CUPTI_SUCCESS;
}

static int current_ctx(CUcontext *ctx, char *why, size_t why_len)
{
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0 || cudaSetDevice(0) != cudaSuccess ||
        cudaFree(0) != cudaSuccess) {
        cudaGetLastError();
        snprintf(why, why_len, "no CUDA device");
        return 0;
    }
    void *drv = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    ctx_get_current_fn get = drv ? (ctx_get_current_fn)dlsym(drv, "cuCtxGetCurrent") : NULL;
    if (!get || get(ctx) != CUDA_SUCCESS || !*ctx) {
        snprintf(why, why_len, "no current CUDA context (libcuda.so.1: cuCtxGetCurrent)");
        return 0;
    }
    return 1;
}

static int initialised; /* cuptiProfilerInitialize succeeded */

extern "C" int hwc_preinit(char *why, size_t why_len)
{
    if (initialised) return 1;
    if (!load(why, why_len)) return 0;
    CUpti_Profiler_Initialize_Params ip = {CUpti_Profiler_Initialize_Params_STRUCT_SIZE};
    TRY(P.p_cuptiProfilerInitialize(&ip), return 0);
    initialised = 1;
    return 1;
}

extern "C" hwc *hwc_open(char *why, size_t why_len)
{
    CUcontext ctx;
    step("CUDA context");
    if (!current_ctx(&ctx, why, why_len) || !hwc_preinit(why, why_len)) return NULL;
    int dev = 0;
    cudaGetDevice(&dev);
    CUpti_Device_GetChipName_Params cp = {CUpti_Device_GetChipName_Params_STRUCT_SIZE};
    cp.deviceIndex = (size_t)dev;
    TRY(P.p_cuptiDeviceGetChipName(&cp), return NULL);

    CUpti_Profiler_GetCounterAvailability_Params ap = {CUpti_Profiler_GetCounterAvailability_Params_STRUCT_SIZE};
    ap.ctx = ctx;
    TRY(P.p_cuptiProfilerGetCounterAvailability(&ap), return NULL);
    uint8_t *avail = (uint8_t *)pb_malloc(ap.counterAvailabilityImageSize);
    ap.pCounterAvailabilityImage = avail;
    TRY(P.p_cuptiProfilerGetCounterAvailability(&ap), free(avail); return NULL);

    hwc *h = (hwc *)pb_calloc(1, sizeof *h);
    h->ctx = ctx;
    h->avail = avail;
    snprintf(h->chip, sizeof h->chip, "%s", cp.pChipName ? cp.pChipName : "?");
    /* one host object, over an availability image that outlives it (freeing
     * the image before configuring crashed CUPTI 13.0 on an H200): which
     * metrics the chip has from its base-metric lists, then the
     * configuration of those */
    h->host = host_new(h->chip, avail, why, why_len);
    if (!h->host) {
        hwc_close(h);
        return NULL;
    }
    const char *const *base[CUPTI_METRIC_TYPE__COUNT];
    size_t n_base[CUPTI_METRIC_TYPE__COUNT];
    for (int t = 0; t < CUPTI_METRIC_TYPE__COUNT; t++) {
        CUpti_Profiler_Host_GetBaseMetrics_Params bp = {CUpti_Profiler_Host_GetBaseMetrics_Params_STRUCT_SIZE};
        bp.pHostObject = h->host;
        bp.metricType = (CUpti_MetricType)t;
        TRY(P.p_cuptiProfilerHostGetBaseMetrics(&bp), hwc_close(h); return NULL);
        base[t] = bp.ppMetricNames;
        n_base[t] = bp.numMetrics;
    }
    for (int i = 0; i < HWM_N; i++) {
        const char *name = HWM_METRICS[i];
        size_t l = strcspn(name, "."); /* the base metric: the name before its rollup */
        int has = 0;
        for (int t = 0; t < CUPTI_METRIC_TYPE__COUNT && !has; t++)
            for (size_t k = 0; k < n_base[t] && !has; k++)
                has = base[t][k] && strlen(base[t][k]) == l && !strncmp(base[t][k], name, l);
        if (has) {
            h->names[h->n] = name;
            h->slot[h->n++] = i;
        } else {
            size_t m = strlen(h->missing);
            snprintf(h->missing + m, sizeof h->missing - m, "%s%s", m ? " " : "", name);
        }
    }
    if (!h->n) {
        snprintf(why, why_len, "chip %s has none of the counters asked for", h->chip);
        hwc_close(h);
        return NULL;
    }
    step("cuptiProfilerHostConfigAddMetrics (the chip's metrics)");
    if (!add_metrics(h->host, h->names, (size_t)h->n)) {
        snprintf(why, why_len, "chip %s: the counters it has do not configure together", h->chip);
        hwc_close(h);
        return NULL;
    }
    CUpti_Profiler_Host_GetConfigImageSize_Params sp = {CUpti_Profiler_Host_GetConfigImageSize_Params_STRUCT_SIZE};
    sp.pHostObject = h->host;
    TRY(P.p_cuptiProfilerHostGetConfigImageSize(&sp), hwc_close(h); return NULL);
    h->config_size = sp.configImageSize;
    h->config = (uint8_t *)pb_malloc(h->config_size);
    CUpti_Profiler_Host_GetConfigImage_Params gp = {CUpti_Profiler_Host_GetConfigImage_Params_STRUCT_SIZE};
    gp.pHostObject = h->host;
    gp.configImageSize = h->config_size;
    gp.pConfigImage = h->config;
    TRY(P.p_cuptiProfilerHostGetConfigImage(&gp), hwc_close(h); return NULL);
    CUpti_Profiler_Host_GetNumOfPasses_Params np = {CUpti_Profiler_Host_GetNumOfPasses_Params_STRUCT_SIZE};
    np.configImageSize = h->config_size;
    np.pConfigImage = h->config;
    TRY(P.p_cuptiProfilerHostGetNumOfPasses(&np), hwc_close(h); return NULL);
    h->passes = (int)np.numOfPasses;
    return h;
}

extern "C" const char *hwc_chip(const hwc *h) { return h->chip; }
extern "C" const char *hwc_missing(const hwc *h) { return h->missing; }
extern "C" int hwc_passes(const hwc *h) { return h->passes; }

/* The profiled part of hwc_collect, between enable and disable. */
static int collect_enabled(hwc *h, CUpti_RangeProfiler_Object *obj, int max_ranges, void (*fn)(void *), void *arg,
                           hwm_ranges *out, char *why, size_t why_len)
{
    step("size the counter data image");
    CUpti_RangeProfiler_GetCounterDataSize_Params sp = {CUpti_RangeProfiler_GetCounterDataSize_Params_STRUCT_SIZE};
    sp.pRangeProfilerObject = obj;
    sp.pMetricNames = h->names;
    sp.numMetrics = (size_t)h->n;
    sp.maxNumOfRanges = (size_t)max_ranges;
    sp.maxNumRangeTreeNodes = (size_t)max_ranges;
    TRY(P.p_cuptiRangeProfilerGetCounterDataSize(&sp), return 0);
    size_t size = sp.counterDataSize;
    uint8_t *image = (uint8_t *)pb_calloc(1, size);
    CUpti_RangeProfiler_CounterDataImage_Initialize_Params ip = {
        CUpti_RangeProfiler_CounterDataImage_Initialize_Params_STRUCT_SIZE};
    ip.pRangeProfilerObject = obj;
    ip.counterDataSize = size;
    ip.pCounterData = image;
    step("initialise the counter data image");
    TRY(P.p_cuptiRangeProfilerCounterDataImageInitialize(&ip), free(image); return 0);

    CUpti_RangeProfiler_SetConfig_Params cp = {CUpti_RangeProfiler_SetConfig_Params_STRUCT_SIZE};
    cp.pRangeProfilerObject = obj;
    cp.configSize = h->config_size;
    cp.pConfig = h->config;
    cp.counterDataImageSize = size;
    cp.pCounterDataImage = image;
    cp.range = CUPTI_AutoRange;
    cp.replayMode = CUPTI_KernelReplay;
    cp.maxRangesPerPass = (size_t)max_ranges;
    cp.numNestingLevels = 1;
    cp.minNestingLevel = 1;
    cp.passIndex = 0;
    cp.targetNestingLevel = 1;
    step("set the configuration");
    TRY(P.p_cuptiRangeProfilerSetConfig(&cp), free(image); return 0);

    CUpti_RangeProfiler_Start_Params st = {CUpti_RangeProfiler_Start_Params_STRUCT_SIZE};
    st.pRangeProfilerObject = obj;
    TRY(P.p_cuptiRangeProfilerStart(&st), free(image); return 0);
    step("the profiled function");
    fn(arg);
    cudaError_t e = cudaDeviceSynchronize();
    PB_CHECK(e == cudaSuccess, "cudaDeviceSynchronize: %s", cudaGetErrorString(e));
    CUpti_RangeProfiler_Stop_Params sq = {CUpti_RangeProfiler_Stop_Params_STRUCT_SIZE};
    sq.pRangeProfilerObject = obj;
    step("stop");
    TRY(P.p_cuptiRangeProfilerStop(&sq), free(image); return 0);
    if (!sq.isAllPassSubmitted) { /* kernel replay submits every pass in the one run */
        snprintf(why, why_len, "the range profiler did not submit every replay pass");
        free(image);
        return 0;
    }
    CUpti_RangeProfiler_DecodeData_Params dp = {CUpti_RangeProfiler_DecodeData_Params_STRUCT_SIZE};
    dp.pRangeProfilerObject = obj;
    step("decode");
    TRY(P.p_cuptiRangeProfilerDecodeData(&dp), free(image); return 0);
    out->dropped = dp.numOfRangeDropped;

    CUpti_RangeProfiler_GetCounterDataInfo_Params gi = {CUpti_RangeProfiler_GetCounterDataInfo_Params_STRUCT_SIZE};
    gi.pCounterDataImage = image;
    gi.counterDataImageSize = size;
    TRY(P.p_cuptiRangeProfilerGetCounterDataInfo(&gi), free(image); return 0);
    int n = (int)gi.numTotalRanges;
    out->n_range = n;
    out->passes = h->passes;
    out->range = (char **)pb_calloc(n ? (size_t)n : 1, sizeof *out->range);
    out->value = (double *)pb_malloc((n ? (size_t)n : 1) * HWM_N * sizeof *out->value);
    double v[HWM_N];
    step("evaluate the ranges");
    for (int r = 0; r < n; r++) {
        CUpti_RangeProfiler_CounterData_GetRangeInfo_Params rp = {
            CUpti_RangeProfiler_CounterData_GetRangeInfo_Params_STRUCT_SIZE};
        rp.pCounterDataImage = image;
        rp.counterDataImageSize = size;
        rp.rangeIndex = (size_t)r;
        rp.rangeDelimiter = "/";
        const char *name = "?";
        if (P.p_cuptiRangeProfilerCounterDataGetRangeInfo(&rp) == CUPTI_SUCCESS && rp.rangeName) name = rp.rangeName;
        size_t l = strlen(name) + 1;
        out->range[r] = (char *)memcpy(pb_malloc(l), name, l);
        CUpti_Profiler_Host_EvaluateToGpuValues_Params ep = {
            CUpti_Profiler_Host_EvaluateToGpuValues_Params_STRUCT_SIZE};
        ep.pHostObject = h->host;
        ep.pCounterDataImage = image;
        ep.counterDataImageSize = size;
        ep.rangeIndex = (size_t)r;
        ep.ppMetricNames = h->names;
        ep.numMetrics = (size_t)h->n;
        ep.pMetricValues = v;
        double *row = out->value + (size_t)r * HWM_N;
        for (int i = 0; i < HWM_N; i++) row[i] = NAN;
        if (P.p_cuptiProfilerHostEvaluateToGpuValues(&ep) == CUPTI_SUCCESS)
            for (int i = 0; i < h->n; i++) row[h->slot[i]] = v[i];
    }
    free(image);
    step("done");
    return 1;
}

extern "C" int hwc_collect(hwc *h, int max_ranges, void (*fn)(void *), void *arg, hwm_ranges *out, char *why,
                           size_t why_len)
{
    memset(out, 0, sizeof *out);
    if (max_ranges <= 0 || max_ranges > HWC_MAX_RANGES) max_ranges = HWC_MAX_RANGES;
    cudaError_t e = cudaDeviceSynchronize();
    PB_CHECK(e == cudaSuccess, "cudaDeviceSynchronize: %s", cudaGetErrorString(e));
    CUpti_RangeProfiler_Enable_Params ep = {CUpti_RangeProfiler_Enable_Params_STRUCT_SIZE};
    ep.ctx = h->ctx;
    TRY(P.p_cuptiRangeProfilerEnable(&ep), return 0);
    int ok = collect_enabled(h, ep.pRangeProfilerObject, max_ranges, fn, arg, out, why, why_len);
    CUpti_RangeProfiler_Disable_Params dp = {CUpti_RangeProfiler_Disable_Params_STRUCT_SIZE};
    dp.pRangeProfilerObject = ep.pRangeProfilerObject;
    CUptiResult r = P.p_cuptiRangeProfilerDisable(&dp);
    if (ok && r != CUPTI_SUCCESS) ok = fail(why, why_len, "cuptiRangeProfilerDisable", r);
    if (!ok) hwm_ranges_free(out);
    return ok;
}

extern "C" void hwc_close(hwc *h)
{
    if (!h) return;
    step("cuptiProfilerHostDeinitialize");
    host_free(h->host);
    free(h->avail);
    free(h->config);
    free(h);
}
