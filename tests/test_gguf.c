/* test_gguf.c — the GGUF reader: the real model's metadata and tensors, a
 * hand-built file with every value type, the typed getters, and one test per
 * kind of bad input, each asserting the offset and the words of the message.
 */
#include "tests/test.h"

#include "model/gguf.h"
#include "model/model.h"
#include "tests/fixture.h"
#include "tests/gguf_build.h"
#include "kernels/quant.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Opening buf[0..len) must fail with "t.gguf: offset OFF: ..." containing
 * WORDS, on one line. */
#define EXPECT_ERR(buf, len, off, words)                                          \
    do {                                                                          \
        pb_err e_ = {{0}};                                                        \
        gguf *g_ = gguf_open_mem((buf), (len), "t.gguf", &e_);                    \
        if (g_) gguf_close(g_);                                                   \
        CHECK_MSG(!g_, "a bad file opened (expected '%s')", (words));             \
        char want_[64];                                                           \
        snprintf(want_, sizeof want_, "t.gguf: offset %lld: ", (long long)(off)); \
        CHECK_MSG(!strncmp(e_.msg, want_, strlen(want_)),                         \
                  "message '%s' does not start with '%s'", e_.msg, want_);        \
        CHECK_MSG(strstr(e_.msg, (words)), "message '%s' lacks '%s'", e_.msg,     \
                  (words));                                                       \
        CHECK_MSG(!strchr(e_.msg, '\n'), "message has a newline");                \
    } while (0)

static gguf *open_model(pb_err *e) { return gguf_open(test_model_path, e); }

/* ---- the real model ------------------------------------------------------- */

TEST(gguf_model_header)
{
    pb_err e = {{0}};
    gguf *g = open_model(&e);
    CHECK_MSG(g, "%s", e.msg);
    CHECK(gguf_version(g) == 3);
    CHECK(gguf_alignment(g) == 32);
    CHECK(gguf_n_tensors(g) == 272);
    CHECK(gguf_n_kv(g) == 33); /* gguf-py lists 36 fields: 33 + the 3 header fields */
    CHECK(gguf_file_size(g) == 98362432);
    CHECK(gguf_data_offset(g) == 1785664);
    CHECK(!strcmp(gguf_path(g), test_model_path));
    CHECK(gguf_str_eq(gguf_kv_at(g, 0)->key, "general.architecture"));
    CHECK(gguf_kv_at(g, 0)->file_offset == 24);
    CHECK(gguf_kv_at(g, 33) == NULL && gguf_tensor_at(g, 272) == NULL);
    gguf_close(g);
}

TEST(gguf_model_metadata)
{
    pb_err e = {{0}};
    gguf *g = open_model(&e);
    CHECK_MSG(g, "%s", e.msg);
    uint32_t u;
    float f;
    int b;
    gguf_str s;
    CHECK_MSG(gguf_get_u32(g, "llama.block_count", &u, &e), "%s", e.msg);
    CHECK(u == 30);
    CHECK(gguf_get_u32(g, "llama.context_length", &u, &e) && u == 8192);
    CHECK(gguf_get_u32(g, "llama.embedding_length", &u, &e) && u == 576);
    CHECK(gguf_get_u32(g, "llama.feed_forward_length", &u, &e) && u == 1536);
    CHECK(gguf_get_u32(g, "llama.attention.head_count", &u, &e) && u == 9);
    CHECK(gguf_get_u32(g, "llama.attention.head_count_kv", &u, &e) && u == 3);
    CHECK(gguf_get_u32(g, "llama.rope.dimension_count", &u, &e) && u == 64);
    CHECK(gguf_get_u32(g, "llama.vocab_size", &u, &e) && u == 49152);
    CHECK(gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &u, &e) && u == 1);
    CHECK(gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &u, &e) && u == 2);
    CHECK(gguf_get_f32(g, "llama.rope.freq_base", &f, &e) && f == 100000.0f);
    CHECK(gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f, &e) && f == 1e-5f);
    CHECK(gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, &e) && b == 0);
    CHECK(gguf_get_str(g, "general.architecture", &s, &e) && gguf_str_eq(s, "llama"));
    CHECK(gguf_get_str(g, "tokenizer.ggml.model", &s, &e) && gguf_str_eq(s, "gpt2"));
    CHECK(gguf_get_str(g, "tokenizer.ggml.pre", &s, &e) && gguf_str_eq(s, "smollm"));
    CHECK(gguf_get_str(g, "tokenizer.chat_template", &s, &e) && s.len > 20 &&
          !memcmp(s.s, "{% for message in messages %}", 29));

    const gguf_kv *tok = gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_STRING, &e);
    CHECK_MSG(tok, "%s", e.msg);
    CHECK(tok->n == 49152 && tok->strs);
    CHECK(tok->file_offset == 1062);
    CHECK(gguf_str_eq(tok->strs[0], "<|endoftext|>"));
    CHECK(gguf_str_eq(tok->strs[1], "<|im_start|>"));
    CHECK(gguf_str_eq(tok->strs[2], "<|im_end|>"));
    CHECK(gguf_str_eq(tok->strs[255], "he"));
    CHECK(gguf_str_eq(tok->strs[49151], "ectable"));
    const gguf_kv *mer = gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_STRING, &e);
    CHECK(mer && mer->n == 48900);
    CHECK(gguf_str_eq(mer->strs[0], "\xc4\xa0 t"));
    const gguf_kv *tt = gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_I32, &e);
    CHECK(tt && tt->n == 49152);
    CHECK(gguf_arr_num(tt, 0) == 3 && gguf_arr_num(tt, 16) == 3 && gguf_arr_num(tt, 17) == 1);
    CHECK(isnan(gguf_arr_num(tt, 49152)));
    gguf_close(g);
}

