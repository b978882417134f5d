/* planfile.c — writing and reading the .purbo plan file (layout and checks
 * in planfile.h), and the model fingerprint it is keyed by.
 *
 * Every field is written and read byte by byte in little-endian order, so
 * the file does not depend on the host's struct layout or endianness.
 */
#include "policy/planfile.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "base/hash.h"

enum { HDR = 68, ROW = 20 }; /* bytes of the header; of one length-rule row (version 2) */

void plan_file_init(plan_file *p, const model *m, int r)
{
    const model_config *c = &m->cfg;
    memset(p, 0, sizeof *p);
    p->model_fp = model_fingerprint(m);
    p->n_layer = c->n_layer;
    p->n_head = c->n_head;
    p->n_head_kv = c->n_head_kv;
    p->head_dim = c->head_dim;
    p->r = r;
    size_t nh = (size_t)c->n_layer * c->n_head;
    p->cls = pb_calloc(nh, 1);
    p->idx_q = pb_calloc(nh * r * c->head_dim, sizeof(float));
    p->idx_k = pb_calloc(nh * r * c->head_dim, sizeof(float));
}

void plan_file_free(plan_file *p)
{
    free(p->cls);
    free(p->idx_q);
    free(p->idx_k);
    memset(p, 0, sizeof *p);
}

int plan_file_n_retrieval(const plan_file *p)
{
    int n = 0;
    for (int i = 0; i < p->n_layer * p->n_head; i++) n += p->cls[i] == PLAN_CLASS_RETRIEVAL;
    return n;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    return pb_fnv1a64(h, b, 8);
}

static uint64_t fnv_f32(uint64_t h, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return fnv_u64(h, u);
}

uint64_t model_fingerprint(const model *m)
{
    const model_config *c = &m->cfg;
    uint64_t h = pb_fnv1a64(PB_FNV1A64_INIT, "purbo-model-v1", 14);
    h = pb_fnv1a64(h, c->arch_name, strlen(c->arch_name));
    int ints[] = {1 /* the format's old architecture number, kept so fingerprints stay */, c->n_layer, c->n_embd, c->n_head, c->n_head_kv, c->head_dim, c->n_ff, c->n_vocab,
                  c->n_ctx_train, c->rope_dim};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) h = fnv_u64(h, (uint64_t)(int64_t)ints[i]);
    h = fnv_f32(fnv_f32(h, c->rope_base), c->rms_eps);
    if (!m->file) return h;
    uint64_t n = gguf_n_tensors(m->file);
    h = fnv_u64(h, n);
    for (uint64_t i = 0; i < n; i++) {
        const gguf_tensor *t = gguf_tensor_at(m->file, i);
        h = fnv_u64(h, t->name.len);
        h = pb_fnv1a64(h, t->name.s, t->name.len);
        h = fnv_u64(fnv_u64(h, t->n_dims), t->type);
        for (uint32_t k = 0; k < t->n_dims; k++) h = fnv_u64(h, t->ne[k]);
        h = fnv_u64(h, t->n_bytes);
        h = pb_fnv1a64(h, t->data, t->n_bytes);
    }
    return h;
}

/* ---- serialisation ---- */

/* The file's bits of a rule row's fields (1 local, 2 kmin, 4 p) from and to PLAN_GIVEN_*. */
static uint32_t row_bits_out(unsigned set)
{
    return (set & PLAN_GIVEN_LOCAL ? 1u : 0) | (set & PLAN_GIVEN_KMIN ? 2u : 0) | (set & PLAN_GIVEN_P ? 4u : 0);
}

static unsigned row_bits_in(uint32_t b)
{
    return (b & 1 ? PLAN_GIVEN_LOCAL : 0u) | (b & 2 ? PLAN_GIVEN_KMIN : 0u) | (b & 4 ? PLAN_GIVEN_P : 0u);
}

/* Where the class array starts: after the header, and in version 2 after
 * the length rule (u32 n_rows, then the rows). */
