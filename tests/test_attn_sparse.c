/* test_attn_sparse.c — tests of the block-sparse CPU twins
 * (attn_sparse_prefill_ref, attn_sparse_decode_ref in kernels/cpu/attn_ref.c),
 * the oracle of the CUDA block-sparse prefill and sparse decode.
 *
 * Each twin is checked against the dense twin on inputs where the answer
 * is known another way: every causal block listed = dense causal; one
 * block listed = dense attention over that block's slice of the cache;
 * an empty list = zeros and lse -inf; the order of a list does not matter;
 * decode = the prefill twin's last row. The selection twin is checked
 * against the rtpurbo policy's own keep_forced + select_rtpurbo.
 */
#include "tests/test.h"

#include "kernels/attn_kernels.h"
#include "kernels/attn_sparse.h"
#include "policy/attn_sparse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng_state;
static float rnd(void) /* uniform in [-1, 1) */
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffffff) / 8388608.0f - 1.0f;
}

static void fill(uint16_t *x, size_t n, float amp)
{
    for (size_t i = 0; i < n; i++) x[i] = attn_f32_to_bf16(amp * rnd());
}

enum { NQ = 150, NH = 4, NKV = 2, D = 16, NQB = (NQ + 63) / 64 };

static uint16_t q[NQ * NH * D], k[NQ * NKV * D], v[NQ * NKV * D];
static float out[NQ * NH * D], lse[NQ * NH], ref[NQ * NH * D], rlse[NQ * NH];

static void inputs(uint32_t seed)
{
    rng_state = seed;
    fill(q, sizeof q / sizeof q[0], 3.0f);
    fill(k, sizeof k / sizeof k[0], 3.0f);
    fill(v, sizeof v / sizeof v[0], 1.0f);
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= m)) m = isnan(e) ? INFINITY : e;
    }
    return m;
}

TEST(attn_sparse_prefill_all_blocks_is_dense)
{
    inputs(777);
    int64_t off[NQB * NH + 1];
    int32_t idx[NQB * NH * NQB];
    int n = 0;
    off[0] = 0;
    for (int qb = 0; qb < NQB; qb++)
        for (int h = 0; h < NH; h++) {
            for (int b = qb; b >= 0; b--) idx[n++] = b; /* descending: order must not matter */
            off[qb * NH + h + 1] = n;
        }
    attn_sparse_prefill_ref(q, k, v, off, idx, out, lse, NQ, NQ, 0, NH, NKV, D, 0, NQ);
    attn_prefill_ref(q, k, v, ref, rlse, NQ, NQ, 0, NH, NKV, D);
    CHECK_MSG(max_diff(out, ref, NQ * NH * D) < 1e-5, "out differs by %g", max_diff(out, ref, NQ * NH * D));
    CHECK_MSG(max_diff(lse, rlse, NQ * NH) < 1e-5, "lse differs by %g", max_diff(lse, rlse, NQ * NH));
}

/* Query block 2 (rows 128..149), head 1 lists only block 1 (keys 64..127):
 * dense attention of those rows over the cache sliced to keys 64..127,
 * where they all see every key. Head 0 lists nothing: zeros, lse -inf.
 * Head 2 lists only its diagonal block 2: causal over keys 128..row. */