TEST(gguf_model_tensors)
{
    pb_err e = {{0}};
    gguf *g = open_model(&e);
    CHECK_MSG(g, "%s", e.msg);
    int n_q41 = 0, n_f32 = 0, n_q80 = 0, n_other = 0;
    uint64_t total = 0, end = 0;
    for (uint64_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        if (t->type == GGML_Q4_1) n_q41++;
        else if (t->type == GGML_F32) n_f32++;
        else if (t->type == GGML_Q8_0) n_q80++;
        else n_other++;
        total += t->n_elems;
        CHECK((const uint8_t *)t->data ==
              (const uint8_t *)gguf_tensor_at(g, 0)->data + t->offset);
        CHECK(gguf_find_tensor(g, "token_embd.weight") != NULL);
        if (t->offset + t->n_bytes > end) end = t->offset + t->n_bytes;
    }
    CHECK(n_q41 == 210 && n_f32 == 61 && n_q80 == 1 && n_other == 0);
    CHECK(total == 134515008); /* SmolLM2-135M: about 134.5M parameters */
    CHECK(gguf_data_offset(g) + end == gguf_file_size(g));

    const gguf_tensor *t = gguf_find_tensor(g, "token_embd.weight");
    CHECK(t && t->type == GGML_Q8_0 && t->n_dims == 2);
    CHECK(t->ne[0] == 576 && t->ne[1] == 49152 && t->ne[2] == 1 && t->ne[3] == 1);
    CHECK(t->offset == 0 && t->n_bytes == 576 / 32 * 34 * 49152ull);
    t = gguf_find_tensor(g, "blk.0.attn_k.weight");
    CHECK(t && t->type == GGML_Q4_1 && t->ne[0] == 576 && t->ne[1] == 192);
    CHECK(t->offset == 31744512 && t->n_bytes == 69120);
    t = gguf_find_tensor(g, "output_norm.weight");
    CHECK(t && t->type == GGML_F32 && t->n_dims == 1 && t->ne[0] == 576);
    CHECK(t->offset == 96574464 && t->n_bytes == 2304);
    CHECK(gguf_find_tensor(g, "output.weight") == NULL); /* tied embeddings */
    CHECK(gguf_find_tensor(g, "blk.29.ffn_down.weight") != NULL);
    CHECK(gguf_find_tensor(g, "blk.30.ffn_down.weight") == NULL);
    gguf_close(g);
}

/* ---- the hand-built sample ------------------------------------------------- */

