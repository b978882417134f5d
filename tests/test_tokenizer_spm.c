/* test_tokenizer_spm.c — the SentencePiece tokenizer (tok_spm.c) on
 * Gemma-3-270M's vocabulary against reference ids from Google's
 * sentencepiece library on a model rebuilt from the same file
 * (tests/data/gemma_tokenizer_ref.txt, scripts/gen_gemma_tokenizer_ref.py):
 * 378 strings and the whole KJV; round trips (invalid UTF-8 included), BOS
 * handling and Gemma's chat turns (tok_gemma_*: need the Gemma model,
 * test_gemma_path). tok_spm_small_vocabulary checks the rules one by one on
 * a hand-made vocabulary: score order, leftmost ties, U+2581, user-defined
 * and control tokens, byte fallback, unknown, add_space_prefix, decoding.
 */
#include "tests/test.h"
#include "tests/fixture.h"
#include "tests/gguf_build.h"
#include "tests/tokref.h"

#include "model/gguf.h"
#include "model/textsrc.h"
#include "model/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#define GEMMA_REF "tests/data/gemma_tokenizer_ref.txt"

static char *decode_all(const tokenizer *t, const int *ids, int n, size_t *len)
{
    size_t cap = 16;
    char *buf = malloc(cap);
    *len = 0;
    for (int i = 0; i < n; i++) *len = tok_decode_append(t, ids[i], &buf, *len, &cap);
    return buf;
}

TEST(tok_gemma_reference_ids)
{
    ref_case *cs;
    int n = tokref_load(GEMMA_REF, &cs);
    CHECK_MSG(n >= 300, "%s: %d cases (want >= 300; run from the repository root)", GEMMA_REF, n);
    const tokenizer *t = fixture_gemma_tok();
    int bad = 0;
    for (int i = 0; i < n; i++) {
        const ref_case *c = &cs[i];
        int *ids;
        int m = tok_encode(t, c->text, c->len, c->special, &ids);
        int k = 0;
        while (k < m && k < c->n_ids && ids[k] == c->ids[k]) k++;
        if ((k < m || k < c->n_ids) && bad++ < 10)
            printf("    %s (%c): %d ids, want %d; first difference at id %d (got %d, want %d)\n", c->name,
                   c->special ? 'S' : 'T', m, c->n_ids, k, k < m ? ids[k] : -1, k < c->n_ids ? c->ids[k] : -1);
        free(ids);
    }
    tokref_free(cs, n);
    printf("    %d of %d reference cases identical\n", n - bad, n);
    CHECK_MSG(bad == 0, "%d of %d reference cases differ", bad, n);
}

/* FNV-1a 64 over ids as little-endian u32, as the script hashes them. */
static uint64_t fnv_ids(const int *ids, int n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < n; i++)
        for (int b = 0; b < 4; b++) {
            h ^= (uint32_t)ids[i] >> (8 * b) & 0xff;
            h *= 0x100000001b3ull;
        }
    return h;
}

TEST(tok_gemma_kjv)
{
    size_t len = 0;
    char *ref = fixture_read(GEMMA_REF, &len);
    CHECK(ref);
    pb_err err;
    size_t klen;
    const char *kjv = text_kjv(&klen, &err);
    CHECK_MSG(kjv, "%s", err.msg);
    int *ids;
    int n = tok_encode(fixture_gemma_tok(), kjv, klen, 0, &ids);
    const char *p = strstr(ref, "\nkjv\t");
    CHECK_MSG(p, "%s has no kjv line", GEMMA_REF);
    int want = atoi(p + 5), block = atoi(strchr(p + 5, '\t') + 1), blocks = 0, bad = -1;
    for (const char *q = strstr(p, "\nkjvblock\t"); q; q = strstr(q + 1, "\nkjvblock\t")) {
        int i = atoi(q + 10);
        uint64_t h = strtoull(strchr(q + 10, '\t') + 1, NULL, 16);
        int lo = i * block, hi = lo + block < n ? lo + block : n;
        if (bad < 0 && (lo >= n || fnv_ids(ids + lo, hi - lo) != h)) bad = i;
        blocks++;
    }
    free(ids);
    free(ref);
    printf("    KJV: %d ids (reference %d), %d blocks of %d\n", n, want, blocks, block);
    CHECK_MSG(n == want, "KJV: %d ids, reference %d", n, want);
    CHECK_MSG(blocks == (want + block - 1) / block, "%d hash blocks for %d ids", blocks, want);
    CHECK_MSG(bad < 0, "KJV: block %d (ids %d..) differs from the reference", bad, bad * block);
}

/* decode(encode(s)) == s for every case in both modes and for invalid
 * UTF-8 (byte fallback keeps every byte); cases with U+2581 (read as a
 * space, decoded as one) are left out. */
