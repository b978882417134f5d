/* family.c — the family defaults table (family.h).
 *
 * llama: the block of the llama GGUF files (SmolLM2 and kin): pre-norms only,
 *   SiLU gate, adjacent RoPE pairs (the converter permutes q/k rows), every
 *   layer global.
 * gemma3: QK-norm, pre- and post-norms around attention and FFN, tanh-GELU
 *   gate, embeddings times sqrt(n_embd), half-split ("neox") RoPE with q/k
 *   rows as trained. Its norm weights are (1 + w) in the model's own terms;
 *   the GGUF converter already stores them so, hence no offset here. Five
 *   sliding layers for every global one (layers 5, 11, 17 of 18 global); the
 *   sliding layers rotate with base 10,000, which the file does not say (its
 *   rope.freq_base, 1e6, is the global layers'), nor the layer pattern.
 */
#include "model/family.h"

#include <string.h>

static const family_desc family_defaults[] = {
    {.arch = "llama", .rope_style = ROPE_ADJACENT, .ffn_act = FFN_SILU},
    {.arch = "gemma3", .rope_style = ROPE_NEOX, .ffn_act = FFN_GELU_TANH, .qk_norm = 1, .post_norms = 1,
     .norm_offset = 0.0f, .embd_scale_sqrt = 1, .head_dim_key = 1, .rope_base_key = 1,
     .global_every = 6, .sliding_rope_base = 10000.0f},
};

const family_desc *family_find(const char *arch)
{
    for (size_t i = 0; i < sizeof family_defaults / sizeof family_defaults[0]; i++)
        if (!strcmp(family_defaults[i].arch, arch)) return &family_defaults[i];
    return NULL;
}

const char *family_names(void)
{
    return "llama, gemma3";
}