TEST(gguf_sample_values)
{
    gbuf b = {0};
    gb_marks m;
    size_t n = gb_sample(&b, &m, 0);
    pb_err e = {{0}};
    gguf *g = gguf_open_mem(b.p, n, "t.gguf", &e);
    CHECK_MSG(g, "%s", e.msg);
    CHECK(gguf_n_kv(g) == 20 && gguf_n_tensors(g) == 3 && gguf_alignment(g) == 32);
    CHECK(gguf_data_offset(g) == m.data && m.data % 32 == 0 && m.data > m.infos_end);
    uint32_t u;
    uint64_t u64;
    float f;
    int bo;
    gguf_str s;
    CHECK(gguf_get_u32(g, "t.u8", &u, &e) && u == 200);
    CHECK(gguf_get_u32(g, "t.u16", &u, &e) && u == 60000);
    CHECK(gguf_get_u32(g, "t.u32", &u, &e) && u == 4000000000u);
    CHECK(gguf_get_u32(g, "t.small_i64", &u, &e) && u == 42);
    CHECK(gguf_get_u64(g, "t.u64", &u64, &e) && u64 == 1ull << 40);
    CHECK(gguf_get_f32(g, "t.f32", &f, &e) && f == 1.5f);
    CHECK(gguf_get_f32(g, "t.f64", &f, &e) && f == 2.25f);
    CHECK(gguf_get_bool(g, "t.bool", &bo, &e) && bo == 1);
    CHECK(gguf_get_str(g, "t.str", &s, &e) && gguf_str_eq(s, "hello"));
    const gguf_kv *kv = gguf_find_kv(g, "t.i8");
    CHECK(kv && kv->type == GGUF_I8 && kv->n == 1 && (int8_t)kv->val[0] == -5);
    kv = gguf_find_kv(g, "t.i16");
    int16_t i16;
    memcpy(&i16, kv->val, 2);
    CHECK(kv->type == GGUF_I16 && i16 == -30000);
    kv = gguf_get_arr(g, "t.arr_i32", GGUF_I32, &e);
    CHECK(kv && kv->n == 3 && kv->file_offset == m.kv_arr_i32);
    CHECK(gguf_arr_num(kv, 0) == 1 && gguf_arr_num(kv, 1) == -2 && gguf_arr_num(kv, 2) == 3);
    kv = gguf_get_arr(g, "t.arr_str", GGUF_STRING, &e);
    CHECK(kv && kv->n == 3 && gguf_str_eq(kv->strs[0], "a") && gguf_str_eq(kv->strs[1], "bc") &&
          kv->strs[2].len == 0);
    CHECK(isnan(gguf_arr_num(kv, 0))); /* strings are not numbers */
    kv = gguf_get_arr(g, "t.arr_f64", GGUF_F64, &e);
    CHECK(kv && gguf_arr_num(kv, 0) == 0.5 && gguf_arr_num(kv, 1) == -1e300);
    kv = gguf_get_arr(g, "t.arr_bool", GGUF_BOOL, &e);
    CHECK(kv && gguf_arr_num(kv, 0) == 1 && gguf_arr_num(kv, 1) == 0);
    kv = gguf_get_arr(g, "t.arr_empty", GGUF_U8, &e);
    CHECK(kv && kv->n == 0 && isnan(gguf_arr_num(kv, 0)));
    CHECK(!strcmp(gguf_vtype_name(GGUF_F64), "f64") && !strcmp(gguf_vtype_name(13), "unknown"));

    const gguf_tensor *a = gguf_find_tensor(g, "a"), *tb = gguf_find_tensor(g, "b");
    CHECK(a && a->type == GGML_F32 && a->n_elems == 8 && a->n_bytes == 32);
    CHECK(a->file_offset == m.t_info[0]);
    CHECK((const uint8_t *)a->data == b.p + m.data);
    float y[32];
    dequant_row(a->type, a->data, y, 8);
    CHECK(y[0] == 0 && y[7] == 7);
    CHECK(tb && tb->type == GGML_Q8_0 && tb->n_bytes == 34 && tb->offset == 32);
    dequant_row(tb->type, tb->data, y, 32);
    CHECK(y[0] == -8 && y[16] == 0 && y[31] == 7.5f);
    gguf_close(g);
    gb_free(&b);
}

TEST(gguf_getter_errors)
{
    gbuf b = {0};
    gb_marks m;
    size_t n = gb_sample(&b, &m, 0);
    pb_err e = {{0}};
    gguf *g = gguf_open_mem(b.p, n, "t.gguf", &e);
    CHECK_MSG(g, "%s", e.msg);
    uint32_t u;
    uint64_t u64;
    float f;
    int bo;
    gguf_str s;
    CHECK(!gguf_get_u32(g, "nope", &u, &e));
    CHECK_MSG(!strcmp(e.msg, "t.gguf: key 'nope' is missing"), "%s", e.msg);
    CHECK(!gguf_get_u32(g, "t.i32", &u, &e));     /* -7 */
    CHECK_MSG(strstr(e.msg, "key 't.i32' = -7 does not fit in u32"), "%s", e.msg);
    CHECK(!gguf_get_u32(g, "t.u64", &u, &e));     /* 2^40 */
    CHECK_MSG(strstr(e.msg, "key 't.u64' = 1099511627776 does not fit in u32"), "%s", e.msg);
    CHECK(!gguf_get_u64(g, "t.i64", &u64, &e));   /* negative */
    CHECK_MSG(strstr(e.msg, "does not fit in u64"), "%s", e.msg);
    CHECK(!gguf_get_u32(g, "t.str", &u, &e));
    CHECK_MSG(strstr(e.msg, "key 't.str' is string, expected an integer"), "%s", e.msg);
    CHECK(!gguf_get_u32(g, "t.bool", &u, &e));    /* a bool is not an integer */
    CHECK(!gguf_get_f32(g, "t.u32", &f, &e));
    CHECK_MSG(strstr(e.msg, "key 't.u32' is u32, expected f32 or f64"), "%s", e.msg);
    CHECK(!gguf_get_f32(g, "t.big_f64", &f, &e));
    CHECK_MSG(strstr(e.msg, "out of the f32 range"), "%s", e.msg);
    CHECK(!gguf_get_bool(g, "t.u8", &bo, &e));
    CHECK_MSG(strstr(e.msg, "key 't.u8' is u8, expected bool"), "%s", e.msg);
    CHECK(!gguf_get_str(g, "t.arr_str", &s, &e));
    CHECK_MSG(strstr(e.msg, "key 't.arr_str' is array, expected string"), "%s", e.msg);
    CHECK(!gguf_get_arr(g, "t.arr_i32", GGUF_STRING, &e));
    char want[96];
    snprintf(want, sizeof want, "t.gguf: offset %zu: key 't.arr_i32' is an array of i32, "
             "expected an array of string", m.kv_arr_i32);
    CHECK_MSG(!strcmp(e.msg, want), "'%s' != '%s'", e.msg, want);
    CHECK(!gguf_get_arr(g, "t.u8", GGUF_U8, &e));
    CHECK(!gguf_get_arr(g, "missing", GGUF_U8, &e) && strstr(e.msg, "'missing' is missing"));
    /* failures leave the output alone */
    u = 12345;
    CHECK(!gguf_get_u32(g, "t.i32", &u, &e) && u == 12345);
    gguf_close(g);
    gb_free(&b);
}

