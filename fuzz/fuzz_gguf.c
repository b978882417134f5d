/* fuzz_gguf.c — libFuzzer target for the GGUF reader and the dequantizers.
 *
 * Opens the input with gguf_open_mem, then uses everything a caller may use:
 * every KV through find and the typed getters, every string, numeric array
 * elements, every tensor through find, and the first row of each tensor
 * dequantized. Beyond ASan/UBSan it traps when an invariant breaks: a
 * failed open must leave a one-line message naming the file; lookups must
 * find what iteration saw; tensor data must lie inside the input.
 *
 * Build and run (clang):   make build/fuzz/fuzz_gguf
 *   python3 fuzz/seed_gguf.py   (seeds fuzz/corpus_gguf, git-ignored)
 *   build/fuzz/fuzz_gguf -max_total_time=600 -jobs=1 -artifact_prefix=fuzz/ fuzz/corpus_gguf
 *   (with -jobs libFuzzer logs to ./fuzz-0.log: delete it afterwards)
 */
#include "model/gguf.h"
#include "kernels/quant.h"

#include <string.h>

#define MAX_ROW (1 << 20) /* floats dequantized per tensor at most */

static volatile double sink;

static void check(int ok)
{
    if (!ok) __builtin_trap();
}

static void walk_kv(const gguf *g, const gguf_kv *kv)
{
    char key[256];
    pb_err e;
    check(kv->key.len > 0);
    if (kv->key.len < sizeof key && !memchr(kv->key.s, 0, kv->key.len)) {
        memcpy(key, kv->key.s, kv->key.len);
        key[kv->key.len] = 0;
        check(gguf_find_kv(g, key) == kv);
        uint32_t u32;
        uint64_t u64;
        float f;
        int b;
        gguf_str s;
        if (gguf_get_u32(g, key, &u32, &e)) sink += u32;
        if (gguf_get_u64(g, key, &u64, &e)) sink += (double)u64;
        if (gguf_get_f32(g, key, &f, &e)) sink += f;
        if (gguf_get_bool(g, key, &b, &e)) check(b == 0 || b == 1);
        if (gguf_get_str(g, key, &s, &e)) check(s.s == kv->str.s && s.len == kv->str.len);
        if (kv->type == GGUF_ARRAY) check(gguf_get_arr(g, key, kv->arr_type, &e) == kv);
    }
    if (kv->type == GGUF_STRING && kv->str.len) sink += kv->str.s[0] + kv->str.s[kv->str.len - 1];
    if (kv->type != GGUF_ARRAY) return;
    for (uint64_t i = 0; i < kv->n && i < 64; i++) {
        if (kv->arr_type == GGUF_STRING) {
            gguf_str s = kv->strs[i];
            if (s.len) sink += s.s[0] + s.s[s.len - 1];
        } else {
            sink += gguf_arr_num(kv, i);
        }
    }
}

static void walk_tensor(const gguf *g, const gguf_tensor *t, const uint8_t *data, size_t size)
{
    char name[256];
    if (t->name.len < sizeof name && !memchr(t->name.s, 0, t->name.len)) {
        memcpy(name, t->name.s, t->name.len);
        name[t->name.len] = 0;
        check(gguf_find_tensor(g, name) == t);
    }
    const uint8_t *p = t->data;
    check(p >= data + gguf_data_offset(g) && t->n_bytes <= size &&
          (size_t)(p - data) <= size - t->n_bytes);
    size_t be, bb;
    check(ggml_type_info(t->type, &be, &bb));
    check(t->n_dims >= 1 && t->n_dims <= GGUF_MAX_DIMS && t->ne[0] % be == 0);
    if (t->ne[0] > MAX_ROW) return;
    check(t->ne[0] / be * bb <= t->n_bytes);
    static float row[MAX_ROW];
    dequant_row(t->type, p, row, t->ne[0]);
    sink += row[0] + row[t->ne[0] - 1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_err e;
    e.msg[0] = 0;
    gguf *g = gguf_open_mem(data, size, "fuzz.gguf", &e);
    if (!g) {
        check(!strncmp(e.msg, "fuzz.gguf: ", 11) && !strchr(e.msg, '\n'));
        return 0;
    }
    check(gguf_version(g) == 3 && gguf_file_size(g) == size && gguf_data_offset(g) <= size);
    for (uint64_t i = 0; i < gguf_n_kv(g); i++) walk_kv(g, gguf_kv_at(g, i));
    for (uint64_t i = 0; i < gguf_n_tensors(g); i++)
        walk_tensor(g, gguf_tensor_at(g, i), data, size);
    gguf_close(g);
    return 0;
}
