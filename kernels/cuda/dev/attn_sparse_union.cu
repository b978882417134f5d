/* attn_sparse_union.cu (dev) — block-sparse prefill, one pass per query head
 * (attn_sparse_prefill_cuda, the default version) against one pass per kv
 * head over the union of its heads' lists (attn_sparse_prefill_union_cuda:
 * the union step, then the attention): validates the union kernels against
 * the CPU twin, then times both on the same lists.
 *
 *   attn_sparse --prefill-union [--shapes llama3-8b,smollm2] [--prefill-n 65536,131072]
 *               [--density 0.03,0.3] [--corr 0.75] [--check-only]
 *
 * Lists (sparse_lists.cuh): each causal block kept with probability rho,
 * a head's draw being its group's with probability corr (so a group's
 * heads choose overlapping blocks), sink and the two newest blocks always.
 * Validation: out and lse poisoned before each launch; the unions against
 * attn_sparse_prefill_union_lists_ref (every group), the output against
 * attn_sparse_prefill_ref on the original lists (full at 300 rows over a
 * longer cache, sampled rows at 16K). Pass: ||out-ref||/||ref|| < 1e-2,
 * max |lse-ref| < 1e-2, no NaN.
 * Timing: median of event-timed bursts (dev_common.cuh); "union" includes
 * the union step, "union_attend" is the attention alone; blocks = the
 * listed blocks, ublocks = the union's (the K/V blocks the union loads).
 */
#include "kernels/attn_sparse.h"
#include "kernels/cuda/dev/dev_common.cuh"
#include "kernels/cuda/dev/sparse_lists.cuh"

struct uwork {
    void *p = nullptr;
    size_t bytes = 0;
};

