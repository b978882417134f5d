/* attn_sparse.cu (dev) — builds and runs the block-sparse attention kernels
 * alone (prefill over per-(query block, head) lists, decode over per-head
 * lists): validates every version against the CPU twin, then times them
 * with the dense kernels of this tree in the same process.
 *
 *   attn_sparse [--quick] [--pipelines] [--versions 1,2] [--shapes llama3-8b,smollm2]
 *               [--prefill-n 32768,131072] [--decode-n 131072,1048576]
 *               [--density 0.03,0.1] [--corr 0,0.75] [--dump DIR]
 *               [--select-only | --decode-only]
 *   attn_sparse --prefill-union ...   (attn_sparse_union.cu: per head vs union)
 * --select-only: the selection and the decode pipeline (indexer, selection,
 * attend), checked and timed; --decode-only: the sparse decode versions
 * and the union step, checked, then the decode versions timed over
 * --decode-n x --density x --corr (corr: the chance that a head's draw
 * for a block is its kv group's, shared by the group's heads).
 *
 * Block lists: item (query block qb, head h) keeps block 0 (the sink), the
 * two newest causal blocks (the diagonal and the one before) and each other
 * causal block with probability rho (a hash of seed, qb, h, b), ascending;
 * the density printed is the kept fraction of all causal blocks.
 * Validation: fresh random inputs and lists, out and lse poisoned with NaN
 * before each launch; small cases (a tail, a query chunk over a longer
 * cache, empty lists, lists in descending order) compared in full, a 16K
 * prefill on sampled rows and a 64K decode in full. Pass: ||out-ref||/
 * ||ref|| < 1e-2, max |lse-ref| < 1e-2 (-inf where the twin has -inf), no
 * NaN anywhere.
 * Timing: median of >= 10 event-timed bursts (dev_common.cuh). Prefill
 * FLOPs = 4*64*64*d per listed block (the diagonal block counted half, as
 * the dense causal count does); "tflops" is that over the time, so it is
 * comparable with the dense kernel's causal TFLOP/s printed beside it.
 * Decode: the lists rotate over 4 sets (another seed each) so that no launch
 * finds its blocks in L2; bytes = K + V of the listed blocks.
 * Selection (attn_select.cu): block log-masses amp * u^8 (peaked), with and
 * without exact ties, decode and prefill items; the GPU lists must equal
 * the twin's item by item; then timed at 128K and 1M decode, 32K prefill.
 * Decode pipeline: the indexer (attn_index.cu; index keys with planted
 * blocks that top-p should find) against its twin, its blocks selected and
 * attended (the lists equal to the twin's selection, the output to the
 * sparse twin's on them); then each stage and the three together timed.
 * Prefill pipeline: the same for a prefill chunk from position 0 (index
 * rows with planted blocks; attn_index_prefill.cu, then the selection and
 * the block-sparse prefill on its lists), timed beside the dense prefill;
 * kernel=..._mean: the same with the mean-pooled indexer.
 * --pipelines: the two pipelines alone (their validation and timing).
 * --dump DIR: writes each timed case's lists (DIR/lists_SHAPE_N_RHO.bin:
 * int32 n_q, n_head, n_kv_head, d, n_items, pad; int64 off[n_items + 1];
 * int32 idx[]) for the torch peers (suites/peers/sparse_peer.py).
 */
#include "kernels/attn_sparse.h"
#include "kernels/cuda/dev/dev_common.cuh"
#include "kernels/cuda/dev/sparse_lists.cuh"

static int check_prefill(int ver, const dev_shape &sh, int n_q, int kv_len, int q_offset, float rho, bool host,
                         bool descending, int n_sample)
{
    const int H = sh.n_head, KVH = sh.n_kv_head, D = sh.d, n_qb = (n_q + 63) / 64;
    uint32_t seed = dev_seed();
    lists L = host ? host_lists(n_qb * H, H, n_q, q_offset, rho, descending, seed)
                   : make_lists(n_q, q_offset, H, rho, seed);
    if (!host) host_copy_idx(L);
    prefill_io b = prefill_io_new(n_q, kv_len, H, KVH, D, seed);
    CK(attn_sparse_prefill_cuda_version(ver, b.dq, b.dk, b.dv, L.d_off, L.d_idx, b.dout, b.dlse, n_q, kv_len, q_offset,
                                        H, KVH, D, NULL));
    CK(cudaDeviceSynchronize());
    prefill_io_fetch(b);
    std::vector<int> rows = sample_rows(n_q, n_sample, seed);
    cmp_out c = check_sparse_rows(b.q, b.k, b.v, L.off.data(), L.idx.data(), b.out, b.lse, rows, n_q, kv_len, q_offset,
                                  H, KVH, D);
    int ok = c.nan == 0 && c.c.nan == 0 && c.c.rel < 1e-2 && c.lse_err < 1e-2;
    printf("VALID kernel=sparse_prefill_v%d card=%s shape=%s n_q=%d kv_len=%d q_offset=%d lists=%s%s blocks=%lld "
           "rows=%zu rel=%.3e lse_maxabs=%.3e nan=%ld %s\n",
           ver, dev_card, sh.name, n_q, kv_len, q_offset, host ? "host" : "gen", descending ? "_desc" : "",
           (long long)L.off.back(), rows.size(), c.c.rel, c.lse_err, c.nan, ok ? "PASS" : "FAIL");
    prefill_io_free(b);
    lists_free(L);
    return ok;
}

