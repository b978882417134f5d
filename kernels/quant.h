/* quant.h — ggml tensor types: block layouts and scalar dequantizers.
 *
 * Each quantized type has a block struct whose size is static_asserted to
 * match the file format, and a scalar dequantizer (readable, the reference;
 * speed is not the point: weights are dequantized once at load).
 */
#ifndef PURBO_QUANT_H
#define PURBO_QUANT_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

enum ggml_type {
    GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q4_1 = 3, GGML_Q5_0 = 6,
    GGML_Q8_0 = 8, GGML_Q4_K = 12, GGML_Q6_K = 14, GGML_BF16 = 30,
};

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK8_0 32
#define QK_K 256

typedef struct { uint16_t d; uint8_t qs[QK4_0 / 2]; } block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[QK4_1 / 2]; } block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; } block_q5_0;
typedef struct { uint16_t d; int8_t qs[QK8_0]; } block_q8_0;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[QK_K / 2]; } block_q4_K;
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; } block_q6_K;

static_assert(sizeof(block_q4_0) == 18, "block_q4_0 size");
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 size");
static_assert(sizeof(block_q5_0) == 22, "block_q5_0 size");
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 size");
static_assert(sizeof(block_q4_K) == 144, "block_q4_K size");
static_assert(sizeof(block_q6_K) == 210, "block_q6_K size");

/* Elements per block and bytes per block; 0 for an unknown type. */
int ggml_type_info(uint32_t type, size_t *block_elems, size_t *block_bytes);
const char *ggml_type_name(uint32_t type); /* "Q4_1", ... or "unknown" */

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);   /* round to nearest even */
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);  /* round to nearest even */

/* Q4_K's 6-bit scale and min of sub-block j (0..7) from a block's 12
 * packed scale bytes s (the dequantizer's and the quantized gemv's). */
static inline void q4_K_scale_min(int j, const uint8_t *s, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
        *m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

/* Dequantizes n elements (a multiple of the type's block size) of `type` at
 * src into dst. The type must be known (check with ggml_type_info first). */
void dequant_row(uint32_t type, const void *src, float *dst, size_t n);

#endif