static int check_union(const dev_shape &sh, int n_q, int q_offset, float rho, float corr, int n_sample)
{
    const int H = sh.n_head, KVH = sh.n_kv_head, D = sh.d, G = H / KVH, kv_len = q_offset + n_q;
    const int n_qb = (n_q + 63) / 64;
    const int64_t n_g = (int64_t)n_qb * KVH;
    uint32_t seed = dev_seed();
    lists L = make_lists(n_q, q_offset, H, rho, seed, G, corr);
    host_copy_idx(L);
    const int64_t ne = L.off.back();
    uwork w;
    w.bytes = attn_sparse_prefill_union_workspace(ne, n_q, KVH);
    CK(cudaMalloc(&w.p, w.bytes));
    CK(cudaMemset(w.p, 0xff, w.bytes));
    prefill_io b = prefill_io_new(n_q, kv_len, H, KVH, D, seed);
    CK(attn_sparse_prefill_union_cuda(b.dq, b.dk, b.dv, L.d_off, L.d_idx, ne, b.dout, b.dlse, n_q, kv_len, q_offset, H,
                                      KVH, D, w.p, w.bytes, NULL));
    CK(cudaDeviceSynchronize());
    /* the unions, as the workspace holds them (uidx, umask, ucnt) */
    const size_t ent = (size_t)((ne * 4 + 255) & ~(int64_t)255);
    std::vector<int32_t> uidx(ne + 1), ruidx(ne + 1), ucnt(n_g), rucnt(n_g);
    std::vector<uint32_t> umask(ne + 1), rumask(ne + 1);
    if (ne) CK(cudaMemcpy(uidx.data(), w.p, ne * 4, cudaMemcpyDeviceToHost));
    if (ne) CK(cudaMemcpy(umask.data(), (char *)w.p + ent, ne * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(ucnt.data(), (char *)w.p + 2 * ent, n_g * 4, cudaMemcpyDeviceToHost));
    attn_sparse_prefill_union_lists_ref(L.off.data(), L.idx.data(), n_q, kv_len, H, KVH, ruidx.data(), rumask.data(),
                                        rucnt.data());
    long gbad = 0;
    int64_t utotal = 0;
    for (int64_t u = 0; u < n_g; u++) {
        const int64_t at = L.off[(u / KVH) * H + (u % KVH) * G];
        bool same = ucnt[u] == rucnt[u];
        for (int32_t e = 0; same && e < rucnt[u]; e++)
            same = uidx[at + e] == ruidx[at + e] && umask[at + e] == rumask[at + e];
        gbad += !same;
        utotal += rucnt[u];
    }
    prefill_io_fetch(b);
    std::vector<int> rows = sample_rows(n_q, n_sample, seed);
    cmp_out c = check_sparse_rows(b.q, b.k, b.v, L.off.data(), L.idx.data(), b.out, b.lse, rows, n_q, kv_len, q_offset,
                                  H, KVH, D);
    int ok = gbad == 0 && c.nan == 0 && c.c.nan == 0 && c.c.rel < 1e-2 && c.lse_err < 1e-2;
    printf("VALID kernel=sparse_prefill_union card=%s shape=%s n_q=%d kv_len=%d q_offset=%d rho=%g corr=%g "
           "blocks=%lld ublocks=%lld groups_differing=%ld rows=%zu rel=%.3e lse_maxabs=%.3e nan=%ld %s\n",
           dev_card, sh.name, n_q, kv_len, q_offset, rho, corr, (long long)ne, (long long)utotal, gbad, rows.size(),
           c.c.rel, c.lse_err, c.nan, ok ? "PASS" : "FAIL");
    prefill_io_free(b);
    CK(cudaFree(w.p));
    lists_free(L);
    return ok;
}

static void time_union(const dev_shape &sh, int n, float rho, float corr)
{
    const int H = sh.n_head, KVH = sh.n_kv_head, D = sh.d, G = H / KVH, n_qb = (n + 63) / 64;
    void *dq, *dk, *dv, *dout;
    float *dlse;
    CK(cudaMalloc(&dq, (size_t)n * H * D * 2));
    CK(cudaMalloc(&dk, (size_t)n * KVH * D * 2));
    CK(cudaMalloc(&dv, (size_t)n * KVH * D * 2));
    CK(cudaMalloc(&dout, (size_t)n * H * D * 2));
    CK(cudaMalloc(&dlse, (size_t)n * H * 4));
    uint32_t seed = dev_seed();
    dev_fill(dq, (size_t)n * H * D, 2.f, seed);
    dev_fill(dk, (size_t)n * KVH * D, 2.f, seed + 1);
    dev_fill(dv, (size_t)n * KVH * D, 1.f, seed + 2);
    lists L = make_lists(n, 0, H, rho, seed + 7, G, corr);
    const int64_t ne = L.off.back();
    uwork w;
    w.bytes = attn_sparse_prefill_union_workspace(ne, n, KVH);
    CK(cudaMalloc(&w.p, w.bytes));
    const size_t ent = (size_t)((ne * 4 + 255) & ~(int64_t)255);
    int32_t *uidx = (int32_t *)w.p, *ucnt = (int32_t *)((char *)w.p + 2 * ent);
    uint32_t *umask = (uint32_t *)((char *)w.p + ent);
    const double flops = L.flop_blocks * 4.0 * 64 * 64 * D;
    const int reps = n <= 65536 ? 10 : 5;
    float us_head = dev_time_us([&](int) {
        CK(attn_sparse_prefill_cuda(dq, dk, dv, L.d_off, L.d_idx, dout, dlse, n, n, 0, H, KVH, D, NULL));
    }, 1, reps);
    float us_union = dev_time_us([&](int) {
        CK(attn_sparse_prefill_union_cuda(dq, dk, dv, L.d_off, L.d_idx, ne, dout, dlse, n, n, 0, H, KVH, D, w.p,
                                          w.bytes, NULL));
    }, 1, reps);
    float us_attend = dev_time_us([&](int) {
        CK(attn_sparse_prefill_union_attend_cuda(dq, dk, dv, L.d_off, uidx, umask, ucnt, dout, dlse, n, n, 0, H, KVH,
                                                 D, NULL));
    }, 1, reps);
    std::vector<int32_t> cnt((size_t)n_qb * KVH);
    CK(cudaMemcpy(cnt.data(), ucnt, cnt.size() * 4, cudaMemcpyDeviceToHost));
    long long ub = 0;
    for (int32_t c : cnt) ub += c;
    const double dens = ne / L.causal_blocks;
    struct { const char *k; float us; } rs[] = {{"perhead", us_head}, {"union", us_union}, {"union_attend", us_attend}};
    for (auto &r : rs)
        printf("RESULT op=sparse_prefill_union kernel=%s card=%s shape=%s n=%d rho=%g corr=%g density=%.4f "
               "blocks=%lld ublocks=%lld us=%.1f tflops=%.1f vs_perhead=%.3f\n",
               r.k, dev_card, sh.name, n, rho, corr, dens, (long long)ne, ub, r.us, flops / (r.us * 1e-6) / 1e12,
               us_head / r.us);
    fflush(stdout);
    CK(cudaFree(w.p));
    lists_free(L);
    CK(cudaFree(dq)); CK(cudaFree(dk)); CK(cudaFree(dv)); CK(cudaFree(dout)); CK(cudaFree(dlse));
}

template <class T>
static std::vector<T> parse_csv(const char *s)
{
    std::vector<T> v;
    for (const char *p = s; *p;) {
        v.push_back((T)atof(p));
        while (*p && *p != ',') p++;
        if (*p == ',') p++;
    }
    return v;
}

int prefill_union_main(int argc, char **argv)
{
    std::vector<int> ns = {65536, 131072};
    std::vector<float> rhos = {0.03f, 0.3f}, corrs = {0.75f};
    const char *shapes = "llama3-8b,smollm2";
    int check_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--shapes") && i + 1 < argc) shapes = argv[++i];
        else if (!strcmp(argv[i], "--prefill-n") && i + 1 < argc) ns = parse_csv<int>(argv[++i]);
        else if (!strcmp(argv[i], "--density") && i + 1 < argc) rhos = parse_csv<float>(argv[++i]);
        else if (!strcmp(argv[i], "--corr") && i + 1 < argc) corrs = parse_csv<float>(argv[++i]);
        else if (!strcmp(argv[i], "--check-only")) check_only = 1;
        else {
            fprintf(stderr, "usage: attn_sparse --prefill-union [--shapes a,b] [--prefill-n N,..] [--density r,..] "
                            "[--corr c,..] [--check-only]\n");
            return 2;
        }
    }
    dev_init();
    int ok = 1;
    for (const dev_shape &sh : dev_shapes) {
        if (!strstr(shapes, sh.name)) continue;
        ok &= check_union(sh, 300, 700, 0.5f, 0.75f, 0);
        ok &= check_union(sh, 300, 0, 0.3f, 0.f, 0);
        ok &= check_union(sh, 16384, 0, 0.1f, 0.75f, 96);
    }
    printf("VALID_SUMMARY kernel=sparse_prefill_union %s\n", ok ? "PASS" : "FAIL");
    if (!ok || check_only) return ok ? 0 : 1;
    for (const dev_shape &sh : dev_shapes) {
        if (!strstr(shapes, sh.name)) continue;
        for (int n : ns)
            for (float rho : rhos)
                for (float corr : corrs) time_union(sh, n, rho, corr);
    }
    return 0;
}
