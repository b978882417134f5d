/* quant.c — ggml tensor types: the type table, f16/bf16 conversions and one
 * scalar dequantizer per supported type.
 *
 * Invariants a reader must keep:
 *   - Source blocks may sit at any address (gguf_open_mem takes any buffer,
 *     general.alignment may be 1), so blocks are copied out with memcpy,
 *     never dereferenced through a cast pointer.
 *   - The arithmetic follows ggml-quants.c operation by operation, in f32,
 *     so results are bit-identical to ggml's scalar path and to gguf-py
 *     (tests/test_quant.c checks both). That requires no FMA contraction:
 *     gcc does not contract in ISO C mode (-std=c11); clang is told below.
 *   - NaN conversions keep the sign and the top payload bits; the quiet bit
 *     is set only when the payload would otherwise vanish, so f16 -> f32 ->
 *     f16 (and bf16 -> f32 -> bf16) is the identity on all 65536 patterns.
 *     (ggml's bf16 conversion always sets the quiet bit.)
 */
#include "kernels/quant.h"

#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "purbo reads little-endian GGUF data in place: big-endian hosts are not supported"
#endif

/* ---- type table ---------------------------------------------------------- */

/* Names of every ggml type id a GGUF file may carry (ggml.h, enum ggml_type),
 * so messages can name types we know of but do not dequantize. */
static const char *const type_names[] = {
    [0] = "F32",      [1] = "F16",      [2] = "Q4_0",    [3] = "Q4_1",
    [6] = "Q5_0",     [7] = "Q5_1",     [8] = "Q8_0",    [9] = "Q8_1",
    [10] = "Q2_K",    [11] = "Q3_K",    [12] = "Q4_K",   [13] = "Q5_K",
    [14] = "Q6_K",    [15] = "Q8_K",    [16] = "IQ2_XXS", [17] = "IQ2_XS",
    [18] = "IQ3_XXS", [19] = "IQ1_S",   [20] = "IQ4_NL", [21] = "IQ3_S",
    [22] = "IQ2_S",   [23] = "IQ4_XS",  [24] = "I8",     [25] = "I16",
    [26] = "I32",     [27] = "I64",     [28] = "F64",    [29] = "IQ1_M",
    [30] = "BF16",    [34] = "TQ1_0",   [35] = "TQ2_0",  [39] = "MXFP4",
};

int ggml_type_info(uint32_t type, size_t *block_elems, size_t *block_bytes)
{
    size_t e, b;
    switch (type) {
    case GGML_F32:  e = 1;     b = 4; break;
    case GGML_F16:  e = 1;     b = 2; break;
    case GGML_BF16: e = 1;     b = 2; break;
    case GGML_Q4_0: e = QK4_0; b = sizeof(block_q4_0); break;
    case GGML_Q4_1: e = QK4_1; b = sizeof(block_q4_1); break;
    case GGML_Q5_0: e = QK5_0; b = sizeof(block_q5_0); break;
    case GGML_Q8_0: e = QK8_0; b = sizeof(block_q8_0); break;
    case GGML_Q4_K: e = QK_K;  b = sizeof(block_q4_K); break;
    case GGML_Q6_K: e = QK_K;  b = sizeof(block_q6_K); break;
    default: return 0;
    }
    if (block_elems) *block_elems = e;
    if (block_bytes) *block_bytes = b;
    return 1;
}

const char *ggml_type_name(uint32_t type)
{
    if (type < sizeof type_names / sizeof type_names[0] && type_names[type])
        return type_names[type];
    return "unknown";
}

/* ---- f16 / bf16 ---------------------------------------------------------- */

static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* f16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0x1f) /* inf / NaN: payload moves to the top of the f32 mantissa */
        return bits_f32(sign | 0x7f800000u | (mant << 13));
    if (exp != 0)    /* normal: rebias 15 -> 127 */
        return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
    if (mant == 0)
        return bits_f32(sign);
    /* subnormal mant * 2^-24: normalise so the leading 1 reaches bit 10 */
    int shift = 0;
    while (!(mant & 0x400)) { mant <<= 1; shift++; }
    return bits_f32(sign | ((uint32_t)(113 - shift) << 23) | ((mant & 0x3ff) << 13));
}

