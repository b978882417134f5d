/* attn_decode.cu (dev) — builds and runs the split-KV decode (+ combine)
 * alone: validates against the CPU twin, then times it.
 *
 *   attn_decode [--quick] [--shapes llama3-8b,smollm2] [--nmax N]
 *
 * Validation: fresh random inputs, out and lse poisoned with NaN, cache
 * lengths 1 .. 65537 (odd sizes for tails), compared in full.
 * Pass: ||out-ref||/||ref|| < 1e-2 and max |lse-ref| < 1e-2.
 * Timing: cache 4K..1M (to --nmax), K/V rotated over > 150 MB, warm-up,
 * median of >= 10 event-timed runs (split kernel + combine); GB/s counts
 * the bytes of K and V read once. Ceilings: copy and read-only streams.
 * --quick: the small validation only (for compute-sanitizer).
 */
#include "kernels/cuda/dev/dev_common.cuh"

static int check_case(const dev_shape &sh, int kv_len)
{
    const int H = sh.n_head, KVH = sh.n_kv_head, D = sh.d;
    const size_t nq = (size_t)H * D, nkv = (size_t)kv_len * KVH * D;
    std::vector<uint16_t> q(nq), k(nkv), v(nkv), out(nq);
    std::vector<float> lse(H), ref(nq), rlse(H);
    void *dq, *dk, *dv, *dout, *work;
    float *dlse;
    size_t wb = attn_decode_workspace(kv_len, H, KVH, D);
    CK(cudaMalloc(&dq, nq * 2));
    CK(cudaMalloc(&dk, nkv * 2));
    CK(cudaMalloc(&dv, nkv * 2));
    CK(cudaMalloc(&dout, nq * 2));
    CK(cudaMalloc(&dlse, H * 4));
    CK(cudaMalloc(&work, wb));
    uint32_t seed = dev_seed();
    dev_fill(dq, nq, 2.f, seed);
    dev_fill(dk, nkv, 2.f, seed + 1);
    dev_fill(dv, nkv, 1.f, seed + 2);
    CK(cudaMemset(dout, 0xff, nq * 2));
    CK(cudaMemset(dlse, 0xff, H * 4));
    CK(cudaMemset(work, 0xff, wb));
    CK(attn_decode_cuda(dq, dk, dv, dout, dlse, kv_len, H, KVH, D, work, wb, NULL));
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(q.data(), dq, nq * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(k.data(), dk, nkv * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(v.data(), dv, nkv * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(out.data(), dout, nq * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(lse.data(), dlse, H * 4, cudaMemcpyDeviceToHost));
    attn_decode_ref(q.data(), k.data(), v.data(), ref.data(), rlse.data(), kv_len, H, KVH, D);
    dev_cmp c = dev_compare(out.data(), ref.data(), nq);
    double lse_err = 0;
    long nan = c.nan;
    for (int h = 0; h < H; h++) {
        if (!isfinite(lse[h])) nan++;
        double e = fabs((double)lse[h] - rlse[h]);
        if (!(e <= lse_err)) lse_err = isnan(e) ? INFINITY : e;
    }
    int ok = nan == 0 && c.rel < 1e-2 && lse_err < 1e-2;
    printf("VALID kernel=decode_v1 card=%s shape=%s kv_len=%d rel=%.3e lse_maxabs=%.3e nan=%ld "
           "work=%zu %s\n", dev_card, sh.name, kv_len, c.rel, lse_err, nan, wb, ok ? "PASS" : "FAIL");
    CK(cudaFree(dq)); CK(cudaFree(dk)); CK(cudaFree(dv)); CK(cudaFree(dout)); CK(cudaFree(dlse));
    CK(cudaFree(work));
    return ok;
}

static void time_shape(const dev_shape &sh, int nmax, double copy_gbs, double read_gbs)
{
    const int H = sh.n_head, KVH = sh.n_kv_head, D = sh.d;
    const size_t kv_el = (size_t)nmax * KVH * D;
    void *dq, *dk, *dv, *dout, *work;
    float *dlse;
    size_t wb = 0;
    for (int n = 4096; n <= nmax; n *= 2) wb = std::max(wb, attn_decode_workspace(n, H, KVH, D));
    CK(cudaMalloc(&dq, (size_t)64 * H * D * 2));
    CK(cudaMalloc(&dk, kv_el * 2));
    CK(cudaMalloc(&dv, kv_el * 2));
    CK(cudaMalloc(&dout, (size_t)H * D * 2));
    CK(cudaMalloc(&dlse, H * 4));
    CK(cudaMalloc(&work, wb));
    uint32_t seed = dev_seed();
    dev_fill(dq, (size_t)64 * H * D, 2.f, seed);
    dev_fill(dk, kv_el, 2.f, seed + 1);
    dev_fill(dv, kv_el, 1.f, seed + 2);
    for (int n = 4096; n <= nmax; n *= 2) {
        size_t set_bytes = (size_t)n * KVH * D * 2 * 2;
        int sets = (int)std::min<size_t>((size_t)nmax / n, (150u << 20) / set_bytes + 1);
        float us = dev_time_us([&](int rep) {
            int s = rep % sets;
            CK(attn_decode_cuda((char *)dq + (size_t)(rep % 64) * H * D * 2,
                                (char *)dk + (size_t)s * n * KVH * D * 2,
                                (char *)dv + (size_t)s * n * KVH * D * 2, dout, dlse, n, H, KVH, D, work,
                                wb, NULL));
        }, 3, 30);
        printf("RESULT op=decode kernel=decode_v1 card=%s shape=%s n_head=%d n_kv_head=%d d=%d n=%d us=%.1f "
               "gbs=%.0f ceiling_read_gbs=%.0f ceiling_copy_gbs=%.0f sets=%d\n",
               dev_card, sh.name, H, KVH, D, n, us, set_bytes / (us * 1e-6) / 1e9, read_gbs, copy_gbs, sets);
    }
    CK(cudaFree(dq)); CK(cudaFree(dk)); CK(cudaFree(dv)); CK(cudaFree(dout)); CK(cudaFree(dlse));
    CK(cudaFree(work));
}

int main(int argc, char **argv)
{
    int quick = 0, nmax = 1 << 20;
    const char *shapes = "llama3-8b,smollm2";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--nmax") && i + 1 < argc) nmax = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--shapes") && i + 1 < argc) shapes = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--shapes a,b] [--nmax N]\n", argv[0]);
            return 2;
        }
    }
    dev_init();
    int ok = 1;
    const int lens_quick[] = {1, 100, 1000, 4097};
    const int lens_full[] = {1, 100, 1000, 4097, 65537};
    for (const dev_shape &sh : dev_shapes) {
        if (!strstr(shapes, sh.name)) continue;
        if (quick) for (int n : lens_quick) ok &= check_case(sh, n);
        else for (int n : lens_full) ok &= check_case(sh, n);
    }
    printf("validation: %s\n", ok ? "all PASS" : "FAILURES");
    if (quick) return ok ? 0 : 1;
    double copy_gbs, read_gbs;
    dev_ceiling_bw(&copy_gbs, &read_gbs);
    printf("CEILING card=%s copy_gbs=%.0f read_gbs=%.0f\n", dev_card, copy_gbs, read_gbs);
    for (const dev_shape &sh : dev_shapes)
        if (strstr(shapes, sh.name)) time_shape(sh, nmax, copy_gbs, read_gbs);
    return ok ? 0 : 1;
}
