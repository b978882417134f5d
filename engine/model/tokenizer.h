/* tokenizer.h — the tokenizer of a GGUF file: byte-level BPE (GPT-2
 * family, tokenizer.ggml.model "gpt2", below) or SentencePiece BPE ("llama",
 * Gemma: tok_spm.h, reached through the same calls).
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

#include "base/common.h"
#include "model/gguf.h"

typedef struct tokenizer tokenizer;

/* Pre-tokenizers this build implements (tokenizer.ggml.pre): "smollm" (each
 * \p{N} code point its own piece, then the GPT-2 regex) and "gpt2" (the GPT-2
 * regex alone). Any other name is an error that names the key. */

/* Everything a tokenizer is built from, as plain arrays (what tok_from_gguf
 * reads from the file; tests build small vocabularies with it). Nothing is
 * kept: the tokenizer copies what it needs. */
typedef struct {
    const char *source;     /* names the origin (a file) in error messages */
    gguf_str model;         /* tokenizer.ggml.model: must be "gpt2" */
    gguf_str pre;           /* tokenizer.ggml.pre */
    const gguf_str *tokens; /* token texts; id = index */
    uint64_t n_tokens;
    const int32_t *types;   /* n_tokens token types, or NULL: all normal (1) */
    const gguf_str *merges; /* "left right", rank = index */
    uint64_t n_merges;
    int64_t bos, eos;       /* -1: none */
} tok_spec;

/* Token types: TOK_* (gguf.h). Control (and unknown) tokens are matched
 * verbatim when allow_special is set; user-defined ones always. */

/* Builds from plain arrays. NULL + *err (naming the key) if anything is bad:
 * an unknown model or pre-tokenizer, no tokens, a merge whose parts or
 * result are not tokens, an out-of-range bos/eos. */
tokenizer *tok_from_spec(const tok_spec *spec, pb_err *err);

/* Builds from a GGUF file's keys. NULL + *err if a key is missing or bad. */
tokenizer *tok_from_gguf(const gguf *g, pb_err *err);
void tok_free(tokenizer *t);

int tok_vocab_size(const tokenizer *t);
int tok_bos(const tokenizer *t);
int tok_eos(const tokenizer *t);
/* 1 when the file asks for BOS in front of a sequence (tokenizer.ggml.
 * add_bos_token; SentencePiece files only). tok_encode never adds it: the
 * caller that starts a sequence puts tok_bos first. */
int tok_add_bos(const tokenizer *t);
/* Id of an exact token text as the file spells it (e.g. "<|im_end|>"; a
 * normal token in byte-map form: " the" is "\xc4\xa0the", i.e. "Ġthe"), or -1. */
int tok_find(const tokenizer *t, const char *text);

/* Id of the one-byte token for a byte (0–255), or -1 if the vocabulary has
 * none: tok_encode drops such bytes (as HF tokenizers and llama.cpp do). */
int tok_byte_token(const tokenizer *t, int byte);

/* Encodes len bytes of text (any bytes; invalid UTF-8 is kept as bytes, but
 * a byte without a token is dropped: see tok_byte_token).
 * Special tokens in the text are recognised when allow_special is non-zero.
 * Returns the number of ids; *ids is malloc'ed (caller frees). */
int tok_encode(const tokenizer *t, const char *text, size_t len, int allow_special, int **ids);

/* Appends the bytes of token id to buf (grown with pb_realloc); returns the
 * new length. Unknown ids append nothing. */
size_t tok_decode_append(const tokenizer *t, int id, char **buf, size_t len, size_t *cap);

/* Wraps a user message in the model's chat template, chosen by the
 * vocabulary: with <start_of_turn>/<end_of_turn> (Gemma)
 *   [<bos>]<start_of_turn>user\n[SYS\n\n]MSG<end_of_turn>\n<start_of_turn>model\n
 * (<bos>: the BOS token's text when tok_add_bos; encode with allow_special);
 * otherwise ChatML
 *   <|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\nMSG<|im_end|>\n<|im_start|>assistant\n
 * (system NULL: none for Gemma, the default system prompt for ChatML).
 * Returns a malloc'ed string. */
char *tok_chat_prompt(const tokenizer *t, const char *system, const char *user);
/* The next user turn of a conversation after the model's reply: closes
 * that reply and opens the model's next turn,
 *   <end_of_turn>\n<start_of_turn>user\nMSG<end_of_turn>\n<start_of_turn>model\n   (Gemma)
 *   <|im_end|>\n<|im_start|>user\nMSG<|im_end|>\n<|im_start|>assistant\n      (ChatML)
 * so tok_chat_prompt(first) + reply + tok_chat_turn(second) + ... is the
 * template's whole conversation. Returns a malloc'ed string. */
char *tok_chat_turn(const tokenizer *t, const char *user);
/* The token that ends the model's turn (<end_of_turn> or <|im_end|>), or -1. */
int tok_chat_stop(const tokenizer *t);

#endif