TEST(gguf_alignment_key)
{
    gbuf b = {0};
    gb_marks m;
    size_t n = gb_sample(&b, &m, 1);
    pb_err e = {{0}};
    gguf *g = gguf_open_mem(b.p, n, "t.gguf", &e);
    CHECK_MSG(g, "%s", e.msg);
    CHECK(gguf_alignment(g) == 32 && gguf_n_kv(g) == 21);
    gguf_close(g);
    size_t val_at = m.align_val;
    gb_put_u32(&b, val_at, 48);
    EXPECT_ERR(b.p, n, val_at, "general.alignment = 48 is not a power of two");
    gb_put_u32(&b, val_at, 0);
    EXPECT_ERR(b.p, n, val_at, "general.alignment = 0 is not a power of two");
    gb_put_u32(&b, val_at, 32);
    gb_put_u32(&b, val_at - 4, GGUF_I32); /* the type field */
    EXPECT_ERR(b.p, n, m.align_kv, "general.alignment is i32, must be u32");
    gb_free(&b);
}

/* Alignment 1: tensor data at an odd address still reads right (the
 * dequantizer must not assume aligned blocks). */
TEST(gguf_alignment_one_unaligned_data)
{
    gbuf c = {0};
    gb_header(&c, 1, 1);
    gb_kv_u32(&c, "general.alignment", 1);
    uint64_t ne = 32;
    gb_tensor(&c, "odd", 1, &ne, GGML_Q8_0, 0);
    size_t off = ((uintptr_t)c.p + c.n) % 2 == 0; /* 1 if the data would start even */
    gb_put_u64(&c, c.n - 8, off);
    gb_zeros(&c, off);
    gb_u16(&c, f32_to_f16(0.25f));
    for (int j = 0; j < 32; j++) gb_u8(&c, (uint8_t)j);
    pb_err e = {{0}};
    gguf *g = gguf_open_mem(c.p, c.n, "t.gguf", &e);
    CHECK_MSG(g, "%s", e.msg);
    const gguf_tensor *t = gguf_tensor_at(g, 0);
    CHECK(gguf_alignment(g) == 1 && t->offset == off);
    CHECK((uintptr_t)t->data % 2 == 1);
    float y[32];
    dequant_row(t->type, t->data, y, 32);
    CHECK(y[0] == 0 && y[5] == 1.25f && y[31] == 7.75f);
    gguf_close(g);
    gb_free(&c);
}

/* ---- bad input: one test per kind, on corrupted copies of the sample ----- */

/* b gets a fresh sample; m its marks. */
#define SAMPLE(b, m, n) gbuf b = {0}; gb_marks m; size_t n = gb_sample(&b, &m, 0)

TEST(gguf_bad_magic_and_version)
{
    SAMPLE(b, m, n);
    b.p[0] = 'G'; b.p[1] = 'G'; b.p[2] = 'M'; b.p[3] = 'L';
    EXPECT_ERR(b.p, n, 0, "bad magic 'GGML', expected 'GGUF'");
    memcpy(b.p, "GGUF", 4);
    gb_put_u32(&b, 4, 2);
    EXPECT_ERR(b.p, n, 4, "GGUF version 2 is not supported");
    gb_put_u32(&b, 4, 0x03000000); /* a big-endian file */
    EXPECT_ERR(b.p, n, 4, "version 50331648");
    gb_free(&b);
    EXPECT_ERR("GGU", 3, 0, "file ends inside the magic");
    EXPECT_ERR(NULL, 0, 0, "file ends inside the magic (needs 4 bytes, 0 left)");
}

/* Every proper prefix of a valid file fails cleanly, naming a place in the
 * file: the header/KV/info fields, or tensor data past the end. */
