/* test_cuda_heads.c — the head gather and scatter (kernels/attn_heads.h)
 * against their CPU twins on fresh random inputs: gather output poisoned
 * (0xffff, a bf16 NaN) before the call, scatter destination random except
 * the mapped heads, poisoned; both compared word for word (the same
 * rounding of finite values, a plain copy), and no poison left.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attn_heads.h"
#include "kernels/attn_rows.h"
#include "tests/gpu/gpu.h"
#include "tests/test.h"

/* One shape: n tokens, `heads` heads of d, the map's n_map slots. 1 or 0 after a recorded failure. */
static int heads_case(int n, int heads, int d, const int *map, int n_map)
{
    backend *G = gpu_cuda();
    if (!G) {
        test_fail(__FILE__, __LINE__, "no CUDA backend: %s", gpu_why());
        return 0;
    }
    const size_t nw = (size_t)n * heads * d, nc = (size_t)n * n_map * d;
    float *src = pb_malloc(nw * sizeof(float));
    gpu_fill(src, nw, -3.0f, 3.0f);
    uint16_t *g_ref = pb_malloc(nc * 2), *g_dev = pb_malloc(nc * 2);
    memset(g_ref, 0xff, nc * 2);
    attn_heads_gather_ref(g_ref, src, n, heads, map, n_map, d);
    void *dsrc = G->alloc(G, nw * sizeof(float)), *dc = G->alloc(G, nc * 2), *dw = G->alloc(G, nw * 2);
    G->upload(G, dsrc, src, nw * sizeof(float));
    gpu_poison(G, dc, nc * 2);
    int ok = attn_rows_wait() == 0 && attn_heads_gather_cuda(dc, dsrc, n, heads, map, n_map, d, NULL) == 0 &&
             attn_rows_wait() == 0;
    G->download(G, g_dev, dc, nc * 2);
    size_t bad_g = 0;
    for (size_t i = 0; i < nc; i++) bad_g += g_dev[i] != g_ref[i] || g_ref[i] == 0xffff;
    /* scatter the gathered rows into a random destination whose mapped heads are poisoned */
    uint16_t *w0 = pb_malloc(nw * 2), *w_ref = pb_malloc(nw * 2), *w_dev = pb_malloc(nw * 2);
    for (size_t i = 0; i < nw; i++) w0[i] = (uint16_t)(rng_next(gpu_rng()) & 0x7f7f);  /* finite, never 0xffff */
    for (int t = 0; t < n; t++)
        for (int i = 0; i < n_map; i++) memset(w0 + ((size_t)t * heads + map[i]) * d, 0xff, (size_t)d * 2);
    memcpy(w_ref, w0, nw * 2);
    attn_heads_scatter_ref(w_ref, heads, g_ref, n, map, n_map, d);
    G->upload(G, dw, w0, nw * 2);
    ok = ok && attn_rows_wait() == 0 && attn_heads_scatter_cuda(dw, heads, dc, n, map, n_map, d, NULL) == 0 &&
         attn_rows_wait() == 0;
    G->download(G, w_dev, dw, nw * 2);
    size_t bad_s = 0;
    for (size_t i = 0; i < nw; i++) bad_s += w_dev[i] != w_ref[i] || w_ref[i] == 0xffff;
    printf("    n %4d heads %2d d %3d map of %2d: gather %zu / %zu words differ, scatter %zu / %zu\n", n, heads, d, n_map,
           bad_g, nc, bad_s, nw);
    if (!ok || bad_g || bad_s)
        test_fail(__FILE__, __LINE__, "heads %d d %d: launch ok %d, gather %zu and scatter %zu words wrong", heads, d,
                  ok, bad_g, bad_s);
    G->free(G, dsrc);
    G->free(G, dc);
    G->free(G, dw);
    free(src), free(g_ref), free(g_dev), free(w0), free(w_ref), free(w_dev);
    return ok && !bad_g && !bad_s;
}

TEST(gpu_heads_gather_scatter)
{
    const int q9[] = {3, 4, 5, 6, 7, 8}, kv3[] = {1}, q32[] = {31, 0, 5, 6, 7, 12, 13, 14, 15, 20, 21, 30};
    CHECK(heads_case(37, 9, 64, q9, 6));
    CHECK(heads_case(1, 3, 64, kv3, 1));
    CHECK(heads_case(300, 32, 128, q32, 12));
    CHECK(heads_case(5, 8, 256, q32 + 2, 3));
    /* a bad map is refused before any launch */
    const int out_of_range[] = {0, 9};
    CHECK(attn_heads_gather_cuda(NULL, NULL, 1, 9, out_of_range, 2, 64, NULL) != 0);
}
