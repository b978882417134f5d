/* gguf.c — the GGUF v3 reader declared in gguf.h: parse and validate the
 * whole file at open, then serve lookups from the parsed tables.
 *
 * Invariants a reader must keep:
 *   - Every read goes through the cursor (struct rd), which checks the bytes
 *     are there before touching them; counts are checked against the bytes
 *     left *before* any multiplication or allocation, so a hostile count can
 *     neither overflow nor make us allocate more than a small multiple of
 *     the file size (the tables hold at most size/14 keys, size/32 tensors).
 *   - Every error is reported once, at the first problem, as one line
 *     "FILE: offset N: what" where N is where the offending field starts;
 *     the half-built gguf is freed (gguf_close copes with partial state).
 *   - Multi-byte fields are read with memcpy (the buffer and the fields may
 *     be unaligned) and are little-endian (quant.c refuses big-endian hosts).
 *   - Names (keys, tensor names) are not NUL-terminated and may hold any
 *     bytes: messages print them through quote(), lookups compare lengths.
 */
#include "model/gguf.h"
#include "kernels/quant.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <float.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MIN_KV_BYTES 14          /* key len 8 + key >= 1 + type 4 + value >= 1 */
#define GGUF_MIN_TENSOR_BYTES 32      /* name len 8 + n_dims 4 + ne 8 + type 4 + offset 8 */

/* ---- names in messages and lookups ---------------------------------------- */

/* Formats s for a message: printable ASCII as is, other bytes as '?', at most
 * 64 characters then "...". buf must hold 72 bytes. */
static const char *quote(gguf_str s, char *buf)
{
    uint64_t n = s.len < 64 ? s.len : 64, i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.s[i];
        buf[i] = (c >= 32 && c < 127) ? (char)c : '?';
    }
    if (s.len > 64) memcpy(buf + i, "...", 3), i += 3;
    buf[i] = 0;
    return buf;
}

int gguf_str_eq(gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && memcmp(s.s, c, n) == 0;
}

static uint64_t hash_bytes(const char *s, uint64_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (uint64_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* ---- the cursor ---------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    uint64_t size, pos;
    const char *name;
    pb_err *err;
} rd;

static uint64_t left(const rd *r) { return r->size - r->pos; }

static int need(rd *r, uint64_t n, const char *what)
{
    if (left(r) >= n) return 1;
    return pb_errf(r->err, r->name, (long long)r->pos,
                   "file ends inside %s (needs %llu bytes, %llu left)", what,
                   (unsigned long long)n, (unsigned long long)left(r));
}

static int rd_u32(rd *r, uint32_t *v, const char *what)
{
    if (!need(r, 4, what)) return 0;
    memcpy(v, r->p + r->pos, 4);
    r->pos += 4;
    return 1;
}

static int rd_u64(rd *r, uint64_t *v, const char *what)
{
    if (!need(r, 8, what)) return 0;
    memcpy(v, r->p + r->pos, 8);
    r->pos += 8;
    return 1;
}

/* u64 length + bytes. `what` names the string in messages. */
static int rd_str(rd *r, gguf_str *s, const char *what)
{
    uint64_t at = r->pos, len;
    if (!rd_u64(r, &len, what)) return 0;
    if (len > left(r))
        return pb_errf(r->err, r->name, (long long)at,
                       "%s has length %llu, past the end of the file (%llu bytes left)",
                       what, (unsigned long long)len, (unsigned long long)left(r));
    s->s = (const char *)(r->p + r->pos);
    s->len = len;
    r->pos += len;
    return 1;
}

/* ---- value types ---------------------------------------------------------- */

static const char *const vtype_names[] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array",
    "u64", "i64", "f64",
};

const char *gguf_vtype_name(uint32_t t)
{
    return t < sizeof vtype_names / sizeof vtype_names[0] ? vtype_names[t] : "unknown";
}

