/* attn_local.cu (dev) — builds and runs the local heads' kernels alone
 * (attn_local_prefill_cuda, attn_local_decode_cuda over an S + W row ring):
 * validates against the CPU twins, then times them beside the dense
 * sliding-window kernels doing the same work over a full cache.
 *
 *   attn_local [--quick] [--shapes llama3-8b,smollm2] [--window W] [--sink S] [--first N]
 *
 * Validation: fresh random ring, chunk and queries, out and lse poisoned
 * with NaN; S 0 and 4, windows 64 .. 8192, chunks of 1 .. 300 queries at
 * positions far past the window (a wrapped ring) and at 0; first chunks
 * (position 0, no ring) through prefill versions 1 (FA2-style) and 2 (the
 * Hopper kernel, d 64 and 128) by name, W below and above n_q.
 * Pass: ||out-ref||/||ref|| < 1e-2 and max |lse-ref| < 1e-2.
 * Timing (median of event-timed bursts): prefill of a 4096-query chunk at
 * position 2^20 (every query sees S + W keys; TFLOP/s = 4 n_q n_head (S+W) d
 * / t), peer attn_prefill_window_cuda with window S + W over a full cache;
 * a first chunk of N queries (default 32768, the shape of the layer
 * benchmark's local stage): versions 1 and 2 beside the windowed dense
 * kernel (window S + W) and the dense causal one (attn_prefill_cuda, the
 * Hopper kernel without a window: the rate version 2 aims at), each
 * TFLOP/s over the keys its own rule shows;
 * decode at position 2^20 (GB/s: the S + W rows of K and V read once),
 * versions 1 and 2 (both validated first), peer attn_decode_window_cuda. --quick: the small validation only (for
 * compute-sanitizer).
 */
#include <climits>

#include "kernels/cuda/dev/dev_common.cuh"

/* The device's out (bf16) and lse against the twin's, first n_out / n_lse
 * values; prints one VALID line; 1 when within tolerance. */
static int judge_out(const char *what, const dev_shape &sh, int S, int W, int pos, int n_q,
                     const std::vector<uint16_t> &out, const std::vector<float> &lse, const std::vector<float> &ref,
                     const std::vector<float> &rlse, size_t n_out, size_t n_lse)
{
    dev_cmp c = dev_compare(out.data(), ref.data(), n_out);
    double lse_err = 0;
    long nan = c.nan;
    for (size_t i = 0; i < n_lse; i++) {
        if (!isfinite(lse[i])) nan++;
        double e = fabs((double)lse[i] - rlse[i]);
        if (!(e <= lse_err)) lse_err = isnan(e) ? INFINITY : e;
    }
    int ok = nan == 0 && c.rel < 1e-2 && lse_err < 1e-2;
    printf("VALID kernel=local_%s card=%s shape=%s S=%d W=%d pos=%d n_q=%d rel=%.3e lse_maxabs=%.3e nan=%ld %s\n", what,
           dev_card, sh.name, S, W, pos, n_q, c.rel, lse_err, nan, ok ? "PASS" : "FAIL");
    return ok;
}

/* A first chunk's tensors on the device: q (n_q, H, D), k, v (n_q, KVH,
 * D) random; out (n_q, H, D) and lse (n_q, H) allocated. */
struct first_chunk {
    void *q, *k, *v, *out;
    float *lse;
    first_chunk(const dev_shape &sh, int n_q)
    {
        const size_t nk = (size_t)n_q * sh.n_kv_head * sh.d, nq = (size_t)n_q * sh.n_head * sh.d;
        CK(cudaMalloc(&q, nq * 2));
        CK(cudaMalloc(&k, nk * 2));
        CK(cudaMalloc(&v, nk * 2));
        CK(cudaMalloc(&out, nq * 2));
        CK(cudaMalloc(&lse, (size_t)n_q * sh.n_head * 4));
        uint32_t seed = dev_seed();
        dev_fill(q, nq, 2.f, seed);
        dev_fill(k, nk, 2.f, seed + 1);
        dev_fill(v, nk, 1.f, seed + 2);
    }
    ~first_chunk() { CK(cudaFree(q)); CK(cudaFree(k)); CK(cudaFree(v)); CK(cudaFree(out)); CK(cudaFree(lse)); }
};

/* A first chunk (positions 0 .. n_q-1, no ring) through prefill versions 1
 * and 2 by name, out and lse poisoned before each. */
