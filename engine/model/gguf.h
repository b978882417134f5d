/* gguf.h — a validating, memory-mapped reader for GGUF version 3 files.
 *
 * The whole file is checked at open: every length, count and offset is
 * bounded by the file size before it is used, so a corrupt or hostile file
 * yields a pb_err ("FILE: offset N: what is wrong"), never a crash. After a
 * successful open every pointer below points into the mapping (or into
 * arrays owned by the gguf) and stays valid until gguf_close.
 *
 * Layout (little-endian): "GGUF", u32 version, u64 n_tensors, u64 n_kv,
 * n_kv × (string key, u32 type, value), n_tensors × (string name, u32 n_dims,
 * u64 ne[n_dims], u32 type, u64 offset), padding to general.alignment, data.
 */
#ifndef PURBO_GGUF_H
#define PURBO_GGUF_H

#include "base/common.h"

enum gguf_vtype {
    GGUF_U8 = 0, GGUF_I8 = 1, GGUF_U16 = 2, GGUF_I16 = 3, GGUF_U32 = 4,
    GGUF_I32 = 5, GGUF_F32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9,
    GGUF_U64 = 10, GGUF_I64 = 11, GGUF_F64 = 12,
};

/* A string inside the file: not NUL-terminated. */
typedef struct {
    const char *s;
    uint64_t len;
} gguf_str;

/* One metadata key/value. For scalars `val` points at the little-endian value
 * in the mapping (for a string: at its u64 length). For arrays, arr_type/n
 * give the element type and count and `val` points at the first element;
 * string arrays also get `strs`, one gguf_str per element (owned by the
 * gguf). Values may be unaligned: read them with memcpy. Bools are 0 or 1
 * (checked at open). */
typedef struct {
    gguf_str key;
    uint32_t type;       /* enum gguf_vtype */
    uint32_t arr_type;   /* element type when type == GGUF_ARRAY */
    uint64_t n;          /* element count when type == GGUF_ARRAY, else 1 */
    const uint8_t *val;
    gguf_str str;        /* when type == GGUF_STRING */
    gguf_str *strs;      /* when type == GGUF_ARRAY and arr_type == GGUF_STRING */
    uint64_t file_offset; /* byte offset of the key in the file, for messages */
} gguf_kv;

#define GGUF_MAX_DIMS 4

typedef struct {
    gguf_str name;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the contiguous axis; unused dims are 1 */
    uint32_t type;              /* ggml type id (quant.h) */
    uint64_t offset;            /* relative to the data section */
    uint64_t n_elems;
    uint64_t n_bytes;
    const void *data;           /* into the mapping */
    uint64_t file_offset;       /* byte offset of the tensor info in the file, for messages */
} gguf_tensor;

typedef struct gguf gguf;

/* Opens and validates a file (mmap). NULL + *err on any problem. */
gguf *gguf_open(const char *path, pb_err *err);
/* Same over a caller-owned buffer (not copied; must outlive the gguf).
 * `name` is used in error messages. For tests and fuzzing. */
gguf *gguf_open_mem(const void *buf, size_t size, const char *name, pb_err *err);
void gguf_close(gguf *g);

const char *gguf_path(const gguf *g);
uint32_t gguf_version(const gguf *g);
uint32_t gguf_alignment(const gguf *g);
uint64_t gguf_file_size(const gguf *g);
/* Start of the data section: the end of the tensor infos padded to the
 * alignment (not padded when there are no tensors); <= gguf_file_size. */
uint64_t gguf_data_offset(const gguf *g);

uint64_t gguf_n_kv(const gguf *g);
const gguf_kv *gguf_kv_at(const gguf *g, uint64_t i);
const gguf_kv *gguf_find_kv(const gguf *g, const char *key); /* NULL if absent */

uint64_t gguf_n_tensors(const gguf *g);
const gguf_tensor *gguf_tensor_at(const gguf *g, uint64_t i);
const gguf_tensor *gguf_find_tensor(const gguf *g, const char *name);

/* Typed getters. Each returns 1 on success, 0 on failure with *err naming
 * the file, the key's offset and the problem (missing key, wrong type,
 * out of range). Integer getters accept any integer type whose value fits. */
int gguf_get_u32(const gguf *g, const char *key, uint32_t *out, pb_err *err);
int gguf_get_u64(const gguf *g, const char *key, uint64_t *out, pb_err *err);
int gguf_get_f32(const gguf *g, const char *key, float *out, pb_err *err); /* f32 or f64 */
int gguf_get_bool(const gguf *g, const char *key, int *out, pb_err *err);
int gguf_get_str(const gguf *g, const char *key, gguf_str *out, pb_err *err);
/* An array of the given element type (GGUF_STRING arrays: use kv->strs). */
const gguf_kv *gguf_get_arr(const gguf *g, const char *key, uint32_t elem_type, pb_err *err);

/* Reads element i of a numeric array kv as double (any numeric type, bool as
 * 0/1); NAN when kv is not a numeric array or i >= kv->n. */
double gguf_arr_num(const gguf_kv *kv, uint64_t i);
const char *gguf_vtype_name(uint32_t t);
/* Token types (the values of tokenizer.ggml.token_type), shared by both
 * tokenizers (tokenizer.h, tok_spm.h). */
enum { TOK_NORMAL = 1, TOK_UNKNOWN = 2, TOK_CONTROL = 3, TOK_USER = 4, TOK_UNUSED = 5, TOK_BYTE = 6 };

/* 1 if the string equals the NUL-terminated c string. */
int gguf_str_eq(gguf_str s, const char *c);

#endif