static size_t class_at(unsigned ver, int n_rows) { return (size_t)HDR + (ver >= 2 ? 4 + (size_t)n_rows * ROW : 0); }

static size_t class_end(unsigned ver, int n_rows, int n_heads)
{
    return (class_at(ver, n_rows) + (size_t)n_heads + 3) & ~(size_t)3;
}

static size_t file_size(unsigned ver, int n_rows, int n_heads, int n_ret, int r, int d)
{
    return class_end(ver, n_rows, n_heads) + (size_t)n_ret * 2 * r * d * 4 + 8;
}

static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static void put_f32(unsigned char *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(b, u);
}

static uint32_t get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get_u64(const unsigned char *b) { return (uint64_t)get_u32(b) | (uint64_t)get_u32(b + 4) << 32; }

static float get_f32(const unsigned char *b)
{
    uint32_t u = get_u32(b);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

unsigned char *plan_file_serialise(const plan_file *p, size_t *size)
{
    const int nh = p->n_layer * p->n_head, d = p->head_dim, n_ret = plan_file_n_retrieval(p);
    const size_t rd = (size_t)p->r * d;
    const int nr = p->n_by_length;
    int dense = 0;
    for (int i = 0; i < nh; i++) dense |= p->cls[i] == PLAN_CLASS_DENSE;
    const unsigned ver = nr || dense ? PLANFILE_VERSION : 1; /* a plan with neither stays version 1, byte for byte */
    size_t n = file_size(ver, nr, nh, n_ret, p->r, d);
    unsigned char *b = pb_calloc(n, 1);
    memcpy(b, PLANFILE_MAGIC, 8);
    put_u32(b + 8, ver);
    put_u32(b + 12, 0);
    put_u64(b + 16, p->model_fp);
    const int fields[] = {p->n_layer, p->n_head, p->n_head_kv, d, p->sink, p->window, p->block, p->local};
    for (int i = 0; i < 8; i++) put_u32(b + 24 + 4 * i, (uint32_t)fields[i]);
    put_f32(b + 56, p->p);
    put_u32(b + 60, (uint32_t)p->r);
    put_u32(b + 64, (uint32_t)n_ret);
    if (ver >= 2) put_u32(b + HDR, (uint32_t)nr);
    for (int i = 0; i < nr; i++) {
        const plan_length_row *r = &p->by_length[i];
        unsigned char *w = b + HDR + 4 + (size_t)i * ROW;
        put_u32(w, (uint32_t)r->from);
        put_u32(w + 4, row_bits_out(r->set));
        put_u32(w + 8, (uint32_t)r->local);
        put_u32(w + 12, (uint32_t)r->kmin);
        put_f32(w + 16, (float)r->p);
    }
    memcpy(b + class_at(ver, nr), p->cls, (size_t)nh);
    unsigned char *o = b + class_end(ver, nr, nh);
    for (int i = 0; i < nh; i++) {
        if (p->cls[i] != PLAN_CLASS_RETRIEVAL) continue;
        for (int pass = 0; pass < 2; pass++) {
            const float *w = (pass ? p->idx_k : p->idx_q) + (size_t)i * rd;
            for (size_t j = 0; j < rd; j++, o += 4) {
                PB_CHECK(isfinite(w[j]), "plan: non-finite indexer entry (layer %d head %d)", i / p->n_head,
                         i % p->n_head);
                put_f32(o, w[j]);
            }
        }
    }
    put_u64(o, pb_fnv1a64(PB_FNV1A64_INIT, b, n - 8));
    *size = n;
    return b;
}

int plan_file_write(const char *path, const plan_file *p, pb_err *e)
{
    size_t n;
    unsigned char *b = plan_file_serialise(p, &n);
    char tmp[4200];
    if (strlen(path) > 4000) {
        free(b);
        return pb_errf(e, path, -1, "path too long");
    }
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(b);
        return pb_errf(e, path, -1, "cannot write: %s", strerror(errno));
    }
    int ok = fwrite(b, 1, n, f) == n;
    ok = (fflush(f) == 0) && ok;
    ok = (fsync(fileno(f)) == 0) && ok;
    ok = (fclose(f) == 0) && ok;
    int err = errno;
    free(b);
    if (ok && rename(tmp, path) == 0) return 1;
    if (ok) err = errno;
    unlink(tmp);
    return pb_errf(e, path, -1, "cannot write: %s", strerror(err));
}