/* Bytes of a fixed-size value type; 0 for string, array and unknown types. */
static uint64_t vtype_size(uint32_t t)
{
    switch (t) {
    case GGUF_U8: case GGUF_I8: case GGUF_BOOL: return 1;
    case GGUF_U16: case GGUF_I16: return 2;
    case GGUF_U32: case GGUF_I32: case GGUF_F32: return 4;
    case GGUF_U64: case GGUF_I64: case GGUF_F64: return 8;
    default: return 0;
    }
}

static int bool_ok(rd *r, const uint8_t *v, uint64_t n, const char *key)
{
    for (uint64_t i = 0; i < n; i++)
        if (v[i] > 1)
            return pb_errf(r->err, r->name, (long long)(v + i - r->p),
                           "key '%s': bool value %u is neither 0 nor 1", key, v[i]);
    return 1;
}

/* Reads the value of kv (its key and type already read) at the cursor. */
static int rd_value(rd *r, gguf_kv *kv, const char *key)
{
    char what[128];
    snprintf(what, sizeof what, "the value of key '%s'", key);
    if (kv->type == GGUF_STRING) {
        kv->val = r->p + r->pos;
        return rd_str(r, &kv->str, what);
    }
    if (kv->type != GGUF_ARRAY) {
        uint64_t sz = vtype_size(kv->type);
        if (!need(r, sz, what)) return 0;
        kv->val = r->p + r->pos;
        r->pos += sz;
        return kv->type != GGUF_BOOL || bool_ok(r, kv->val, 1, key);
    }
    uint64_t at = r->pos;
    if (!rd_u32(r, &kv->arr_type, what)) return 0;
    if (kv->arr_type == GGUF_ARRAY)
        return pb_errf(r->err, r->name, (long long)at,
                       "key '%s': nested arrays are not supported", key);
    if (kv->arr_type > GGUF_F64)
        return pb_errf(r->err, r->name, (long long)at,
                       "key '%s': unknown array element type %u", key, kv->arr_type);
    at = r->pos;
    if (!rd_u64(r, &kv->n, what)) return 0;
    /* every element takes at least its size (a string: its u64 length) */
    uint64_t esz = kv->arr_type == GGUF_STRING ? 8 : vtype_size(kv->arr_type);
    if (kv->n > left(r) / esz)
        return pb_errf(r->err, r->name, (long long)at,
                       "key '%s': array of %llu %s elements (%llu bytes each at least) "
                       "does not fit in the %llu bytes left",
                       key, (unsigned long long)kv->n, gguf_vtype_name(kv->arr_type),
                       (unsigned long long)esz, (unsigned long long)left(r));
    kv->val = r->p + r->pos;
    if (kv->arr_type != GGUF_STRING) {
        r->pos += kv->n * esz;
        return kv->arr_type != GGUF_BOOL || bool_ok(r, kv->val, kv->n, key);
    }
    kv->strs = pb_malloc(kv->n * sizeof *kv->strs); /* n <= bytes left / 8 */
    for (uint64_t i = 0; i < kv->n; i++) {
        snprintf(what, sizeof what, "element %llu of key '%s'", (unsigned long long)i, key);
        if (!rd_str(r, &kv->strs[i], what)) return 0;
    }
    return 1;
}

/* ---- name indexes --------------------------------------------------------- */

/* An open-addressing hash set over the names of a table (the kv or tensor
 * array): slot = entry index + 1, 0 = empty; capacity >= 2n, a power of 2.
 * Names are found in the table at base + j*stride + name_off. */
typedef struct {
    uint64_t *slot, mask;
    const void *base;
    size_t stride, name_off;
} name_index;

static void index_init(name_index *x, uint64_t n, const void *base, size_t stride, size_t off)
{
    uint64_t cap = 8;
    while (cap < 2 * n) cap *= 2;
    x->slot = pb_calloc(cap, sizeof(uint64_t));
    x->mask = cap - 1;
    x->base = base;
    x->stride = stride;
    x->name_off = off;
}

static gguf_str index_name(const name_index *x, uint64_t j)
{
    gguf_str s;
    memcpy(&s, (const char *)x->base + j * x->stride + x->name_off, sizeof s);
    return s;
}