TEST(tok_gemma_round_trip)
{
    ref_case *cs;
    int n = tokref_load(GEMMA_REF, &cs);
    CHECK(n > 0);
    const tokenizer *t = fixture_gemma_tok();
    static const char *bytes[] = {"\xff", "abc\xff" "def", "\xc3(", "\xe2\x82", "\xed\xa0\x80", "a\xc0\xaf" "b",
                                  " \xf0\x9f\x98", "caf\xe9 au lait"};
    int bad = 0, cases = 0;
    for (int i = 0; i < n + (int)(sizeof bytes / sizeof *bytes); i++)
        for (int special = 0; special <= 1; special++) {
            const char *s = i < n ? cs[i].text : bytes[i - n];
            size_t sl = i < n ? cs[i].len : strlen(s);
            if (memmem(s, sl, "\xe2\x96\x81", 3)) continue;
            int *ids;
            int m = tok_encode(t, s, sl, special, &ids);
            size_t len;
            char *back = decode_all(t, ids, m, &len);
            if (len != sl || memcmp(back, s, sl) != 0) {
                if (bad++ < 5) printf("    %s (allow_special %d) does not round-trip\n", i < n ? cs[i].name : "bytes", special);
            }
            cases++;
            free(back);
            free(ids);
        }
    tokref_free(cs, n);
    CHECK_MSG(bad == 0, "%d of %d round trips differ", bad, cases);
}

TEST(tok_gemma_bos_and_specials)
{
    const tokenizer *t = fixture_gemma_tok();
    CHECK(tok_vocab_size(t) == 262144);
    CHECK(tok_bos(t) == 2 && tok_eos(t) == 1 && tok_add_bos(t) == 1);
    CHECK(tok_find(t, "<start_of_turn>") == 105 && tok_find(t, "<end_of_turn>") == 106);
    CHECK(tok_chat_stop(t) == 106);
    int *ids;
    /* tok_encode adds no BOS; "<bos>" is one id only with allow_special */
    int n = tok_encode(t, "<bos>Hi", 7, 1, &ids);
    int ok = n == 2 && ids[0] == 2;
    free(ids);
    CHECK(ok);
    n = tok_encode(t, "<bos>Hi", 7, 0, &ids);
    ok = n > 2 && ids[0] != 2;
    free(ids);
    CHECK(ok);
    /* user-defined tokens are matched whatever allow_special says: "\n\n" is 108 */
    n = tok_encode(t, "a\n\nb", 4, 0, &ids);
    ok = n == 3 && ids[1] == 108;
    free(ids);
    CHECK(ok);
}

TEST(tok_gemma_chat_template)
{
    ref_case *cs;
    int n = tokref_load(GEMMA_REF, &cs);
    CHECK(n > 0);
    const tokenizer *t = fixture_gemma_tok();
    const ref_case *def = tokref_find(cs, n, "gemma_chat"), *sys = tokref_find(cs, n, "gemma_chat_system");
    char *a = tok_chat_prompt(t, NULL, "What is the capital of France?");
    char *b = tok_chat_prompt(t, "Answer in one word.", "Name a colour.\nJust one.");
    int ok_a = def && strlen(a) == def->len && !memcmp(a, def->text, def->len);
    int ok_b = sys && strlen(b) == sys->len && !memcmp(b, sys->text, sys->len);
    int ok_c = !strcmp(a, "<bos><start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n"
                          "<start_of_turn>model\n");
    int *ids;
    int m = tok_encode(t, a, strlen(a), 1, &ids);
    int ok_ids = def && m == def->n_ids && !memcmp(ids, def->ids, (size_t)m * sizeof *ids) && ids[0] == 2 &&
                 ids[1] == 105 && ids[m - 3] == 105 && ids[m - 1] == 107;
    free(ids);
    free(a);
    free(b);
    tokref_free(cs, n);
    CHECK_MSG(ok_a && ok_c, "Gemma chat turns: bytes differ");
    CHECK_MSG(ok_b, "Gemma chat turns with a system text: bytes differ");
    CHECK_MSG(ok_ids, "Gemma chat turns: ids differ from the reference");
}

/* ---- a hand-made SentencePiece vocabulary ------------------------------ */

/* Tokens: 0-3 <pad> <eos> <bos> <unk> (control), byte tokens for 'A', 0xC3
 * and 0xA9 only, then normal pieces a b c ▁ ab bc abc ▁a aa with scores
 * (bc above ab: "abc" merges b+c first), a user-defined "  " (two plain
 * spaces, as the GGUF converter writes them) and a control "<t>". */