int plan_file_parse(const unsigned char *b, size_t size, const char *name, const model *m, plan_file *out, pb_err *e)
{
    if (size < 16) return pb_errf(e, name, -1, "truncated plan: %zu bytes, the header alone is %d", size, HDR);
    if (memcmp(b, PLANFILE_MAGIC, 8) != 0) return pb_errf(e, name, 0, "not a purbo plan (bad magic)");
    uint32_t ver = get_u32(b + 8), flags = get_u32(b + 12);
    if (ver < 1 || ver > PLANFILE_VERSION)
        return pb_errf(e, name, 8, "plan version %u; this build reads versions 1-%u", ver, PLANFILE_VERSION);
    if (flags != 0) return pb_errf(e, name, 12, "unknown flags 0x%x", flags);
    if (size < HDR) return pb_errf(e, name, -1, "truncated plan: %zu bytes, the header alone is %d", size, HDR);
    plan_file p = {0};
    p.model_fp = get_u64(b + 16);
    uint32_t f[8];
    for (int i = 0; i < 8; i++) f[i] = get_u32(b + 24 + 4 * i);
    uint32_t r = get_u32(b + 60), n_ret = get_u32(b + 64);
    p.p = get_f32(b + 56);
    static const char *const names[8] = {"n_layer", "n_head", "n_head_kv", "head_dim", "sink", "window", "block", "local"};
    /* the shape, then the policy parameters in the ranges a --plan spec accepts
     * (window and block at least 1: a local head keeps the query at least) */
    static const uint32_t lo[8] = {1, 1, 1, 1, 0, 1, 1, 0};
    static const uint32_t hi[8] = {4096, 4096, 4096, 4096, 1u << 24, 1u << 24, 1u << 16, 1u << 24};
    for (int i = 0; i < 8; i++)
        if (f[i] < lo[i] || f[i] > hi[i])
            return pb_errf(e, name, 24 + 4 * i, "%s = %u out of range [%u, %u]", names[i], f[i], lo[i], hi[i]);
    if (r < 1 || r > f[3]) return pb_errf(e, name, 60, "indexer rank r = %u out of [1, head_dim %u]", r, f[3]);
    if (f[1] % f[2] != 0) return pb_errf(e, name, 28, "n_head %u is not a multiple of n_head_kv %u", f[1], f[2]);
    const int nh = (int)(f[0] * f[1]);
    if (n_ret > (uint32_t)nh) return pb_errf(e, name, 64, "n_retrieval %u exceeds the %d heads", n_ret, nh);
    uint32_t nr = 0;
    if (ver >= 2) {
        if (size < HDR + 4)
            return pb_errf(e, name, -1, "truncated plan: %zu bytes, the header alone is %d", size, HDR + 4);
        nr = get_u32(b + HDR);
        if (nr > PLAN_MAX_BY_LENGTH)
            return pb_errf(e, name, HDR, "length rule of %u rows out of range [0, %d]", nr, PLAN_MAX_BY_LENGTH);
    }
    const size_t c0 = class_at(ver, (int)nr);
    const unsigned max_class = ver >= 2 ? PLAN_CLASS_DENSE : PLAN_CLASS_RETRIEVAL;
    size_t want = file_size(ver, (int)nr, nh, (int)n_ret, (int)r, (int)f[3]);
    if (size < want) return pb_errf(e, name, -1, "truncated plan: %zu bytes, the header implies %zu", size, want);
    if (size > want) return pb_errf(e, name, (long long)want, "%zu bytes after the end of the plan", size - want);
    uint64_t stored = get_u64(b + want - 8), sum = pb_fnv1a64(PB_FNV1A64_INIT, b, want - 8);
    if (stored != sum)
        return pb_errf(e, name, (long long)(want - 8), "bad checksum (stored %016llx, contents hash to %016llx)",
                       (unsigned long long)stored, (unsigned long long)sum);
    if (!(p.p > 0.0f && p.p <= 1.0f)) return pb_errf(e, name, 56, "p = %g out of (0, 1]", (double)p.p);
    for (uint32_t i = 0; i < nr; i++) { /* the ranges and order the by_length text is held to (plan.h) */
        const unsigned char *w = b + HDR + 4 + (size_t)i * ROW;
        plan_length_row *row = &p.by_length[i];
        const uint32_t from = get_u32(w), set = get_u32(w + 4), local = get_u32(w + 8), kmin = get_u32(w + 12);
        const float rp = get_f32(w + 16);
        const long long at = (long long)(w - b);
        if (from < 1 || from > 1u << 24 || (i && from <= (uint32_t)p.by_length[i - 1].from))
            return pb_errf(e, name, at, "length rule row %u: from %u out of range or order", i + 1, from);
        if (!set || set & ~7u)
            return pb_errf(e, name, at + 4, "length rule row %u: unknown fields 0x%x", i + 1, set);
        if (local > 1u << 24 || kmin > 1u << 20 || !(rp >= 0.0f && rp <= 1.0f) ||
            (set & 4 && !(rp > 0.0f)))
            return pb_errf(e, name, at + 8, "length rule row %u: a value out of range", i + 1);
        *row = (plan_length_row){
            .from = (int)from, .set = row_bits_in(set), .local = (int)local, .kmin = (int)kmin, .p = rp};
    }
    p.n_by_length = (int)nr;
    uint32_t count = 0;
    for (int i = 0; i < nh; i++) {
        if (b[c0 + i] > max_class)
            return pb_errf(e, name, (long long)c0 + i, "head %d.%d has unknown class %u", i / (int)f[1],
                           i % (int)f[1], b[c0 + i]);
        count += b[c0 + i] == PLAN_CLASS_RETRIEVAL;
    }
    if (count != n_ret) return pb_errf(e, name, 64, "n_retrieval %u but %u heads are marked retrieval", n_ret, count);
    for (size_t i = c0 + (size_t)nh; i < class_end(ver, (int)nr, nh); i++)
        if (b[i]) return pb_errf(e, name, (long long)i, "non-zero padding");
    const size_t rd = (size_t)r * f[3];
    for (size_t i = class_end(ver, (int)nr, nh); i < want - 8; i += 4)
        if (!isfinite(get_f32(b + i))) return pb_errf(e, name, (long long)i, "non-finite indexer entry");
    if (m) {
        const model_config *c = &m->cfg;
        uint64_t fp = model_fingerprint(m);
        if (fp != p.model_fp)
            return pb_errf(e, name, 16, "made for another model (plan fingerprint %016llx, %s is %016llx)",
                           (unsigned long long)p.model_fp, m->file ? gguf_path(m->file) : "the model",
                           (unsigned long long)fp);
        if ((int)f[0] != c->n_layer || (int)f[1] != c->n_head || (int)f[2] != c->n_head_kv || (int)f[3] != c->head_dim)
            return pb_errf(e, name, 24, "shape %u layers x %u heads (%u kv) x %u does not match the model", f[0], f[1],
                           f[2], f[3]);
    }
    p.n_layer = (int)f[0];
    p.n_head = (int)f[1];
    p.n_head_kv = (int)f[2];
    p.head_dim = (int)f[3];
    p.sink = (int)f[4];
    p.window = (int)f[5];
    p.block = (int)f[6];
    p.local = (int)f[7];
    p.r = (int)r;
    p.cls = pb_malloc((size_t)nh);
    memcpy(p.cls, b + c0, (size_t)nh);
    p.idx_q = pb_calloc((size_t)nh * rd, sizeof(float));
    p.idx_k = pb_calloc((size_t)nh * rd, sizeof(float));
    const unsigned char *o = b + class_end(ver, (int)nr, nh);
    for (int i = 0; i < nh; i++) {
        if (p.cls[i] != PLAN_CLASS_RETRIEVAL) continue;
        for (size_t j = 0; j < rd; j++, o += 4) p.idx_q[(size_t)i * rd + j] = get_f32(o);
        for (size_t j = 0; j < rd; j++, o += 4) p.idx_k[(size_t)i * rd + j] = get_f32(o);
    }
    *out = p;
    return 1;
}

