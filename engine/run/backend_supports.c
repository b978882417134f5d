/* backend_supports.c — whether a backend can run a model's description
 * (norm kinds, embedding scale, FFN activation, RoPE style, sliding layers),
 * from the capability flags the backend sets (backend.h). Apart from the
 * dispatcher (backend.c) because the backends call it too: the CUDA backend
 * checks a model before it uploads any weight.
 */
#include "run/backend.h"

#include <stdio.h>

int backend_supports(const backend *b, const model *m, char *why, size_t why_len)
{
    const model_config *c = &m->cfg;
    const char *lack = NULL;
    if ((c->qk_norm || c->post_norms) && !b->norm_rows) lack = "QK-norm and post-norms";
    else if (c->embd_scale != 0.0f && c->embd_scale != 1.0f && !b->scale) lack = "scaled embeddings";
    else if (c->ffn_act == FFN_GELU_TANH && !b->geglu) lack = "the GELU gate";
    else if (c->rope_style == ROPE_NEOX && !b->neox_rope) lack = "half-split (neox) RoPE";
    else if (c->n_sliding && !b->sliding) lack = "sliding-window layers";
    if (!lack) return 1;
    snprintf(why, why_len, "the %s backend lacks %s (%s)", b->name, lack, c->arch_name);
    return 0;
}
