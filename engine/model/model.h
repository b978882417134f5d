/* model.h — a decoder-only transformer's configuration and weights, read
 * from a GGUF file.
 *
 * The configuration comes from the file's keys ("ARCH.block_count", ...),
 * never from constants: any llama-architecture GGUF loads. Weights of every
 * tensor type the reader knows are dequantized to f32 once, at load, so the
 * forward pass (forward.c) and every probe read plain row-major float
 * matrices. Matrices follow GGUF: W is (out, in) row-major, y[o] = Σ_i W[o,i]·x[i].
 */
#ifndef PURBO_MODEL_H
#define PURBO_MODEL_H

#include "base/common.h"
#include "model/gguf.h"

enum model_arch { ARCH_LLAMA = 1 }; /* gemma3 later */

typedef struct {
    char arch_name[32];
    int arch;           /* enum model_arch */
    int n_layer;
    int n_embd;         /* hidden size */
    int n_head;         /* query heads */
    int n_head_kv;      /* key/value heads (GQA) */
    int head_dim;       /* n_embd / n_head */
    int n_ff;           /* feed-forward size */
    int n_vocab;
    int n_ctx_train;    /* context length the model was trained for */
    int rope_dim;       /* rotated dims per head (== head_dim for llama) */
    float rope_base;
    float rms_eps;
} model_config;

typedef struct {
    float *attn_norm;   /* (n_embd) */
    float *wq;          /* (n_head*head_dim, n_embd) */
    float *wk;          /* (n_head_kv*head_dim, n_embd) */
    float *wv;          /* (n_head_kv*head_dim, n_embd) */
    float *wo;          /* (n_embd, n_head*head_dim) */
    float *ffn_norm;    /* (n_embd) */
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

/* Reads the configuration only (no weights). 1 ok, 0 + *err. */
int model_read_config(const gguf *g, model_config *cfg, pb_err *err);
/* Opens the file and loads (dequantizes) every weight. NULL + *err. */
model *model_load(const char *path, pb_err *err);
void model_free(model *m);

#endif