static int check_decode(int ver, const dev_shape &sh, int kv_len, float rho, bool host)
{
    const int H = sh.n_head, KVH = sh.n_kv_head, D = sh.d;
    const size_t nkv_el = (size_t)kv_len * KVH * D;
    uint32_t seed = dev_seed();
    lists L = host ? host_lists(H, H, 1, kv_len - 1, rho, false, seed) : make_lists(1, kv_len - 1, H, rho, seed);
    if (!host) host_copy_idx(L);
    std::vector<uint16_t> q((size_t)H * D), k(nkv_el), v(nkv_el), out((size_t)H * D);
    std::vector<float> lse(H), ref((size_t)H * D), rlse(H);
    void *dq, *dk, *dv, *dout, *work;
    float *dlse;
    size_t wb = attn_sparse_decode_workspace(L.max_len, kv_len, H, KVH, D);
    CK(cudaMalloc(&dq, (size_t)H * D * 2));
    CK(cudaMalloc(&dk, nkv_el * 2));
    CK(cudaMalloc(&dv, nkv_el * 2));
    CK(cudaMalloc(&dout, (size_t)H * D * 2));
    CK(cudaMalloc(&dlse, H * 4));
    CK(cudaMalloc(&work, wb));
    dev_fill(dq, (size_t)H * D, 2.f, seed + 1);
    dev_fill(dk, nkv_el, 2.f, seed + 2);
    dev_fill(dv, nkv_el, 1.f, seed + 3);
    CK(cudaMemset(dout, 0xff, (size_t)H * D * 2));
    CK(cudaMemset(dlse, 0xff, H * 4));
    CK(cudaMemset(work, 0xff, wb));
    CK(attn_sparse_decode_cuda_version(ver, dq, dk, dv, L.d_off, L.d_idx, L.max_len, dout, dlse, kv_len, H, KVH, D,
                                       work, wb, NULL));
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(q.data(), dq, (size_t)H * D * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(k.data(), dk, nkv_el * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(v.data(), dv, nkv_el * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(out.data(), dout, (size_t)H * D * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(lse.data(), dlse, H * 4, cudaMemcpyDeviceToHost));
    attn_sparse_decode_ref(q.data(), k.data(), v.data(), L.off.data(), L.idx.data(), ref.data(), rlse.data(), kv_len,
                           H, KVH, D);
    cmp_out c = compare_rows(out, lse, ref, rlse, std::vector<int>{0}, H, D);
    int ok = c.nan == 0 && c.c.nan == 0 && c.c.rel < 1e-2 && c.lse_err < 1e-2;
    printf("VALID kernel=sparse_decode_v%d card=%s shape=%s kv_len=%d lists=%s blocks=%lld rel=%.3e lse_maxabs=%.3e "
           "nan=%ld %s\n",
           ver, dev_card, sh.name, kv_len, host ? "host" : "gen", (long long)L.off.back(), c.c.rel, c.lse_err, c.nan,
           ok ? "PASS" : "FAIL");
    CK(cudaFree(dq)); CK(cudaFree(dk)); CK(cudaFree(dv)); CK(cudaFree(dout)); CK(cudaFree(dlse)); CK(cudaFree(work));
    lists_free(L);
    return ok;
}

/* The union step (attn_sparse_union_cuda) against its twin: uoff, uidx,
 * umask equal entry by entry (outputs poisoned first). */
static int check_union(const dev_shape &sh, int kv_len, float rho, bool host, float corr)
{
    const int H = sh.n_head, KVH = sh.n_kv_head, n_kb = (kv_len + 63) / 64;
    uint32_t seed = dev_seed();
    lists L = host ? host_lists(H, H, 1, kv_len - 1, rho, true, seed)
                   : make_lists(1, kv_len - 1, H, rho, seed, H / KVH, corr);
    if (!host) host_copy_idx(L);
    const size_t cap = (size_t)KVH * n_kb, wb = attn_sparse_union_workspace(kv_len, KVH);
    int64_t *duoff;
    int32_t *duidx;
    uint32_t *dumask;
    void *work;
    CK(cudaMalloc(&duoff, (KVH + 1) * 8));
    CK(cudaMalloc(&duidx, cap * 4));
    CK(cudaMalloc(&dumask, cap * 4));
    CK(cudaMalloc(&work, wb));
    CK(cudaMemset(duoff, 0xff, (KVH + 1) * 8));
    CK(cudaMemset(duidx, 0xff, cap * 4));
    CK(cudaMemset(dumask, 0xff, cap * 4));
    CK(cudaMemset(work, 0xff, wb));
    CK(attn_sparse_union_cuda(L.d_off, L.d_idx, L.max_len, kv_len, H, KVH, duoff, duidx, dumask, work, wb, NULL));
    CK(cudaDeviceSynchronize());
    std::vector<int64_t> uoff(KVH + 1), roff(KVH + 1);
    std::vector<int32_t> uidx(cap), ridx(cap);
    std::vector<uint32_t> umask(cap), rmask(cap);
    CK(cudaMemcpy(uoff.data(), duoff, (KVH + 1) * 8, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(uidx.data(), duidx, cap * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(umask.data(), dumask, cap * 4, cudaMemcpyDeviceToHost));
    attn_sparse_union_ref(L.off.data(), L.idx.data(), kv_len, H, KVH, roff.data(), ridx.data(), rmask.data());
    long diff = 0;
    for (int g = 0; g <= KVH; g++) diff += uoff[g] != roff[g];
    for (int64_t e = 0; !diff && e < roff[KVH]; e++) diff += uidx[e] != ridx[e] || umask[e] != rmask[e];
    const int ok = diff == 0;
    printf("VALID kernel=sparse_union card=%s shape=%s kv_len=%d lists=%s%s corr=%g blocks=%lld union=%lld "
           "differing=%ld %s\n",
           dev_card, sh.name, kv_len, host ? "host" : "gen", host ? "_desc" : "", corr, (long long)L.off.back(),
           (long long)roff[KVH], diff, ok ? "PASS" : "FAIL");
    CK(cudaFree(duoff)); CK(cudaFree(duidx)); CK(cudaFree(dumask)); CK(cudaFree(work));
    lists_free(L);
    return ok;
}

/* ---- timing ---- */

static void dump_lists(const char *dir, const dev_shape &sh, int n, float rho, lists &L)
{
    if (!dir) return;
    host_copy_idx(L);
    char path[512];
    snprintf(path, sizeof path, "%s/lists_%s_%d_%g.bin", dir, sh.name, n, rho);
    FILE *f = fopen(path, "wb");
    if (!f) { fprintf(stderr, "cannot write %s\n", path); exit(1); }
    int32_t hdr[6] = {n, sh.n_head, sh.n_kv_head, sh.d, (int32_t)(L.off.size() - 1), 0};
    fwrite(hdr, sizeof hdr, 1, f);
    fwrite(L.off.data(), sizeof(int64_t), L.off.size(), f);
    fwrite(L.idx.data(), sizeof(int32_t), L.idx.size(), f);
    fclose(f);
    L.idx.clear();
    L.idx.shrink_to_fit();
}

static void time_prefill(const std::vector<int> &vers, const dev_shape &sh, const std::vector<int> &ns,
                         const std::vector<float> &rhos, const char *dump)
{
    const int H = sh.n_head, KVH = sh.n_kv_head, D = sh.d;
    for (int n : ns) {
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
        const double dense_flops = 2.0 * (double)n * n * D * H;
        float dense_us = 0;
        if (n <= 262144) {
            dense_us = dev_time_us([&](int) {
                CK(attn_prefill_cuda(dq, dk, dv, dout, dlse, n, n, 0, H, KVH, D, NULL));
            }, 1, n <= 32768 ? 10 : 5);
            printf("RESULT op=prefill kernel=prefill_best card=%s shape=%s n=%d us=%.1f tflops=%.1f\n", dev_card,
                   sh.name, n, dense_us, dense_flops / (dense_us * 1e-6) / 1e12);
        }
        for (float rho : rhos) {
            lists L = make_lists(n, 0, H, rho, seed + 7);
            const double flops = L.flop_blocks * 4.0 * 64 * 64 * D;
            for (int ver : vers) {
                float us = dev_time_us([&](int) {
                    CK(attn_sparse_prefill_cuda_version(ver, dq, dk, dv, L.d_off, L.d_idx, dout, dlse, n, n, 0, H,
                                                        KVH, D, NULL));
                }, 1, n <= 131072 ? 10 : 5);
                double tf = flops / (us * 1e-6) / 1e12;
                printf("RESULT op=sparse_prefill kernel=sparse_prefill_v%d card=%s shape=%s n=%d rho=%g density=%.4f "
                       "blocks=%.0f us=%.1f tflops=%.1f dense_us=%.1f dense_tflops=%.1f per_block_vs_dense=%.3f "
                       "speedup_vs_dense=%.2f\n",
                       ver, dev_card, sh.name, n, rho, L.off.back() / L.causal_blocks, (double)L.off.back(), us, tf,
                       dense_us, dense_us > 0 ? dense_flops / (dense_us * 1e-6) / 1e12 : 0.0,
                       dense_us > 0 ? tf / (dense_flops / (dense_us * 1e-6) / 1e12) : 0.0,
                       dense_us > 0 ? dense_us / us : 0.0);
                fflush(stdout);
            }
            dump_lists(dump, sh, n, rho, L);
            lists_free(L);
        }
        CK(cudaFree(dq)); CK(cudaFree(dk)); CK(cudaFree(dv)); CK(cudaFree(dout)); CK(cudaFree(dlse));
    }
}

static void time_decode(const dev_shape &sh, const std::vector<int> &ns, const std::vector<float> &rhos,
                        const std::vector<float> &corrs, const char *dump)
{
    const int H = sh.n_head, KVH = sh.n_kv_head, D = sh.d;
    for (int n : ns) {
        void *dq, *dk, *dv, *dout, *work;
        float *dlse;
        CK(cudaMalloc(&dq, (size_t)H * D * 2));
        CK(cudaMalloc(&dk, (size_t)n * KVH * D * 2));
        CK(cudaMalloc(&dv, (size_t)n * KVH * D * 2));
        CK(cudaMalloc(&dout, (size_t)H * D * 2));
        CK(cudaMalloc(&dlse, H * 4));
        uint32_t seed = dev_seed();
        dev_fill(dq, (size_t)H * D, 2.f, seed);
        dev_fill(dk, (size_t)n * KVH * D, 2.f, seed + 1);
        dev_fill(dv, (size_t)n * KVH * D, 1.f, seed + 2);
        size_t wb = std::max(attn_decode_workspace(n, H, KVH, D),
                             attn_sparse_decode_workspace(n / 64 + 1, n, H, KVH, D));
        CK(cudaMalloc(&work, wb));
        const double dense_bytes = 2.0 * n * KVH * D * 2;
        float dense_us = dev_time_us([&](int) {
            CK(attn_decode_cuda(dq, dk, dv, dout, dlse, n, H, KVH, D, work, wb, NULL));
        }, 2, 20);
        printf("RESULT op=decode kernel=decode_v1 card=%s shape=%s n=%d us=%.2f gbs=%.0f\n", dev_card, sh.name, n,
               dense_us, dense_bytes / (dense_us * 1e-6) / 1e9);
        for (float corr : corrs)
        for (float rho : rhos) {
            enum { SETS = 4 };
            lists L[SETS];
            int max_len = 0;
            for (int s = 0; s < SETS; s++) {
                L[s] = make_lists(1, n - 1, H, rho, seed + 11 * (s + 1), H / KVH, corr);
                max_len = std::max(max_len, L[s].max_len);
            }
            const double bytes = (double)L[0].off.back() * 64 * D * 2 * 2;
            const int n_ver = H / KVH <= 16 ? attn_sparse_decode_versions() : 1;
            for (int ver = 0; ver <= n_ver; ver++) { /* 0: the plain entry's choice */
                float us = dev_time_us([&](int i) {
                    const lists &l = L[i % SETS];
                    if (ver == 0)
                        CK(attn_sparse_decode_cuda(dq, dk, dv, l.d_off, l.d_idx, max_len, dout, dlse, n, H, KVH, D,
                                                   work, wb, NULL));
                    else
                        CK(attn_sparse_decode_cuda_version(ver, dq, dk, dv, l.d_off, l.d_idx, max_len, dout, dlse, n,
                                                           H, KVH, D, work, wb, NULL));
                }, 2, 20);
                char kname[32];
                snprintf(kname, sizeof kname, ver ? "sparse_decode_v%d" : "sparse_decode_auto", ver);
                printf("RESULT op=sparse_decode kernel=%s card=%s shape=%s n=%d rho=%g corr=%g density=%.4f "
                       "blocks=%lld max_len=%d us=%.2f gbs=%.0f dense_us=%.2f speedup_vs_dense=%.2f\n",
                       kname, dev_card, sh.name, n, rho, corr, L[0].off.back() / L[0].causal_blocks,
                       (long long)L[0].off.back(), max_len, us, bytes / (us * 1e-6) / 1e9, dense_us, dense_us / us);
                fflush(stdout);
            }
            if (dump) {
                char name[64];
                snprintf(name, sizeof name, "%s_decode", sh.name);
                dev_shape ds = sh;
                ds.name = name;
                dump_lists(dump, ds, n, rho, L[0]);
            }
            for (int s = 0; s < SETS; s++) lists_free(L[s]);
        }
        CK(cudaFree(dq)); CK(cudaFree(dk)); CK(cudaFree(dv)); CK(cudaFree(dout)); CK(cudaFree(dlse));
        CK(cudaFree(work));
    }
}

/* ---- top-p selection ---- */

/* blse[i] = amp * ((u + 1) / 2)^8 (u uniform in [-1, 1)): most blocks near 0,
 * a few far above (a peaked, realistic spread); quant > 0 rounds to
 * multiples of 1/quant (many exact ties). */
__global__ static void fill_blse_kernel(float *x, size_t n, float amp, float quant, uint32_t seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float u = 0.5f * (dev_hash_unit(seed, i) + 1.f), u2 = u * u, u4 = u2 * u2;
        float v = amp * u4 * u4;
        x[i] = quant > 0 ? rintf(v * quant) / quant : v;
    }
}

/* Selection for n_q rows at q_offset (decode: n_q = 1), n_head heads:
 * GPU lists against the twin's, item by item; then (time) its time. */
static int check_select(int n_q, int q_offset, int H, float amp, float quant, bool time)
{
    const attn_select_params prm = {4, 64, 4, 0.9};
    const int n_qb = (n_q + 63) / 64, V = (q_offset + n_q - 1) / 64 + 1;
    const int64_t n_items = (int64_t)n_qb * H;
    const size_t ld = V, n_el = (size_t)n_items * ld;
    float *d_blse;
    int64_t *d_off;
    int32_t *d_idx;
    void *work;
    int64_t cap = 0;
    for (int64_t it = 0; it < n_items; it++) cap += (q_offset + std::min((int)(it / H) * 64 + 63, n_q - 1)) / 64 + 1;
    size_t wb = attn_select_workspace(n_q, H);
    CK(cudaMalloc(&d_blse, n_el * 4));
    CK(cudaMalloc(&d_off, (n_items + 1) * 8));
    CK(cudaMalloc(&d_idx, cap * 4));
    CK(cudaMalloc(&work, wb));
    uint32_t seed = dev_seed();
    fill_blse_kernel<<<1024, 256>>>(d_blse, n_el, amp, quant, seed);
    CK(cudaGetLastError());
    CK(cudaMemset(d_off, 0xff, (n_items + 1) * 8));
    CK(cudaMemset(d_idx, 0xff, cap * 4));
    CK(attn_select_topp_cuda(d_blse, ld, n_q, q_offset, H, &prm, d_off, d_idx, cap, work, wb, NULL));
    CK(cudaDeviceSynchronize());
    std::vector<float> blse(n_el);
    std::vector<int64_t> off(n_items + 1), roff(n_items + 1);
    CK(cudaMemcpy(blse.data(), d_blse, n_el * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(off.data(), d_off, (n_items + 1) * 8, cudaMemcpyDeviceToHost));
    std::vector<int32_t> idx(std::max<int64_t>(1, off[n_items] < 0 ? 1 : off[n_items])), ridx(cap);
    if (off[n_items] > 0 && off[n_items] <= cap)
        CK(cudaMemcpy(idx.data(), d_idx, off[n_items] * 4, cudaMemcpyDeviceToHost));
    attn_select_topp_ref(blse.data(), ld, n_q, q_offset, H, &prm, roff.data(), ridx.data());
    long diff = 0, first = -1;
    for (int64_t it = 0; it < n_items; it++) {
        bool same = off[it + 1] - off[it] == roff[it + 1] - roff[it] && off[it + 1] <= cap;
        for (int64_t e = 0; same && e < roff[it + 1] - roff[it]; e++) same = idx[off[it] + e] == ridx[roff[it] + e];
        if (!same && first < 0) first = it;
        diff += !same;
    }
    int ok = diff == 0;
    printf("VALID kernel=select_topp card=%s n_q=%d q_offset=%d n_head=%d amp=%g quant=%g items=%lld blocks=%lld "
           "density=%.4f differing_items=%ld%s %s\n",
           dev_card, n_q, q_offset, H, amp, quant, (long long)n_items, (long long)roff[n_items],
           (double)roff[n_items] / cap, diff, first >= 0 ? " (first shown below)" : "", ok ? "PASS" : "FAIL");
    if (first >= 0) {
        printf("#  item %ld: gpu %lld blocks, twin %lld blocks\n", first, (long long)(off[first + 1] - off[first]),
               (long long)(roff[first + 1] - roff[first]));
    }
    for (int ver = 0; time && ver <= 2; ver++) { /* 0: the automatic choice; 1: one CTA an item; 2: a cluster */
        if (ver == 2 && n_items > 256) break;
        float us = dev_time_us([&](int) {
            CK(attn_select_topp_cuda_version(ver, d_blse, ld, n_q, q_offset, H, &prm, d_off, d_idx, cap, work, wb,
                                             NULL));
        }, 2, 20);
        printf("RESULT op=select kernel=select_topp_%s card=%s n_q=%d kv_len=%d n_head=%d items=%lld density=%.4f "
               "us=%.1f gbs=%.0f\n",
               ver == 0 ? "auto" : ver == 1 ? "cta" : "cluster", dev_card, n_q, q_offset + n_q, H, (long long)n_items,
               (double)roff[n_items] / cap, us, (double)cap * 4 * 2 / (us * 1e-6) / 1e9);
    }
    fflush(stdout);
    CK(cudaFree(d_blse)); CK(cudaFree(d_off)); CK(cudaFree(d_idx)); CK(cudaFree(work));
    return ok;
}

/* ---- the decode pipeline: indexer, selection, sparse decode ---- */

__global__ static void fill_f32_kernel(float *x, size_t n, float amp, uint32_t seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = amp * dev_hash_unit(seed, i);
}

/* kx (H, kv_len, R): noise in [-1, 1), plus, in the planted blocks (each
 * block of each head with probability frac), boost * qx_h / |qx_h|^2 *
 * sqrt(d): there the indexer score rises by about `boost` (natural log). */
__global__ static void fill_kx_kernel(__nv_bfloat16 *kx, const float *qx, int kv_len, int H, int R, int d,
                                      float frac, float boost, uint32_t seed)
{
    size_t n = (size_t)kv_len * H * R;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(i % R), j = (int)((i / R) % kv_len), h = (int)(i / ((size_t)R * kv_len));
        float v = dev_hash_unit(seed, i);
        if (0.5f * (dev_hash_unit(seed ^ 0x5bd1e995u, (uint64_t)(j / 64) * H + h) + 1.f) < frac) {
            float q2 = 0.f;
            for (int e = 0; e < R; e++) q2 += qx[h * R + e] * qx[h * R + e];
            v += boost * sqrtf((float)d) / q2 * qx[h * R + c];
        }
        kx[i] = __float2bfloat16(v);
    }
}

/* Indexer (vs its twin), selection, sparse decode (vs its twin on the
 * selected lists), then each stage timed and the three together, beside
 * the dense decode. frac: fraction of planted blocks. */
static int decode_pipeline(const dev_shape &sh, int kv_len, int R, float frac, bool check, bool time)
{
    const int H = sh.n_head, KVH = sh.n_kv_head, D = sh.d, V = (kv_len - 1) / 64 + 1;
    const attn_select_params prm = {4, 64, 4, 0.9};
    const size_t nkv = (size_t)kv_len * KVH * D, nkx = (size_t)kv_len * H * R;
    void *dq, *dk, *dv, *dout, *work, *swork;
    __nv_bfloat16 *dkx;
    float *dqx, *dblse, *dlse;
    int64_t *doff;
    int32_t *didx;
    const size_t wb =
        std::max(attn_sparse_decode_workspace(V, kv_len, H, KVH, D), attn_decode_workspace(kv_len, H, KVH, D));
    const size_t swb = attn_select_workspace(1, H);
    CK(cudaMalloc(&dq, (size_t)H * D * 2));
    CK(cudaMalloc(&dk, nkv * 2));
    CK(cudaMalloc(&dv, nkv * 2));
    CK(cudaMalloc(&dkx, nkx * 2));
    CK(cudaMalloc(&dqx, (size_t)H * R * 4));
    CK(cudaMalloc(&dblse, (size_t)H * V * 4));
    CK(cudaMalloc(&doff, (H + 1) * 8));
    CK(cudaMalloc(&didx, (size_t)H * V * 4));
    CK(cudaMalloc(&dout, (size_t)H * D * 2));
    CK(cudaMalloc(&dlse, H * 4));
    CK(cudaMalloc(&work, wb));
    CK(cudaMalloc(&swork, swb));
    uint32_t seed = dev_seed();
    dev_fill(dq, (size_t)H * D, 2.f, seed);
    dev_fill(dk, nkv, 2.f, seed + 1);
    dev_fill(dv, nkv, 1.f, seed + 2);
    fill_f32_kernel<<<64, 256>>>(dqx, (size_t)H * R, 1.f, seed + 3);
    fill_kx_kernel<<<1024, 256>>>(dkx, dqx, kv_len, H, R, D, frac, 8.f, seed + 4);
    CK(cudaGetLastError());
    CK(cudaMemset(dblse, 0xff, (size_t)H * V * 4));
    CK(cudaMemset(dout, 0xff, (size_t)H * D * 2));
    auto index = [&]() { CK(attn_index_decode_cuda(dqx, dkx, dq, dk, dblse, V, kv_len, H, KVH, D, R, &prm, NULL)); };
    auto select = [&]() {
        CK(attn_select_topp_cuda(dblse, V, 1, kv_len - 1, H, &prm, doff, didx, (int64_t)H * V, swork, swb, NULL));
    };
    auto attend = [&]() {
        CK(attn_sparse_decode_cuda(dq, dk, dv, doff, didx, V, dout, dlse, kv_len, H, KVH, D, work, wb, NULL));
    };
    index();
    select();
    attend();
    CK(cudaDeviceSynchronize());
    int ok = 1;
    std::vector<int64_t> off(H + 1);
    CK(cudaMemcpy(off.data(), doff, (H + 1) * 8, cudaMemcpyDeviceToHost));
    const double density = (double)off[H] / ((double)H * V);
    if (check) {
        /* check: blse vs twin (all heads), out vs the sparse twin on the GPU's lists */
        std::vector<uint16_t> q((size_t)H * D), k(nkv), v(nkv), kx(nkx), out((size_t)H * D);
        std::vector<float> qx((size_t)H * R), blse((size_t)H * V), rblse((size_t)H * V), lse(H), ref((size_t)H * D),
            rlse(H);
        CK(cudaMemcpy(q.data(), dq, q.size() * 2, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(k.data(), dk, nkv * 2, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(v.data(), dv, nkv * 2, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(kx.data(), dkx, nkx * 2, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(qx.data(), dqx, qx.size() * 4, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(blse.data(), dblse, blse.size() * 4, cudaMemcpyDeviceToHost));
        std::vector<int32_t> idx(std::max<int64_t>(1, off[H]));
        CK(cudaMemcpy(idx.data(), didx, off[H] * 4, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(out.data(), dout, out.size() * 2, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(lse.data(), dlse, H * 4, cudaMemcpyDeviceToHost));
        attn_index_decode_ref(qx.data(), kx.data(), q.data(), k.data(), rblse.data(), V, kv_len, H, KVH, D, R, &prm);
        double berr = 0;
        long bnan = 0;
        for (size_t i = 0; i < blse.size(); i++) {
            bnan += !isfinite(blse[i]);
            berr = std::max(berr, (double)fabsf(blse[i] - rblse[i]));
        }
        std::vector<int64_t> roff(H + 1);
        std::vector<int32_t> ridx((size_t)H * V);
        attn_select_topp_ref(blse.data(), V, 1, kv_len - 1, H, &prm, roff.data(), ridx.data());
        bool same = roff[H] == off[H];
        for (int64_t e = 0; same && e < off[H]; e++) same = idx[e] == ridx[e];
        attn_sparse_decode_ref(q.data(), k.data(), v.data(), off.data(), idx.data(), ref.data(), rlse.data(), kv_len, H,
                               KVH, D);
        cmp_out c = compare_rows(out, lse, ref, rlse, std::vector<int>{0}, H, D);
        ok = bnan == 0 && berr < 1e-3 && same && c.nan == 0 && c.c.rel < 1e-2 && c.lse_err < 1e-2;
        printf("VALID kernel=decode_pipeline card=%s shape=%s kv_len=%d r=%d planted=%g blse_maxabs=%.3e "
               "lists_equal=%d density=%.4f rel=%.3e lse_maxabs=%.3e nan=%ld %s\n",
               dev_card, sh.name, kv_len, R, frac, berr, (int)same, density, c.c.rel, c.lse_err, c.nan + bnan,
               ok ? "PASS" : "FAIL");
    }
    if (time) {
        float t_dense = dev_time_us([&](int) {
            CK(attn_decode_cuda(dq, dk, dv, dout, dlse, kv_len, H, KVH, D, work, wb, NULL));
        }, 2, 20);
        float t_idx = dev_time_us([&](int) { index(); }, 2, 20);
        float t_sel = dev_time_us([&](int) { select(); }, 2, 20);
        float t_att = dev_time_us([&](int) { attend(); }, 2, 20);
        float t_all = dev_time_us([&](int) { index(); select(); attend(); }, 2, 20);
        printf("RESULT op=decode_layer kernel=rtpurbo_decode card=%s shape=%s n=%d r=%d planted=%g density=%.4f "
               "index_us=%.1f select_us=%.1f attend_us=%.1f total_us=%.1f dense_us=%.1f speedup_vs_dense=%.2f "
               "index_gbs=%.0f\n",
               dev_card, sh.name, kv_len, R, frac, density, t_idx, t_sel, t_att, t_all, t_dense, t_dense / t_all,
               (double)nkx * 2 / (t_idx * 1e-6) / 1e9);
    }
    fflush(stdout);
    CK(cudaFree(dq)); CK(cudaFree(dk)); CK(cudaFree(dv)); CK(cudaFree(dkx)); CK(cudaFree(dqx)); CK(cudaFree(dblse));
    CK(cudaFree(doff)); CK(cudaFree(didx)); CK(cudaFree(dout)); CK(cudaFree(dlse)); CK(cudaFree(work));
    CK(cudaFree(swork));
    return ok;
}

/* ---- the prefill pipeline: indexer, selection, block-sparse prefill ---- */

/* qx (n_q, H, R): the head's base direction base[h] plus noise of amp 0.5,
 * so the planted blocks of fill_kx_kernel (aligned with base) score high
 * for every row. */
__global__ static void fill_qx_rows_kernel(float *qx, const float *base, int n_q, int H, int R, uint32_t seed)
{
    size_t n = (size_t)n_q * H * R;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        qx[i] = base[i % ((size_t)H * R)] + 0.5f * dev_hash_unit(seed, i);
}

/* Indexer (vs its twin), selection (vs the twin selection on the GPU's
 * block LSEs), block-sparse prefill (vs its twin on the GPU's lists, on
 * sampled rows); then each stage timed and the three together, beside the
 * dense prefill. One chunk of n queries from position 0. */
static int prefill_pipeline(const dev_shape &sh, int n, int R, float frac, bool check, bool time, bool mean = false)
{
    const int H = sh.n_head, KVH = sh.n_kv_head, D = sh.d, V = (n - 1) / 64 + 1, n_items = V * H;
    const attn_select_params prm = {4, 64, 4, 0.9};
    const size_t nq = (size_t)n * H * D, nkv = (size_t)n * KVH * D, nkx = (size_t)n * H * R, nb = (size_t)n_items * V;
    void *dq, *dk, *dv, *dout, *swork;
    __nv_bfloat16 *dkx;
    float *dqx, *dbase, *dblse, *dlse;
    int64_t *doff;
    int32_t *didx;
    const size_t swb = attn_select_workspace(n, H);
    CK(cudaMalloc(&dq, nq * 2));
    CK(cudaMalloc(&dk, nkv * 2));
    CK(cudaMalloc(&dv, nkv * 2));
    CK(cudaMalloc(&dout, nq * 2));
    CK(cudaMalloc(&dlse, (size_t)n * H * 4));
    CK(cudaMalloc(&dkx, nkx * 2));
    CK(cudaMalloc(&dqx, (size_t)n * H * R * 4));
    CK(cudaMalloc(&dbase, (size_t)H * R * 4));
    CK(cudaMalloc(&dblse, nb * 4));
    CK(cudaMalloc(&doff, (n_items + 1) * 8));
    CK(cudaMalloc(&didx, nb * 4));
    CK(cudaMalloc(&swork, swb));
    uint32_t seed = dev_seed();
    dev_fill(dq, nq, 2.f, seed);
    dev_fill(dk, nkv, 2.f, seed + 1);
    dev_fill(dv, nkv, 1.f, seed + 2);
    fill_f32_kernel<<<64, 256>>>(dbase, (size_t)H * R, 1.f, seed + 3);
    fill_qx_rows_kernel<<<1024, 256>>>(dqx, dbase, n, H, R, seed + 5);
    fill_kx_kernel<<<1024, 256>>>(dkx, dbase, n, H, R, D, frac, 8.f, seed + 4);
    CK(cudaGetLastError());
    CK(cudaMemset(dblse, 0xff, nb * 4));
    CK(cudaMemset(dout, 0xff, nq * 2));
    CK(cudaMemset(dlse, 0xff, (size_t)n * H * 4));
    auto index = [&]() {
        CK((mean ? attn_index_prefill_mean_cuda : attn_index_prefill_cuda)(dqx, dkx, dq, dk, dblse, V, n, n, 0, H, KVH,
                                                                          D, R, &prm, NULL));
    };
    auto select = [&]() { CK(attn_select_topp_cuda(dblse, V, n, 0, H, &prm, doff, didx, (int64_t)nb, swork, swb, NULL)); };
    auto attend = [&]() {
        CK(attn_sparse_prefill_cuda(dq, dk, dv, doff, didx, dout, dlse, n, n, 0, H, KVH, D, NULL));
    };
    index();
    select();
    attend();
    CK(cudaDeviceSynchronize());
    int ok = 1;
    std::vector<int64_t> off(n_items + 1);
    CK(cudaMemcpy(off.data(), doff, (n_items + 1) * 8, cudaMemcpyDeviceToHost));
    double causal = 0;
    for (int it = 0; it < n_items; it++) causal += it / H + 1;
    const double density = (double)off[n_items] / causal;
    if (check) {
        std::vector<uint16_t> q(nq), k(nkv), v(nkv), kx(nkx), out(nq);
        std::vector<float> qx((size_t)n * H * R), blse(nb), rblse(nb), lse((size_t)n * H);
        CK(cudaMemcpy(q.data(), dq, nq * 2, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(k.data(), dk, nkv * 2, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(v.data(), dv, nkv * 2, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(kx.data(), dkx, nkx * 2, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(qx.data(), dqx, qx.size() * 4, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(blse.data(), dblse, nb * 4, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(out.data(), dout, nq * 2, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(lse.data(), dlse, lse.size() * 4, cudaMemcpyDeviceToHost));
        std::vector<int32_t> idx(std::max<int64_t>(1, off[n_items]));
        CK(cudaMemcpy(idx.data(), didx, off[n_items] * 4, cudaMemcpyDeviceToHost));
        (mean ? attn_index_prefill_mean_ref : attn_index_prefill_ref)(qx.data(), kx.data(), q.data(), k.data(),
                                                                      rblse.data(), V, n, n, 0, H, KVH, D, R, &prm);
        double berr = 0;
        long bnan = 0;
        for (int it = 0; it < n_items; it++)
            for (int b = 0; b <= it / H; b++) {
                const size_t i = (size_t)it * V + b;
                bnan += !isfinite(blse[i]);
                berr = std::max(berr, (double)fabsf(blse[i] - rblse[i]));
            }
        for (size_t i = 0; i < nb; i++)
            if (isnan(blse[i])) blse[i] = -INFINITY; /* past an item's blocks: never read */
        std::vector<int64_t> roff(n_items + 1);
        std::vector<int32_t> ridx(nb);
        attn_select_topp_ref(blse.data(), V, n, 0, H, &prm, roff.data(), ridx.data());
        bool same = roff[n_items] == off[n_items];
        for (int64_t e = 0; same && e < off[n_items]; e++) same = idx[e] == ridx[e];
        std::vector<int> rows;
        for (int i = 0; i < n; i += 37) rows.push_back(i);
        rows.push_back(n - 1);
        cmp_out c = check_sparse_rows(q, k, v, off.data(), idx.data(), out, lse, rows, n, n, 0, H, KVH, D);
        ok = bnan == 0 && berr < 1e-3 && same && c.nan == 0 && c.c.rel < 1e-2 && c.lse_err < 1e-2;
        printf("VALID kernel=prefill_pipeline%s card=%s shape=%s n=%d r=%d planted=%g blse_maxabs=%.3e lists_equal=%d "
               "density=%.4f rel=%.3e lse_maxabs=%.3e nan=%ld %s\n",
               mean ? "_mean" : "", dev_card, sh.name, n, R, frac, berr, (int)same, density, c.c.rel, c.lse_err, c.nan + bnan,
               ok ? "PASS" : "FAIL");
    }
    if (time) {
        float t_dense = dev_time_us([&](int) {
            CK(attn_prefill_cuda(dq, dk, dv, dout, dlse, n, n, 0, H, KVH, D, NULL));
        }, 1, 5);
        float t_idx = dev_time_us([&](int) { index(); }, 1, 5);
        float t_sel = dev_time_us([&](int) { select(); }, 1, 5);
        float t_att = dev_time_us([&](int) { attend(); }, 1, 5);
        float t_all = dev_time_us([&](int) { index(); select(); attend(); }, 1, 5);
        const double pairs = (double)n * (n + 1) / 2 * H;
        printf("RESULT op=prefill_layer kernel=rtpurbo_prefill%s card=%s shape=%s n=%d r=%d planted=%g density=%.4f "
               "index_us=%.1f select_us=%.1f attend_us=%.1f total_us=%.1f dense_us=%.1f speedup_vs_dense=%.2f "
               "index_select_share=%.3f index_tscores=%.2f\n",
               mean ? "_mean" : "", dev_card, sh.name, n, R, frac, density, t_idx, t_sel, t_att, t_all, t_dense, t_dense / t_all,
               (t_idx + t_sel) / t_all, pairs / (t_idx * 1e-6) / 1e12);
    }
    fflush(stdout);
    CK(cudaFree(dq)); CK(cudaFree(dk)); CK(cudaFree(dv)); CK(cudaFree(dout)); CK(cudaFree(dlse)); CK(cudaFree(dkx));
    CK(cudaFree(dqx)); CK(cudaFree(dbase)); CK(cudaFree(dblse)); CK(cudaFree(doff)); CK(cudaFree(didx));
    CK(cudaFree(swork));
    return ok;
}

template <typename T>
static std::vector<T> parse_list(const char *s)
{
    std::vector<T> r;
    for (char *p = (char *)s; *p;) {
        r.push_back((T)strtod(p, &p));
        if (*p == ',') p++;
        else if (*p) { fprintf(stderr, "bad list: %s\n", s); exit(2); }
    }
    return r;
}

int prefill_union_main(int argc, char **argv); /* attn_sparse_union.cu */

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--prefill-union")) return prefill_union_main(argc - 1, argv + 1);
    int quick = 0, pipe_only = 0, select_only = 0, decode_only = 0;
    std::vector<int> vers, pn = {32768, 131072}, dn = {131072, 1048576};
    std::vector<float> rhos = {0.03f, 0.1f}, corrs = {0.f};
    const char *shapes = "llama3-8b,smollm2", *dump = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--pipelines")) pipe_only = 1;
        else if (!strcmp(argv[i], "--shapes") && i + 1 < argc) shapes = argv[++i];
        else if (!strcmp(argv[i], "--versions") && i + 1 < argc) vers = parse_list<int>(argv[++i]);
        else if (!strcmp(argv[i], "--prefill-n") && i + 1 < argc) pn = parse_list<int>(argv[++i]);
        else if (!strcmp(argv[i], "--decode-n") && i + 1 < argc) dn = parse_list<int>(argv[++i]);
        else if (!strcmp(argv[i], "--density") && i + 1 < argc) rhos = parse_list<float>(argv[++i]);
        else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dump = argv[++i];
        else if (!strcmp(argv[i], "--corr") && i + 1 < argc) corrs = parse_list<float>(argv[++i]);
        else if (!strcmp(argv[i], "--select-only")) select_only = 1;
        else if (!strcmp(argv[i], "--decode-only")) decode_only = 1;
        else {
            fprintf(stderr, "usage: %s [--quick] [--pipelines] [--versions 1,2] [--shapes a,b] [--prefill-n N,..] "
                            "[--decode-n N,..] [--density r,..] [--corr c,..] [--select-only] [--decode-only] "
                            "[--dump DIR]\n",
                    argv[0]);
            return 2;
        }
    }
    if (vers.empty())
        for (int v = 1; v <= attn_sparse_prefill_versions(); v++) vers.push_back(v);
    dev_init();
    int ok = 1;
    for (const dev_shape &sh : dev_shapes) {
        if (!strstr(shapes, sh.name) || pipe_only || select_only) continue;
        for (int ver : vers) {
            if (decode_only) break;
            ok &= check_prefill(ver, sh, 1, 1, 0, 0.5f, true, false, 0);
            ok &= check_prefill(ver, sh, 300, 300, 0, 0.5f, true, false, 0);
            ok &= check_prefill(ver, sh, 256, 256, 0, 0.3f, true, true, 0);
            ok &= check_prefill(ver, sh, 200, 777, 577, 0.5f, true, false, 0);
            ok &= check_prefill(ver, sh, 1024, 1024, 0, 0.2f, false, false, 0);
            if (!quick) ok &= check_prefill(ver, sh, 16384, 16384, 0, 0.1f, false, false, 48);
        }
        for (int ver = 1; ver <= (sh.n_head / sh.n_kv_head <= 16 ? attn_sparse_decode_versions() : 1); ver++) {
            ok &= check_decode(ver, sh, 1, 0.5f, true);
            ok &= check_decode(ver, sh, 1000, 0.5f, true);
            ok &= check_decode(ver, sh, 4133, 0.2f, false);
            if (!quick) ok &= check_decode(ver, sh, 65536, 0.05f, false);
            if (!quick) ok &= check_decode(ver, sh, 262144, 0.03f, false);
        }
        ok &= check_union(sh, 1000, 0.5f, true, 0.f);
        ok &= check_union(sh, 4133, 0.2f, false, 0.f);
        ok &= check_union(sh, 300000, 0.1f, false, 0.7f);
    }
    if (!decode_only && !pipe_only) {
        /* decode and short chunks run the cluster path (1 CTA an item at
         * V <= 512, up to 8 above); 4096 rows x 32 heads the one-CTA path */
        ok &= check_select(1, 999, 32, 20.f, 0.f, false);
        ok &= check_select(1, 999, 32, 20.f, 4.f, false); /* ties */
        ok &= check_select(1, 99999, 32, 20.f, 0.f, false);
        ok &= check_select(1, 99999, 32, 20.f, 4.f, false);
        ok &= check_select(1, 99999, 32, 3.f, 1.f, false);   /* ties everywhere, across the cluster */
        ok &= check_select(1, 1048575, 32, 20.f, 4.f, false);
        ok &= check_select(1000, 0, 9, 20.f, 0.f, false);
        ok &= check_select(300, 577, 9, 8.f, 2.f, false);
        ok &= check_select(64, 262080, 32, 20.f, 4.f, false); /* a 64-row chunk at 256K */
        ok &= check_select(4096, 0, 32, 20.f, 4.f, false);
    }
    if (!quick && !decode_only && !pipe_only) {
        ok &= check_select(1, 1048575, 32, 20.f, 0.f, true);
        ok &= check_select(1, 131071, 32, 20.f, 0.f, true);
        ok &= check_select(1, 32767, 32, 20.f, 0.f, true);
        ok &= check_select(1, 1048575, 9, 20.f, 0.f, true);
        ok &= check_select(64, 1048512, 32, 20.f, 0.f, true); /* a 64-row prefill chunk at 1M */
        ok &= check_select(32768, 0, 32, 20.f, 0.f, true);
    }
    for (const dev_shape &sh : dev_shapes) {
        if (!strstr(shapes, sh.name) || decode_only) continue;
        const int R = sh.d / 8;
        ok &= decode_pipeline(sh, 4133, R, 0.05f, true, false);
        if (!quick) ok &= decode_pipeline(sh, 65536, R, 0.03f, true, false);
        ok &= prefill_pipeline(sh, 1000, R, 0.05f, true, false);
        ok &= prefill_pipeline(sh, 777, R == 8 ? 32 : 8, 0.05f, true, false);
        ok &= prefill_pipeline(sh, 1000, R, 0.05f, true, false, true);
        ok &= prefill_pipeline(sh, 777, R == 8 ? 32 : 8, 0.05f, true, false, true);
        if (!quick) ok &= prefill_pipeline(sh, 2100, R, 0.05f, true, false);
    }
    printf("validation: %s\n", ok ? "all PASS" : "FAILURES");
    fflush(stdout);
    if (quick) return ok ? 0 : 1;
    for (const dev_shape &sh : dev_shapes) {
        if (!strstr(shapes, sh.name) || decode_only) continue;
        for (int n : dn)
            for (float f : {0.01f, 0.03f, 0.1f}) decode_pipeline(sh, n, sh.d / 8, f, false, true);
        for (int n : pn) {
            for (float f : {0.01f, 0.03f, 0.1f}) prefill_pipeline(sh, n, sh.d / 8, f, false, true, true);
            prefill_pipeline(sh, n, sh.d / 8, 0.03f, false, true); /* the envelope, for comparison */
            for (int R : {8, 16, 32})
                if (R != sh.d / 8) prefill_pipeline(sh, n, R, 0.03f, false, true, true);
        }
    }
    for (const dev_shape &sh : dev_shapes) {
        if (!strstr(shapes, sh.name) || pipe_only || select_only) continue;
        if (!decode_only) time_prefill(vers, sh, pn, rhos, dump);
        time_decode(sh, dn, rhos, corrs, dump);
    }
    return ok ? 0 : 1;
}