/* The slot holding `name`, or the empty slot where it would go. */
static uint64_t *index_slot(const name_index *x, const char *name, uint64_t len)
{
    uint64_t h = hash_bytes(name, len) & x->mask;
    for (; x->slot[h]; h = (h + 1) & x->mask) {
        gguf_str o = index_name(x, x->slot[h] - 1);
        if (o.len == len && !memcmp(o.s, name, len)) break;
    }
    return &x->slot[h];
}

/* Inserts entry i; returns 0, or 1 + the earlier entry with the same name. */
static uint64_t index_insert(name_index *x, uint64_t i)
{
    gguf_str nm = index_name(x, i);
    uint64_t *s = index_slot(x, nm.s, nm.len);
    if (*s) return *s;
    *s = i + 1;
    return 0;
}

static const void *index_find(const name_index *x, const char *name)
{
    if (!x->slot) return NULL;
    uint64_t j = *index_slot(x, name, strlen(name));
    return j ? (const char *)x->base + (j - 1) * x->stride : NULL;
}

struct gguf {
    char *path;                 /* owned copy of the name used in messages */
    const uint8_t *base;
    uint64_t size;
    int mapped;                 /* 1: base is an mmap of size bytes */
    uint32_t version, alignment;
    uint64_t data_offset;
    uint64_t n_kv, n_tensors;   /* entries parsed so far while opening */
    gguf_kv *kv;                /* n_kv */
    gguf_tensor *tensors;       /* n_tensors */
    name_index kv_ix, tensor_ix;
};

/* ---- sections ------------------------------------------------------------- */

static int rd_header(rd *r, gguf *g)
{
    if (!need(r, 4, "the magic")) return 0;
    if (memcmp(r->p, "GGUF", 4) != 0) {
        char q[72];
        gguf_str m = {(const char *)r->p, 4};
        return pb_errf(r->err, r->name, 0, "bad magic '%s', expected 'GGUF' (not a GGUF file)",
                       quote(m, q));
    }
    r->pos = 4;
    if (!rd_u32(r, &g->version, "the version")) return 0;
    if (g->version != 3)
        return pb_errf(r->err, r->name, 4, "GGUF version %u is not supported (only version 3)",
                       g->version);
    uint64_t n_tensors, n_kv;
    if (!rd_u64(r, &n_tensors, "the tensor count")) return 0;
    if (!rd_u64(r, &n_kv, "the key/value count")) return 0;
    /* bound the counts by the smallest possible entry, before allocating */
    if (n_tensors > left(r) / GGUF_MIN_TENSOR_BYTES)
        return pb_errf(r->err, r->name, 8,
                       "tensor count %llu cannot fit in a file of %llu bytes "
                       "(a tensor info takes at least %d bytes)",
                       (unsigned long long)n_tensors, (unsigned long long)r->size,
                       GGUF_MIN_TENSOR_BYTES);
    if (n_kv > left(r) / GGUF_MIN_KV_BYTES)
        return pb_errf(r->err, r->name, 16,
                       "key/value count %llu cannot fit in a file of %llu bytes "
                       "(a key/value takes at least %d bytes)",
                       (unsigned long long)n_kv, (unsigned long long)r->size,
                       GGUF_MIN_KV_BYTES);
    g->n_tensors = n_tensors;
    g->n_kv = n_kv;
    g->kv = pb_calloc(n_kv, sizeof *g->kv);
    g->tensors = pb_calloc(n_tensors, sizeof *g->tensors);
    index_init(&g->kv_ix, n_kv, g->kv, sizeof *g->kv, offsetof(gguf_kv, key));
    index_init(&g->tensor_ix, n_tensors, g->tensors, sizeof *g->tensors,
               offsetof(gguf_tensor, name));
    return 1;
}

