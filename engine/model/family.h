/* family.h — the facts of each model family that a GGUF file does not carry.
 *
 * model_read_config (model.c) reads sizes and what keys there are from the
 * file, then fills the rest of the description (model.h) from the family's
 * entry in one table, family_defaults[], looked up by general.architecture.
 * An architecture without an entry is refused. Nothing else in the engine
 * looks at the architecture's name.
 */
#ifndef PURBO_FAMILY_H
#define PURBO_FAMILY_H

/* FFN activation of the gated unit: out = act(gate) * up. */
enum ffn_act { FFN_SILU = 0, FFN_GELU_TANH = 1 };
/* RoPE pairing: llama GGUF files permute q/k rows so that the rotated pairs
 * are adjacent (2i, 2i+1); the neox form rotates (i, i + d/2) unpermuted. */
enum rope_style { ROPE_ADJACENT = 0, ROPE_NEOX = 1 };
/* Attention kind of a layer: global (every earlier position) or sliding (the
 * last `window` positions, the query's own included). */
enum attn_kind { ATTN_GLOBAL = 0, ATTN_SLIDING = 1 };

typedef struct {
    const char *arch;       /* general.architecture */
    int rope_style;         /* enum rope_style */
    int ffn_act;            /* enum ffn_act */
    int qk_norm;            /* per-head q/k RMSNorm before RoPE */
    int post_norms;         /* norms on the attention and FFN outputs */
    float norm_offset;      /* added to norm weights at load */
    int embd_scale_sqrt;    /* embeddings times sqrt(n_embd) */
    int head_dim_key;       /* ARCH.attention.key_length required (the head dim is not n_embd / n_head) */
    int rope_base_key;      /* ARCH.rope.freq_base required (else 10000) */
    /* Sliding-window layers: 0 = none (every layer global). Otherwise layer l
     * is global when (l + 1) % global_every == 0 and sliding (window from the
     * required key ARCH.attention.sliding_window) otherwise, with RoPE base
     * sliding_rope_base; global layers use ARCH.rope.freq_base. */
    int global_every;
    float sliding_rope_base;
} family_desc;

/* The table's entry for an architecture name, or NULL. */
const family_desc *family_find(const char *arch);
/* "llama, gemma3": the names the table knows, for error messages. */
const char *family_names(void);

#endif
