/* tokenizer.h — byte-level BPE (GPT-2 family) as GGUF files describe it.
 *
 * Built from the tokenizer.ggml.* keys: tokens (id = index), merges ("a b",
 * rank = index), token types (3 = control: matched verbatim before BPE),
 * bos/eos ids and the pre-tokenizer name (tokenizer.ggml.pre). Encoding:
 * special tokens are split out first, each remaining span is pre-tokenized
 * (for "smollm": every digit its own piece, then the GPT-2 regex), each piece
 * is mapped through the GPT-2 byte→unicode table and merged by lowest rank.
 * Decoding maps token text back to bytes.
 */
#ifndef PURBO_TOKENIZER_H
#define PURBO_TOKENIZER_H

#include "common.h"
#include "gguf.h"

typedef struct tokenizer tokenizer;

/* Builds from a GGUF file's keys. NULL + *err if a key is missing or bad. */
tokenizer *tok_from_gguf(const gguf *g, pb_err *err);
void tok_free(tokenizer *t);

int tok_vocab_size(const tokenizer *t);
int tok_bos(const tokenizer *t);
int tok_eos(const tokenizer *t);
/* Id of an exact token text (e.g. "<|im_end|>"), or -1. */
int tok_find(const tokenizer *t, const char *text);

/* Encodes len bytes of text (any bytes; invalid UTF-8 is kept as bytes).
 * Special tokens in the text are recognised when allow_special is non-zero.
 * Returns the number of ids; *ids is malloc'ed (caller frees). */
int tok_encode(const tokenizer *t, const char *text, size_t len, int allow_special, int **ids);

/* Appends the bytes of token id to buf (grown with pb_realloc); returns the
 * new length. Unknown ids append nothing. */
size_t tok_decode_append(const tokenizer *t, int id, char **buf, size_t len, size_t *cap);

/* Wraps a user message in the model's ChatML template:
 * <|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\nMSG<|im_end|>\n<|im_start|>assistant\n
 * (system may be NULL for the default system prompt). Returns a malloc'ed
 * string. */
char *tok_chat_prompt(const char *system, const char *user);

#endif
