/* model.c — loads a GGUF of a known family into f32 weights (model.h).
 *
 * Every required key and tensor is checked before anything is allocated:
 * a missing key, a tensor of the wrong shape or an unknown tensor type gives
 * one pb_err naming the file and the key or tensor (and its offset). Each
 * tensor is dispatched on its own type (a "Q4_1" file also holds F32 and
 * Q8_0 tensors). Values are checked where a bad one would give garbage
 * later: RMS epsilon finite in [0, 1], RoPE base finite > 0, an embedding
 * row for every token of the vocabulary.
 */
#include "model/model.h"

#include <math.h>
#include <string.h>

#include "kernels/quant.h"
#include "model/family.h"

static int get_u32_key(const gguf *g, const char *arch, const char *suffix, int *out, pb_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    uint32_t v;
    if (!gguf_get_u32(g, key, &v, err)) return 0;
    if (v == 0 || v > (1u << 24))
        return pb_errf(err, gguf_path(g), (long long)gguf_find_kv(g, key)->file_offset,
                       "key %s = %u is out of range", key, v);
    *out = (int)v;
    return 1;
}

/* A float key that must be finite and in [lo, hi] (lo_open: lo excluded). */
static int get_f32_key(const gguf *g, const char *arch, const char *suffix, float lo, int lo_open, float hi,
                       float *out, pb_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    float v;
    if (!gguf_get_f32(g, key, &v, err)) return 0;
    if (!(isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi))
        return pb_errf(err, gguf_path(g), (long long)gguf_find_kv(g, key)->file_offset,
                       "key %s = %g is out of range %c%g, %g]", key, (double)v, lo_open ? '(' : '[', (double)lo,
                       (double)hi);
    *out = v;
    return 1;
}

/* Missing optional key: keeps *out. */
static int opt_u32_key(const gguf *g, const char *arch, const char *suffix, int *out, pb_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return !gguf_find_kv(g, key) || get_u32_key(g, arch, suffix, out, err);
}

static int opt_f32_key(const gguf *g, const char *arch, const char *suffix, float lo, int lo_open, float hi,
                       float *out, pb_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return !gguf_find_kv(g, key) || get_f32_key(g, arch, suffix, lo, lo_open, hi, out, err);
}

