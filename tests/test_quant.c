/* test_quant.c — the type table, f16/bf16 conversions (all 65536 patterns,
 * rounding at every midpoint), each dequantizer on hand-built blocks with
 * hand-computed values, and a bit-exact cross-check against gguf-py on random
 * blocks (tests/data/dequant_ref.bin) and on every tensor of the model
 * (tests/data/model_dequant_ref.txt); tests/data/gen_dequant_ref.py made both.
 */
#include "tests/test.h"

#include "base/common.h"
#include "model/gguf.h"
#include "kernels/quant.h"

#include <stdlib.h>

static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bitsf(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

TEST(quant_type_info)
{
    static const struct { uint32_t t; size_t e, b; const char *name; } want[] = {
        {GGML_F32, 1, 4, "F32"},      {GGML_F16, 1, 2, "F16"},    {GGML_BF16, 1, 2, "BF16"},
        {GGML_Q4_0, 32, 18, "Q4_0"},  {GGML_Q4_1, 32, 20, "Q4_1"}, {GGML_Q5_0, 32, 22, "Q5_0"},
        {GGML_Q8_0, 32, 34, "Q8_0"},  {GGML_Q4_K, 256, 144, "Q4_K"}, {GGML_Q6_K, 256, 210, "Q6_K"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        size_t e = 0, b = 0;
        CHECK(ggml_type_info(want[i].t, &e, &b));
        CHECK_MSG(e == want[i].e && b == want[i].b, "type %u: %zu %zu", want[i].t, e, b);
        CHECK(!strcmp(ggml_type_name(want[i].t), want[i].name));
    }
    size_t e = 7, b = 7;
    CHECK(!ggml_type_info(GGML_Q4_0 + 2, &e, &b) && e == 7 && b == 7); /* 4: removed */
    CHECK(!ggml_type_info(13, NULL, NULL) && !strcmp(ggml_type_name(13), "Q5_K"));
    CHECK(!ggml_type_info(1000, NULL, NULL) && !strcmp(ggml_type_name(1000), "unknown"));
    CHECK(!strcmp(ggml_type_name(4), "unknown") && !strcmp(ggml_type_name(31), "unknown"));
    CHECK(ggml_type_info(GGML_F32, NULL, NULL)); /* NULL outputs allowed */
}

/* ---- f16 / bf16 ------------------------------------------------------------- */

TEST(quant_f16_roundtrip_all_patterns)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = f16_to_f32((uint16_t)h);
        CHECK_MSG(f32_to_f16(f) == h, "0x%04x -> %g -> 0x%04x", h, f, f32_to_f16(f));
        int exp = (h >> 10) & 31, mant = h & 1023;
        CHECK_MSG((exp == 31 && mant) == (f != f), "0x%04x: NaN-ness", h);
        if (exp != 31) { /* value = (-1)^s · 2^(e-15) · 1.m, or 2^-14 · 0.m */
            double v = exp ? ldexp(1.0 + mant / 1024.0, exp - 15) : ldexp(mant / 1024.0, -14);
            if (h & 0x8000) v = -v;
            CHECK_MSG(f == v, "0x%04x: %.9g != %.9g", h, f, v);
        }
    }
    CHECK(f16_to_f32(0x3c00) == 1.0f && f16_to_f32(0xc000) == -2.0f);
    CHECK(f16_to_f32(0x7bff) == 65504.0f && f16_to_f32(0x0001) == ldexpf(1, -24));
    CHECK(f16_to_f32(0x7c00) == INFINITY && f16_to_f32(0xfc00) == -INFINITY);
    CHECK(fbits(f16_to_f32(0x8000)) == 0x80000000u);
    CHECK(fbits(f16_to_f32(0x7e00)) == 0x7fc00000u); /* quiet NaN stays quiet */
}

/* f32 -> f16 rounds to nearest, ties to even: at every midpoint between two
 * adjacent f16 values, and one f32 ulp either side of it. */