static void spm_file(gbuf *b, int space_prefix)
{
    static const struct { const char *t; float s; int ty; } v[] = {
        {"<pad>", 0, 3}, {"<eos>", 0, 3}, {"<bos>", 0, 3}, {"<unk>", 0, 3},
        {"<0x41>", 0, 6}, {"<0xC3>", 0, 6}, {"<0xA9>", 0, 6},
        {"a", -1, 1}, {"b", -2, 1}, {"c", -3, 1}, {"\xe2\x96\x81", -4, 1}, {"ab", -10, 1}, {"bc", -5, 1},
        {"abc", -20, 1}, {"\xe2\x96\x81" "a", -6, 1}, {"  ", 0, 4}, {"<t>", 0, 3}, {"aa", -7, 1},
    };
    const int n = (int)(sizeof v / sizeof v[0]);
    gb_header(b, 0, 9);
    gb_kv_str(b, "tokenizer.ggml.model", "llama");
    gb_key(b, "tokenizer.ggml.tokens", GGUF_ARRAY);
    gb_u32(b, GGUF_STRING);
    gb_u64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) gb_str(b, v[i].t);
    gb_key(b, "tokenizer.ggml.scores", GGUF_ARRAY);
    gb_u32(b, GGUF_F32);
    gb_u64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) gb_f32(b, v[i].s);
    gb_key(b, "tokenizer.ggml.token_type", GGUF_ARRAY);
    gb_u32(b, GGUF_I32);
    gb_u64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) gb_u32(b, (uint32_t)v[i].ty);
    gb_kv_u32(b, "tokenizer.ggml.bos_token_id", 2);
    gb_kv_u32(b, "tokenizer.ggml.eos_token_id", 1);
    gb_kv_u32(b, "tokenizer.ggml.unknown_token_id", 3);
    gb_key(b, "tokenizer.ggml.add_bos_token", GGUF_BOOL);
    gb_u8(b, 1);
    gb_key(b, "tokenizer.ggml.add_space_prefix", GGUF_BOOL);
    gb_u8(b, (uint8_t)space_prefix);
}

static int encodes_to(const tokenizer *t, const char *s, int allow_special, const int *want, int n_want)
{
    int *ids;
    int n = tok_encode(t, s, strlen(s), allow_special, &ids);
    int ok = n == n_want && !memcmp(ids, want, (size_t)n * sizeof *ids);
    if (!ok) {
        printf("    \"%s\" (special %d):", s, allow_special);
        for (int i = 0; i < n; i++) printf(" %d", ids[i]);
        printf("\n");
    }
    free(ids);
    return ok;
}

#define ENC(t, s, sp, ...)                                                          \
    do {                                                                            \
        const int w_[] = {__VA_ARGS__};                                             \
        CHECK(encodes_to(t, s, sp, w_, (int)(sizeof w_ / sizeof w_[0])));           \
    } while (0)

TEST(tok_spm_small_vocabulary)
{
    gbuf b = {0};
    spm_file(&b, 0);
    pb_err err = {{0}};
    gguf *g = gguf_open_mem(b.p, b.n, "spm.gguf", &err);
    CHECK_MSG(g, "%s", err.msg);
    tokenizer *t = tok_from_gguf(g, &err);
    CHECK_MSG(t, "%s", err.msg);
    CHECK(tok_add_bos(t) && tok_bos(t) == 2 && tok_eos(t) == 1 && tok_vocab_size(t) == 18);
    ENC(t, "abc", 0, 13);        /* b+c (-5) before a+b (-10), then a+bc */
    ENC(t, "ab", 0, 11);
    ENC(t, "aaa", 0, 17, 7);     /* two equal "aa" pairs: the left one merges */
    ENC(t, " a", 0, 14);         /* ' ' is U+2581 */
    ENC(t, "\xe2\x96\x81" "a", 0, 14);  /* and U+2581 itself reads the same */
    ENC(t, "a  b", 0, 7, 15, 8); /* the user-defined two spaces, always */
    ENC(t, "a   b", 0, 7, 15, 10, 8);
    ENC(t, "<t>a", 1, 16, 7);
    ENC(t, "<t>a", 0, 3, 3, 3, 7);  /* as text: '<' 't' '>' have no piece and no byte token */
    ENC(t, "\xc3\xa9" "A", 0, 5, 6, 4);  /* byte fallback */
    ENC(t, "\xc3", 0, 5);        /* an invalid byte alone */
    size_t cap = 8, len = 0;
    char *buf = malloc(cap);
    const int ids[] = {14, 5, 6, 15, 16, 4};
    for (int i = 0; i < 6; i++) len = tok_decode_append(t, ids[i], &buf, len, &cap);
    int ok = len == 10 && !memcmp(buf, " a\xc3\xa9  <t>A", 10);
    free(buf);
    CHECK_MSG(ok, "decoded %zu bytes", len);
    tok_free(t);
    gguf_close(g);
    gb_free(&b);

    gbuf b2 = {0};
    spm_file(&b2, 1);  /* add_space_prefix: one U+2581 in front of the text */
    g = gguf_open_mem(b2.p, b2.n, "spm_prefix.gguf", &err);
    CHECK_MSG(g, "%s", err.msg);
    t = tok_from_gguf(g, &err);
    CHECK_MSG(t, "%s", err.msg);
    ENC(t, "a", 0, 14);
    ENC(t, "<t>a", 1, 16, 7);    /* not after a special token */
    tok_free(t);
    gguf_close(g);
    gb_free(&b2);
}