uint16_t f32_to_f16(float f)
{
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) { /* NaN: keep the top payload bits, stay a NaN */
        uint16_t m = (uint16_t)((a >> 13) & 0x3ff);
        return (uint16_t)(sign | 0x7c00 | (m ? m : 0x200));
    }
    if (a >= 0x477ff000u)  /* >= 65520 = halfway 65504..65536 (ties to even: inf) */
        return (uint16_t)(sign | 0x7c00);
    if (a >= 0x38800000u) { /* >= 2^-14: a normal f16 */
        uint32_t r = a - (112u << 23); /* rebias 127 -> 15 */
        r += 0xfff + ((r >> 13) & 1);  /* round to nearest even on bit 13 */
        return (uint16_t)(sign | (r >> 13));
    }
    if (a <= 0x33000000u)  /* <= 2^-25: rounds to zero (2^-25 ties to even 0) */
        return sign;
    /* subnormal result: units of 2^-24; value = m * 2^(e-150) */
    uint32_t e = a >> 23;
    uint32_t m = (a & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e; /* 14..24 */
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    return (uint16_t)(sign | q); /* q == 0x400 is the smallest normal: still right */
}

float bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) { /* NaN */
        uint16_t r = (uint16_t)(u >> 16);
        return (r & 0x7f) ? r : (uint16_t)(r | 0x40);
    }
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16); /* nearest even */
}

/* ---- dequantizers: one block at a time, n = elements ---------------------- */

static void dq_f16(const uint8_t *s, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        y[i] = f16_to_f32(h);
    }
}

static void dq_bf16(const uint8_t *s, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        y[i] = bf16_to_f32(h);
    }
}

/* Q4_0: y[j] = (lo nibble of qs[j] - 8)·d, y[j+16] = (hi nibble - 8)·d */
static void dq_q4_0(const block_q4_0 *b, float *y)
{
    const float d = f16_to_f32(b->d);
    for (int j = 0; j < QK4_0 / 2; j++) {
        const int x0 = (b->qs[j] & 0x0f) - 8;
        const int x1 = (b->qs[j] >> 4) - 8;
        y[j] = x0 * d;
        y[j + QK4_0 / 2] = x1 * d;
    }
}

/* Q4_1: y = nibble·d + m, same element order as Q4_0 */
static void dq_q4_1(const block_q4_1 *b, float *y)
{
    const float d = f16_to_f32(b->d), m = f16_to_f32(b->m);
    for (int j = 0; j < QK4_1 / 2; j++) {
        const int x0 = b->qs[j] & 0x0f;
        const int x1 = b->qs[j] >> 4;
        y[j] = x0 * d + m;
        y[j + QK4_1 / 2] = x1 * d + m;
    }
}

/* Q5_0: bit j of the 32-bit qh is the 5th bit of element j; y = (q - 16)·d */
static void dq_q5_0(const block_q5_0 *b, float *y)
{
    const float d = f16_to_f32(b->d);
    uint32_t qh;
    memcpy(&qh, b->qh, 4);
    for (int j = 0; j < QK5_0 / 2; j++) {
        const int h0 = (int)((qh >> j) & 1) << 4;
        const int h1 = (int)((qh >> (j + 16)) & 1) << 4;
        const int x0 = ((b->qs[j] & 0x0f) | h0) - 16;
        const int x1 = ((b->qs[j] >> 4) | h1) - 16;
        y[j] = x0 * d;
        y[j + QK5_0 / 2] = x1 * d;
    }
}

/* Q8_0: y = q·d */
static void dq_q8_0(const block_q8_0 *b, float *y)
{
    const float d = f16_to_f32(b->d);
    for (int j = 0; j < QK8_0; j++) y[j] = b->qs[j] * d;
}