static int rd_kvs(rd *r, gguf *g)
{
    for (uint64_t i = 0; i < g->n_kv; i++) {
        gguf_kv *kv = &g->kv[i];
        char key[72];
        kv->file_offset = r->pos;
        kv->n = 1;
        if (!rd_str(r, &kv->key, "a key")) return 0;
        if (kv->key.len == 0)
            return pb_errf(r->err, r->name, (long long)kv->file_offset,
                           "key/value #%llu has an empty key", (unsigned long long)i);
        quote(kv->key, key);
        uint64_t dup = index_insert(&g->kv_ix, i);
        if (dup)
            return pb_errf(r->err, r->name, (long long)kv->file_offset,
                           "duplicate key '%s' (first at offset %llu)", key,
                           (unsigned long long)g->kv[dup - 1].file_offset);
        uint64_t at = r->pos;
        if (!rd_u32(r, &kv->type, "a value type")) return 0;
        if (kv->type > GGUF_F64)
            return pb_errf(r->err, r->name, (long long)at, "key '%s': unknown value type %u",
                           key, kv->type);
        if (!rd_value(r, kv, key)) return 0;
    }
    /* general.alignment: u32, a power of two (docs/gguf.md; ggml) */
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *a = gguf_find_kv(g, "general.alignment");
    if (a) {
        if (a->type != GGUF_U32)
            return pb_errf(r->err, r->name, (long long)a->file_offset,
                           "general.alignment is %s, must be u32", gguf_vtype_name(a->type));
        memcpy(&g->alignment, a->val, 4);
        if (g->alignment == 0 || (g->alignment & (g->alignment - 1)))
            return pb_errf(r->err, r->name, (long long)(a->val - r->p),
                           "general.alignment = %u is not a power of two", g->alignment);
    }
    return 1;
}

/* One tensor info at the cursor. *off_at gets where its offset field starts. */
static int rd_tensor(rd *r, gguf *g, uint64_t i, uint64_t *off_at)
{
    gguf_tensor *t = &g->tensors[i];
    char name[72];
    uint64_t start = r->pos, at, ne0_at = 0;
    t->file_offset = start;
    if (!rd_str(r, &t->name, "a tensor name")) return 0;
    quote(t->name, name);
    uint64_t dup = index_insert(&g->tensor_ix, i);
    if (dup)
        return pb_errf(r->err, r->name, (long long)start,
                       "duplicate tensor name '%s' (tensor #%llu and #%llu)", name,
                       (unsigned long long)(dup - 1), (unsigned long long)i);
    at = r->pos;
    if (!rd_u32(r, &t->n_dims, "a tensor's n_dims")) return 0;
    if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
        return pb_errf(r->err, r->name, (long long)at,
                       "tensor '%s': n_dims = %u, must be 1 to %d", name, t->n_dims,
                       GGUF_MAX_DIMS);
    t->n_elems = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d >= t->n_dims) continue;
        at = r->pos;
        if (d == 0) ne0_at = at;
        if (!rd_u64(r, &t->ne[d], "a tensor dimension")) return 0;
        if (t->ne[d] == 0)
            return pb_errf(r->err, r->name, (long long)at, "tensor '%s': ne[%u] is 0", name, d);
        /* ggml holds element counts in int64_t */
        if (t->ne[d] > (uint64_t)INT64_MAX / t->n_elems)
            return pb_errf(r->err, r->name, (long long)at,
                           "tensor '%s': ne[%u] = %llu makes the element count overflow",
                           name, d, (unsigned long long)t->ne[d]);
        t->n_elems *= t->ne[d];
    }
    at = r->pos;
    if (!rd_u32(r, &t->type, "a tensor type")) return 0;
    size_t be, bb;
    if (!ggml_type_info(t->type, &be, &bb)) {
        if (strcmp(ggml_type_name(t->type), "unknown") != 0)
            return pb_errf(r->err, r->name, (long long)at,
                           "tensor '%s': type %u (%s) is not supported", name, t->type,
                           ggml_type_name(t->type));
        return pb_errf(r->err, r->name, (long long)at, "tensor '%s': unknown type %u", name,
                       t->type);
    }
    if (t->ne[0] % be)
        return pb_errf(r->err, r->name, (long long)ne0_at,
                       "tensor '%s': ne[0] = %llu is not a multiple of %zu, the %s block size",
                       name, (unsigned long long)t->ne[0], be, ggml_type_name(t->type));
    /* n_elems <= INT64_MAX and bb / be <= 4, so this cannot wrap in u64 */
    t->n_bytes = t->n_elems / be * bb;
    *off_at = r->pos;
    if (!rd_u64(r, &t->offset, "a tensor offset")) return 0;
    if (t->offset % g->alignment)
        return pb_errf(r->err, r->name, (long long)*off_at,
                       "tensor '%s': offset %llu is not a multiple of the alignment %u", name,
                       (unsigned long long)t->offset, g->alignment);
    return 1;
}