int model_read_config(const gguf *g, model_config *c, pb_err *err)
{
    memset(c, 0, sizeof *c);
    gguf_str a;
    if (!gguf_get_str(g, "general.architecture", &a, err)) return 0;
    if (a.len >= sizeof c->arch_name) a.len = sizeof c->arch_name - 1;
    memcpy(c->arch_name, a.s, a.len);
    c->arch_name[a.len] = 0;
    const family_desc *fam = family_find(c->arch_name);
    if (!fam)
        return pb_errf(err, gguf_path(g), (long long)gguf_find_kv(g, "general.architecture")->file_offset,
                       "key general.architecture: '%s' is not supported (supported: %s)", c->arch_name,
                       family_names());
    const char *ar = c->arch_name;
    if (!get_u32_key(g, ar, "block_count", &c->n_layer, err)) return 0;
    if (c->n_layer > MODEL_MAX_LAYERS)
        return pb_errf(err, gguf_path(g), -1, "key %s.block_count = %d is above %d", ar, c->n_layer,
                       MODEL_MAX_LAYERS);
    if (!get_u32_key(g, ar, "embedding_length", &c->n_embd, err)) return 0;
    if (!get_u32_key(g, ar, "feed_forward_length", &c->n_ff, err)) return 0;
    if (!get_u32_key(g, ar, "attention.head_count", &c->n_head, err)) return 0;
    if (!get_u32_key(g, ar, "context_length", &c->n_ctx_train, err)) return 0;
    /* RMSNorm divides by sqrt(mean + eps): eps >= 0 and small; RoPE's base > 0 */
    if (!get_f32_key(g, ar, "attention.layer_norm_rms_epsilon", 0, 0, 1, &c->rms_eps, err)) return 0;
    /* optional keys with the llama defaults, unless the family needs them */
    c->n_head_kv = c->n_head;
    if (!opt_u32_key(g, ar, "attention.head_count_kv", &c->n_head_kv, err)) return 0;
    c->rope_base = 10000.0f;
    if (fam->rope_base_key ? !get_f32_key(g, ar, "rope.freq_base", 0, 1, 1e12f, &c->rope_base, err)
                           : !opt_f32_key(g, ar, "rope.freq_base", 0, 1, 1e12f, &c->rope_base, err))
        return 0;
    if (c->n_head % c->n_head_kv != 0 || (!fam->head_dim_key && c->n_embd % c->n_head != 0))
        return pb_errf(err, gguf_path(g), -1, "inconsistent heads: n_embd %d, heads %d, kv heads %d",
                       c->n_embd, c->n_head, c->n_head_kv);
    c->head_dim = c->n_embd / c->n_head;
    if (fam->head_dim_key ? !get_u32_key(g, ar, "attention.key_length", &c->head_dim, err)
                          : !opt_u32_key(g, ar, "attention.key_length", &c->head_dim, err))
        return 0;
    int vdim = c->head_dim;
    if (!opt_u32_key(g, ar, "attention.value_length", &vdim, err)) return 0;
    if (vdim != c->head_dim)
        return pb_errf(err, gguf_path(g), -1, "key %s.attention.value_length %d != key_length %d is not supported",
                       ar, vdim, c->head_dim);
    c->rope_dim = c->head_dim;
    if (!opt_u32_key(g, ar, "rope.dimension_count", &c->rope_dim, err)) return 0;
    if (c->rope_dim != c->head_dim || c->head_dim % 2 || c->head_dim > 512)
        return pb_errf(err, gguf_path(g), -1, "rope.dimension_count %d with head dim %d is not supported "
                       "(they must be equal, even and at most 512)", c->rope_dim, c->head_dim);
    const gguf_tensor *emb = gguf_find_tensor(g, "token_embd.weight");
    if (!emb) return pb_errf(err, gguf_path(g), -1, "missing tensor token_embd.weight");
    c->n_vocab = (int)emb->ne[1];
    /* every token id the tokenizer can give must have an embedding row */
    const gguf_kv *toks = gguf_find_kv(g, "tokenizer.ggml.tokens");
    if (toks && toks->type == GGUF_ARRAY && emb->ne[1] < toks->n)
        return pb_errf(err, gguf_path(g), (long long)emb->file_offset,
                       "token_embd.weight has %llu rows, fewer than the %llu tokens of the vocabulary",
                       (unsigned long long)emb->ne[1], (unsigned long long)toks->n);

    /* the block's form: the family's facts */
    c->rope_style = fam->rope_style;
    c->ffn_act = fam->ffn_act;
    c->qk_norm = fam->qk_norm;
    c->post_norms = fam->post_norms;
    c->norm_offset = fam->norm_offset;
    c->embd_scale = fam->embd_scale_sqrt ? sqrtf((float)c->n_embd) : 0.0f;
    int window = 0;
    if (fam->global_every && !get_u32_key(g, ar, "attention.sliding_window", &window, err)) return 0;
    for (int l = 0; l < c->n_layer; l++) {
        layer_desc *ld = &c->layer[l];
        ld->rope_base = c->rope_base;
        if (fam->global_every && (l + 1) % fam->global_every != 0) {
            ld->kind = ATTN_SLIDING;
            ld->window = window;
            ld->rope_base = fam->sliding_rope_base;
            c->n_sliding++;
        }
    }
    return 1;
}

/* Finds a tensor, checks its shape (ne0 = in, ne1 = out; ne1 = 1 for a
 * vector) and that its type can be dequantized. */
static const gguf_tensor *want_tensor(const gguf *g, const char *name, int64_t ne0, int64_t ne1, pb_err *err)
{
    const gguf_tensor *t = gguf_find_tensor(g, name);
    if (!t) { pb_errf(err, gguf_path(g), -1, "missing tensor %s", name); return NULL; }
    size_t be, bb;
    if (!ggml_type_info(t->type, &be, &bb)) {
        pb_errf(err, gguf_path(g), -1, "tensor %s has unsupported type %u", name, t->type);
        return NULL;
    }
    if ((int64_t)t->ne[0] != ne0 || (int64_t)t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1) {
        pb_errf(err, gguf_path(g), -1, "tensor %s has shape [%llu, %llu], expected [%lld, %lld]", name,
                (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], (long long)ne0, (long long)ne1);
        return NULL;
    }
    return t;
}

static float *load_tensor(const gguf_tensor *t, size_t *n_params)
{
    size_t n = (size_t)t->n_elems;
    float *out = pb_malloc(n * sizeof(float));
    size_t be, bb;
    ggml_type_info(t->type, &be, &bb);
    size_t row = (size_t)t->ne[0];
    const uint8_t *src = t->data;
    size_t row_bytes = row / be * bb;
    for (size_t r = 0; r < n / row; r++)
        dequant_row(t->type, src + r * row_bytes, out + r * row, row);
    *n_params += n;
    return out;
}

/* Adds the family's offset to a norm vector (nothing when it is 0). */
static void offset_norm(float *w, int64_t n, float off)
{
    if (off != 0.0f)
        for (int64_t i = 0; i < n; i++) w[i] += off;
}

