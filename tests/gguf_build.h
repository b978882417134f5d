/* gguf_build.h — a tiny GGUF writer for tests and seeds: a growable byte
 * buffer with little-endian appenders, plus one small valid sample file
 * whose field offsets are recorded so tests can corrupt a chosen field and
 * know the offset the reader must report.
 */
#ifndef PURBO_GGUF_BUILD_H
#define PURBO_GGUF_BUILD_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *p;
    size_t n, cap;
} gbuf;

void gb_free(gbuf *b);
void gb_bytes(gbuf *b, const void *src, size_t n);
void gb_u8(gbuf *b, uint8_t v);
void gb_u16(gbuf *b, uint16_t v);
void gb_u32(gbuf *b, uint32_t v);
void gb_u64(gbuf *b, uint64_t v);
void gb_f32(gbuf *b, float v);
void gb_f64(gbuf *b, double v);
void gb_str(gbuf *b, const char *s);          /* u64 length + bytes */
void gb_zeros(gbuf *b, size_t n);
void gb_pad(gbuf *b, size_t align);           /* zeros up to a multiple of align */
/* Overwrites bytes at a recorded offset (tests corrupt one field). */
void gb_put_u32(gbuf *b, size_t at, uint32_t v);
void gb_put_u64(gbuf *b, size_t at, uint64_t v);

void gb_header(gbuf *b, uint64_t n_tensors, uint64_t n_kv);
void gb_key(gbuf *b, const char *key, uint32_t type); /* the value follows */
void gb_kv_u32(gbuf *b, const char *key, uint32_t v);
void gb_kv_str(gbuf *b, const char *key, const char *v);
/* Tensor info: name, n_dims, ne[n_dims], type, offset. */
void gb_tensor(gbuf *b, const char *name, uint32_t n_dims, const uint64_t *ne,
               uint32_t type, uint64_t offset);

/* Where the sample's fields start (byte offsets into the buffer). */
typedef struct {
    size_t n_tensors, n_kv;       /* header counts */
    size_t kv_first;              /* first key (its u64 length) */
    size_t align_kv, align_val;   /* general.alignment key and u32 value, if any */
    size_t kv_arr_i32;            /* key "t.arr_i32" */
    size_t arr_i32_count;         /* that array's u64 count */
    size_t arr_str_count;         /* "t.arr_str" u64 count */
    size_t bool_val;              /* the byte of "t.bool" */
    size_t t_info[3];             /* each tensor info (its name length) */
    size_t t_ndims[3], t_ne0[3], t_ne1[3], t_type[3], t_offset[3];
    size_t infos_end;             /* end of the tensor infos */
    size_t data;                  /* data section start */
} gb_marks;

/* A valid GGUF v3 file with one key of every value type, arrays of numbers,
 * bools and strings, and three tensors (names in the test):
 *   "a" F32 ne (4, 2) at data offset 0     values 0..7
 *   "b" Q8_0 ne (32)  at data offset 32    d = 0.5, qs[j] = j - 16
 *   "c" Q4_K ne (256) at data offset 96    zeros except d = 1, dmin = 0
 * alignment 32 (from general.alignment when with_alignment, else the
 * default). Returns the file size. */
size_t gb_sample(gbuf *b, gb_marks *m, int with_alignment);

#endif
