/* cupti.c — kernel timing through CUPTI's Activity API (cupti.h).
 *
 * Flow: at the first cupti_begin the library is dlopen'ed and the buffer
 * callbacks registered (CUPTI asks for a buffer, fills it with activity
 * records, hands it back, possibly from its own thread); each begin enables
 * CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, each end synchronises the device,
 * force-flushes, disables the kind and returns what the callbacks collected.
 * Records are CUpti_ActivityKernel10 (CUDA 13.0's kernel record, checked by
 * the static_assert on CUPTI_API_VERSION below). Kernel names are copied out
 * of the record (CUPTI owns them) and demangled with libstdc++'s
 * __cxa_demangle, which the CUDA runtime links in anyway.
 *
 * Every CUPTI call is checked by CUPTI_CHECK (file and line): inside a
 * region a failure is a runtime error; at begin it is the soft failure.
 */
#include "probes/cupti.h"

#include <cuda_runtime_api.h>
/* NVIDIA's own <cupti.h> is shadowed by ours (-Iprobes): take its parts */
#include <cupti_activity.h>
#include <cupti_result.h>
#include <cupti_version.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(CUPTI_API_VERSION >= 130000 && CUPTI_API_VERSION < 140000,
               "kernel records are read as CUpti_ActivityKernel10 (CUDA 13)");

/* libstdc++ (C ABI): demangles a C++ symbol; malloc'd result or NULL. */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

#define CUPTI_BUFFER_BYTES (8u << 20)
#define CUPTI_SONAME "libcupti.so.13"

static struct {
    void *lib;
    CUptiResult (*register_callbacks)(CUpti_BuffersCallbackRequestFunc, CUpti_BuffersCallbackCompleteFunc);
    CUptiResult (*enable)(CUpti_ActivityKind);
    CUptiResult (*disable)(CUpti_ActivityKind);
    CUptiResult (*flush_all)(uint32_t);
    CUptiResult (*next_record)(uint8_t *, size_t, CUpti_Activity **);
    CUptiResult (*dropped)(CUcontext, uint32_t, size_t *);
    CUptiResult (*result_string)(CUptiResult, const char **);
} api;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static cupti_kernel *rec;   /* kernels of the open region, guarded by lock */
static int n_rec, cap_rec;
static size_t n_dropped;
static int in_region;

static const char *result_str(CUptiResult r)
{
    const char *s = NULL;
    if (api.result_string) api.result_string(r, &s);
    return s ? s : "unknown CUPTI error";
}

#define CUPTI_CHECK(call)                                                                  \
    do {                                                                                   \
        CUptiResult r_ = (call);                                                           \
        if (r_ != CUPTI_SUCCESS) pb_die_runtime(__FILE__, __LINE__, "%s: %s", #call, result_str(r_)); \
    } while (0)

static void CUPTIAPI buffer_requested(uint8_t **buffer, size_t *size, size_t *max_records)
{
    *buffer = aligned_alloc(8, CUPTI_BUFFER_BYTES);
    *size = *buffer ? CUPTI_BUFFER_BYTES : 0;
    *max_records = 0;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(pb_malloc(n), s, n);
}

static void keep_kernel(const CUpti_ActivityKernel10 *k)
{
    if (n_rec == cap_rec) {
        cap_rec = cap_rec ? 2 * cap_rec : 1024;
        rec = pb_realloc(rec, (size_t)cap_rec * sizeof *rec);
    }
    cupti_kernel *o = &rec[n_rec++];
    const char *raw = k->name ? k->name : "?";
    int status = -1;
    char *dem = __cxa_demangle(raw, NULL, NULL, &status);
    o->mangled = dup_str(raw);
    o->name = status == 0 && dem ? dem : dup_str(raw);
    if (status != 0) free(dem);
    o->grid[0] = k->gridX, o->grid[1] = k->gridY, o->grid[2] = k->gridZ;
    o->block[0] = k->blockX, o->block[1] = k->blockY, o->block[2] = k->blockZ;
    o->registers = k->registersPerThread;
    o->static_smem = k->staticSharedMemory;
    o->dynamic_smem = k->dynamicSharedMemory;
    o->start_ns = k->start;
    o->end_ns = k->end;
    o->device_id = k->deviceId;
    o->stream_id = k->streamId;
    o->correlation_id = k->correlationId;
}

static void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream, uint8_t *buffer, size_t size, size_t valid)
{
    (void)ctx, (void)stream, (void)size;
    pthread_mutex_lock(&lock);
    CUpti_Activity *r = NULL;
    while (api.next_record(buffer, valid, &r) == CUPTI_SUCCESS)
        if (in_region && (r->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL || r->kind == CUPTI_ACTIVITY_KIND_KERNEL))
            keep_kernel((const CUpti_ActivityKernel10 *)r);
    size_t d = 0;
    if (api.dropped(NULL, 0, &d) == CUPTI_SUCCESS) n_dropped += d;
    pthread_mutex_unlock(&lock);
    free(buffer);
}

