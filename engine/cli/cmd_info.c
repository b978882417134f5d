/* cmd_info.c — `purbo-bench info MODEL`: what a GGUF file holds.
 *
 * Reads the file with the validating reader (no weights are dequantized),
 * prints the model configuration derived from its keys, the count and bytes
 * of each tensor type, and with --keys every metadata key (arrays shown by
 * type and length).
 */
#include <inttypes.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "kernels/quant.h"

typedef struct { uint32_t type; uint64_t n, elems, bytes; } type_sum;

static void print_value(const gguf_kv *kv)
{
    switch (kv->type) {
    case GGUF_STRING: printf("%.*s", (int)(kv->str.len > 80 ? 80 : kv->str.len), kv->str.s); break;
    case GGUF_ARRAY: printf("[%s × %" PRIu64 "]", gguf_vtype_name(kv->arr_type), kv->n); break;
    case GGUF_BOOL: printf("%s", kv->val[0] ? "true" : "false"); break;
    default: { /* a scalar number: read it as a one-element array of its type */
        gguf_kv one = *kv;
        one.type = GGUF_ARRAY;
        one.arr_type = kv->type;
        one.n = 1;
        double v = gguf_arr_num(&one, 0);
        if (kv->type == GGUF_F32 || kv->type == GGUF_F64) printf("%.9g", v);
        else printf("%.0f", v);
        break;
    }
    }
}

int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    int keys = 0;
    for (int i = 1; i < argc; i++) {
        if (arg_flag(argv, i, "--help")) {
            printf("usage: purbo-bench info MODEL.gguf [--keys]\n"
                   "  Prints the configuration, tensor types and sizes of a GGUF model.\n"
                   "  --keys   also list every metadata key and value\n");
            return 0;
        } else if (arg_flag(argv, i, "--keys")) keys = 1;
        else if (argv[i][0] == '-') arg_bad("info", "unknown option %s", argv[i]);
        else if (!path) path = argv[i];
        else arg_bad("info", "more than one model given");
    }
    if (!path) arg_bad("info", "no model given (purbo-bench info MODEL.gguf)");
    pb_err err;
    gguf *g = gguf_open(path, &err);
    if (!g) pb_die_input(&err);
    model_config c;
    if (!model_read_config(g, &c, &err)) pb_die_input(&err);

    printf("file         %s (%.1f MB, GGUF v%u, alignment %u)\n", path, gguf_file_size(g) / 1e6,
           gguf_version(g), gguf_alignment(g));
    gguf_str name;
    if (gguf_get_str(g, "general.name", &name, NULL)) printf("name         %.*s\n", (int)name.len, name.s);
    printf("arch         %s\n", c.arch_name);
    printf("layers       %d\n", c.n_layer);
    printf("hidden       %d\n", c.n_embd);
    printf("heads        %d query, %d kv (GQA group %d), head dim %d\n", c.n_head, c.n_head_kv,
           c.n_head / c.n_head_kv, c.head_dim);
    printf("ffn          %d\n", c.n_ff);
    printf("vocab        %d\n", c.n_vocab);
    printf("context      %d\n", c.n_ctx_train);
    printf("rope base    %g (dims %d, %s pairs)\n", c.rope_base, c.rope_dim,
           c.rope_style == ROPE_NEOX ? "half-split (neox)" : "adjacent");
    printf("rms eps      %g\n", c.rms_eps);
    printf("block        %s%s gate%s", c.qk_norm ? "QK-norm, " : "", c.ffn_act == FFN_GELU_TANH ? "GELU(tanh)" : "SiLU",
           c.post_norms ? ", pre- and post-norms" : ", pre-norms");
    if (c.embd_scale != 0.0f && c.embd_scale != 1.0f) printf(", embeddings x %g", c.embd_scale);
    printf("\n");
    if (!c.n_sliding) printf("attention    every layer global\n");
    else {
        int w = 0;
        float sb = 0;
        printf("attention    %d sliding, %d global (layers", c.n_sliding, c.n_layer - c.n_sliding);
        for (int l = 0; l < c.n_layer; l++) {
            if (c.layer[l].kind == ATTN_GLOBAL) printf(" %d", l);
            else w = c.layer[l].window, sb = c.layer[l].rope_base;
        }
        printf("); sliding window %d, RoPE base %g\n", w, sb);
    }
    printf("tied output  %s\n", gguf_find_tensor(g, "output.weight") ? "no" : "yes");

    type_sum by[64];
    int nb = 0;
    uint64_t total_elems = 0, total_bytes = 0;
    for (uint64_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        int j = 0;
        while (j < nb && by[j].type != t->type) j++;
        if (j == nb && nb < 64) by[nb++] = (type_sum){t->type, 0, 0, 0};
        if (j < 64) { by[j].n++; by[j].elems += t->n_elems; by[j].bytes += t->n_bytes; }
        total_elems += t->n_elems;
        total_bytes += t->n_bytes;
    }
    printf("tensors      %" PRIu64 " (%" PRIu64 " parameters, %.1f MB)\n", gguf_n_tensors(g), total_elems,
           total_bytes / 1e6);
    for (int j = 0; j < nb; j++)
        printf("  %-6s %4" PRIu64 " tensors %11" PRIu64 " params %8.1f MB  %.2f bits/weight\n",
               ggml_type_name(by[j].type), by[j].n, by[j].elems, by[j].bytes / 1e6,
               8.0 * (double)by[j].bytes / (double)by[j].elems);
    if (keys) {
        printf("keys         %" PRIu64 "\n", gguf_n_kv(g));
        for (uint64_t i = 0; i < gguf_n_kv(g); i++) {
            const gguf_kv *kv = gguf_kv_at(g, i);
            printf("  %-42.*s ", (int)kv->key.len, kv->key.s);
            print_value(kv);
            printf("\n");
        }
    }
    gguf_close(g);
    return 0;
}
