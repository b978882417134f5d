/* tok_spm.h — SentencePiece BPE as GGUF files describe it
 * (tokenizer.ggml.model "llama": Gemma and kin). tokenizer.h hands a file
 * of that model here; callers use tokenizer.h only.
 *
 * Built from tokenizer.ggml.tokens (id = index), .scores (merge priority:
 * higher first), .token_type (1 normal, 3 control, 4 user-defined, 6 byte
 * <0xNN>), bos/eos/unknown ids, add_bos_token and add_space_prefix.
 * Encoding, in order:
 *   0. U+2581 in the text is read as ' ' (SentencePiece cannot tell the
 *      two apart either; such text decodes with spaces);
 *   1. control tokens (when allow_special) and user-defined tokens (always)
 *      are cut out of the text, longest at the leftmost position (the file
 *      stores user-defined tokens with plain spaces);
 *   2. each span between them: ' ' becomes U+2581 (and one U+2581 is put in
 *      front when add_space_prefix is set), the span is split into UTF-8
 *      characters, and the adjacent pair whose concatenation is a normal
 *      token of highest score is merged, leftmost on ties, until none is;
 *   3. each symbol is its token, or (byte fallback) the <0xNN> tokens of its
 *      bytes, or unknown. An invalid UTF-8 byte is a one-byte symbol, so it
 *      comes back through its byte token: decode(encode(s)) == s for any
 *      bytes without U+2581.
 * Decoding: U+2581 → ' ', <0xNN> → the byte, control and user-defined
 * tokens → their text.
 */
#ifndef PURBO_TOK_SPM_H
#define PURBO_TOK_SPM_H

#include "base/common.h"
#include "model/gguf.h"

typedef struct tok_spm tok_spm;

/* NULL + *err naming the key when a key is missing or inconsistent. */
tok_spm *spm_from_gguf(const gguf *g, pb_err *err);
void spm_free(tok_spm *t);

int spm_vocab_size(const tok_spm *t);
int spm_bos(const tok_spm *t);
int spm_eos(const tok_spm *t);
int spm_add_bos(const tok_spm *t);
int spm_find(const tok_spm *t, const char *text, size_t len);
int spm_byte_token(const tok_spm *t, int byte);
int spm_encode(const tok_spm *t, const char *text, size_t len, int allow_special, int **ids);
size_t spm_decode_append(const tok_spm *t, int id, char **buf, size_t len, size_t *cap);

#endif