TEST(quant_f16_rounding_midpoints)
{
    for (uint32_t h = 0; h < 0x7c00; h++) { /* h and h+1 adjacent, h+1 may be inf */
        for (int s = 0; s < 2; s++) {
            uint16_t lo = (uint16_t)(h | (s << 15)), hi = (uint16_t)((h + 1) | (s << 15));
            double a = f16_to_f32(lo);
            double b = h + 1 == 0x7c00 ? (s ? -65536.0 : 65536.0) : f16_to_f32(hi);
            float mid = (float)((a + b) / 2); /* exact: 12 significant bits */
            CHECK((double)mid == (a + b) / 2);
            uint16_t even = (h & 1) ? hi : lo;
            CHECK_MSG(f32_to_f16(mid) == even, "mid of 0x%04x: 0x%04x", lo, f32_to_f16(mid));
            float below = nextafterf(mid, 0), above = nextafterf(mid, s ? -INFINITY : INFINITY);
            CHECK_MSG(f32_to_f16(below) == lo, "below mid of 0x%04x", lo);
            CHECK_MSG(f32_to_f16(above) == hi, "above mid of 0x%04x", lo);
        }
    }
    CHECK(f32_to_f16(1e10f) == 0x7c00 && f32_to_f16(-INFINITY) == 0xfc00);
    CHECK(f32_to_f16(1e-10f) == 0 && f32_to_f16(-1e-10f) == 0x8000);
    CHECK(f32_to_f16(bitsf(1)) == 0);                  /* f32 subnormal */
    CHECK(f32_to_f16(bitsf(0x7f800001)) == 0x7e00);    /* payload below f16: quiet bit set */
    CHECK(f32_to_f16(bitsf(0xffc00000)) == 0xfe00);
    CHECK(f32_to_f16(bitsf(0x7fa00000)) == 0x7d00);    /* payload kept */
}

TEST(quant_bf16_all_patterns)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = bf16_to_f32((uint16_t)h);
        CHECK(fbits(f) == h << 16);
        CHECK_MSG(f32_to_bf16(f) == h, "0x%04x -> 0x%04x", h, f32_to_bf16(f));
    }
    /* midpoints between adjacent bf16 values: ties to even, ulps either side */
    for (uint32_t h = 0; h < 0x7f80; h++) {
        for (uint32_t s = 0; s < 2; s++) {
            uint32_t lo = h | s << 15, hi = (h + 1) | s << 15;
            uint32_t mid = (lo << 16) | 0x8000;
            CHECK(f32_to_bf16(bitsf(mid)) == ((h & 1) ? hi : lo));
            CHECK(f32_to_bf16(bitsf(mid - 1)) == lo && f32_to_bf16(bitsf(mid + 1)) == hi);
        }
    }
    CHECK(f32_to_bf16(1.0f) == 0x3f80 && f32_to_bf16(-5.0f) == 0xc0a0);
    CHECK(f32_to_bf16(bitsf(0x7f800001)) == 0x7fc0); /* NaN whose payload would vanish */
    CHECK(f32_to_bf16(bitsf(0xff810000)) == 0xff81); /* payload kept, sign kept */
    CHECK(f32_to_bf16(3.4e38f) == 0x7f80);           /* rounds to inf */
}

/* ---- hand-built blocks -------------------------------------------------------- */

TEST(quant_dequant_f32_f16_bf16)
{
    float in[3] = {1.5f, -0.0f, 3e38f}, y[3];
    dequant_row(GGML_F32, in, y, 3);
    CHECK(y[0] == 1.5f && fbits(y[1]) == 0x80000000u && y[2] == 3e38f);
    uint16_t h[6] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000};
    float yh[6];
    dequant_row(GGML_F16, h, yh, 6);
    CHECK(yh[0] == 1 && yh[1] == -2 && yh[2] == 65504 && yh[3] == ldexpf(1, -24));
    CHECK(yh[4] == INFINITY && fbits(yh[5]) == 0x80000000u);
    uint16_t bf[4] = {0x3f80, 0xc0a0, 0x0001, 0xff80};
    dequant_row(GGML_BF16, bf, yh, 4);
    CHECK(yh[0] == 1 && yh[1] == -5 && yh[2] == ldexpf(1, -133) && yh[3] == -INFINITY);
}

