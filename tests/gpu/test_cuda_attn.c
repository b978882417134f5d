/* test_cuda_attn.c — the dense attention kernels at head dim 256 and with a
 * sliding window (attn_prefill_window_cuda, attn_decode_window_cuda) against
 * their CPU twins (attn_prefill_window_ref, attn_decode_window_ref) on fresh
 * random bf16 inputs, outputs and LSE poisoned (NaN) before each call.
 *
 * Shapes: Gemma-3-270M's (4 query heads on 1 KV head, d 256, window 512)
 * and GQA 8/2 at d 64 and 128 through the windowed path; chunks whose
 * window starts mid-tile, odd windows, windows wider than the cache, a first
 * chunk, chunks far past the window (whole tiles skipped), and decode at
 * short and long caches. The kernels are called directly on the default
 * stream (device memory from the CUDA runtime), so nothing else is tested.
 *
 * Tolerances: out ‖Δ‖/‖ref‖ < 1e-2 (bf16 P before P·V and a bf16 output,
 * as test_cuda_ops.c's attention); LSE max |Δ| < 2e-3 (f32 online softmax
 * with an approximate exp2 against the twin's double sums).
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

/* One call (decode when n_q == 1 and q_offset == kv_len - 1) against the
 * twin; 1 when within tolerance. */
static int check_case(int n_q, int kv_len, int q_offset, int H, int HKV, int d, int window)
{
    const int decode = n_q == 1 && q_offset == kv_len - 1;
    const size_t nq = (size_t)n_q * H * d, nkv = (size_t)kv_len * HKV * d, nl = (size_t)n_q * H;
    uint16_t *q = pb_malloc(nq * 2), *k = pb_malloc(nkv * 2), *v = pb_malloc(nkv * 2), *og = pb_malloc(nq * 2);
    float *ref = pb_malloc(nq * sizeof(float)), *lref = pb_malloc(nl * sizeof(float));
    float *out = pb_malloc(nq * sizeof(float)), *lg = pb_malloc(nl * sizeof(float));
    gpu_fill_bf16(q, nq, d == 256 ? 1.0f : 2.0f);  /* scores of a few units: a peaked, not one-hot, softmax */
    gpu_fill_bf16(k, nkv, d == 256 ? 1.0f : 2.0f);
    gpu_fill_bf16(v, nkv, 1.0f);
    int eff = window && window < kv_len ? window : kv_len;
    size_t work_bytes = decode ? attn_decode_workspace(eff, H, HKV, d) : 0;
    void *dq = gpu_dev(nq * 2), *dk = gpu_dev(nkv * 2), *dv = gpu_dev(nkv * 2), *dout = gpu_dev(nq * 2);
    float *dlse = gpu_dev(nl * sizeof(float));
    void *work = decode ? gpu_dev(work_bytes) : NULL;
    int ok = dq && dk && dv && dout && dlse && (!decode || work);
    if (ok) {
        cudaMemcpy(dq, q, nq * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(dk, k, nkv * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(dv, v, nkv * 2, cudaMemcpyHostToDevice);
        cudaMemset(dout, 0xff, nq * 2);
        cudaMemset(dlse, 0xff, nl * sizeof(float));
        int rc = decode ? attn_decode_window_cuda(dq, dk, dv, dout, dlse, kv_len, H, HKV, d, window, work,
                                                  work_bytes, NULL)
                        : attn_prefill_window_cuda(dq, dk, dv, dout, dlse, n_q, kv_len, q_offset, H, HKV, d,
                                                   window, NULL);
        cudaError_t e = cudaDeviceSynchronize();
        if (rc || e != cudaSuccess) {
            printf("    launch: %s / %s\n", cudaGetErrorString((cudaError_t)rc), cudaGetErrorString(e));
            ok = 0;
        }
        cudaMemcpy(og, dout, nq * 2, cudaMemcpyDeviceToHost);
        cudaMemcpy(lg, dlse, nl * sizeof(float), cudaMemcpyDeviceToHost);
    }
    if (ok) {
        for (size_t i = 0; i < nq; i++) out[i] = attn_bf16_to_f32(og[i]);
        if (decode) attn_decode_window_ref(q, k, v, ref, lref, kv_len, H, HKV, d, window);
        else attn_prefill_window_ref(q, k, v, ref, lref, n_q, kv_len, q_offset, H, HKV, d, window);
        gpu_err e = gpu_compare(out, ref, nq), el = gpu_compare(lg, lref, nl);
        printf("    %-7s d %3d  %4d q @%5d  kv %5d  W %4d  rel %.3e  lse max|d| %.3e  bad %zu\n",
               decode ? "decode" : "prefill", d, n_q, q_offset, kv_len, window, e.rel_l2, el.max_abs,
               e.n_bad + el.n_bad);
        ok = e.n_bad == 0 && el.n_bad == 0 && e.rel_l2 < TOL_OUT && el.max_abs < TOL_LSE;
    }
    void *ps[] = {dq, dk, dv, dout, dlse, work};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        if (ps[i]) cudaFree(ps[i]);
    free(q), free(k), free(v), free(og), free(ref), free(lref), free(out), free(lg);
    return ok;
}

/* Gemma's attention: global (W 0) and sliding (W 512) layers, prefill
 * chunks and decode. */
TEST(gpu_attn_d256_window)
{
    int ok = 1;
    ok &= check_case(256, 256, 0, 4, 1, 256, 0);        /* a first chunk, global */
    ok &= check_case(256, 256, 0, 4, 1, 256, 512);      /* window wider than the cache */
    ok &= check_case(173, 2073, 1900, 4, 1, 256, 0);    /* a chunk over a long cache, global */
    ok &= check_case(173, 2073, 1900, 4, 1, 256, 512);  /* the same, sliding: old tiles skipped */
    ok &= check_case(130, 207, 77, 4, 1, 256, 37);      /* an odd window, edges mid-tile */
    ok &= check_case(1, 2074, 2073, 4, 1, 256, 0);      /* decode, global */
    ok &= check_case(1, 2074, 2073, 4, 1, 256, 512);    /* decode, sliding */
    ok &= check_case(1, 300, 299, 4, 1, 256, 512);      /* decode, window wider than the cache */
    ok &= check_case(1, 33000, 32999, 4, 1, 256, 0);    /* decode at Gemma's full context */
    CHECK(ok);
}

/* The windowed path at the other head dims (the generic prefill kernel and
 * the split decode with the window's offset), GQA 8 on 2. */
TEST(gpu_attn_window_d64_d128)
{
    int ok = 1;
    for (int d = 64; d <= 128; d *= 2) {
        ok &= check_case(150, 750, 600, 8, 2, d, 100);
        ok &= check_case(200, 200, 0, 8, 2, d, 64);
        ok &= check_case(1, 1500, 1499, 8, 2, d, 100);
    }
    CHECK(ok);
}