/* The per-layer tensors: name suffix, ne0 (in), ne1 (out), destination, and
 * whether the description has it (want: 0 always, 1 here, -1 absent). */
typedef struct { const char *suffix; int64_t ne0, ne1; size_t off; int want; } layer_tensor;

model *model_load(const char *path, pb_err *err)
{
    gguf *g = gguf_open(path, err);
    if (!g) return NULL;
    model_config c;
    if (!model_read_config(g, &c, err)) { gguf_close(g); return NULL; }
    const int64_t E = c.n_embd, Q = (int64_t)c.n_head * c.head_dim, KV = (int64_t)c.n_head_kv * c.head_dim;
    const layer_tensor lt[] = {
        {"attn_norm", E, 1, offsetof(layer_weights, attn_norm), 0},
        {"attn_q", E, Q, offsetof(layer_weights, wq), 0},
        {"attn_k", E, KV, offsetof(layer_weights, wk), 0},
        {"attn_v", E, KV, offsetof(layer_weights, wv), 0},
        {"attn_output", Q, E, offsetof(layer_weights, wo), 0},
        {"ffn_norm", E, 1, offsetof(layer_weights, ffn_norm), 0},
        {"ffn_gate", E, c.n_ff, offsetof(layer_weights, w_gate), 0},
        {"ffn_up", E, c.n_ff, offsetof(layer_weights, w_up), 0},
        {"ffn_down", c.n_ff, E, offsetof(layer_weights, w_down), 0},
        {"attn_q_norm", c.head_dim, 1, offsetof(layer_weights, q_norm), c.qk_norm ? 1 : -1},
        {"attn_k_norm", c.head_dim, 1, offsetof(layer_weights, k_norm), c.qk_norm ? 1 : -1},
        {"post_attention_norm", E, 1, offsetof(layer_weights, post_attn_norm), c.post_norms ? 1 : -1},
        {"post_ffw_norm", E, 1, offsetof(layer_weights, post_ffn_norm), c.post_norms ? 1 : -1},
    };
    const int n_lt = (int)(sizeof lt / sizeof lt[0]);
    /* validate everything first: nothing allocated on bad input */
    char name[96];
    const gguf_tensor *emb = want_tensor(g, "token_embd.weight", E, c.n_vocab, err);
    const gguf_tensor *onorm = emb ? want_tensor(g, "output_norm.weight", E, 1, err) : NULL;
    const gguf_tensor *outw = gguf_find_tensor(g, "output.weight");
    if (onorm && outw) outw = want_tensor(g, "output.weight", E, c.n_vocab, err);
    int ok = emb && onorm && (outw || !gguf_find_tensor(g, "output.weight"));
    for (int l = 0; ok && l < c.n_layer; l++)
        for (int i = 0; ok && i < n_lt; i++) {
            if (lt[i].want < 0) continue;
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, lt[i].suffix);
            ok = want_tensor(g, name, lt[i].ne0, lt[i].ne1, err) != NULL;
        }
    if (!ok) { gguf_close(g); return NULL; }

    model *m = pb_calloc(1, sizeof *m);
    m->cfg = c;
    m->file = g;
    m->tok_embd = load_tensor(emb, &m->n_params);
    m->out_norm = load_tensor(onorm, &m->n_params);
    m->tied_output = outw == NULL;
    m->output = outw ? load_tensor(outw, &m->n_params) : m->tok_embd;
    m->layers = pb_calloc((size_t)c.n_layer, sizeof *m->layers);
    offset_norm(m->out_norm, E, c.norm_offset);
    for (int l = 0; l < c.n_layer; l++)
        for (int i = 0; i < n_lt; i++) {
            if (lt[i].want < 0) continue;
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, lt[i].suffix);
            float **dst = (float **)((char *)&m->layers[l] + lt[i].off);
            *dst = load_tensor(gguf_find_tensor(g, name), &m->n_params);
            if (lt[i].ne1 == 1) offset_norm(*dst, lt[i].ne0, c.norm_offset);
        }
    return m;
}

void model_free(model *m)
{
    if (!m) return;
    for (int l = 0; l < m->cfg.n_layer; l++) {
        layer_weights *w = &m->layers[l];
        float *ps[] = {w->attn_norm, w->wq, w->wk, w->wv, w->wo, w->ffn_norm, w->w_gate, w->w_up, w->w_down,
                       w->q_norm, w->k_norm, w->post_attn_norm, w->post_ffn_norm};
        for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) free(ps[i]);
    }
    free(m->layers);
    if (!m->tied_output) free(m->output);
    free(m->tok_embd);
    free(m->out_norm);
    gguf_close(m->file);
    free(m);
}