TEST(quant_dequant_q4_0_q4_1)
{
    block_q4_0 a[2];
    a[0].d = 0x4000; /* 2.0 */
    a[1].d = 0xb800; /* -0.5 */
    for (int j = 0; j < 16; j++) {
        a[0].qs[j] = (uint8_t)(j | (15 - j) << 4);
        a[1].qs[j] = 0x80;
    }
    float y[64];
    dequant_row(GGML_Q4_0, a, y, 64);
    for (int j = 0; j < 16; j++) {
        CHECK_MSG(y[j] == (j - 8) * 2.0f, "y[%d] = %g", j, y[j]);   /* low nibbles first */
        CHECK_MSG(y[j + 16] == (7 - j) * 2.0f, "y[%d] = %g", j + 16, y[j + 16]);
        /* second block: (0 - 8)·-0.5 = 4, (8 - 8)·-0.5 = -0 */
        CHECK(y[32 + j] == 4.0f && fbits(y[48 + j]) == 0x80000000u);
    }
    block_q4_1 b = {.d = 0x3800, .m = 0xbc00}; /* d 0.5, m -1 */
    b.qs[0] = 0x0f;
    b.qs[1] = 0xa3;
    dequant_row(GGML_Q4_1, &b, y, 32);
    CHECK(y[0] == 6.5f && y[16] == -1.0f);  /* 15·0.5 - 1, 0·0.5 - 1 */
    CHECK(y[1] == 0.5f && y[17] == 4.0f);   /* 3·0.5 - 1, 10·0.5 - 1 */
    CHECK(y[2] == -1.0f && y[31] == -1.0f);
}

TEST(quant_dequant_q5_0_q8_0)
{
    block_q5_0 a = {.d = 0x3c00}; /* 1.0 */
    uint32_t qh = 1u << 0 | 1u << 17; /* 5th bit of elements 0 and 17 */
    memcpy(a.qh, &qh, 4);
    a.qs[0] = 0x00;
    a.qs[1] = 0xff;
    a.qs[2] = 0x5a;
    float y[32];
    dequant_row(GGML_Q5_0, &a, y, 32);
    CHECK(y[0] == 0 && y[16] == -16);  /* (0|16)-16, (0|0)-16 */
    CHECK(y[1] == -1 && y[17] == 15);  /* (15|0)-16, (15|16)-16 */
    CHECK(y[2] == -6 && y[18] == -11); /* 10-16, 5-16 */
    CHECK(y[3] == -16 && y[31] == -16);

    block_q8_0 b = {.d = 0xb400}; /* -0.25 */
    b.qs[0] = -128;
    b.qs[1] = 127;
    b.qs[2] = 4;
    b.qs[31] = -1;
    dequant_row(GGML_Q8_0, &b, y, 32);
    CHECK(y[0] == 32 && y[1] == -31.75f && y[2] == -1 && y[31] == 0.25f);
    CHECK(fbits(y[3]) == 0x80000000u); /* 0·-0.25 */
}

/* Q4_K scales, packed the way docs/ggml lay them out: sub-blocks 0..3 in the
 * low 6 bits of bytes 0..3 (scale) and 4..7 (min); sub-blocks 4..7 have their
 * low 4 bits in bytes 8..11 (scale low nibble, min high nibble) and their top
 * 2 bits in the top 2 bits of bytes 0..3 (scale) and 4..7 (min). */