typedef struct { uint64_t begin, end, i; } span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->i > y->i) - (x->i < y->i);
}

/* Tensor infos, data section start, then every tensor's bytes: inside the
 * file and not overlapping another tensor. */
static int rd_tensors(rd *r, gguf *g)
{
    uint64_t *off_at = pb_calloc(g->n_tensors, sizeof *off_at);
    span *sp = NULL;
    int ok = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (!rd_tensor(r, g, i, &off_at[i])) goto done;
    /* The data section starts at the next multiple of the alignment (as in
     * ggml, only when there are tensors: a file may end right after its
     * metadata). alignment <= 2^31 and pos <= size < 2^63: no overflow. */
    g->data_offset = r->pos;
    if (g->n_tensors)
        g->data_offset = (r->pos + g->alignment - 1) / g->alignment * g->alignment;
    if (g->data_offset > r->size) {
        pb_errf(r->err, r->name, (long long)r->pos,
                "padding to the data section (alignment %u) runs past the end of the file",
                g->alignment);
        goto done;
    }
    uint64_t avail = r->size - g->data_offset;
    sp = pb_malloc(g->n_tensors * sizeof *sp + 1);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        char name[72];
        if (t->offset > avail || t->n_bytes > avail - t->offset) {
            pb_errf(r->err, r->name, (long long)off_at[i],
                    "tensor '%s': data at offset %llu + %llu bytes runs past the end of "
                    "the file (data section %llu..%llu)", quote(t->name, name),
                    (unsigned long long)t->offset, (unsigned long long)t->n_bytes,
                    (unsigned long long)g->data_offset, (unsigned long long)r->size);
            goto done;
        }
        t->data = r->p + g->data_offset + t->offset;
        sp[i] = (span){t->offset, t->offset + t->n_bytes, i};
    }
    qsort(sp, g->n_tensors, sizeof *sp, span_cmp);
    for (uint64_t k = 1; k < g->n_tensors; k++) {
        if (sp[k].begin >= sp[k - 1].end) continue;
        char a[72], b[72];
        pb_errf(r->err, r->name, (long long)off_at[sp[k].i],
                "tensor '%s': data at offset %llu overlaps tensor '%s' (offset %llu, %llu bytes)",
                quote(g->tensors[sp[k].i].name, a), (unsigned long long)sp[k].begin,
                quote(g->tensors[sp[k - 1].i].name, b), (unsigned long long)sp[k - 1].begin,
                (unsigned long long)(sp[k - 1].end - sp[k - 1].begin));
        goto done;
    }
    ok = 1;
done:
    free(off_at);
    free(sp);
    return ok;
}

/* ---- open / close ---------------------------------------------------------- */

static gguf *parse(const uint8_t *p, uint64_t size, const char *name, pb_err *err)
{
    gguf *g = pb_calloc(1, sizeof *g);
    size_t n = strlen(name);
    g->path = pb_malloc(n + 1);
    memcpy(g->path, name, n + 1);
    g->base = p;
    g->size = size;
    rd r = {p, size, 0, g->path, err};
    if (rd_header(&r, g) && rd_kvs(&r, g) && rd_tensors(&r, g)) return g;
    gguf_close(g);
    return NULL;
}

gguf *gguf_open_mem(const void *buf, size_t size, const char *name, pb_err *err)
{
    static const uint8_t empty[1];
    return parse(buf ? buf : empty, buf ? size : 0, name, err);
}