TEST(gguf_bad_truncated_every_prefix)
{
    SAMPLE(b, m, n);
    for (size_t len = 0; len < n; len++) {
        uint8_t *cut = malloc(len ? len : 1); /* exact size: ASan sees overreads */
        memcpy(cut, b.p, len);
        pb_err e = {{0}};
        gguf *g = gguf_open_mem(cut, len, "t.gguf", &e);
        free(cut);
        if (g) gguf_close(g);
        CHECK_MSG(!g, "prefix of %zu bytes opened", len);
        CHECK_MSG(!strncmp(e.msg, "t.gguf: offset ", 15), "%zu: %s", len, e.msg);
        CHECK_MSG(strstr(e.msg, "file ends inside") || strstr(e.msg, "past the end") ||
                  strstr(e.msg, "cannot fit") || strstr(e.msg, "does not fit"),
                  "%zu: %s", len, e.msg);
    }
    /* a few exact places */
    EXPECT_ERR(b.p, 20, 16, "file ends inside the key/value count (needs 8 bytes, 4 left)");
    EXPECT_ERR(b.p, 35, 8, "tensor count 3 cannot fit in a file of 35 bytes");
    EXPECT_ERR(b.p, m.t_info[0] + 8, m.t_info[0], "a tensor name has length 1, past the end "
                                                  "of the file (0 bytes left)");
    EXPECT_ERR(b.p, m.t_ne0[0] + 5, m.t_ne0[0], "file ends inside a tensor dimension");
    EXPECT_ERR(b.p, n - 1, m.t_offset[2], "tensor 'c': data at offset 96 + 144 bytes runs "
                                          "past the end of the file");
    gb_free(&b);
}

TEST(gguf_bad_counts)
{
    SAMPLE(b, m, n);
    gb_put_u64(&b, m.n_tensors, 1ull << 60);
    EXPECT_ERR(b.p, n, 8, "tensor count 1152921504606846976 cannot fit");
    gb_put_u64(&b, m.n_tensors, 3);
    gb_put_u64(&b, m.n_kv, UINT64_MAX);
    EXPECT_ERR(b.p, n, 16, "key/value count 18446744073709551615 cannot fit");
    /* one more KV than there is: the tensor info gets read as a key */
    gb_put_u64(&b, m.n_kv, 21);
    pb_err e = {{0}};
    CHECK(!gguf_open_mem(b.p, n, "t.gguf", &e));
    gb_free(&b);
}

TEST(gguf_bad_string_length)
{
    SAMPLE(b, m, n);
    gb_put_u64(&b, m.kv_first, 1000000);
    EXPECT_ERR(b.p, n, m.kv_first, "a key has length 1000000, past the end of the file");
    gb_put_u64(&b, m.kv_first, UINT64_MAX); /* must not wrap pos + len */
    EXPECT_ERR(b.p, n, m.kv_first, "a key has length 18446744073709551615, past the end");
    gb_put_u64(&b, m.kv_first, 20);
    /* the value string "llama" */
    size_t val = m.kv_first + 8 + 20 + 4;
    gb_put_u64(&b, val, 1ull << 63);
    EXPECT_ERR(b.p, n, val, "the value of key 'general.architecture' has length "
                            "9223372036854775808, past the end");
    gb_put_u64(&b, val, 5);
    /* an element of the string array: "bc" */
    size_t el = m.arr_str_count + 8 + 9;
    gb_put_u64(&b, el, 99999);
    EXPECT_ERR(b.p, n, el, "element 1 of key 't.arr_str' has length 99999, past the end");
    gb_put_u64(&b, el, 2);
    /* a tensor name */
    gb_put_u64(&b, m.t_info[1], 5000);
    EXPECT_ERR(b.p, n, m.t_info[1], "a tensor name has length 5000, past the end");
    gb_free(&b);
}

TEST(gguf_bad_array_length)
{
    SAMPLE(b, m, n);
    /* n × 4 would wrap to 4 in 64 bits if multiplied first */
    gb_put_u64(&b, m.arr_i32_count, (1ull << 62) + 1);
    EXPECT_ERR(b.p, n, m.arr_i32_count, "key 't.arr_i32': array of 4611686018427387905 i32 "
                                        "elements (4 bytes each at least) does not fit");
    gb_put_u64(&b, m.arr_i32_count, n);
    EXPECT_ERR(b.p, n, m.arr_i32_count, "does not fit in the");
    gb_put_u64(&b, m.arr_i32_count, 3);
    /* strings: each element takes at least its 8-byte length */
    gb_put_u64(&b, m.arr_str_count, n / 8);
    EXPECT_ERR(b.p, n, m.arr_str_count, "array of");
    gb_put_u64(&b, m.arr_str_count, UINT64_MAX / 8 + 1); /* × 16 for the table must not wrap */
    EXPECT_ERR(b.p, n, m.arr_str_count, "string elements (8 bytes each at least)");
    gb_free(&b);
}