int plan_file_read(const char *path, const model *m, plan_file *p, pb_err *e)
{
    int not_reg;
    FILE *f = pb_fopen_read(path, 1, &not_reg);
    if (!f && not_reg) return pb_errf(e, path, -1, "not a regular file%s", errno == EISDIR ? " (Is a directory)" : "");
    if (!f) return pb_errf(e, path, -1, "cannot open: %s", strerror(errno));
    size_t n = 0;
    unsigned char *b = (unsigned char *)pb_read_stream(f, &n);
    int rd_err = b ? 0 : errno;
    fclose(f);
    int ok = rd_err ? pb_errf(e, path, -1, "cannot read: %s", strerror(rd_err)) : plan_file_parse(b, n, path, m, p, e);
    free(b);
    return ok;
}

int plan_from_file(plan *p, const model_config *c, const plan_file *f, const plan_spec *spec, const char *name,
                   pb_err *e)
{
    plan_spec sp;
    if (!spec) PB_CHECK(plan_spec_init(&sp, "rtpurbo", e), "%s", e->msg);
    else sp = *spec;
    /* the file's values, except where the spec set its own */
    if (!(sp.given & PLAN_GIVEN_SINK)) sp.prm.sink = f->sink;
    if (!(sp.given & PLAN_GIVEN_WINDOW)) sp.prm.window = f->window;
    if (!(sp.given & PLAN_GIVEN_BLOCK)) sp.prm.block = f->block;
    if (!(sp.given & PLAN_GIVEN_LOCAL)) sp.prm.local = f->local;
    if (!(sp.given & PLAN_GIVEN_P)) sp.prm.p = f->p;
    /* the file's length rule, for the policies that take one, unless the spec gave its own */
    if (!(sp.given & PLAN_GIVEN_BY_LENGTH) && f->n_by_length && plan_policy_takes(sp.policy, "by_length")) {
        sp.prm.n_by_length = f->n_by_length;
        memcpy(sp.prm.by_length, f->by_length, sizeof f->by_length);
    }
    sp.prm.rank = f->r;
    int uses = plan_policy_uses_heads(sp.policy);
    unsigned char *retr = uses ? pb_malloc((size_t)f->n_layer * f->n_head) : NULL;
    for (int i = 0; uses && i < f->n_layer * f->n_head; i++) retr[i] = f->cls[i] == PLAN_CLASS_RETRIEVAL;
    int made = plan_make(p, c, &sp, retr, e);
    free(retr);
    if (!made) return 0;
    for (int i = 0; i < f->n_layer * f->n_head; i++) /* the plan's dense heads, under every policy */
        if (f->cls[i] == PLAN_CLASS_DENSE) p->kind[i] = HEAD_DENSE;
    snprintf(p->name, sizeof p->name, "%.127s (plan %.120s)", sp.text, name);
    if (sp.policy == PLAN_RTPURBO || sp.policy == PLAN_RTPURBO_TOPK) {
        plan_alloc_indexers(p);
        size_t n = (size_t)f->n_layer * f->n_head * f->r * f->head_dim * sizeof(float);
        memcpy(p->idx_q, f->idx_q, n);
        memcpy(p->idx_k, f->idx_k, n);
    }
    return 1;
}
