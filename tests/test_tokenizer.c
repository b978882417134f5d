/* test_tokenizer.c — the BPE tokenizer against reference ids from an
 * independent tokenizer (tests/data/tokenizer_ref.txt, written by
 * scripts/gen_tokenizer_ref.py with HF tokenizers over the same GGUF
 * vocabulary), round trips, special tokens, the chat template, and errors on
 * bad tokenizer keys. Tests named tok_model_* need the bundled model.
 */
#include "tests/test.h"
#include "tests/fixture.h"

#include "model/gguf.h"
#include "tests/gguf_build.h"
#include "tests/tokref.h"
#include "model/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#define REF_PATH "tests/data/tokenizer_ref.txt"

static int load_refs(ref_case **out) { return tokref_load(REF_PATH, out); }

/* ---- helpers ----------------------------------------------------------- */

static tokenizer *load_model_tok(gguf **g)
{
    pb_err err = {{0}};
    *g = gguf_open(test_model_path, &err);
    if (!*g) {
        printf("    %s\n", err.msg);
        return NULL;
    }
    tokenizer *t = tok_from_gguf(*g, &err);
    if (!t) printf("    %s\n", err.msg);
    return t;
}

static char *decode_all(const tokenizer *t, const int *ids, int n, size_t *len)
{
    size_t cap = 16;
    char *buf = malloc(cap);
    *len = 0;
    for (int i = 0; i < n; i++) *len = tok_decode_append(t, ids[i], &buf, *len, &cap);
    return buf;
}

/* The text with the bytes the vocabulary cannot represent left out. */
static size_t representable(const tokenizer *t, const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (tok_byte_token(t, (unsigned char)s[i]) >= 0) out[o++] = s[i];
    return o;
}

static void print_ids(const char *what, const int *ids, int n, int from, int to)
{
    printf("      %s[%d..%d):", what, from, to);
    for (int i = from; i < to && i < n; i++) printf(" %d", ids[i]);
    printf("\n");
}

/* ---- tests on the bundled model ---------------------------------------- */

TEST(tok_model_reference_ids)
{
    ref_case *cs;
    int n = load_refs(&cs);
    CHECK_MSG(n >= 200, "%s: %d cases (want >= 200; run from the repository root)", REF_PATH, n);
    gguf *g;
    tokenizer *t = load_model_tok(&g);
    CHECK(t);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        const ref_case *c = &cs[i];
        int *ids;
        int m = tok_encode(t, c->text, c->len, c->special, &ids);
        int k = 0;
        while (k < m && k < c->n_ids && ids[k] == c->ids[k]) k++;
        if (k < m || k < c->n_ids) {
            if (bad++ < 10) {
                printf("    %s (%c): %d ids, want %d; first difference at id %d\n", c->name,
                       c->special ? 'S' : 'T', m, c->n_ids, k);
                int from = k >= 3 ? k - 3 : 0;
                print_ids("got ", ids, m, from, k + 4);
                print_ids("want", c->ids, c->n_ids, from, k + 4);
            }
        }
        free(ids);
    }
    tok_free(t);
    gguf_close(g);
    tokref_free(cs, n);
    CHECK_MSG(bad == 0, "%d of %d reference cases differ", bad, n);
}

TEST(tok_model_round_trip)
{
    ref_case *cs;
    int n = load_refs(&cs);
    CHECK(n > 0);
    gguf *g;
    tokenizer *t = load_model_tok(&g);
    CHECK(t);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        for (int special = 0; special <= 1; special++) {
            const ref_case *c = &cs[i];
            int *ids;
            int m = tok_encode(t, c->text, c->len, special, &ids);
            size_t len;
            char *back = decode_all(t, ids, m, &len);
            char *want = malloc(c->len + 1);
            size_t want_len = representable(t, c->text, c->len, want);
            if (len != want_len || memcmp(back, want, len) != 0) {
                size_t k = 0;
                while (k < len && k < want_len && back[k] == want[k]) k++;
                if (bad++ < 10)
                    printf("    %s (allow_special %d): %zu bytes back, want %zu; first difference at byte %zu\n",
                           c->name, special, len, want_len, k);
            }
            free(want);
            free(back);
            free(ids);
        }
    }
    tok_free(t);
    gguf_close(g);
    tokref_free(cs, n);
    CHECK_MSG(bad == 0, "%d round trips differ", bad);
}