TEST(gguf_bad_value_types)
{
    SAMPLE(b, m, n);
    size_t type_at = m.kv_arr_i32 + 8 + 9;
    gb_put_u32(&b, type_at, 13);
    EXPECT_ERR(b.p, n, type_at, "key 't.arr_i32': unknown value type 13");
    gb_put_u32(&b, type_at, GGUF_ARRAY);
    gb_put_u32(&b, type_at + 4, GGUF_ARRAY); /* element type */
    EXPECT_ERR(b.p, n, type_at + 4, "key 't.arr_i32': nested arrays are not supported");
    gb_put_u32(&b, type_at + 4, 77);
    EXPECT_ERR(b.p, n, type_at + 4, "key 't.arr_i32': unknown array element type 77");
    gb_put_u32(&b, type_at + 4, GGUF_I32);
    b.p[m.bool_val] = 2;
    EXPECT_ERR(b.p, n, m.bool_val, "key 't.bool': bool value 2 is neither 0 nor 1");
    b.p[m.bool_val] = 1;
    /* a bool array element (the third, value 1 -> 255) */
    gguf *g;
    pb_err e = {{0}};
    g = gguf_open_mem(b.p, n, "t.gguf", &e);
    CHECK_MSG(g, "%s", e.msg);
    size_t third = (size_t)(gguf_find_kv(g, "t.arr_bool")->val - b.p) + 2;
    gguf_close(g);
    b.p[third] = 255;
    EXPECT_ERR(b.p, n, third, "key 't.arr_bool': bool value 255 is neither 0 nor 1");
    gb_free(&b);
}

TEST(gguf_bad_keys)
{
    /* duplicate key: the second one is reported, with the first's place */
    gbuf b = {0};
    gb_header(&b, 0, 3);
    gb_kv_u32(&b, "x.a", 1);
    size_t second = b.n;
    gb_kv_u32(&b, "x.b", 2);
    size_t third = b.n;
    gb_kv_str(&b, "x.a", "again");
    EXPECT_ERR(b.p, b.n, third, "duplicate key 'x.a' (first at offset 24)");
    gb_free(&b);
    /* empty key */
    gb_header(&b, 0, 2);
    gb_kv_u32(&b, "x.a", 1);
    gb_kv_u32(&b, "", 2);
    EXPECT_ERR(b.p, b.n, second, "key/value #1 has an empty key");
    gb_free(&b);
    /* odd bytes in a key are shown as '?', on one line */
    gb_header(&b, 0, 2);
    gb_kv_u32(&b, "bad\nkey\x01", 1);
    gb_kv_u32(&b, "bad\nkey\x01", 1);
    EXPECT_ERR(b.p, b.n, 24 + 8 + 8 + 4 + 4, "duplicate key 'bad?key?'");
    gb_free(&b);
    /* a valid file with no tensors and no keys: no padding needed */
    gb_header(&b, 0, 0);
    pb_err e = {{0}};
    gguf *g = gguf_open_mem(b.p, b.n, "t.gguf", &e);
    CHECK_MSG(g, "%s", e.msg);
    CHECK(gguf_n_kv(g) == 0 && gguf_n_tensors(g) == 0 && !gguf_find_kv(g, "x"));
    CHECK(gguf_data_offset(g) == 24 && !gguf_find_tensor(g, "x"));
    gguf_close(g);
    gb_free(&b);
}

TEST(gguf_bad_tensor_names_and_dims)
{
    SAMPLE(b, m, n);
    /* rename "b" to "a" */
    b.p[m.t_info[1] + 8] = 'a';
    EXPECT_ERR(b.p, n, m.t_info[1], "duplicate tensor name 'a' (tensor #0 and #1)");
    b.p[m.t_info[1] + 8] = 'b';
    gb_put_u32(&b, m.t_ndims[1], 0);
    EXPECT_ERR(b.p, n, m.t_ndims[1], "tensor 'b': n_dims = 0, must be 1 to 4");
    gb_put_u32(&b, m.t_ndims[1], 5);
    EXPECT_ERR(b.p, n, m.t_ndims[1], "tensor 'b': n_dims = 5, must be 1 to 4");
    gb_put_u32(&b, m.t_ndims[1], 1);
    gb_put_u64(&b, m.t_ne1[0], 0);
    EXPECT_ERR(b.p, n, m.t_ne1[0], "tensor 'a': ne[1] is 0");
    gb_put_u64(&b, m.t_ne0[0], 0);
    EXPECT_ERR(b.p, n, m.t_ne0[0], "tensor 'a': ne[0] is 0");
    /* 2^32 × 2^32 elements overflow the int64 element count */
    gb_put_u64(&b, m.t_ne0[0], 1ull << 32);
    gb_put_u64(&b, m.t_ne1[0], 1ull << 32);
    EXPECT_ERR(b.p, n, m.t_ne1[0],
               "tensor 'a': ne[1] = 4294967296 makes the element count overflow");
    gb_put_u64(&b, m.t_ne0[0], UINT64_MAX);
    EXPECT_ERR(b.p, n, m.t_ne0[0], "tensor 'a': ne[0] = 18446744073709551615 makes the element");
    /* 2^40 × 2^20 fits int64 but not the file */
    gb_put_u64(&b, m.t_ne0[0], 1ull << 40);
    gb_put_u64(&b, m.t_ne1[0], 1ull << 20);
    EXPECT_ERR(b.p, n, m.t_offset[0], "tensor 'a': data at offset 0 + 4611686018427387904 bytes "
                                      "runs past the end");
    gb_free(&b);
}