static void pack_q4_K_scales(const uint8_t sc[8], const uint8_t mn[8], uint8_t out[12])
{
    for (int j = 0; j < 4; j++) {
        out[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        out[j + 4] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
        out[j + 8] = (uint8_t)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
    }
}

TEST(quant_dequant_q4_K)
{
    static const uint8_t sc[8] = {1, 2, 3, 4, 17, 33, 50, 63};
    static const uint8_t mn[8] = {0, 5, 10, 63, 16, 32, 48, 1};
    block_q4_K b = {.d = 0x3800, .dmin = 0x4000}; /* 0.5, 2.0 */
    pack_q4_K_scales(sc, mn, b.scales);
    for (int i = 0; i < 128; i++) b.qs[i] = (uint8_t)(i % 16 | (15 - i % 16) << 4);
    float y[256];
    dequant_row(GGML_Q4_K, &b, y, 256);
    /* by hand: element e is in chunk c = e/64; i = e%64 < 32: sub-block 2c,
     * low nibble of qs[32c + i]; else sub-block 2c+1, high nibble of qs[32c + i-32] */
    CHECK(y[0] == 0);                      /* 0.5·1·0 - 2·0 */
    CHECK(y[33] == 4);                     /* 0.5·2·14 - 2·5 */
    CHECK(y[64 + 5] == 0.5f * 3 * 5 - 20); /* sub 2: q 5, min 10 */
    CHECK(y[127] == 0.5f * 4 * 0 - 126);   /* sub 3: high nibble of qs[63] = 15-15 */
    CHECK(y[130] == -15);                  /* 0.5·17·2 - 2·16 */
    CHECK(y[190] == -47.5f);               /* 0.5·33·1 - 2·32 */
    CHECK(y[200] == 104);                  /* 0.5·50·8 - 2·48 */
    CHECK(y[255] == -2);                   /* 0.5·63·0 - 2·1 */
    for (int e = 0; e < 256; e++) {
        int c = e / 64, i = e % 64, sub = 2 * c + (i >= 32);
        int q = i < 32 ? b.qs[32 * c + i] & 15 : b.qs[32 * c + i - 32] >> 4;
        CHECK_MSG(y[e] == 0.5f * sc[sub] * q - 2.0f * mn[sub], "y[%d] = %g", e, y[e]);
    }
}

TEST(quant_dequant_q6_K)
{
    /* element e holds q = 7e mod 64; scale of element e: e/16 - 8 */
    block_q6_K b = {.d = 0x3800}; /* 0.5 */
    for (int e = 0; e < 256; e++) {
        int q = 7 * e % 64, h = e / 128, l = e % 32, k = e % 128 / 32;
        uint8_t *ql = &b.ql[64 * h + l + 32 * (k & 1)];
        *ql |= (uint8_t)(k < 2 ? q & 15 : (q & 15) << 4);
        b.qh[32 * h + l] |= (uint8_t)((q >> 4) << (2 * k));
    }
    for (int s = 0; s < 16; s++) b.scales[s] = (int8_t)(s - 8);
    float y[256];
    dequant_row(GGML_Q6_K, &b, y, 256);
    CHECK(y[0] == 128);     /* 0.5·-8·(0-32) */
    CHECK(y[100] == -28);   /* q 60, scale -2: 0.5·-2·28 */
    CHECK(y[255] == 87.5f); /* q 57, scale 7: 0.5·7·25 */
    for (int e = 0; e < 256; e++)
        CHECK_MSG(y[e] == 0.5f * (e / 16 - 8) * (7 * e % 64 - 32), "y[%d] = %g", e, y[e]);
}

/* ---- cross-checks against gguf-py --------------------------------------------- */

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = pb_malloc((size_t)len);
    *n = fread(p, 1, (size_t)len, f) == (size_t)len ? (size_t)len : 0;
    fclose(f);
    return p;
}

