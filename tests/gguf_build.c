/* gguf_build.c — the test GGUF writer declared in gguf_build.h. */
#include "tests/gguf_build.h"

#include "base/common.h"
#include "model/gguf.h"
#include "kernels/quant.h"

#include <string.h>

void gb_free(gbuf *b)
{
    free(b->p);
    *b = (gbuf){0};
}

void gb_bytes(gbuf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = pb_realloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->n, src, n);
    b->n += n;
}

void gb_u8(gbuf *b, uint8_t v) { gb_bytes(b, &v, 1); }
void gb_u16(gbuf *b, uint16_t v) { gb_bytes(b, &v, 2); }
void gb_u32(gbuf *b, uint32_t v) { gb_bytes(b, &v, 4); }
void gb_u64(gbuf *b, uint64_t v) { gb_bytes(b, &v, 8); }
void gb_f32(gbuf *b, float v) { gb_bytes(b, &v, 4); }
void gb_f64(gbuf *b, double v) { gb_bytes(b, &v, 8); }

void gb_str(gbuf *b, const char *s)
{
    gb_u64(b, strlen(s));
    gb_bytes(b, s, strlen(s));
}

void gb_zeros(gbuf *b, size_t n)
{
    while (n--) gb_u8(b, 0);
}

void gb_pad(gbuf *b, size_t align)
{
    while (b->n % align) gb_u8(b, 0);
}

void gb_put_u32(gbuf *b, size_t at, uint32_t v) { memcpy(b->p + at, &v, 4); }
void gb_put_u64(gbuf *b, size_t at, uint64_t v) { memcpy(b->p + at, &v, 8); }

void gb_header(gbuf *b, uint64_t n_tensors, uint64_t n_kv)
{
    gb_bytes(b, "GGUF", 4);
    gb_u32(b, 3);
    gb_u64(b, n_tensors);
    gb_u64(b, n_kv);
}

void gb_key(gbuf *b, const char *key, uint32_t type)
{
    gb_str(b, key);
    gb_u32(b, type);
}

void gb_kv_u32(gbuf *b, const char *key, uint32_t v)
{
    gb_key(b, key, GGUF_U32);
    gb_u32(b, v);
}

void gb_kv_str(gbuf *b, const char *key, const char *v)
{
    gb_key(b, key, GGUF_STRING);
    gb_str(b, v);
}

void gb_tensor(gbuf *b, const char *name, uint32_t n_dims, const uint64_t *ne,
               uint32_t type, uint64_t offset)
{
    gb_str(b, name);
    gb_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) gb_u64(b, ne[d]);
    gb_u32(b, type);
    gb_u64(b, offset);
}

size_t gb_sample(gbuf *b, gb_marks *m, int with_alignment)
{
    *m = (gb_marks){0};
    gb_header(b, 3, with_alignment ? 21 : 20);
    m->n_tensors = 8;
    m->n_kv = 16;
    m->kv_first = b->n;
    gb_kv_str(b, "general.architecture", "llama");
    if (with_alignment) {
        m->align_kv = b->n;
        gb_key(b, "general.alignment", GGUF_U32);
        m->align_val = b->n;
        gb_u32(b, 32);
    }
    gb_key(b, "t.u8", GGUF_U8);    gb_u8(b, 200);
    gb_key(b, "t.i8", GGUF_I8);    gb_u8(b, (uint8_t)-5);
    gb_key(b, "t.u16", GGUF_U16);  gb_u16(b, 60000);
    gb_key(b, "t.i16", GGUF_I16);  gb_u16(b, (uint16_t)-30000);
    gb_kv_u32(b, "t.u32", 4000000000u);
    gb_key(b, "t.i32", GGUF_I32);  gb_u32(b, (uint32_t)-7);
    gb_key(b, "t.f32", GGUF_F32);  gb_f32(b, 1.5f);
    gb_key(b, "t.bool", GGUF_BOOL);
    m->bool_val = b->n;
    gb_u8(b, 1);
    gb_kv_str(b, "t.str", "hello");
    gb_key(b, "t.u64", GGUF_U64);  gb_u64(b, 1ull << 40);
    gb_key(b, "t.i64", GGUF_I64);  gb_u64(b, (uint64_t)-(1ll << 40));
    gb_key(b, "t.f64", GGUF_F64);  gb_f64(b, 2.25);
    m->kv_arr_i32 = b->n;
    gb_key(b, "t.arr_i32", GGUF_ARRAY);
    gb_u32(b, GGUF_I32);
    m->arr_i32_count = b->n;
    gb_u64(b, 3);
    gb_u32(b, 1); gb_u32(b, (uint32_t)-2); gb_u32(b, 3);
    gb_key(b, "t.arr_str", GGUF_ARRAY);
    gb_u32(b, GGUF_STRING);
    m->arr_str_count = b->n;
    gb_u64(b, 3);
    gb_str(b, "a"); gb_str(b, "bc"); gb_str(b, "");
    gb_key(b, "t.arr_f64", GGUF_ARRAY);
    gb_u32(b, GGUF_F64); gb_u64(b, 2); gb_f64(b, 0.5); gb_f64(b, -1e300);
    gb_key(b, "t.arr_bool", GGUF_ARRAY);
    gb_u32(b, GGUF_BOOL); gb_u64(b, 3); gb_u8(b, 1); gb_u8(b, 0); gb_u8(b, 1);
    gb_key(b, "t.arr_empty", GGUF_ARRAY);
    gb_u32(b, GGUF_U8); gb_u64(b, 0);
    gb_key(b, "t.small_i64", GGUF_I64); gb_u64(b, 42);
    gb_key(b, "t.big_f64", GGUF_F64);   gb_f64(b, 1e300);

    static const char *names[3] = {"a", "b", "c"};
    static const uint32_t types[3] = {GGML_F32, GGML_Q8_0, GGML_Q4_K};
    static const uint64_t ne[3][2] = {{4, 2}, {32, 1}, {256, 1}};
    static const uint32_t nd[3] = {2, 1, 1};
    static const uint64_t off[3] = {0, 32, 96};
    for (int i = 0; i < 3; i++) {
        m->t_info[i] = b->n;
        gb_str(b, names[i]);
        m->t_ndims[i] = b->n;
        gb_u32(b, nd[i]);
        m->t_ne0[i] = b->n;
        gb_u64(b, ne[i][0]);
        m->t_ne1[i] = b->n;
        if (nd[i] > 1) gb_u64(b, ne[i][1]);
        m->t_type[i] = b->n;
        gb_u32(b, types[i]);
        m->t_offset[i] = b->n;
        gb_u64(b, off[i]);
    }
    m->infos_end = b->n;
    gb_pad(b, 32);
    m->data = b->n;
    for (int i = 0; i < 8; i++) gb_f32(b, (float)i);          /* a */
    gb_u16(b, f32_to_f16(0.5f));                               /* b */
    for (int j = 0; j < 32; j++) gb_u8(b, (uint8_t)(j - 16));
    gb_pad(b, 32);
    gb_u16(b, f32_to_f16(1.0f));                               /* c */
    gb_u16(b, 0);
    gb_zeros(b, 12 + 128);
    return b->n;
}