TEST(gguf_bad_tensor_types)
{
    SAMPLE(b, m, n);
    gb_put_u32(&b, m.t_type[1], 99);
    EXPECT_ERR(b.p, n, m.t_type[1], "tensor 'b': unknown type 99");
    gb_put_u32(&b, m.t_type[1], 13);
    EXPECT_ERR(b.p, n, m.t_type[1], "tensor 'b': type 13 (Q5_K) is not supported");
    gb_put_u32(&b, m.t_type[1], 4); /* a removed ggml type */
    EXPECT_ERR(b.p, n, m.t_type[1], "tensor 'b': unknown type 4");
    gb_put_u32(&b, m.t_type[1], GGML_Q8_0);
    gb_put_u64(&b, m.t_ne0[1], 33);
    EXPECT_ERR(b.p, n, m.t_ne0[1], "tensor 'b': ne[0] = 33 is not a multiple of 32, the Q8_0 "
                                   "block size");
    gb_put_u64(&b, m.t_ne0[1], 32);
    gb_put_u64(&b, m.t_ne0[2], 128);
    EXPECT_ERR(b.p, n, m.t_ne0[2], "tensor 'c': ne[0] = 128 is not a multiple of 256, the Q4_K");
    gb_free(&b);
}

TEST(gguf_bad_tensor_offsets)
{
    SAMPLE(b, m, n);
    gb_put_u64(&b, m.t_offset[1], 40);
    EXPECT_ERR(b.p, n, m.t_offset[1],
               "tensor 'b': offset 40 is not a multiple of the alignment 32");
    gb_put_u64(&b, m.t_offset[1], 1ull << 40);
    EXPECT_ERR(b.p, n, m.t_offset[1], "tensor 'b': data at offset 1099511627776 + 34 bytes runs "
                                      "past the end of the file");
    gb_put_u64(&b, m.t_offset[1], UINT64_MAX - 31); /* aligned; offset + size would wrap */
    EXPECT_ERR(b.p, n, m.t_offset[1], "runs past the end of the file");
    /* b (32..66) overlapping a (0..32) and c (96..240) */
    gb_put_u64(&b, m.t_offset[1], 0);
    EXPECT_ERR(b.p, n, m.t_offset[1], "tensor 'b': data at offset 0 overlaps tensor 'a' "
                                      "(offset 0, 32 bytes)");
    gb_put_u64(&b, m.t_offset[1], 32);
    gb_put_u64(&b, m.t_offset[2], 64); /* c at 64..208 overlaps b at 32..66 */
    EXPECT_ERR(b.p, n, m.t_offset[2], "tensor 'c': data at offset 64 overlaps tensor 'b'");
    gb_free(&b);

    /* the data section start (aligned) is past the end of the file */
    gbuf c = {0};
    gb_header(&c, 1, 0);
    uint64_t ne = 1;
    gb_tensor(&c, "t", 1, &ne, GGML_F32, 0);
    size_t end = c.n; /* 24 + 8 + 1 + 4 + 8 + 4 + 8 = 57 */
    gb_u8(&c, 0);
    EXPECT_ERR(c.p, c.n, end, "padding to the data section (alignment 32) runs past the end");
    gb_pad(&c, 32);
    EXPECT_ERR(c.p, c.n, end - 8, "tensor 't': data at offset 0 + 4 bytes runs past");
    gb_zeros(&c, 4);
    pb_err e = {{0}};
    gguf *g = gguf_open_mem(c.p, c.n, "t.gguf", &e);
    CHECK_MSG(g, "%s", e.msg);
    CHECK(gguf_data_offset(g) == 64);
    gguf_close(g);
    gb_free(&c);
}

