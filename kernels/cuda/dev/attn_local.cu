/* attn_local.cu (dev) — builds and runs the local heads' kernels alone
 * (attn_local_prefill_cuda, attn_local_decode_cuda over an S + W row ring):
 * validates against the CPU twins, then times them beside the dense
 * sliding-window kernels doing the same work over a full cache.
 *
 *   attn_local [--quick] [--shapes llama3-8b,smollm2] [--window W] [--sink S]
 *
 * Validation: fresh random ring, chunk and queries, out and lse poisoned
 * with NaN; S 0 and 4, windows 64 .. 8192, chunks of 1 .. 300 queries at
 * positions far past the window (a wrapped ring) and at 0.
 * Pass: ||out-ref||/||ref|| < 1e-2 and max |lse-ref| < 1e-2.
 * Timing (median of event-timed bursts): prefill of a 4096-query chunk at
 * position 2^20 (every query sees S + W keys; TFLOP/s = 4 n_q n_head (S+W) d
 * / t), peer attn_prefill_window_cuda with window S + W over a full cache;
 * decode at position 2^20 (GB/s: the S + W rows of K and V read once), peer
 * attn_decode_window_cuda. --quick: the small validation only (for
 * compute-sanitizer).
 */
#include "kernels/cuda/dev/dev_common.cuh"