gguf *gguf_open(const char *path, pb_err *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO must not hang the open */
    if (fd < 0) {
        pb_errf(err, path, -1, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        pb_errf(err, path, -1, "not a regular file");
        close(fd);
        return NULL;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0) { /* mmap refuses length 0; the parser reports it */
        close(fd);
        return gguf_open_mem(NULL, 0, path, err);
    }
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) {
        pb_errf(err, path, -1, "cannot map %llu bytes: %s", (unsigned long long)size, strerror(e));
        return NULL;
    }
    gguf *g = parse(p, size, path, err);
    if (!g) {
        munmap(p, size);
        return NULL;
    }
    g->mapped = 1;
    return g;
}

void gguf_close(gguf *g)
{
    if (!g) return;
    for (uint64_t i = 0; g->kv && i < g->n_kv; i++) free(g->kv[i].strs);
    free(g->kv);
    free(g->tensors);
    free(g->kv_ix.slot);
    free(g->tensor_ix.slot);
    if (g->mapped) munmap((void *)g->base, g->size);
    free(g->path);
    free(g);
}

/* ---- accessors ------------------------------------------------------------- */

const char *gguf_path(const gguf *g) { return g->path; }
uint32_t gguf_version(const gguf *g) { return g->version; }
uint32_t gguf_alignment(const gguf *g) { return g->alignment; }
uint64_t gguf_file_size(const gguf *g) { return g->size; }
uint64_t gguf_data_offset(const gguf *g) { return g->data_offset; }
uint64_t gguf_n_kv(const gguf *g) { return g->n_kv; }
uint64_t gguf_n_tensors(const gguf *g) { return g->n_tensors; }

const gguf_kv *gguf_kv_at(const gguf *g, uint64_t i) { return i < g->n_kv ? &g->kv[i] : NULL; }