TEST(gguf_open_file)
{
    pb_err e = {{0}};
    CHECK(!gguf_open("/nonexistent/x.gguf", &e));
    CHECK_MSG(!strcmp(e.msg, "/nonexistent/x.gguf: cannot open: No such file or directory"),
              "%s", e.msg);
    CHECK(!gguf_open("/tmp", &e));
    CHECK_MSG(!strcmp(e.msg, "/tmp: not a regular file"), "%s", e.msg);

    /* the sample through the mmap path, and an empty file */
    char path[] = "/tmp/purbo-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    SAMPLE(b, m, n);
    CHECK(write(fd, b.p, n) == (ssize_t)n);
    close(fd);
    gguf *g = gguf_open(path, &e);
    CHECK_MSG(g, "%s", e.msg);
    CHECK(gguf_n_tensors(g) == 3 && gguf_file_size(g) == n && !strcmp(gguf_path(g), path));
    const gguf_tensor *t = gguf_find_tensor(g, "a");
    float y[8];
    dequant_row(t->type, t->data, y, 8);
    CHECK(y[3] == 3);
    gguf_close(g);
    CHECK(truncate(path, 0) == 0);
    CHECK(!gguf_open(path, &e));
    char want[64];
    snprintf(want, sizeof want, "%s: offset 0: file ends inside the magic", path);
    CHECK_MSG(strstr(e.msg, want), "%s", e.msg);
    unlink(path);
    gb_free(&b);
}

/* ---- values that parse but would give garbage later (model_read_config) ---- */

/* The model's bytes with the f32 value of key `key` set to v: the config must
 * be refused naming the key's offset and the words. */
static int config_refused(uint8_t *buf, size_t len, const char *key, float v, const char *words, char *msg)
{
    pb_err e = {{0}};
    gguf *g = gguf_open_mem(buf, len, "m.gguf", &e);
    if (!g) return snprintf(msg, 512, "the unpatched copy fails: %.400s", e.msg), 0;
    const gguf_kv *kv = gguf_find_kv(g, key);
    size_t at = (size_t)(kv->val - buf);
    float old;
    memcpy(&old, buf + at, 4);
    memcpy(buf + at, &v, 4);
    model_config c;
    int ok = model_read_config(g, &c, &e);
    memcpy(buf + at, &old, 4);
    char want[64];
    snprintf(want, sizeof want, "m.gguf: offset %llu: ", (unsigned long long)kv->file_offset);
    gguf_close(g);
    snprintf(msg, 512, "%.40s = %g: %.400s", key, (double)v, ok ? "accepted" : e.msg);
    return !ok && !strncmp(e.msg, want, strlen(want)) && strstr(e.msg, words);
}

TEST(gguf_model_config_ranges)
{
    size_t len;
    uint8_t *buf = (uint8_t *)fixture_read(test_model_path, &len);
    CHECK(buf);
    char msg[512];
    const char *rope = "llama.rope.freq_base", *eps = "llama.attention.layer_norm_rms_epsilon";
    CHECK_MSG(config_refused(buf, len, rope, NAN, "rope.freq_base = nan is out of range (0,", msg), "%s", msg);
    CHECK_MSG(config_refused(buf, len, rope, 0.0f, "rope.freq_base = 0 is out of range", msg), "%s", msg);
    CHECK_MSG(config_refused(buf, len, rope, -5.0f, "rope.freq_base = -5 is out of range", msg), "%s", msg);
    CHECK_MSG(config_refused(buf, len, eps, -1e-5f, "epsilon = -1e-05 is out of range [0,", msg), "%s", msg);
    CHECK_MSG(config_refused(buf, len, eps, INFINITY, "epsilon = inf is out of range", msg), "%s", msg);
    /* the real values pass */
    pb_err e = {{0}};
    gguf *g = gguf_open_mem(buf, len, "m.gguf", &e);
    model_config c;
    CHECK_MSG(g && model_read_config(g, &c, &e), "%s", e.msg);
    CHECK(c.rope_base == 100000.0f && c.rms_eps == 1e-5f && c.n_vocab == 49152);
    /* an embedding table one row short of the 49152 tokens: its ne[1] field
     * sits after the tensor's name (u64 length + bytes), n_dims and ne[0] */
    const gguf_tensor *t = gguf_find_tensor(g, "token_embd.weight");
    size_t ne1 = (size_t)t->file_offset + 8 + t->name.len + 4 + 8;
    gguf_close(g);
    uint64_t rows;
    memcpy(&rows, buf + ne1, 8);
    CHECK(rows == 49152);
    rows = 49151;
    memcpy(buf + ne1, &rows, 8);
    g = gguf_open_mem(buf, len, "m.gguf", &e);
    CHECK_MSG(g, "%s", e.msg);
    int ok = model_read_config(g, &c, &e);
    gguf_close(g);
    free(buf);
    CHECK(!ok);
    CHECK_MSG(strstr(e.msg, "token_embd.weight has 49151 rows, fewer than the 49152 tokens"), "%s", e.msg);
}

/* A FIFO with no writer as the model: refused at once, not a hang. */
TEST(gguf_fifo_refused)
{
    char dir[] = "/tmp/purbo-fifo-XXXXXX", path[64];
    CHECK(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    CHECK(mkfifo(path, 0600) == 0);
    pb_err e = {{0}};
    gguf *g = gguf_open(path, &e);
    unlink(path);
    rmdir(dir);
    CHECK(!g);
    CHECK_MSG(strstr(e.msg, ": not a regular file"), "%s", e.msg);
}