static int check_first(const dev_shape &sh, int S, int W, int n_q)
{
    const int H = sh.n_head, KVH = sh.n_kv_head, D = sh.d;
    const size_t nk = (size_t)n_q * KVH * D, nq = (size_t)n_q * H * D, nl = (size_t)n_q * H;
    std::vector<uint16_t> q(nq), k(nk), v(nk), out(nq);
    std::vector<float> lse(nl), ref(nq), rlse(nl);
    const first_chunk c(sh, n_q);
    void *dq = c.q, *dk = c.k, *dv = c.v, *dout = c.out;
    float *dlse = c.lse;
    CK(cudaMemcpy(q.data(), dq, nq * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(k.data(), dk, nk * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(v.data(), dv, nk * 2, cudaMemcpyDeviceToHost));
    attn_local_prefill_ref(q.data(), NULL, NULL, k.data(), v.data(), ref.data(), rlse.data(), n_q, 0, S, W, H, KVH, D);
    int ok = 1;
    for (int version = 1; version <= 2; version++) {
        CK(cudaMemset(dout, 0xff, nq * 2));
        CK(cudaMemset(dlse, 0xff, nl * 4));
        CK(attn_local_prefill_cuda_version(version, dq, NULL, NULL, dk, dv, dout, dlse, n_q, 0, S, W, H, KVH, D, NULL));
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(out.data(), dout, nq * 2, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(lse.data(), dlse, nl * 4, cudaMemcpyDeviceToHost));
        ok &= judge_out(version == 1 ? "prefill_v1" : "prefill_v2", sh, S, W, 0, n_q, out, lse, ref, rlse, nq, nl);
    }
    return ok;
}

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
        return judge_out(what, sh, S, W, pos, what[0] == 'p' ? n_q : 1, out, lse, ref, rlse, n_out, n_lse);
    };
    int ok = judge("prefill", nq, nl, q_offset);
    /* decode over the ring alone, at a position whose own row the ring holds */
    const int pos = q_offset + n_q + 2 * W + 5;
    dev_fill(dq, (size_t)H * D, 2.f, seed + 5);
    CK(cudaMemcpy(qd.data(), dq, qd.size() * 2, cudaMemcpyDeviceToHost));
    attn_local_decode_ref(qd.data(), kr.data(), vr.data(), ref.data(), rlse.data(), pos, S, W, H, KVH, D);
    for (int version = 1; version <= 2; version++) {
        CK(cudaMemset(dout, 0xff, (size_t)H * D * 2));
        CK(cudaMemset(dlse, 0xff, (size_t)H * 4));
        CK(attn_local_decode_cuda_version(version, dq, dkr, dvr, dout, dlse, pos, S, W, H, KVH, D, work, wb, NULL));
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(out.data(), dout, (size_t)H * D * 2, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(lse.data(), dlse, (size_t)H * 4, cudaMemcpyDeviceToHost));
        ok &= judge(version == 1 ? "decode_v1" : "decode_v2", (size_t)H * D, (size_t)H, pos);
    }
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
    float us_v[3];
    for (int version = 1; version <= 2; version++)
        us_v[version] = dev_time_us([&](int) {
            CK(attn_local_decode_cuda_version(version, dq, dk, dv, dout, NULL, P, S, W, H, KVH, D, work, wb, NULL));
        }, 3, 30);
    us_peer = dev_time_us([&](int) {
        CK(attn_decode_window_cuda(dq, dk, dv, dout, NULL, L, H, KVH, D, L, dwork, dwb, NULL));
    }, 3, 30);
    printf("RESULT op=decode kernel=local card=%s shape=%s S=%d W=%d v1_us=%.1f v1_gbs=%.0f v2_us=%.1f v2_gbs=%.0f "
           "peer_window_us=%.1f peer_gbs=%.0f ceiling_read_gbs=%.0f\n", dev_card, sh.name, S, W, us_v[1],
           bytes / (us_v[1] * 1e-6) / 1e9, us_v[2], bytes / (us_v[2] * 1e-6) / 1e9, us_peer,
           bytes / (us_peer * 1e-6) / 1e9, read_gbs);
    CK(cudaFree(dq)); CK(cudaFree(dk)); CK(cudaFree(dv)); CK(cudaFree(dkc)); CK(cudaFree(dvc));
    CK(cudaFree(dout)); CK(cudaFree(dlse)); CK(cudaFree(work)); CK(cudaFree(dwork));
}

/* Keys the first N positions see in all: the local rule (S sinks, window
 * W) when causal_cap is 0, else min(i + 1, causal_cap) per query i (a
 * plain window of causal_cap; INT_MAX: causal). */
