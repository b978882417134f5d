/* model.h — a decoder-only transformer's configuration and weights, read
 * from a GGUF file.
 *
 * The configuration is a description of the architecture, not its name:
 * sizes come from the file's keys ("ARCH.block_count", ...), and the form of
 * the block (which norms, where; the FFN activation; RoPE pairing; the
 * embedding scale; each layer's attention kind, window and RoPE base) from
 * those keys plus the facts of the family the file does not carry
 * (model/family.h). The forward pass reads only this description. A
 * zero-filled description is the plain llama block (made-up models rely on
 * it): no QK-norm, no post-norms, SiLU, adjacent RoPE pairs, no embedding
 * scale, every layer global at rope_base.
 *
 * Weights of every tensor type the reader knows are dequantized to f32 once,
 * at load, so the forward pass (forward.c) and every probe read plain
 * row-major float matrices. Matrices follow GGUF: W is (out, in) row-major,
 * y[o] = Σ_i W[o,i]·x[i]. Norm vectors hold the factor the norm multiplies by
 * (the family's norm_offset is added at load).
 */
#ifndef PURBO_MODEL_H
#define PURBO_MODEL_H

#include "base/common.h"
#include "model/family.h"
#include "model/gguf.h"

/* Layers a description can hold (block_count above this is refused). */
#define MODEL_MAX_LAYERS 128

typedef struct {
    int kind;           /* enum attn_kind */
    int window;         /* sliding: positions a query sees (p-window+1 .. p); global: 0 */
    float rope_base;    /* RoPE base of this layer */
} layer_desc;

typedef struct {
    char arch_name[32];
    int n_layer;
    int n_embd;         /* hidden size */
    int n_head;         /* query heads */
    int n_head_kv;      /* key/value heads (GQA) */
    int head_dim;       /* ARCH.attention.key_length, else n_embd / n_head */
    int n_ff;           /* feed-forward size */
    int n_vocab;
    int n_ctx_train;    /* context length the model was trained for */
    int rope_dim;       /* rotated dims per head (== head_dim) */
    float rope_base;    /* ARCH.rope.freq_base: the global layers' base */
    float rms_eps;
    /* ---- the block's form (zero = the llama block) ---- */
    int rope_style;     /* enum rope_style */
    int ffn_act;        /* enum ffn_act */
    int qk_norm;        /* RMSNorm of every q and k head (attn_q_norm, attn_k_norm) before RoPE */
    int post_norms;     /* RMSNorm of the attention and FFN outputs before each residual add */
    float norm_offset;  /* added to every norm weight at load (0: the file holds the factor) */
    float embd_scale;   /* embeddings times this (0 or 1: none) */
    int n_sliding;      /* layers of kind ATTN_SLIDING */
    layer_desc layer[MODEL_MAX_LAYERS];  /* [n_layer]; zero: global at rope_base */
} model_config;

/* Layer l's RoPE base (its own, or rope_base when the description leaves it 0). */
static inline float model_layer_rope_base(const model_config *c, int l)
{
    return c->layer[l].rope_base != 0.0f ? c->layer[l].rope_base : c->rope_base;
}

typedef struct {
    float *attn_norm;   /* (n_embd) */
    float *wq;          /* (n_head*head_dim, n_embd) */
    float *wk;          /* (n_head_kv*head_dim, n_embd) */
    float *wv;          /* (n_head_kv*head_dim, n_embd) */
    float *wo;          /* (n_embd, n_head*head_dim) */
    float *ffn_norm;    /* (n_embd) */
    float *q_norm;      /* (head_dim), NULL without qk_norm */
    float *k_norm;      /* (head_dim), NULL without qk_norm */
    float *post_attn_norm;  /* (n_embd), NULL without post_norms */
    float *post_ffn_norm;   /* (n_embd), NULL without post_norms */
    float *w_gate;      /* (n_ff, n_embd) */
    float *w_up;        /* (n_ff, n_embd) */
    float *w_down;      /* (n_embd, n_ff) */
} layer_weights;

typedef struct {
    model_config cfg;
    gguf *file;
    float *tok_embd;        /* (n_vocab, n_embd) */
    float *out_norm;        /* (n_embd) */
    float *output;          /* (n_vocab, n_embd); == tok_embd when tied */
    int tied_output;
    layer_weights *layers;  /* [n_layer] */
    size_t n_params;
} model;

/* Reads the configuration only (no weights): an architecture without a
 * family entry, or a key its family needs that is missing or out of range,
 * gives one error naming the file and the key. 1 ok, 0 + *err. */
int model_read_config(const gguf *g, model_config *cfg, pb_err *err);
/* Opens the file and loads (dequantizes) every weight. NULL + *err. */
model *model_load(const char *path, pb_err *err);
void model_free(model *m);

#endif
