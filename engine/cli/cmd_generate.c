/* cmd_generate.c — `purbo-bench generate`: a prompt in, the greedy
 * continuation out (streamed), then prefill and decode speed on stderr. */
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "run/generate.h"

static void print_token(void *user, int id)
{
    const tokenizer *t = user;
    char *buf = NULL;
    size_t cap = 0, len = tok_decode_append(t, id, &buf, 0, &cap);
    fwrite(buf, 1, len, stdout);
    fflush(stdout);
    free(buf);
}

int cmd_generate(int argc, char **argv)
{
    const char *prompt = NULL, *prompt_file = NULL, *system = NULL;
    int chat = 0, max_new = 128, n_ctx = 0;
    plan_spec spec;
    cli_session_opts o = {.cmd = "generate", .backend = "auto"};
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_flag(argv, i, "--help")) {
            printf("usage: purbo-bench generate --model M (--prompt TEXT | --prompt-file F) [options]\n"
                   "  --prompt-file -  reads the prompt from standard input\n"
                   "  Runs the prompt through the model and prints the greedy continuation.\n"
                   "  --chat          wrap the prompt in the model's chat template (ChatML)\n"
                   "  --system TEXT   system message with --chat (default: the model's)\n"
                   "  --max-new N     tokens to generate at most (default 128)\n"
                   "  --ctx N         KV cache size (default: prompt + max-new, at most the model's)\n"
                   "  --backend B     cpu, cuda or auto (default auto: cuda when a GPU is usable)\n"
                   CLI_POLICY_HELP CLI_PLANFILE_HELP
                   "  Special tokens (<|im_start|> ...) in the prompt are recognised.\n");
            return 0;
        } else if ((v = arg_val("generate", argc, argv, &i, "--model"))) o.model_path = v;
        else if ((v = arg_val("generate", argc, argv, &i, "--prompt"))) prompt = v;
        else if ((v = arg_val("generate", argc, argv, &i, "--prompt-file"))) prompt_file = v;
        else if ((v = arg_val("generate", argc, argv, &i, "--system"))) system = v;
        else if ((v = arg_val("generate", argc, argv, &i, "--backend"))) o.backend = v;
        else if ((v = arg_val("generate", argc, argv, &i, "--max-new"))) max_new = (int)arg_long("generate", "--max-new", v, 1, 1 << 20);
        else if ((v = arg_val("generate", argc, argv, &i, "--ctx"))) n_ctx = (int)arg_long("generate", "--ctx", v, 1, 1 << 24);
        else if ((v = arg_val("generate", argc, argv, &i, "--policy"))) cli_policy_arg("generate", v, &spec), o.spec = &spec;
        else if ((v = arg_val("generate", argc, argv, &i, "--retrieval-heads"))) o.heads = v;
        else if ((v = arg_val("generate", argc, argv, &i, "--plan"))) o.plan_path = v;
        else if (arg_flag(argv, i, "--chat")) chat = 1;
        else arg_bad("generate", "unknown option %s", argv[i]);
    }
    if (!o.model_path) arg_bad("generate", "--model is required");
    if (!prompt == !prompt_file) arg_bad("generate", "give exactly one of --prompt and --prompt-file");
    size_t len = 0;
    char *text = prompt_file ? arg_read_file("generate", prompt_file, &len) : strdup(prompt);
    if (prompt_file && strlen(text) != len) /* the tokenizer reads a C string: it would stop there */
        arg_bad("generate", "%s: offset %zu: a NUL byte; the prompt must be text", prompt_file, strlen(text));
    cli_session cs;
    cli_session_load(&cs, &o);
    const model *m = cs.m;
    tokenizer *tok = cs.tok;
    if (chat) {
        char *c = tok_chat_prompt(tok, system, text);
        free(text);
        text = c;
    }
    int *ids;
    int n = tok_encode(tok, text, strlen(text), 1, &ids);
    if (n > 0 && !chat && tok_add_bos(tok) && ids[0] != tok_bos(tok)) {  /* the chat template has its own */
        ids = pb_realloc(ids, (size_t)(n + 1) * sizeof *ids);
        memmove(ids + 1, ids, (size_t)n * sizeof *ids);
        ids[0] = tok_bos(tok);
        n++;
    }
    if (n == 0) arg_bad("generate", "the prompt is empty");
    if (n_ctx > m->cfg.n_ctx_train)
        arg_bad("generate", "--ctx %d exceeds the model's context %d", n_ctx, m->cfg.n_ctx_train);
    if (!n_ctx) n_ctx = n + max_new < m->cfg.n_ctx_train ? n + max_new : m->cfg.n_ctx_train;
    if (n >= n_ctx) arg_bad("generate", "the prompt has %d tokens, the context is %d", n, n_ctx);
    if (n + max_new > n_ctx) max_new = n_ctx - n;

    cli_session_open(&cs, &o, n_ctx);
    int stop[2] = {tok_eos(tok), tok_chat_stop(tok)};
    int *out = pb_malloc((size_t)max_new * sizeof(int));
    gen_stats st;
    generate_greedy(cs.s, ids, n, max_new, stop, stop[1] >= 0 ? 2 : 1, out, &st, print_token, tok);
    printf("\n");
    fflush(stdout); /* the text and its newline before the statistics, also when both go to one pipe */
    fprintf(stderr, "%s: prompt %d tokens, prefill %.2f s (%.1f tok/s); generated %d, decode %.1f tok/s\n",
            cs.b->device, st.n_prompt, st.t_prefill, st.n_prompt / st.t_prefill, st.n_gen,
            st.n_decode ? st.n_decode / st.t_decode : 0.0);
    cli_session_summary(&cs, stderr);
    free(out);
    free(ids);
    free(text);
    cli_session_free(&cs);
    return 0;
}