TEST(attn_sparse_prefill_one_block_is_its_slice)
{
    inputs(4242);
    int64_t off[NQB * NH + 1] = {0};
    int32_t idx[4];
    int n = 0;
    for (int it = 0; it < NQB * NH; it++) {
        int qb = it / NH, h = it % NH;
        if (qb == 2 && h == 1) idx[n++] = 1;
        if (qb == 2 && h == 2) idx[n++] = 2;
        off[it + 1] = n;
    }
    const int r0 = 128, nr = NQ - 128;
    attn_sparse_prefill_ref(q, k, v, off, idx, out, lse, NQ, NQ, 0, NH, NKV, D, r0, nr);
    static float sref[NQ * NH * D], slse[NQ * NH];
    /* rows 128.. over keys 64..127: a cache of 64 keys, every row past it */
    attn_prefill_ref(q + (size_t)r0 * NH * D, k + (size_t)64 * NKV * D, v + (size_t)64 * NKV * D, sref, slse, nr, 64,
                     64, NH, NKV, D);
    for (int i = 0; i < nr; i++) {
        const float *o1 = out + ((size_t)(r0 + i) * NH + 1) * D, *e1 = sref + ((size_t)i * NH + 1) * D;
        CHECK_MSG(max_diff(o1, e1, D) < 1e-6, "row %d head 1 differs by %g", r0 + i, max_diff(o1, e1, D));
        CHECK(fabsf(lse[(r0 + i) * NH + 1] - slse[i * NH + 1]) < 1e-5f);
        const float *o0 = out + ((size_t)(r0 + i) * NH + 0) * D;
        for (int c = 0; c < D; c++) CHECK(o0[c] == 0.0f);
        CHECK(isinf(lse[(r0 + i) * NH + 0]) && lse[(r0 + i) * NH + 0] < 0);
    }
    /* head 2: rows 128.. over keys 128..row: the slice from 128, causal */
    attn_prefill_ref(q + (size_t)r0 * NH * D, k + (size_t)128 * NKV * D, v + (size_t)128 * NKV * D, sref, slse, nr,
                     nr, 0, NH, NKV, D);
    for (int i = 0; i < nr; i++) {
        const float *o2 = out + ((size_t)(r0 + i) * NH + 2) * D, *e2 = sref + ((size_t)i * NH + 2) * D;
        CHECK_MSG(max_diff(o2, e2, D) < 1e-6, "row %d head 2 differs by %g", r0 + i, max_diff(o2, e2, D));
    }
    /* a changed key outside the listed block must not move head 1's output */
    float before = out[((size_t)140 * NH + 1) * D];
    k[(size_t)10 * NKV * D] ^= 0x4000;
    attn_sparse_prefill_ref(q, k, v, off, idx, out, lse, NQ, NQ, 0, NH, NKV, D, 140, 1);
    CHECK(out[((size_t)140 * NH + 1) * D] == before);
}

TEST(attn_sparse_decode_is_last_prefill_row)
{
    inputs(99);
    /* heads 0..3 list blocks {0, 2}, {1}, {}, {2, 0, 1} of a 150-key cache */
    int64_t off[NH + 1] = {0, 2, 3, 3, 6};
    int32_t idx[6] = {0, 2, 1, 2, 0, 1};
    float dout[NH * D], dlse[NH];
    attn_sparse_decode_ref(q, k, v, off, idx, dout, dlse, NQ, NH, NKV, D);
    /* the same lists as the prefill items of the last query block, last row */
    int64_t poff[NQB * NH + 1];
    for (int it = 0; it <= NQB * NH; it++) poff[it] = it <= (NQB - 1) * NH ? 0 : off[it - (NQB - 1) * NH];
    attn_sparse_prefill_ref(q, k, v, poff, idx, out, lse, NQ,
                            NQ, 0, NH, NKV, D, NQ - 1, 1);
    /* decode's q is (n_head, d): the prefill's last row must use the same q */
    float dout2[NH * D], dlse2[NH];
    attn_sparse_decode_ref(q + (size_t)(NQ - 1) * NH * D, k, v, off, idx, dout2, dlse2, NQ, NH, NKV, D);
    CHECK_MSG(max_diff(dout2, out + (size_t)(NQ - 1) * NH * D, NH * D) < 1e-6, "decode differs from prefill row");
    for (int h = 0; h < NH; h++) /* equal, -inf (head 2) included */
        CHECK_MSG(dlse2[h] == lse[(NQ - 1) * NH + h], "head %d: lse %g vs %g", h, dlse2[h], lse[(NQ - 1) * NH + h]);
    /* head 1 over block 1 only: dense decode over keys 64..127 */
    float e[NH * D], el[NH];
    attn_decode_ref(q, k + (size_t)64 * NKV * D, v + (size_t)64 * NKV * D, e, el, 64, NH, NKV, D);
    CHECK_MSG(max_diff(dout + D, e + D, D) < 1e-6, "head 1 differs by %g", max_diff(dout + D, e + D, D));
    CHECK(fabsf(dlse[1] - el[1]) < 1e-5f);
    /* head 2 lists nothing */
    for (int c = 0; c < D; c++) CHECK(dout[2 * D + c] == 0.0f);
    CHECK(isinf(dlse[2]) && dlse[2] < 0);
    /* head 3 lists every block (in another order): dense decode */
    attn_decode_ref(q, k, v, e, el, NQ, NH, NKV, D);
    CHECK_MSG(max_diff(dout + 3 * D, e + 3 * D, D) < 1e-5, "head 3 differs by %g",
              max_diff(dout + 3 * D, e + 3 * D, D));
    CHECK(fabsf(dlse[3] - el[3]) < 1e-5f);
}