/* dlopen's the library once: beside the executable first, then by soname,
 * then the CUDA install's two places. The handle, or NULL and why. */
void *cupti_library(char *why, size_t why_len)
{
    static void *lib;
    if (lib) return lib;
    char exe[4096], path[4200];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    const char *names[4] = {NULL, CUPTI_SONAME, "/usr/local/cuda/extras/CUPTI/lib64/" CUPTI_SONAME,
                            "/usr/local/cuda/lib64/" CUPTI_SONAME};
    if (l > 0) {
        exe[l] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        snprintf(path, sizeof path, "%s/%s", exe, CUPTI_SONAME);
        names[0] = path;
    }
    for (int i = 0; i < 4 && !lib; i++)
        if (names[i]) lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) snprintf(why, why_len, "CUPTI unavailable: %s not found", CUPTI_SONAME);
    return lib;
}

/* Resolves the Activity API's entry points. 1 ok; 0 and why. */
static int load(char *why, size_t why_len)
{
    void *lib = cupti_library(why, why_len);
    if (!lib) return 0;
    void **slot[] = {(void **)&api.register_callbacks, (void **)&api.enable, (void **)&api.disable,
                     (void **)&api.flush_all, (void **)&api.next_record, (void **)&api.dropped,
                     (void **)&api.result_string};
    const char *sym[] = {"cuptiActivityRegisterCallbacks", "cuptiActivityEnable", "cuptiActivityDisable",
                         "cuptiActivityFlushAll", "cuptiActivityGetNextRecord",
                         "cuptiActivityGetNumDroppedRecords", "cuptiGetResultString"};
    for (size_t i = 0; i < sizeof sym / sizeof sym[0]; i++)
        if (!(*slot[i] = dlsym(lib, sym[i]))) {
            snprintf(why, why_len, "CUPTI unavailable: %s lacks %s", CUPTI_SONAME, sym[i]);
            memset(&api, 0, sizeof api);
            return 0;
        }
    api.lib = lib;
    return 1;
}

int cupti_begin(char *why, size_t why_len)
{
    static int registered;
    PB_CHECK(!in_region, "cupti_begin inside a region");
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
        cudaGetLastError();
        snprintf(why, why_len, "CUPTI unavailable: no CUDA device");
        return 0;
    }
    if (!api.lib && !load(why, why_len)) return 0;
    CUptiResult r;
    if (!registered) {
        if ((r = api.register_callbacks(buffer_requested, buffer_completed)) != CUPTI_SUCCESS) {
            snprintf(why, why_len, "CUPTI unavailable: cuptiActivityRegisterCallbacks: %s", result_str(r));
            return 0;
        }
        registered = 1;
    }
    /* drop whatever an earlier region left undelivered */
    if ((r = api.flush_all(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED)) != CUPTI_SUCCESS) {
        snprintf(why, why_len, "CUPTI unavailable: cuptiActivityFlushAll: %s", result_str(r));
        return 0;
    }
    pthread_mutex_lock(&lock);
    n_dropped = 0;
    in_region = 1;
    pthread_mutex_unlock(&lock);
    if ((r = api.enable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL)) != CUPTI_SUCCESS) {
        pthread_mutex_lock(&lock);
        in_region = 0;
        pthread_mutex_unlock(&lock);
        snprintf(why, why_len, "CUPTI unavailable: cuptiActivityEnable: %s", result_str(r));
        return 0;
    }
    return 1;
}