static int check_case(const dev_shape &sh, int S, int W, int q_offset, int n_q)
{
    const int H = sh.n_head, KVH = sh.n_kv_head, D = sh.d;
    const size_t row = (size_t)KVH * D, nq = (size_t)n_q * H * D, nl = (size_t)n_q * H, nr = (size_t)(S + W) * row;
    std::vector<uint16_t> q(nq), kr(nr), vr(nr), kc((size_t)n_q * row), vc((size_t)n_q * row), out(nq), qd((size_t)H * D);
    std::vector<float> lse(nl), ref(nq), rlse(nl);
    void *dq, *dkr, *dvr, *dkc, *dvc, *dout, *work;
    float *dlse;
    const size_t wb = attn_local_decode_workspace(S, W, H, KVH, D);
    CK(cudaMalloc(&dq, nq * 2));
    CK(cudaMalloc(&dkr, nr * 2));
    CK(cudaMalloc(&dvr, nr * 2));
    CK(cudaMalloc(&dkc, kc.size() * 2));
    CK(cudaMalloc(&dvc, vc.size() * 2));
    CK(cudaMalloc(&dout, nq * 2));
    CK(cudaMalloc(&dlse, nl * 4));
    CK(cudaMalloc(&work, wb));
    uint32_t seed = dev_seed();
    dev_fill(dq, nq, 2.f, seed);
    dev_fill(dkr, nr, 2.f, seed + 1);
    dev_fill(dvr, nr, 1.f, seed + 2);
    dev_fill(dkc, kc.size(), 2.f, seed + 3);
    dev_fill(dvc, vc.size(), 1.f, seed + 4);
    CK(cudaMemset(dout, 0xff, nq * 2));
    CK(cudaMemset(dlse, 0xff, nl * 4));
    CK(attn_local_prefill_cuda(dq, dkr, dvr, dkc, dvc, dout, dlse, n_q, q_offset, S, W, H, KVH, D, NULL));
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(q.data(), dq, nq * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(kr.data(), dkr, nr * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(vr.data(), dvr, nr * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(kc.data(), dkc, kc.size() * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(vc.data(), dvc, vc.size() * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(out.data(), dout, nq * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(lse.data(), dlse, nl * 4, cudaMemcpyDeviceToHost));
    attn_local_prefill_ref(q.data(), kr.data(), vr.data(), kc.data(), vc.data(), ref.data(), rlse.data(), n_q,
                           q_offset, S, W, H, KVH, D);
    auto judge = [&](const char *what, size_t n_out, size_t n_lse, int pos) {
        dev_cmp c = dev_compare(out.data(), ref.data(), n_out);
        double lse_err = 0;
        long nan = c.nan;
        for (size_t i = 0; i < n_lse; i++) {
            if (!isfinite(lse[i])) nan++;
            double e = fabs((double)lse[i] - rlse[i]);
            if (!(e <= lse_err)) lse_err = isnan(e) ? INFINITY : e;
        }
        int ok = nan == 0 && c.rel < 1e-2 && lse_err < 1e-2;
        printf("VALID kernel=local_%s card=%s shape=%s S=%d W=%d pos=%d n_q=%d rel=%.3e lse_maxabs=%.3e nan=%ld %s\n",
               what, dev_card, sh.name, S, W, pos, what[0] == 'p' ? n_q : 1, c.rel, lse_err, nan, ok ? "PASS" : "FAIL");
        return ok;
    };
    int ok = judge("prefill", nq, nl, q_offset);
    /* decode over the ring alone, at a position whose own row the ring holds */
    const int pos = q_offset + n_q + 2 * W + 5;
    dev_fill(dq, (size_t)H * D, 2.f, seed + 5);
    CK(cudaMemset(dout, 0xff, (size_t)H * D * 2));
    CK(cudaMemset(dlse, 0xff, (size_t)H * 4));
    CK(attn_local_decode_cuda(dq, dkr, dvr, dout, dlse, pos, S, W, H, KVH, D, work, wb, NULL));
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(qd.data(), dq, qd.size() * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(out.data(), dout, (size_t)H * D * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(lse.data(), dlse, (size_t)H * 4, cudaMemcpyDeviceToHost));
    attn_local_decode_ref(qd.data(), kr.data(), vr.data(), ref.data(), rlse.data(), pos, S, W, H, KVH, D);
    ok &= judge("decode", (size_t)H * D, (size_t)H, pos);
    CK(cudaFree(dq)); CK(cudaFree(dkr)); CK(cudaFree(dvr)); CK(cudaFree(dkc)); CK(cudaFree(dvc));
    CK(cudaFree(dout)); CK(cudaFree(dlse)); CK(cudaFree(work));
    return ok;
}

static void time_shape(const dev_shape &sh, int S, int W, double tflops_ceiling, double read_gbs)
{
    const int H = sh.n_head, KVH = sh.n_kv_head, D = sh.d, NQ = 4096, P = 1 << 20;
    const int L = S + W; /* keys per query, and the full cache's window in the peer */
    const size_t row = (size_t)KVH * D, full = (size_t)(L + NQ) * row;
    void *dq, *dk, *dv, *dkc, *dvc, *dout, *work, *dwork;
    float *dlse;
    const size_t wb = attn_local_decode_workspace(S, W, H, KVH, D), dwb = attn_decode_workspace(L, H, KVH, D);
    CK(cudaMalloc(&dq, (size_t)NQ * H * D * 2));
    CK(cudaMalloc(&dk, full * 2)); /* ring = its first S + W rows; the peer's full cache = all */
    CK(cudaMalloc(&dv, full * 2));
    CK(cudaMalloc(&dkc, (size_t)NQ * row * 2));
    CK(cudaMalloc(&dvc, (size_t)NQ * row * 2));
    CK(cudaMalloc(&dout, (size_t)NQ * H * D * 2));
    CK(cudaMalloc(&dlse, (size_t)NQ * H * 4));
    CK(cudaMalloc(&work, wb));
    CK(cudaMalloc(&dwork, dwb));
    uint32_t seed = dev_seed();
    dev_fill(dq, (size_t)NQ * H * D, 2.f, seed);
    dev_fill(dk, full, 2.f, seed + 1);
    dev_fill(dv, full, 1.f, seed + 2);
    dev_fill(dkc, (size_t)NQ * row, 2.f, seed + 3);
    dev_fill(dvc, (size_t)NQ * row, 1.f, seed + 4);
    const double flop = 4.0 * NQ * H * (double)L * D;
    float us = dev_time_us([&](int) {
        CK(attn_local_prefill_cuda(dq, dk, dv, dkc, dvc, dout, dlse, NQ, P, S, W, H, KVH, D, NULL));
    }, 2, 10);
    float us_peer = dev_time_us([&](int) {
        CK(attn_prefill_window_cuda(dq, dk, dv, dout, dlse, NQ, L + NQ, L, H, KVH, D, L, NULL));
    }, 2, 10);
    printf("RESULT op=prefill kernel=local card=%s shape=%s S=%d W=%d n_q=%d us=%.1f tflops=%.1f peer_window_us=%.1f "
           "peer_tflops=%.1f ceiling_gemm_tflops=%.0f\n", dev_card, sh.name, S, W, NQ, us, flop / (us * 1e-6) / 1e12,
           us_peer, flop / (us_peer * 1e-6) / 1e12, tflops_ceiling);
    const double bytes = 2.0 * L * row * 2;
    us = dev_time_us([&](int) {
        CK(attn_local_decode_cuda(dq, dk, dv, dout, NULL, P, S, W, H, KVH, D, work, wb, NULL));
    }, 3, 30);
    us_peer = dev_time_us([&](int) {
        CK(attn_decode_window_cuda(dq, dk, dv, dout, NULL, L, H, KVH, D, L, dwork, dwb, NULL));
    }, 3, 30);
    printf("RESULT op=decode kernel=local card=%s shape=%s S=%d W=%d us=%.1f gbs=%.0f peer_window_us=%.1f "
           "peer_gbs=%.0f ceiling_read_gbs=%.0f\n", dev_card, sh.name, S, W, us, bytes / (us * 1e-6) / 1e9, us_peer,
           bytes / (us_peer * 1e-6) / 1e9, read_gbs);
    CK(cudaFree(dq)); CK(cudaFree(dk)); CK(cudaFree(dv)); CK(cudaFree(dkc)); CK(cudaFree(dvc));
    CK(cudaFree(dout)); CK(cudaFree(dlse)); CK(cudaFree(work)); CK(cudaFree(dwork));
}

int main(int argc, char **argv)
{
    int quick = 0, W = 8192, S = 4;
    const char *shapes = "llama3-8b,smollm2";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--window") && i + 1 < argc) W = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sink") && i + 1 < argc) S = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--shapes") && i + 1 < argc) shapes = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--shapes a,b] [--window W] [--sink S]\n", argv[0]);
            return 2;
        }
    }
    if (W < 1 || S < 0) {
        fprintf(stderr, "%s: --window >= 1 and --sink >= 0\n", argv[0]);
        return 2;
    }
    dev_init();
    int ok = 1;
    for (const dev_shape &sh : dev_shapes) {
        if (!strstr(shapes, sh.name)) continue;
        ok &= check_case(sh, 0, 64, 1000, 77);
        ok &= check_case(sh, 4, 64, 0, 130);
        ok &= check_case(sh, 4, 300, 2, 1);
        if (quick) continue;
        ok &= check_case(sh, 4, 1000, 5000, 300);
        ok &= check_case(sh, 4, 8192, 100000, 65);
        ok &= check_case(sh, 0, 8192, 9000, 129);
    }
    printf("validation: %s\n", ok ? "all PASS" : "FAILURES");
    if (quick) return ok ? 0 : 1;
    double copy_gbs, read_gbs, tflops = dev_ceiling_gemm_tflops();
    dev_ceiling_bw(&copy_gbs, &read_gbs);
    printf("CEILING card=%s gemm_tflops=%.0f copy_gbs=%.0f read_gbs=%.0f\n", dev_card, tflops, copy_gbs, read_gbs);
    for (const dev_shape &sh : dev_shapes)
        if (strstr(shapes, sh.name)) time_shape(sh, S, W, tflops, read_gbs);
    return ok ? 0 : 1;
}
