/* attn_prefill.cu (dev) — builds and runs the causal prefill kernels alone:
 * validates every version against the CPU twin, then times them.
 *
 *   attn_prefill [--quick] [--versions 1,2] [--shapes llama3-8b,smollm2] [--nmax N]
 *
 * Validation: fresh random inputs, out and lse poisoned with NaN before each
 * launch; small cases (tails, a query chunk over a longer cache) compared in
 * full, one long case (16K) on sampled rows, the whole output scanned for
 * NaN. Pass: ||out-ref||/||ref|| < 1e-2 and max |lse-ref| < 1e-2.
 * Timing: 4K..128K (to --nmax), inputs rotated over > 150 MB, warm-up, median
 * of >= 10 event-timed launches; causal FLOPs 2*2*n^2/2*d*n_head.
 * Output: VALID / RESULT lines (machine-readable) and the ceiling lines.
 * --quick: the small validation only (for compute-sanitizer).
 */
#include "kernels/cuda/dev/dev_common.cuh"

static int check_case(int ver, const dev_shape &sh, int n_q, int kv_len, int q_offset, int n_rows_sample)
{
    const int H = sh.n_head, KVH = sh.n_kv_head, D = sh.d;
    const size_t nq_el = (size_t)n_q * H * D, nkv_el = (size_t)kv_len * KVH * D;
    std::vector<uint16_t> q(nq_el), k(nkv_el), v(nkv_el), out(nq_el);
    std::vector<float> lse((size_t)n_q * H);
    void *dq, *dk, *dv, *dout;
    float *dlse;
    CK(cudaMalloc(&dq, nq_el * 2));
    CK(cudaMalloc(&dk, nkv_el * 2));
    CK(cudaMalloc(&dv, nkv_el * 2));
    CK(cudaMalloc(&dout, nq_el * 2));
    CK(cudaMalloc(&dlse, (size_t)n_q * H * 4));
    uint32_t seed = dev_seed();
    dev_fill(dq, nq_el, 2.f, seed);
    dev_fill(dk, nkv_el, 2.f, seed + 1);
    dev_fill(dv, nkv_el, 1.f, seed + 2);
    CK(cudaMemset(dout, 0xff, nq_el * 2)); /* bf16 NaN */
    CK(cudaMemset(dlse, 0xff, (size_t)n_q * H * 4));
    CK(attn_prefill_cuda_version(ver, dq, dk, dv, dout, dlse, n_q, kv_len, q_offset, H, KVH, D, NULL));
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(q.data(), dq, nq_el * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(k.data(), dk, nkv_el * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(v.data(), dv, nkv_el * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(out.data(), dout, nq_el * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(lse.data(), dlse, (size_t)n_q * H * 4, cudaMemcpyDeviceToHost));

    long nan_all = 0;
    for (size_t i = 0; i < nq_el; i++) nan_all += !isfinite(attn_bf16_to_f32(out[i]));
    for (size_t i = 0; i < (size_t)n_q * H; i++) nan_all += !isfinite(lse[i]);

    /* rows to check: all, or the first and last 8 plus random ones */
    std::vector<int> rows;
    if (n_rows_sample <= 0 || n_rows_sample >= n_q) {
        for (int i = 0; i < n_q; i++) rows.push_back(i);
    } else {
        for (int i = 0; i < 8; i++) { rows.push_back(i); rows.push_back(n_q - 1 - i); }
        srand(seed);
        while ((int)rows.size() < n_rows_sample) rows.push_back(rand() % n_q);
    }
    std::vector<float> ref((size_t)H * D), rlse(H);
    std::vector<uint16_t> got;
    std::vector<float> want;
    double lse_err = 0;
    for (int i : rows) {
        attn_prefill_ref(&q[(size_t)i * H * D], k.data(), v.data(), ref.data(), rlse.data(), 1, kv_len,
                         q_offset + i, H, KVH, D);
        got.insert(got.end(), &out[(size_t)i * H * D], &out[(size_t)(i + 1) * H * D]);
        want.insert(want.end(), ref.begin(), ref.end());
        for (int h = 0; h < H; h++) {
            double e = fabs((double)lse[(size_t)i * H + h] - rlse[h]);
            if (!(e <= lse_err)) lse_err = isnan(e) ? INFINITY : e;
        }
    }
    dev_cmp c = dev_compare(got.data(), want.data(), got.size());
    int ok = c.nan == 0 && nan_all == 0 && c.rel < 1e-2 && lse_err < 1e-2;
    printf("VALID kernel=prefill_v%d card=%s shape=%s n_q=%d kv_len=%d q_offset=%d rows=%zu rel=%.3e "
           "lse_maxabs=%.3e nan=%ld %s\n",
           ver, dev_card, sh.name, n_q, kv_len, q_offset, rows.size(), c.rel, lse_err, nan_all,
           ok ? "PASS" : "FAIL");
    CK(cudaFree(dq)); CK(cudaFree(dk)); CK(cudaFree(dv)); CK(cudaFree(dout)); CK(cudaFree(dlse));
    return ok;
}

static void time_shape(const std::vector<int> &vers, const dev_shape &sh, int nmax, double ceil_tf)
{
    const int H = sh.n_head, KVH = sh.n_kv_head, D = sh.d;
    const size_t q_el = (size_t)nmax * H * D, kv_el = (size_t)nmax * KVH * D;
    void *dq, *dk, *dv, *dout;
    float *dlse;
    CK(cudaMalloc(&dq, q_el * 2));
    CK(cudaMalloc(&dk, kv_el * 2));
    CK(cudaMalloc(&dv, kv_el * 2));
    CK(cudaMalloc(&dout, q_el * 2));
    CK(cudaMalloc(&dlse, (size_t)nmax * H * 4));
    uint32_t seed = dev_seed();
    dev_fill(dq, q_el, 2.f, seed);
    dev_fill(dk, kv_el, 2.f, seed + 1);
    dev_fill(dv, kv_el, 1.f, seed + 2);
    for (int n = 4096; n <= nmax; n *= 2) {
        /* distinct input sets, together > 150 MB, within the buffers */
        size_t set_bytes = (size_t)n * (H + 2 * KVH) * D * 2;
        int sets = (int)std::min<size_t>((size_t)nmax / n, (150u << 20) / set_bytes + 1);
        double flops = 2.0 * (double)n * n * D * H;
        for (int ver : vers) {
            float us = dev_time_us([&](int rep) {
                int s = rep % sets;
                CK(attn_prefill_cuda_version(ver, (char *)dq + (size_t)s * n * H * D * 2,
                                             (char *)dk + (size_t)s * n * KVH * D * 2,
                                             (char *)dv + (size_t)s * n * KVH * D * 2, dout, dlse, n, n, 0,
                                             H, KVH, D, NULL));
            }, 2, n <= 16384 ? 30 : 10);
            printf("RESULT op=prefill kernel=prefill_v%d card=%s shape=%s n_head=%d n_kv_head=%d d=%d n=%d "
                   "us=%.1f tflops=%.1f ceiling_tflops=%.0f sets=%d\n",
                   ver, dev_card, sh.name, H, KVH, D, n, us, flops / (us * 1e-6) / 1e12, ceil_tf, sets);
        }
    }
    CK(cudaFree(dq)); CK(cudaFree(dk)); CK(cudaFree(dv)); CK(cudaFree(dout)); CK(cudaFree(dlse));
}

int main(int argc, char **argv)
{
    int quick = 0, nmax = 131072;
    std::vector<int> vers;
    const char *shapes = "llama3-8b,smollm2";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--nmax") && i + 1 < argc) nmax = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--shapes") && i + 1 < argc) shapes = argv[++i];
        else if (!strcmp(argv[i], "--versions") && i + 1 < argc) {
            for (char *p = argv[++i]; *p;) {
                vers.push_back((int)strtol(p, &p, 10));
                if (*p == ',') p++;
                else if (*p) { fprintf(stderr, "bad --versions\n"); return 2; }
            }
        } else {
            fprintf(stderr, "usage: %s [--quick] [--versions 1,2] [--shapes a,b] [--nmax N]\n", argv[0]);
            return 2;
        }
    }
    if (vers.empty())
        for (int v = 1; v <= attn_prefill_versions(); v++) vers.push_back(v);
    dev_init();
    int ok = 1;
    for (const dev_shape &sh : dev_shapes) {
        if (!strstr(shapes, sh.name)) continue;
        for (int ver : vers) {
            ok &= check_case(ver, sh, 1, 1, 0, 0);
            ok &= check_case(ver, sh, 300, 300, 0, 0);
            ok &= check_case(ver, sh, 256, 256, 0, 0);
            ok &= check_case(ver, sh, 200, 777, 577, 0);
            if (!quick) ok &= check_case(ver, sh, 16384, 16384, 0, 48);
        }
    }
    printf("validation: %s\n", ok ? "all PASS" : "FAILURES");
    if (quick) return ok ? 0 : 1;
    double tf = dev_ceiling_gemm_tflops();
    printf("CEILING card=%s gemm_bf16_8192_tflops=%.0f\n", dev_card, tf);
    for (const dev_shape &sh : dev_shapes)
        if (strstr(shapes, sh.name)) time_shape(vers, sh, nmax, tf);
    return ok ? 0 : 1;
}
