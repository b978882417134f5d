/* test_cuda_local.c — the local heads' kernels (attn_local_prefill_cuda,
 * attn_local_store_cuda, attn_local_decode_cuda) against their CPU twins
 * (attn_local_*_ref) on fresh random bf16 inputs, outputs and LSE poisoned
 * (NaN) before each call.
 *
 * One case = the life of a ring: a full cache of random keys and values,
 * the ring filled on the host by the twin's store (chunks of 512) up to
 * q_offset, then on the device: the prefill of a chunk of n_q queries over
 * ring + chunk, the store of that chunk into the ring (the device ring must
 * equal the twin's bit for bit), then the decode of one more query at the
 * chunk's last position over the ring alone (decode versions 1 and 2 by
 * name: the position-order split kernel, the dense decode over the ring's
 * prefix). Shapes: S 0 and 4, W 64 to 8192, q_offset past S + W (the
 * ring wrapped), n_q not a multiple of 64, chunks longer than W, a first
 * chunk and one inside the sinks; d 64, 128 (GQA 32/8 and 9/3) and 256
 * (Gemma's 4/1).
 *
 * First chunks (q_offset 0, no ring) also go through each prefill version
 * by name (attn_local_prefill_cuda_version: 1 the FA2-style kernel, 2 the
 * Hopper one, d 64 and 128), both against one twin output: W below and
 * above n_q, W 1, S 0, 4 and 130 (sinks past one 128-key tile), n_q not a
 * multiple of 64, GQA 9/3, 32/8, 16/4, 4/1 and 2/1.
 *
 * Tolerances (as test_cuda_attn.c): out ‖Δ‖/‖ref‖ < 1e-2, LSE max |Δ| < 2e-3.
 */
#include <cuda_runtime_api.h>
#include <math.h>
#include <string.h>

#include "kernels/attn_kernels.h"
#include "tests/gpu/gpu.h"
#include "tests/gpu/gpu_mem.h"
#include "tests/test.h"

#define TOL_OUT 1e-2
#define TOL_LSE 2e-3

static uint16_t *rand_bf16(size_t n, float amp)
{
    uint16_t *x = pb_malloc(n * sizeof(uint16_t));
    gpu_fill_bf16(x, n, amp);
    return x;
}

/* Device out (bf16) and lse against the twin's; 1 when within tolerance. */
static int compare(const char *what, const void *dout, const float *dlse, const float *ref, const float *lref,
                   size_t n_out, size_t n_lse, int S, int W, int q_offset, int n_q, int H, int HKV, int d)
{
    uint16_t *og = pb_malloc(n_out * 2);
    float *out = pb_malloc(n_out * sizeof(float)), *lg = pb_malloc(n_lse * sizeof(float));
    cudaMemcpy(og, dout, n_out * 2, cudaMemcpyDeviceToHost);
    cudaMemcpy(lg, dlse, n_lse * sizeof(float), cudaMemcpyDeviceToHost);
    for (size_t i = 0; i < n_out; i++) out[i] = attn_bf16_to_f32(og[i]);
    gpu_err e = gpu_compare(out, ref, n_out), el = gpu_compare(lg, lref, n_lse);
    printf("    %-7s S %d W %5d  %4d q @%5d  %2d/%d d %3d  rel %.3e  lse max|d| %.3e  bad %zu\n", what, S, W, n_q,
           q_offset, H, HKV, d, e.rel_l2, el.max_abs, e.n_bad + el.n_bad);
    free(og), free(out), free(lg);
    return e.n_bad == 0 && el.n_bad == 0 && e.rel_l2 < TOL_OUT && el.max_abs < TOL_LSE;
}

