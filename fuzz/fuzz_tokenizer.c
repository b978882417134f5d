/* fuzz_tokenizer.c — libFuzzer target for the tokenizers (make fuzz).
 *
 * Loads the tokenizer once from the model file (env PURBO_MODEL, default
 * models/SmolLM2-135M-Instruct.Q4_1.gguf; the Gemma file tries the
 * SentencePiece one), then for each input, with special tokens off and on:
 * encode, check every id is in the vocabulary, decode and check the bytes
 * come back exactly (less the bytes the vocabulary has no token for, which
 * encoding drops; with SentencePiece, U+2581 comes back as the space it
 * stands for). Any difference aborts.
 *   build/fuzz/fuzz_tokenizer -max_total_time=600 -jobs=1 fuzz/corpus_tok
 */
#include "model/gguf.h"
#include "model/tokenizer.h"

#include <stdlib.h>
#include <string.h>

static tokenizer *tok;
static int space_mark;  /* U+2581 is a token of its own: SentencePiece's escaped space */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *path = getenv("PURBO_MODEL");
    if (!path) path = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
    pb_err err;
    gguf *g = gguf_open(path, &err);
    if (g) tok = tok_from_gguf(g, &err);
    if (!tok) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err.msg);
        exit(2);
    }
    gguf_close(g);
    space_mark = tok_find(tok, "\xe2\x96\x81") >= 0;
    return 0;
}

static void check(const uint8_t *data, size_t size, int allow_special)
{
    int *ids;
    int n = tok_encode(tok, (const char *)data, size, allow_special, &ids);
    if (n < 0 || (size_t)n > size) {
        fprintf(stderr, "%d ids for %zu bytes\n", n, size);
        abort();
    }
    size_t cap = 0, len = 0;
    char *back = NULL;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tok_vocab_size(tok)) {
            fprintf(stderr, "id %d at %d is out of range\n", ids[i], i);
            abort();
        }
        len = tok_decode_append(tok, ids[i], &back, len, &cap);
    }
    char *want = malloc(size + 1);
    size_t want_len = 0;
    for (size_t i = 0; i < size; i++) {
        if (space_mark && i + 3 <= size && !memcmp(data + i, "\xe2\x96\x81", 3)) {
            want[want_len++] = ' ';
            i += 2;
        } else if (tok_byte_token(tok, data[i]) >= 0) want[want_len++] = (char)data[i];
    }
    if (len != want_len || (len && memcmp(back, want, len) != 0)) {
        size_t k = 0;
        while (k < len && k < want_len && back[k] == want[k]) k++;
        fprintf(stderr, "allow_special %d: %zu bytes back, want %zu; first difference at byte %zu\n",
                allow_special, len, want_len, k);
        abort();
    }
    free(want);
    free(back);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size, 0);
    check(data, size, 1);
    return 0;
}