static int by_start(const void *a, const void *b)
{
    const cupti_kernel *x = a, *y = b;
    return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

cupti_kernel *cupti_end(int *n, size_t *dropped)
{
    PB_CHECK(in_region, "cupti_end without cupti_begin");
    cudaError_t e = cudaDeviceSynchronize();
    PB_CHECK(e == cudaSuccess, "cudaDeviceSynchronize: %s", cudaGetErrorString(e));
    CUPTI_CHECK(api.flush_all(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED));
    CUPTI_CHECK(api.disable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL));
    pthread_mutex_lock(&lock);
    cupti_kernel *out = rec;
    *n = n_rec;
    if (dropped) *dropped = n_dropped;
    rec = NULL;
    n_rec = cap_rec = 0;
    in_region = 0;
    pthread_mutex_unlock(&lock);
    if (out) qsort(out, (size_t)*n, sizeof *out, by_start);
    return out;
}

void cupti_kernels_free(cupti_kernel *k, int n)
{
    for (int i = 0; i < n; i++) {
        free(k[i].name);
        free(k[i].mangled);
    }
    free(k);
}

void cupti_store(pb_db *db, int64_t run_id, int64_t bench_id, const char *case_name, const cupti_kernel *k, int n)
{
    sqlite3 *h = db_sqlite(db);
    sqlite3_stmt *st;
    DB_CHECK(h, sqlite3_prepare_v2(h,
        "INSERT INTO kernel_timings (run_id, bench_id, case_name, seq, name, mangled, grid_x, grid_y, grid_z,"
        " block_x, block_y, block_z, registers, static_smem, dynamic_smem, start_ns, end_ns, device_id,"
        " stream_id, correlation_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL));
    for (int i = 0; i < n; i++) {
        const cupti_kernel *r = &k[i];
        int c = 1;
        DB_CHECK(h, sqlite3_bind_int64(st, c++, run_id));
        DB_CHECK(h, bench_id ? sqlite3_bind_int64(st, c++, bench_id) : sqlite3_bind_null(st, c++));
        DB_CHECK(h, sqlite3_bind_text(st, c++, case_name, -1, SQLITE_STATIC));
        DB_CHECK(h, sqlite3_bind_int(st, c++, i));
        DB_CHECK(h, sqlite3_bind_text(st, c++, r->name, -1, SQLITE_STATIC));
        DB_CHECK(h, sqlite3_bind_text(st, c++, r->mangled, -1, SQLITE_STATIC));
        for (int j = 0; j < 3; j++) DB_CHECK(h, sqlite3_bind_int(st, c++, r->grid[j]));
        for (int j = 0; j < 3; j++) DB_CHECK(h, sqlite3_bind_int(st, c++, r->block[j]));
        DB_CHECK(h, sqlite3_bind_int(st, c++, r->registers));
        DB_CHECK(h, sqlite3_bind_int(st, c++, r->static_smem));
        DB_CHECK(h, sqlite3_bind_int(st, c++, r->dynamic_smem));
        DB_CHECK(h, sqlite3_bind_int64(st, c++, (int64_t)r->start_ns));
        DB_CHECK(h, sqlite3_bind_int64(st, c++, (int64_t)r->end_ns));
        DB_CHECK(h, sqlite3_bind_int64(st, c++, r->device_id));
        DB_CHECK(h, sqlite3_bind_int64(st, c++, r->stream_id));
        DB_CHECK(h, sqlite3_bind_int64(st, c++, r->correlation_id));
        DB_CHECK(h, sqlite3_step(st));
        DB_CHECK(h, sqlite3_reset(st));
    }
    DB_CHECK(h, sqlite3_finalize(st));
}