TEST(tok_model_keys)
{
    gguf *g;
    tokenizer *t = load_model_tok(&g);
    CHECK(t);
    int ok = tok_vocab_size(t) == 49152 && tok_bos(t) == 1 && tok_eos(t) == 2;
    int found = tok_find(t, "<|endoftext|>") == 0 && tok_find(t, "<|im_start|>") == 1 &&
                tok_find(t, "<|im_end|>") == 2 && tok_find(t, "<empty_output>") == 16;
    /* "Ġthe" is " the" in the byte map; its id is the reference id of " the" */
    int the = tok_find(t, "\xc4\xa0the");
    int *ids;
    int m = tok_encode(t, " the", 4, 0, &ids);
    int the_ok = the >= 0 && m == 1 && ids[0] == the;
    free(ids);
    int missing = tok_find(t, "no such token") == -1 && tok_find(t, "") == -1 && tok_find(t, " the") == -1;
    int bytes = tok_byte_token(t, 'a') == tok_find(t, "a") && tok_byte_token(t, ' ') == tok_find(t, "\xc4\xa0") &&
                tok_byte_token(t, 0xFF) == -1 && tok_byte_token(t, 0x04) == -1 && tok_byte_token(t, 256) == -1;
    tok_free(t);
    gguf_close(g);
    CHECK_MSG(ok, "vocab size, bos or eos wrong");
    CHECK_MSG(found, "a special token is not where the file puts it");
    CHECK_MSG(the_ok, "tok_find(\"Ġthe\") = %d does not match the encoding of \" the\"", the);
    CHECK(missing);
    CHECK(bytes);
}

TEST(tok_model_special_tokens)
{
    gguf *g;
    tokenizer *t = load_model_tok(&g);
    CHECK(t);
    const char *s = "<|im_start|>user\nhi<|im_end|>\n";
    int *on, *off;
    int n_on = tok_encode(t, s, strlen(s), 1, &on);
    int n_off = tok_encode(t, s, strlen(s), 0, &off);
    int on_ok = n_on >= 4 && on[0] == 1 && on[n_on - 2] == 2;
    int off_ok = n_off > n_on;
    for (int i = 0; i < n_off; i++)
        if (off[i] < 17) off_ok = 0; /* ids 0–16 are the control tokens */
    /* decoding the control token gives its text back */
    size_t len;
    char *back = decode_all(t, on, n_on, &len);
    int back_ok = len == strlen(s) && memcmp(back, s, len) == 0;
    free(back);
    free(on);
    free(off);
    tok_free(t);
    gguf_close(g);
    CHECK_MSG(on_ok, "allow_special=1 did not give <|im_start|> ... <|im_end|>");
    CHECK_MSG(off_ok, "allow_special=0 produced a control token");
    CHECK(back_ok);
}

TEST(tok_model_chat_template)
{
    ref_case *cs;
    int n = load_refs(&cs);
    CHECK(n > 0);
    const ref_case *def = tokref_find(cs, n, "chatml_default"), *cus = tokref_find(cs, n, "chatml_custom");
    char *a = tok_chat_prompt(fixture_tok(), NULL, "What is the capital of France?");
    char *b = tok_chat_prompt(fixture_tok(), "Answer in one word.", "Name a colour.\nJust one.");
    int ok_a = def && strlen(a) == def->len && memcmp(a, def->text, def->len) == 0;
    int ok_b = cus && strlen(b) == cus->len && memcmp(b, cus->text, cus->len) == 0;
    /* the template exactly, not only what the reference file says */
    int ok_c = !strcmp(a, "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
                          "Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
                          "<|im_start|>assistant\n");
    free(a);
    free(b);
    tokref_free(cs, n);
    CHECK_MSG(ok_a, "default system prompt: bytes differ from chatml_default");
    CHECK_MSG(ok_b, "custom system prompt: bytes differ from chatml_custom");
    CHECK(ok_c);
}

/* ---- a hand-made vocabulary ------------------------------------------- */

static gguf_str S(const char *s) { return (gguf_str){s, strlen(s)}; }

/* Tokens: 0 "<s>" control, 1 "<s>x" control, 2 "<u>" user-defined, then
 * a b c 1 2 x Ġ, then ab bc abc aa. Merges (rank order): "b c", "a b",
 * "a bc", "a a". */