static double first_keys(int N, int S, int W, int causal_cap)
{
    double n = 0;
    for (int i = 0; i < N; i++) {
        if (causal_cap) {
            n += std::min(i + 1, causal_cap);
            continue;
        }
        const int lo = std::max(i - W + 1, S);
        n += std::min(S, i + 1) + std::max(0, i + 1 - lo);
    }
    return n;
}

/* A first chunk of N queries: versions 1 and 2, the windowed dense kernel
 * (window S + W) and the dense causal one over the same k, v. */
static void time_first(const dev_shape &sh, int S, int W, int N)
{
    const int H = sh.n_head, KVH = sh.n_kv_head, D = sh.d;
    if (D != 64 && D != 128) return;
    const first_chunk c(sh, N);
    void *dq = c.q, *dk = c.k, *dv = c.v, *dout = c.out;
    float *dlse = c.lse;
    const double per_key = 4.0 * H * D;
    const double f_local = per_key * first_keys(N, S, W, 0), f_win = per_key * first_keys(N, S, W, S + W);
    const double f_causal = per_key * first_keys(N, S, W, INT_MAX);
    float us_v[3];
    for (int version = 1; version <= 2; version++)
        us_v[version] = dev_time_us([&](int) {
            CK(attn_local_prefill_cuda_version(version, dq, NULL, NULL, dk, dv, dout, dlse, N, 0, S, W, H, KVH, D,
                                               NULL));
        }, 2, 10);
    float us_win = dev_time_us([&](int) {
        CK(attn_prefill_window_cuda(dq, dk, dv, dout, dlse, N, N, 0, H, KVH, D, S + W, NULL));
    }, 2, 10);
    float us_causal = dev_time_us([&](int) {
        CK(attn_prefill_cuda(dq, dk, dv, dout, dlse, N, N, 0, H, KVH, D, NULL));
    }, 1, 5);
    auto tf = [](double flop, float us) { return flop / (us * 1e-6) / 1e12; };
    printf("RESULT op=prefill_first kernel=local card=%s shape=%s S=%d W=%d n_q=%d v1_us=%.1f v1_tflops=%.1f "
           "v2_us=%.1f v2_tflops=%.1f peer_window_us=%.1f peer_window_tflops=%.1f dense_causal_tflops=%.1f "
           "v2_over_v1=%.2f v2_over_window=%.2f v2_rate_over_causal=%.2f\n",
           dev_card, sh.name, S, W, N, us_v[1], tf(f_local, us_v[1]), us_v[2], tf(f_local, us_v[2]), us_win,
           tf(f_win, us_win), tf(f_causal, us_causal), us_v[1] / us_v[2], us_win / us_v[2],
           tf(f_local, us_v[2]) / tf(f_causal, us_causal));
}

int main(int argc, char **argv)
{
    int quick = 0, W = 8192, S = 4, first = 32768;
    const char *shapes = "llama3-8b,smollm2";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--window") && i + 1 < argc) W = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sink") && i + 1 < argc) S = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--shapes") && i + 1 < argc) shapes = argv[++i];
        else if (!strcmp(argv[i], "--first") && i + 1 < argc) first = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--quick] [--shapes a,b] [--window W] [--sink S] [--first N]\n", argv[0]);
            return 2;
        }
    }
    if (W < 1 || S < 0 || first < 1) {
        fprintf(stderr, "%s: --window >= 1, --sink >= 0 and --first >= 1\n", argv[0]);
        return 2;
    }
    dev_init();
    int ok = 1;
    for (const dev_shape &sh : dev_shapes) {
        if (!strstr(shapes, sh.name)) continue;
        ok &= check_case(sh, 0, 64, 1000, 77);
        ok &= check_case(sh, 4, 64, 0, 130);
        ok &= check_case(sh, 4, 300, 2, 1);
        if (sh.d == 64 || sh.d == 128) {
            ok &= check_first(sh, 4, 256, 1000);
            ok &= check_first(sh, 0, 100, 333);
        }
        if (quick) continue;
        if (sh.d == 64 || sh.d == 128) {
            ok &= check_first(sh, 4, 700, 900);
            ok &= check_first(sh, 4, 384, 1300);
        }
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
        if (strstr(shapes, sh.name)) {
            time_shape(sh, S, W, tflops, read_gbs);
            time_first(sh, S, W, first);
        }
    return ok ? 0 : 1;
}