const gguf_tensor *gguf_tensor_at(const gguf *g, uint64_t i)
{
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const gguf_kv *gguf_find_kv(const gguf *g, const char *key) { return index_find(&g->kv_ix, key); }

const gguf_tensor *gguf_find_tensor(const gguf *g, const char *name)
{
    return index_find(&g->tensor_ix, name);
}

/* ---- typed getters ---------------------------------------------------------- */

/* The integer in a scalar kv: *neg = 1 and *mag = |v| for negatives. 0 if
 * the kv is not an integer. */
static int kv_int(const gguf_kv *kv, int *neg, uint64_t *mag)
{
    const uint8_t *v = kv->val;
    int64_t s;
    *neg = 0;
    switch (kv->type) {
    case GGUF_U8:  { uint8_t x;  memcpy(&x, v, 1); *mag = x; return 1; }
    case GGUF_U16: { uint16_t x; memcpy(&x, v, 2); *mag = x; return 1; }
    case GGUF_U32: { uint32_t x; memcpy(&x, v, 4); *mag = x; return 1; }
    case GGUF_U64: { memcpy(mag, v, 8); return 1; }
    case GGUF_I8:  { int8_t x;  memcpy(&x, v, 1); s = x; break; }
    case GGUF_I16: { int16_t x; memcpy(&x, v, 2); s = x; break; }
    case GGUF_I32: { int32_t x; memcpy(&x, v, 4); s = x; break; }
    case GGUF_I64: { memcpy(&s, v, 8); break; }
    default: return 0;
    }
    *neg = s < 0;
    *mag = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
    return 1;
}

static const gguf_kv *kv_get(const gguf *g, const char *key, uint32_t type, pb_err *err)
{
    const gguf_kv *kv = gguf_find_kv(g, key);
    if (!kv) {
        pb_errf(err, g->path, -1, "key '%s' is missing", key);
        return NULL;
    }
    if (kv->type != type) {
        pb_errf(err, g->path, (long long)kv->file_offset, "key '%s' is %s, expected %s", key,
                gguf_vtype_name(kv->type), gguf_vtype_name(type));
        return NULL;
    }
    return kv;
}

static int get_uint(const gguf *g, const char *key, uint64_t max, const char *tname,
                    uint64_t *out, pb_err *err)
{
    const gguf_kv *kv = gguf_find_kv(g, key);
    int neg;
    uint64_t mag;
    if (!kv) return pb_errf(err, g->path, -1, "key '%s' is missing", key);
    if (!kv_int(kv, &neg, &mag))
        return pb_errf(err, g->path, (long long)kv->file_offset,
                       "key '%s' is %s, expected an integer", key, gguf_vtype_name(kv->type));
    if (neg || mag > max)
        return pb_errf(err, g->path, (long long)kv->file_offset,
                       "key '%s' = %s%llu does not fit in %s", key, neg ? "-" : "",
                       (unsigned long long)mag, tname);
    *out = mag;
    return 1;
}

int gguf_get_u32(const gguf *g, const char *key, uint32_t *out, pb_err *err)
{
    uint64_t v = 0;
    if (!get_uint(g, key, UINT32_MAX, "u32", &v, err)) return 0;
    *out = (uint32_t)v;
    return 1;
}

int gguf_get_u64(const gguf *g, const char *key, uint64_t *out, pb_err *err)
{
    return get_uint(g, key, UINT64_MAX, "u64", out, err);
}

int gguf_get_f32(const gguf *g, const char *key, float *out, pb_err *err)
{
    const gguf_kv *kv = gguf_find_kv(g, key);
    if (!kv) return pb_errf(err, g->path, -1, "key '%s' is missing", key);
    if (kv->type == GGUF_F32) {
        memcpy(out, kv->val, 4);
        return 1;
    }
    if (kv->type != GGUF_F64)
        return pb_errf(err, g->path, (long long)kv->file_offset,
                       "key '%s' is %s, expected f32 or f64", key, gguf_vtype_name(kv->type));
    double d;
    memcpy(&d, kv->val, 8);
    if (isfinite(d) && fabs(d) > FLT_MAX)
        return pb_errf(err, g->path, (long long)kv->file_offset,
                       "key '%s' = %g is out of the f32 range", key, d);
    *out = (float)d;
    return 1;
}

int gguf_get_bool(const gguf *g, const char *key, int *out, pb_err *err)
{
    const gguf_kv *kv = kv_get(g, key, GGUF_BOOL, err);
    if (!kv) return 0;
    *out = kv->val[0]; /* 0 or 1: checked at open */
    return 1;
}

int gguf_get_str(const gguf *g, const char *key, gguf_str *out, pb_err *err)
{
    const gguf_kv *kv = kv_get(g, key, GGUF_STRING, err);
    if (!kv) return 0;
    *out = kv->str;
    return 1;
}

const gguf_kv *gguf_get_arr(const gguf *g, const char *key, uint32_t elem_type, pb_err *err)
{
    const gguf_kv *kv = kv_get(g, key, GGUF_ARRAY, err);
    if (kv && kv->arr_type != elem_type) {
        pb_errf(err, g->path, (long long)kv->file_offset,
                "key '%s' is an array of %s, expected an array of %s", key,
                gguf_vtype_name(kv->arr_type), gguf_vtype_name(elem_type));
        return NULL;
    }
    return kv;
}

double gguf_arr_num(const gguf_kv *kv, uint64_t i)
{
    if (kv->type != GGUF_ARRAY || i >= kv->n) return NAN;
    uint32_t t = kv->arr_type;
    uint64_t sz = vtype_size(t);
    if (!sz) return NAN;
    const uint8_t *v = kv->val + i * sz;
    switch (t) {
    case GGUF_F32: { float f;  memcpy(&f, v, 4); return f; }
    case GGUF_F64: { double d; memcpy(&d, v, 8); return d; }
    case GGUF_BOOL: return v[0];
    default: {
        gguf_kv one = {.type = t, .val = v};
        int neg = 0;
        uint64_t mag = 0;
        kv_int(&one, &neg, &mag);
        return neg ? -(double)mag : (double)mag;
    }
    }
}