static tokenizer *small_tok(const char *pre, pb_err *err)
{
    static const char *texts[] = {"<s>", "<s>x", "<u>", "a", "b", "c", "1", "2", "x", "\xc4\xa0",
                                  "ab", "bc", "abc", "aa"};
    static const char *merges[] = {"b c", "a b", "a bc", "a a"};
    static const int32_t types[] = {3, 3, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    enum { NT = sizeof texts / sizeof texts[0], NM = sizeof merges / sizeof merges[0] };
    gguf_str tk[NT], mg[NM];
    for (int i = 0; i < NT; i++) tk[i] = S(texts[i]);
    for (int i = 0; i < NM; i++) mg[i] = S(merges[i]);
    tok_spec sp = {.source = "small", .model = S("gpt2"), .pre = S(pre), .tokens = tk, .n_tokens = NT,
                   .types = types, .merges = mg, .n_merges = NM, .bos = 0, .eos = -1};
    return tok_from_spec(&sp, err);
}

static int encodes_to(const tokenizer *t, const char *s, int special, const int *want, int n_want)
{
    int *ids;
    int n = tok_encode(t, s, strlen(s), special, &ids);
    int ok = n == n_want && (n == 0 || memcmp(ids, want, (size_t)n * sizeof *ids) == 0);
    if (!ok) {
        printf("    \"%s\" (allow_special %d):", s, special);
        for (int i = 0; i < n; i++) printf(" %d", ids[i]);
        printf("\n");
    }
    free(ids);
    return ok;
}

TEST(tok_small_bpe_order)
{
    pb_err err = {{0}};
    tokenizer *t = small_tok("gpt2", &err);
    CHECK_MSG(t, "%s", err.msg);
    /* "b c" (rank 0) before "a b" (rank 1): abc = a + bc → abc */
    int ok1 = encodes_to(t, "abc", 0, (int[]){12}, 1);
    /* equal ranks: leftmost first: aaa = aa + a, aaaa = aa + aa */
    int ok2 = encodes_to(t, "aaa", 0, (int[]){13, 3}, 2);
    int ok3 = encodes_to(t, "aaaaa", 0, (int[]){13, 13, 3}, 3);
    /* bytes with no token are dropped and their neighbours in the piece
     * merge: "é" (C3 A9) is a letter, so "béc" is one piece */
    int ok4 = encodes_to(t, "b\xc3\xa9" "c", 0, (int[]){11}, 1);
    /* a space joins the word after it but has no merge here */
    int ok5 = encodes_to(t, "a b", 0, (int[]){3, 9, 4}, 3);
    tok_free(t);
    CHECK(ok1 && ok2 && ok3 && ok4 && ok5);
}

TEST(tok_small_pre_tokenizers)
{
    pb_err err = {{0}};
    tokenizer *g2 = small_tok("gpt2", &err), *sm = small_tok("smollm", &err);
    CHECK_MSG(g2 && sm, "%s", err.msg);
    /* "12" is one piece for gpt2 but no merge joins 1 and 2 here, so the ids
     * are the same; "ab12" shows the split: letters, then digits */
    int ok1 = encodes_to(g2, "ab12", 0, (int[]){10, 6, 7}, 3);
    int ok2 = encodes_to(sm, "ab12", 0, (int[]){10, 6, 7}, 3);
    /* smollm puts each digit alone, so "a1b" cannot merge "a" and "b" either way */
    int ok3 = encodes_to(sm, "a1bc", 0, (int[]){3, 6, 11}, 3);
    tok_free(g2);
    tok_free(sm);
    CHECK(ok1 && ok2 && ok3);
}

TEST(tok_small_special_matching)
{
    pb_err err = {{0}};
    tokenizer *t = small_tok("gpt2", &err);
    CHECK_MSG(t, "%s", err.msg);
    /* longest control token wins */
    int ok1 = encodes_to(t, "<s>xa", 1, (int[]){1, 3}, 2);
    int ok2 = encodes_to(t, "a<s>", 1, (int[]){3, 0}, 2);
    /* user-defined tokens match with allow_special off too; control ones don't */
    int ok3 = encodes_to(t, "<u>a", 0, (int[]){2, 3}, 2);
    int *ids;
    int n = tok_encode(t, "<s>", 3, 0, &ids);
    int ok4 = n == 0; /* '<', 's', '>' have no tokens here: dropped */
    free(ids);
    tok_free(t);
    CHECK(ok1 && ok2 && ok3 && ok4);
}

TEST(tok_spec_errors)
{
    pb_err err = {{0}};
    tokenizer *t = small_tok("llama3", &err);
    CHECK(!t);
    CHECK_MSG(strstr(err.msg, "small") && strstr(err.msg, "tokenizer.ggml.pre") && strstr(err.msg, "llama3"),
              "message: %s", err.msg);

    gguf_str tk[] = {S("a"), S("b")}, mg[] = {S("a b")}, mg2[] = {S("ab")};
    tok_spec sp = {.source = "spec", .model = S("llama"), .pre = S("gpt2"), .tokens = tk, .n_tokens = 2,
                   .merges = mg, .n_merges = 1, .bos = -1, .eos = -1};
    t = tok_from_spec(&sp, &err);
    CHECK(!t);
    CHECK_MSG(strstr(err.msg, "tokenizer.ggml.model") && strstr(err.msg, "llama"), "message: %s", err.msg);

    sp.model = S("gpt2"); /* "ab" is not a token */
    t = tok_from_spec(&sp, &err);
    CHECK(!t);
    CHECK_MSG(strstr(err.msg, "tokenizer.ggml.merges[0]") && strstr(err.msg, "merged"), "message: %s", err.msg);

    sp.merges = mg2; /* no separator */
    t = tok_from_spec(&sp, &err);
    CHECK(!t);
    CHECK_MSG(strstr(err.msg, "tokenizer.ggml.merges[0]"), "message: %s", err.msg);

    sp.n_merges = 0;
    sp.eos = 2;
    t = tok_from_spec(&sp, &err);
    CHECK(!t);
    CHECK_MSG(strstr(err.msg, "eos"), "message: %s", err.msg);

    sp.eos = 1;
    t = tok_from_spec(&sp, &err);
    CHECK_MSG(t, "%s", err.msg);
    tok_free(t);
}

/* A GGUF file with the tokenizer keys of a two-token vocabulary and no
 * merges key; `pre` NULL leaves tokenizer.ggml.pre out. */
static void tok_file(gbuf *b, const char *pre, size_t *pre_at)
{
    gb_header(b, 0, pre ? 3 : 2);
    gb_kv_str(b, "tokenizer.ggml.model", "gpt2");
    if (pre) {
        *pre_at = b->n;
        gb_kv_str(b, "tokenizer.ggml.pre", pre);
    }
    gb_key(b, "tokenizer.ggml.tokens", GGUF_ARRAY);
    gb_u32(b, GGUF_STRING);
    gb_u64(b, 2);
    gb_str(b, "a");
    gb_str(b, "b");
}

TEST(tok_gguf_key_errors)
{
    pb_err err = {{0}};
    size_t pre_at = 0;
    char want[64];

    gbuf b = {0};
    tok_file(&b, NULL, &pre_at);
    gguf *g = gguf_open_mem(b.p, b.n, "nopre.gguf", &err);
    CHECK_MSG(g, "%s", err.msg);
    tokenizer *t = tok_from_gguf(g, &err);
    gguf_close(g);
    gb_free(&b);
    CHECK(!t);
    CHECK_MSG(strstr(err.msg, "nopre.gguf") && strstr(err.msg, "tokenizer.ggml.pre"), "message: %s", err.msg);

    gbuf b2 = {0};
    tok_file(&b2, "bogus", &pre_at);
    g = gguf_open_mem(b2.p, b2.n, "bogus.gguf", &err);
    CHECK_MSG(g, "%s", err.msg);
    t = tok_from_gguf(g, &err);
    gguf_close(g);
    gb_free(&b2);
    CHECK(!t);
    snprintf(want, sizeof want, "offset %zu", pre_at);
    CHECK_MSG(strstr(err.msg, "bogus.gguf") && strstr(err.msg, want) && strstr(err.msg, "tokenizer.ggml.pre") &&
                  strstr(err.msg, "\"bogus\""),
              "message: %s (want %s)", err.msg, want);

    gbuf b3 = {0};
    tok_file(&b3, "gpt2", &pre_at); /* no merges key */
    g = gguf_open_mem(b3.p, b3.n, "nomerges.gguf", &err);
    CHECK_MSG(g, "%s", err.msg);
    t = tok_from_gguf(g, &err);
    gguf_close(g);
    gb_free(&b3);
    CHECK(!t);
    CHECK_MSG(strstr(err.msg, "nomerges.gguf") && strstr(err.msg, "tokenizer.ggml.merges"), "message: %s", err.msg);
}