static int check_case(int S, int W, int q_offset, int n_q, int H, int HKV, int d)
{
    const int T = q_offset + n_q;
    const size_t row = (size_t)HKV * d, nq = (size_t)n_q * H * d, nl = (size_t)n_q * H, ring = (size_t)(S + W) * row;
    uint16_t *q = rand_bf16(nq, d == 256 ? 1.0f : 2.0f), *qd = rand_bf16((size_t)H * d, d == 256 ? 1.0f : 2.0f);
    uint16_t *k = rand_bf16((size_t)T * row, d == 256 ? 1.0f : 2.0f), *v = rand_bf16((size_t)T * row, 1.0f);
    uint16_t *kr = pb_malloc(ring * 2), *vr = pb_malloc(ring * 2), *kg = pb_malloc(ring * 2), *vg = pb_malloc(ring * 2);
    memset(kr, 0xff, ring * 2); /* NaN rows: a row read outside the rule shows */
    memset(vr, 0xff, ring * 2);
    for (int p0 = 0; p0 < q_offset; p0 += 512) {
        int n = q_offset - p0 < 512 ? q_offset - p0 : 512;
        attn_local_store_ref(kr, vr, k + p0 * row, v + p0 * row, p0, n, S, W, HKV, d);
    }
    float *ref = pb_malloc(nq * sizeof(float)), *lref = pb_malloc(nl * sizeof(float));
    size_t work_bytes = attn_local_decode_workspace(S, W, H, HKV, d);
    void *dq = gpu_dev(nq * 2), *dqd = gpu_dev((size_t)H * d * 2), *dkr = gpu_dev(ring * 2), *dvr = gpu_dev(ring * 2);
    void *dkc = gpu_dev((size_t)n_q * row * 2), *dvc = gpu_dev((size_t)n_q * row * 2), *dout = gpu_dev(nq * 2), *work = gpu_dev(work_bytes);
    float *dlse = gpu_dev(nl * sizeof(float));
    int ok = dq && dqd && dkr && dvr && dkc && dvc && dout && work && dlse && work_bytes > 0;
    if (ok) {
        cudaMemcpy(dq, q, nq * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(dqd, qd, (size_t)H * d * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(dkr, kr, ring * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(dvr, vr, ring * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(dkc, k + (size_t)q_offset * row, (size_t)n_q * row * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(dvc, v + (size_t)q_offset * row, (size_t)n_q * row * 2, cudaMemcpyHostToDevice);
        cudaMemset(dout, 0xff, nq * 2);
        cudaMemset(dlse, 0xff, nl * sizeof(float));
        int rc = attn_local_prefill_cuda(dq, dkr, dvr, dkc, dvc, dout, dlse, n_q, q_offset, S, W, H, HKV, d, NULL);
        cudaError_t e = cudaDeviceSynchronize();
        if (rc || e != cudaSuccess) {
            printf("    prefill launch: %s / %s\n", cudaGetErrorString((cudaError_t)rc), cudaGetErrorString(e));
            ok = 0;
        }
    }
    if (ok) {
        attn_local_prefill_ref(q, kr, vr, k + (size_t)q_offset * row, v + (size_t)q_offset * row, ref, lref, n_q,
                               q_offset, S, W, H, HKV, d);
        ok = compare("prefill", dout, dlse, ref, lref, nq, nl, S, W, q_offset, n_q, H, HKV, d);
    }
    if (ok) { /* the chunk into the ring: the device's ring equals the twin's */
        int rc = attn_local_store_cuda(dkr, dvr, dkc, dvc, q_offset, n_q, S, W, HKV, d, NULL);
        cudaError_t e = cudaDeviceSynchronize();
        attn_local_store_ref(kr, vr, k + (size_t)q_offset * row, v + (size_t)q_offset * row, q_offset, n_q, S, W,
                             HKV, d);
        cudaMemcpy(kg, dkr, ring * 2, cudaMemcpyDeviceToHost);
        cudaMemcpy(vg, dvr, ring * 2, cudaMemcpyDeviceToHost);
        int same = !memcmp(kg, kr, ring * 2) && !memcmp(vg, vr, ring * 2);
        if (rc || e != cudaSuccess || !same) {
            printf("    store: %s / %s, rings %s\n", cudaGetErrorString((cudaError_t)rc), cudaGetErrorString(e),
                   same ? "equal" : "DIFFER");
            ok = 0;
        }
    }
    if (ok) /* decode at the chunk's last position, over the ring alone: both versions */
        attn_local_decode_ref(qd, kr, vr, ref, lref, T - 1, S, W, H, HKV, d);
    for (int version = 1; ok && version <= 2; version++) {
        const int pos = T - 1;
        cudaMemset(dout, 0xff, (size_t)H * d * 2);
        cudaMemset(dlse, 0xff, (size_t)H * sizeof(float));
        int rc = attn_local_decode_cuda_version(version, dqd, dkr, dvr, dout, dlse, pos, S, W, H, HKV, d, work,
                                                work_bytes, NULL);
        cudaError_t e = cudaDeviceSynchronize();
        if (rc || e != cudaSuccess) {
            printf("    v%d decode launch: %s / %s\n", version, cudaGetErrorString((cudaError_t)rc),
                   cudaGetErrorString(e));
            ok = 0;
        } else {
            ok = compare(version == 1 ? "v1 dec" : "v2 dec", dout, dlse, ref, lref, (size_t)H * d, (size_t)H, S, W,
                         pos, 1, H, HKV, d);
        }
    }
    void *ps[] = {dq, dqd, dkr, dvr, dkc, dvc, dout, work, dlse};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        if (ps[i]) cudaFree(ps[i]);
    free(q), free(qd), free(k), free(v), free(kr), free(vr), free(kg), free(vg), free(ref), free(lref);
    return ok;
}

/* A first chunk of n_q queries (positions 0 ..; no ring) through prefill
 * versions 1 and 2 by name, each against the twin with out and lse poisoned. */
static int check_first(int S, int W, int n_q, int H, int HKV, int d)
{
    const size_t row = (size_t)HKV * d, nq = (size_t)n_q * H * d, nl = (size_t)n_q * H;
    uint16_t *q = rand_bf16(nq, 2.0f), *k = rand_bf16((size_t)n_q * row, 2.0f), *v = rand_bf16((size_t)n_q * row, 1.0f);
    float *ref = pb_malloc(nq * sizeof(float)), *lref = pb_malloc(nl * sizeof(float));
    void *dq = gpu_dev(nq * 2), *dk = gpu_dev((size_t)n_q * row * 2), *dv = gpu_dev((size_t)n_q * row * 2), *dout = gpu_dev(nq * 2);
    float *dlse = gpu_dev(nl * sizeof(float));
    int ok = dq && dk && dv && dout && dlse;
    if (ok) {
        cudaMemcpy(dq, q, nq * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(dk, k, (size_t)n_q * row * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(dv, v, (size_t)n_q * row * 2, cudaMemcpyHostToDevice);
        attn_local_prefill_ref(q, NULL, NULL, k, v, ref, lref, n_q, 0, S, W, H, HKV, d);
    }
    for (int version = 1; ok && version <= 2; version++) {
        cudaMemset(dout, 0xff, nq * 2);
        cudaMemset(dlse, 0xff, nl * sizeof(float));
        int rc = attn_local_prefill_cuda_version(version, dq, NULL, NULL, dk, dv, dout, dlse, n_q, 0, S, W, H, HKV,
                                                 d, NULL);
        cudaError_t e = cudaDeviceSynchronize();
        if (rc || e != cudaSuccess) {
            printf("    v%d prefill launch: %s / %s\n", version, cudaGetErrorString((cudaError_t)rc),
                   cudaGetErrorString(e));
            ok = 0;
        } else {
            ok = compare(version == 1 ? "v1 pre" : "v2 pre", dout, dlse, ref, lref, nq, nl, S, W, 0, n_q, H, HKV, d);
        }
    }
    void *ps[] = {dq, dk, dv, dout, dlse};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        if (ps[i]) cudaFree(ps[i]);
    free(q), free(k), free(v), free(ref), free(lref);
    return ok;
}

/* Small first chunks through both versions (the compute-sanitizer's list). */
TEST(gpu_local_first_chunk_small)
{
    int ok = 1;
    ok &= check_first(4, 100, 300, 9, 3, 64);
    ok &= check_first(0, 130, 200, 8, 2, 128);
    CHECK(ok);
}

TEST(gpu_local_first_chunk_versions)
{
    int ok = 1;
    ok &= check_first(4, 256, 1000, 9, 3, 64);    /* W < n_q: sink tile + window walk */
    ok &= check_first(0, 100, 777, 9, 3, 64);     /* no sinks, window not a tile multiple */
    ok &= check_first(4, 5000, 1000, 9, 3, 64);   /* W > n_q: causal */
    ok &= check_first(4, 1, 200, 9, 3, 64);       /* each query: the sinks and itself */
    ok &= check_first(130, 200, 700, 9, 3, 64);   /* sinks over two key tiles */
    ok &= check_first(4, 300, 1100, 32, 8, 128);
    ok &= check_first(0, 2000, 1100, 16, 4, 128); /* W > n_q */
    ok &= check_first(4, 64, 333, 32, 8, 128);
    ok &= check_first(4, 129, 65, 32, 8, 128);
    ok &= check_first(4, 64, 1, 32, 8, 128);      /* one query */
    ok &= check_first(4, 8192, 300, 4, 1, 128);   /* the layer benchmark's window, W > n_q */
    ok &= check_first(4, 2048, 3000, 2, 1, 64);   /* a long window, W < n_q */
    ok &= check_first(0, 1000, 2900, 2, 1, 128);
    CHECK(ok);
}

/* A few small cases of every head dim (the compute-sanitizer's list). */
TEST(gpu_local_small)
{
    int ok = 1;
    ok &= check_case(0, 64, 300, 100, 9, 3, 64);
    ok &= check_case(4, 64, 333, 1, 32, 8, 128);
    ok &= check_case(4, 100, 2, 50, 9, 3, 64);
    ok &= check_case(4, 64, 200, 70, 4, 1, 256);
    CHECK(ok);
}

TEST(gpu_local_d64_gqa9_3)
{
    int ok = 1;
    ok &= check_case(0, 64, 300, 100, 9, 3, 64);     /* no sinks, wrapped, chunk longer than W */
    ok &= check_case(4, 64, 300, 100, 9, 3, 64);
    ok &= check_case(4, 1000, 2500, 77, 9, 3, 64);
    ok &= check_case(0, 8192, 8692, 130, 9, 3, 64);  /* the layer benchmark's window */
    ok &= check_case(4, 8192, 9000, 65, 9, 3, 64);
    ok &= check_case(4, 256, 0, 300, 9, 3, 64);      /* a first chunk */
    ok &= check_case(4, 100, 2, 50, 9, 3, 64);       /* a chunk starting inside the sinks */
    CHECK(ok);
}

TEST(gpu_local_d128_gqa32_8)
{
    int ok = 1;
    ok &= check_case(0, 64, 300, 100, 32, 8, 128);
    ok &= check_case(4, 64, 333, 1, 32, 8, 128);      /* a one-token chunk through the prefill */
    ok &= check_case(4, 1000, 2500, 77, 32, 8, 128);
    ok &= check_case(4, 8192, 9000, 65, 32, 8, 128);
    ok &= check_case(0, 8192, 8300, 33, 32, 8, 128);
    ok &= check_case(4, 100, 2, 50, 32, 8, 128);
    CHECK(ok);
}

TEST(gpu_local_d256)
{
    int ok = 1;
    ok &= check_case(4, 512, 1000, 100, 4, 1, 256);
    ok &= check_case(0, 64, 200, 70, 4, 1, 256);
    CHECK(ok);
}