/* ---- the top-p selection twin (kernels/cpu/attn_select_ref.c) against the
 * policy's own functions (keep_forced + select_rtpurbo) on one decode row ---- */


/* Twin list of one decode row at position qpos vs the policy's keep set
 * over the same float masses. Returns the number of blocks the twin kept
 * (-1 on a mismatch, reported). */
static int select_vs_policy(const float *blse, int qpos, const attn_select_params *sp)
{
    enum { VMAX = 64 };
    const int V = qpos / ATTN_SBLOCK + 1;
    int64_t off[2];
    int32_t idx[VMAX];
    attn_select_topp_ref(blse, VMAX, 1, qpos, 1, sp, off, idx);
    /* the masses as the twin forms them */
    float mx = -INFINITY, mass[VMAX];
    for (int b = 0; b < V; b++) mx = blse[b] > mx ? blse[b] : mx;
    double sum = 0.0;
    for (int b = 0; b < V; b++) sum += exp((double)blse[b] - mx);
    const float lse = (float)(mx + log(sum));
    for (int b = 0; b < V; b++) mass[b] = expf(blse[b] - lse);
    plan_params prm = plan_defaults;
    prm.sink = sp->sink;
    prm.local = sp->local;
    prm.kmin = sp->kmin;
    prm.p = sp->p;
    unsigned char keep[VMAX];
    unit_score order[VMAX];
    keep_forced(keep, ATTN_SBLOCK, qpos, &prm);
    select_rtpurbo(mass, V, &prm, keep, order);
    int n = 0;
    for (int b = 0; b < V; b++) {
        int in_list = 0;
        for (int64_t e = off[0]; e < off[1]; e++) in_list |= idx[e] == b;
        if (in_list != keep[b]) {
            test_fail(__FILE__, __LINE__, "qpos %d block %d: twin %d, policy %d", qpos, b, in_list, keep[b]);
            return -1;
        }
        n += keep[b];
    }
    return n;
}

TEST(attn_select_ref_matches_policy)
{
    enum { VMAX = 64 };
    float blse[VMAX];
    rng_state = 2024;
    const attn_select_params sp = {4, 64, 4, 0.9};
    int sizes = 0;
    for (int trial = 0; trial < 200; trial++) {
        const int qpos = 64 + (int)((rnd() + 1.0f) * 0.5f * (VMAX * ATTN_SBLOCK - 65));
        for (int b = 0; b < VMAX; b++) {
            float u = 0.5f * (rnd() + 1.0f);
            blse[b] = 12.0f * u * u * u * u;
            if (trial % 4 == 0) blse[b] = rintf(blse[b]); /* exact ties */
        }
        int n = select_vs_policy(blse, qpos, &sp);
        CHECK(n >= 0);
        sizes += n;
    }
    CHECK(sizes > 200 * 6); /* forced (>= 2) + kmin (4) at least, on average more */
}

TEST(attn_select_ref_rules)
{
    enum { VMAX = 64, QPOS = 64 * 40 - 1, V = 40 };
    float blse[VMAX];
    int64_t off[2];
    int32_t idx[VMAX];
    for (int b = 0; b < VMAX; b++) blse[b] = 0.0f;
    /* p >= 1: every block */
    attn_select_params sp = {4, 64, 4, 1.0};
    attn_select_topp_ref(blse, VMAX, 1, QPOS, 1, &sp, off, idx);
    CHECK(off[1] == V && idx[0] == 0 && idx[V - 1] == V - 1);
    /* tiny p: forced (block 0 for the sink, block 39 for the last 64 tokens)
     * plus the kmin floor: the 4 largest non-forced blocks, ties to the lower */
    sp.p = 1e-9;
    blse[7] = 5.0f;
    blse[20] = 4.0f;
    blse[30] = 4.0f;
    blse[0] = 9.0f; /* forced: its mass does not count toward kmin */
    attn_select_topp_ref(blse, VMAX, 1, QPOS, 1, &sp, off, idx);
    const int32_t want[] = {0, 1, 7, 20, 30, 39};
    CHECK_MSG(off[1] == 6, "%lld blocks", (long long)off[1]);
    for (int i = 0; i < 6; i++) CHECK_MSG(idx[i] == want[i], "entry %d: %d, want %d", i, idx[i], want[i]);
    /* p reached by one peak: forced + the peak + kmin - 1 more */
    sp.p = 0.5;
    blse[12] = 30.0f;
    attn_select_topp_ref(blse, VMAX, 1, QPOS, 1, &sp, off, idx);
    const int32_t want2[] = {0, 7, 12, 20, 30, 39};
    CHECK_MSG(off[1] == 6, "%lld blocks", (long long)off[1]);
    for (int i = 0; i < 6; i++) CHECK_MSG(idx[i] == want2[i], "entry %d: %d, want %d", i, idx[i], want2[i]);
}