TEST(quant_matches_gguf_py_random_blocks)
{
    size_t n = 0, pos = 12;
    uint8_t *p = read_all("tests/data/dequant_ref.bin", &n);
    CHECK_MSG(p && n > 12 && !memcmp(p, "PBDQ", 4), "tests/data/dequant_ref.bin missing or bad");
    uint32_t hdr[2], types_seen = 0;
    memcpy(hdr, p + 4, 8);
    CHECK(hdr[0] == 1 && hdr[1] == 9);
    for (uint32_t r = 0; r < hdr[1]; r++) {
        uint32_t rec[3]; /* type, n_elems, n_bytes */
        CHECK(pos + 12 <= n);
        memcpy(rec, p + pos, 12);
        pos += 12;
        size_t be, bb;
        CHECK_MSG(ggml_type_info(rec[0], &be, &bb), "type %u", rec[0]);
        CHECK(rec[1] % be == 0 && rec[1] / be * bb == rec[2]);
        CHECK(pos + rec[2] + 4ull * rec[1] <= n);
        float *y = pb_malloc(4ull * rec[1]), *want = pb_malloc(4ull * rec[1]);
        memcpy(want, p + pos + rec[2], 4ull * rec[1]);
        dequant_row(rec[0], p + pos, y, rec[1]);
        uint32_t bad = 0, first = 0;
        for (uint32_t i = 0; i < rec[1]; i++)
            if (fbits(y[i]) != fbits(want[i]) && !bad++) first = i;
        float y0 = y[first], w0 = want[first];
        free(y);
        free(want);
        CHECK_MSG(!bad, "%s: %u of %u differ, first [%u] %.9g != %.9g", ggml_type_name(rec[0]),
                  bad, rec[1], first, y0, w0);
        pos += rec[2] + 4ull * rec[1];
        types_seen |= 1u << (rec[0] % 32);
    }
    CHECK(pos == n);
    CHECK(types_seen == (1u << 0 | 1u << 1 | 1u << 30 | 1u << 2 | 1u << 3 | 1u << 6 | 1u << 8 |
                         1u << 12 | 1u << 14));
    free(p);
}

/* Dequantizes every tensor of the model and compares its checksum (see
 * gen_dequant_ref.py) with gguf-py's. */
TEST(quant_matches_gguf_py_model_tensors)
{
    FILE *f = fopen("tests/data/model_dequant_ref.txt", "r");
    CHECK_MSG(f, "tests/data/model_dequant_ref.txt missing");
    pb_err e = {{0}};
    gguf *g = gguf_open(test_model_path, &e);
    if (!g) fclose(f);
    CHECK_MSG(g, "%s", e.msg);
    char name[128], type[16];
    unsigned long long n_elems, want;
    int lines = 0, ok = 1;
    float *row = NULL;
    while (ok && fscanf(f, "%127s %15s %llu %llx", name, type, &n_elems, &want) == 4) {
        lines++;
        const gguf_tensor *t = gguf_find_tensor(g, name);
        if (!t || strcmp(ggml_type_name(t->type), type) || t->n_elems != n_elems) {
            test_fail(__FILE__, __LINE__, "%s: missing or wrong type/size", name);
            ok = 0;
            break;
        }
        size_t be, bb;
        ggml_type_info(t->type, &be, &bb);
        row = pb_realloc(row, t->ne[0] * sizeof(float));
        uint64_t sum = 0, i = 0, row_bytes = t->ne[0] / be * bb;
        for (uint64_t r = 0; r < t->n_elems / t->ne[0]; r++) {
            dequant_row(t->type, (const uint8_t *)t->data + r * row_bytes, row, t->ne[0]);
            for (uint64_t j = 0; j < t->ne[0]; j++, i++) sum += fbits(row[j]) * (2 * i + 1);
        }
        if (sum != want) {
            test_fail(__FILE__, __LINE__, "%s: checksum %016llx, gguf-py %016llx", name,
                      (unsigned long long)sum, want);
            ok = 0;
        }
    }
    free(row);
    fclose(f);
    gguf_close(g);
    CHECK(ok);
    CHECK_MSG(lines == 272, "%d tensors checked", lines);
}