/* Q4_K: 8 sub-blocks of 32, each with a 6-bit scale and min packed in 12
 * bytes: sub-blocks 0..3 in the low 6 bits of bytes 0..3 (scale) and 4..7
 * (min); sub-blocks 4..7 take 4 bits from bytes 8..11 and their top 2 bits
 * from the high bits of bytes 0..3 (scale) and 4..7 (min). */

/* Each 64-element chunk holds 32 bytes: low nibbles are sub-block is
 * (elements 0..31), high nibbles sub-block is+1 (elements 32..63);
 * y = d·sc·q - dmin·m. */
static void dq_q4_K(const block_q4_K *b, float *y)
{
    const float d = f16_to_f32(b->d), dmin = f16_to_f32(b->dmin);
    const uint8_t *q = b->qs;
    for (int is = 0; is < 8; is += 2) {
        uint8_t sc, m;
        q4_K_scale_min(is, b->scales, &sc, &m);
        const float d1 = d * sc, m1 = dmin * m;
        q4_K_scale_min(is + 1, b->scales, &sc, &m);
        const float d2 = d * sc, m2 = dmin * m;
        for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0x0f) - m1;
        for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
        q += 32;
    }
}

/* Q6_K: two halves of 128 elements; in each, for l = 0..31:
 *   element l      = low nibble of ql[l]      | bits 0-1 of qh[l] << 4
 *   element l + 32 = low nibble of ql[l + 32] | bits 2-3 of qh[l] << 4
 *   element l + 64 = high nibble of ql[l]      | bits 4-5 of qh[l] << 4
 *   element l + 96 = high nibble of ql[l + 32] | bits 6-7 of qh[l] << 4
 * 16 signed scales, one per 16 elements (8 per half); y = d·scale·(q - 32). */
static void dq_q6_K(const block_q6_K *b, float *y)
{
    const float d = f16_to_f32(b->d);
    const uint8_t *ql = b->ql, *qh = b->qh;
    const int8_t *sc = b->scales;
    for (int half = 0; half < 2; half++) {
        for (int l = 0; l < 32; l++) {
            const int is = l / 16;
            const int q1 = ((ql[l] & 0x0f) | ((qh[l] >> 0 & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0x0f) | ((qh[l] >> 2 & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4 & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6 & 3) << 4)) - 32;
            y[l] = d * sc[is + 0] * q1;
            y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3;
            y[l + 96] = d * sc[is + 6] * q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

/* Copies each block out (the source may be unaligned) and expands it. */
#define DQ_BLOCKS(T, QK, fn)                                  \
    do {                                                      \
        for (size_t i = 0; i < n / (QK); i++) {               \
            T blk;                                            \
            memcpy(&blk, s + i * sizeof(T), sizeof(T));       \
            fn(&blk, dst + i * (QK));                         \
        }                                                     \
    } while (0)

void dequant_row(uint32_t type, const void *src, float *dst, size_t n)
{
    const uint8_t *s = src;
    switch (type) {
    case GGML_F32:  memcpy(dst, s, n * sizeof(float)); break;
    case GGML_F16:  dq_f16(s, dst, n); break;
    case GGML_BF16: dq_bf16(s, dst, n); break;
    case GGML_Q4_0: DQ_BLOCKS(block_q4_0, QK4_0, dq_q4_0); break;
    case GGML_Q4_1: DQ_BLOCKS(block_q4_1, QK4_1, dq_q4_1); break;
    case GGML_Q5_0: DQ_BLOCKS(block_q5_0, QK5_0, dq_q5_0); break;
    case GGML_Q8_0: DQ_BLOCKS(block_q8_0, QK8_0, dq_q8_0); break;
    case GGML_Q4_K: DQ_BLOCKS(block_q4_K, QK_K, dq_q4_K); break;
    case GGML_Q6_K: DQ_BLOCKS(block_q6_K, QK_K, dq_q6_K); break;
    default: break; /* unknown: the caller checks ggml_type_info first */
    }
}