/* ---- the per-group union of decode lists (attn_sparse_union_ref) ---- */

TEST(attn_sparse_union_ref_rules)
{
    /* heads 0..3 (kv heads 0, 0, 1, 1) list {0, 2}, {1}, {}, {2, 0, 1} of 3 blocks */
    const int64_t off[NH + 1] = {0, 2, 3, 3, 6};
    const int32_t idx[6] = {0, 2, 1, 2, 0, 1};
    int64_t uoff[NKV + 1];
    int32_t uidx[NKV * NQB];
    uint32_t umask[NKV * NQB];
    attn_sparse_union_ref(off, idx, NQ, NH, NKV, uoff, uidx, umask);
    const int32_t want_idx[6] = {0, 1, 2, 0, 1, 2};
    const uint32_t want_mask[6] = {1, 2, 1, 2, 2, 2};
    CHECK(uoff[0] == 0 && uoff[1] == 3 && uoff[2] == 6);
    for (int e = 0; e < 6; e++)
        CHECK_MSG(uidx[e] == want_idx[e] && umask[e] == want_mask[e], "entry %d: block %d mask %u", e, uidx[e],
                  umask[e]);
}

/* Random lists (any order, empty ones) of 12 heads on 3 kv heads: each
 * union ascending, no empty mask, and per head the blocks whose mask has
 * its bit are exactly its list; the decode over those equals the decode
 * over the list. */
TEST(attn_sparse_union_ref_is_each_heads_list)
{
    enum { H = 12, KVH = 3, G = H / KVH, KV = 1000, NKB = (KV + 63) / 64, DD = 16 };
    static int64_t off[H + 1], uoff[KVH + 1], hoff[H + 1];
    static int32_t idx[H * NKB], uidx[KVH * NKB], hidx[H * NKB];
    static uint32_t umask[KVH * NKB];
    static uint16_t qq[H * DD], kk[KV * KVH * DD], vv[KV * KVH * DD];
    static float o1[H * DD], l1[H], o2[H * DD], l2[H];
    rng_state = 77;
    for (int trial = 0; trial < 20; trial++) {
        off[0] = 0;
        for (int h = 0; h < H; h++) {
            int64_t n = off[h];
            const float rho = (float)((trial + h) % 5) * 0.2f; /* 0 (empty) .. 0.8 */
            for (int b = NKB - 1; b >= 0; b--) /* descending */
                if (0.5f * (rnd() + 1.0f) < rho) idx[n++] = b;
            off[h + 1] = n;
        }
        attn_sparse_union_ref(off, idx, KV, H, KVH, uoff, uidx, umask);
        CHECK(uoff[0] == 0);
        for (int g = 0; g < KVH; g++)
            for (int64_t e = uoff[g]; e < uoff[g + 1]; e++) {
                CHECK(umask[e] != 0 && umask[e] < (1u << G));
                CHECK(e == uoff[g] || uidx[e] > uidx[e - 1]);
            }
        /* per head: the masked blocks, rebuilt as a list */
        hoff[0] = 0;
        for (int h = 0; h < H; h++) {
            int64_t n = hoff[h];
            const int g = h / G;
            for (int64_t e = uoff[g]; e < uoff[g + 1]; e++)
                if (umask[e] >> (h % G) & 1u) hidx[n++] = uidx[e];
            hoff[h + 1] = n;
            CHECK_MSG(n - hoff[h] == off[h + 1] - off[h], "head %d: %lld blocks, list %lld", h,
                      (long long)(n - hoff[h]), (long long)(off[h + 1] - off[h]));
            for (int64_t e = off[h]; e < off[h + 1]; e++) {
                int found = 0;
                for (int64_t x = hoff[h]; x < n; x++) found |= hidx[x] == idx[e];
                CHECK_MSG(found, "head %d block %d missing from the union", h, idx[e]);
            }
        }
        if (trial < 3) {
            fill(qq, H * DD, 3.0f);
            fill(kk, KV * KVH * DD, 3.0f);
            fill(vv, KV * KVH * DD, 1.0f);
            attn_sparse_decode_ref(qq, kk, vv, off, idx, o1, l1, KV, H, KVH, DD);
            attn_sparse_decode_ref(qq, kk, vv, hoff, hidx, o2, l2, KV, H, KVH, DD);
            CHECK(max_diff(o1, o2, H * DD) < 1e-6);
            for (int h = 0; h < H; h++) CHECK(l1[h] == l2[h] || fabsf(l1[h] - l2[h]) < 1e-6f);
        }
    }
}

/* Prefill unions per (query block, kv head), lists of NQB * NH items in any
 * order: each union ascending inside its group's room, masks within G
 * bits, and a head's bit on exactly its own blocks; attention over the
 * unions equals the per-head twin (bit for bit on ascending lists, where
 * the blocks come in the same order). */
TEST(attn_sparse_prefill_union_ref_is_each_heads_list)
{
    enum { G = NH / NKV, NIT = NQB * NH };
    static int64_t off[NIT + 1];
    static int32_t idx[NIT * NQB], uidx[NIT * NQB], ucnt[NQB * NKV];
    static uint32_t umask[NIT * NQB];
    rng_state = 4242;
    for (int trial = 0; trial < 6; trial++) {
        const int desc = trial & 1;
        off[0] = 0;
        for (int it = 0; it < NIT; it++) {
            int64_t n = off[it];
            const int qb = it / NH, V = (qb * 64 + 63 < NQ ? qb * 64 + 63 : NQ - 1) / 64 + 1;
            const float rho = (float)((trial + it) % 4) * 0.33f; /* 0 (empty) .. 1 */
            for (int i = 0; i < V; i++)
                if (0.5f * (rnd() + 1.0f) < rho) idx[n++] = desc ? V - 1 - i : i;
            off[it + 1] = n;
        }
        memset(uidx, 0xff, sizeof uidx);
        attn_sparse_prefill_union_lists_ref(off, idx, NQ, NQ, NH, NKV, uidx, umask, ucnt);
        for (int qb = 0; qb < NQB; qb++)
            for (int g = 0; g < NKV; g++) {
                const int64_t at = off[qb * NH + g * G], room = off[qb * NH + g * G + G] - at;
                const int32_t c = ucnt[qb * NKV + g];
                CHECK(c >= 0 && c <= room);
                for (int32_t e = 0; e < c; e++) {
                    CHECK(umask[at + e] != 0 && umask[at + e] < (1u << G));
                    CHECK(e == 0 || uidx[at + e] > uidx[at + e - 1]);
                }
                for (int r = 0; r < G; r++) { /* head r's bit: exactly its list */
                    const int it = qb * NH + g * G + r;
                    int64_t with_bit = 0;
                    for (int32_t e = 0; e < c; e++) with_bit += umask[at + e] >> r & 1u;
                    CHECK(with_bit == off[it + 1] - off[it]);
                    for (int64_t x = off[it]; x < off[it + 1]; x++) {
                        int found = 0;
                        for (int32_t e = 0; e < c; e++) found |= uidx[at + e] == idx[x] && (umask[at + e] >> r & 1u);
                        CHECK_MSG(found, "item %d block %d missing from the union", it, idx[x]);
                    }
                }
            }
        if (trial < 2) {
            inputs(900 + trial);
            attn_sparse_prefill_ref(q, k, v, off, idx, ref, rlse, NQ, NQ, 0, NH, NKV, D, 0, NQ);
            attn_sparse_prefill_union_ref(q, k, v, off, uidx, umask, ucnt, out, lse, NQ, NQ, 0, NH, NKV, D, 0, NQ);
            if (!desc) {
                CHECK(memcmp(out, ref, sizeof out) == 0);
                CHECK(memcmp(lse, rlse, sizeof lse) == 0);
            } else {
                CHECK(max_diff(out, ref, NQ * NH * D) < 1e-5);
                for (int i = 0; i < NQ * NH; i++) CHECK(lse[i] == rlse[i] || fabsf(lse[i] - rlse[i]) < 1e-5f);
            }
        }
    }
}
