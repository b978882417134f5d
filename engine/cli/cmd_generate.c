/* cmd_generate.c — `purbo-bench generate`: a prompt in, the continuation out
 * (streamed; greedy, or sampled with --temperature/--top-p/--top-k/--seed),
 * then prefill and decode speed on stderr. With --turns, a conversation:
 * each line of the file (or standard input) is a user turn in the model's
 * chat template, answered in turn on one session (the earlier turns and
 * replies stay in the cache, nothing is recomputed).
 *
 * Invariants: without sampling options the output is the greedy one, as
 * before they existed; the text and its newline reach stdout before the
 * statistics reach stderr. */
#include <errno.h>
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

/* One reply: generates after ids [n] at the session's position, prints it
 * and its newline, and adds the figures to *sum. Returns the id the cache
 * still lacks: the reply's last token when no stop id ended it, else -1. */
static int reply(cli_session *cs, sampler *sp, const int *ids, int n, int max_new, gen_stats *sum)
{
    int stop[2] = {tok_eos(cs->tok), tok_chat_stop(cs->tok)};
    int *out = pb_malloc((size_t)(max_new > 0 ? max_new : 1) * sizeof(int));
    gen_stats st;
    generate_sampled(cs->s, sp, ids, n, max_new, stop, stop[1] >= 0 ? 2 : 1, out, &st, print_token, cs->tok);
    printf("\n");
    fflush(stdout); /* the text and its newline before the statistics, also when both go to one pipe */
    int pending = !st.stopped && st.n_gen > 0 ? out[st.n_gen - 1] : -1;
    free(out);
    sum->n_prompt += st.n_prompt;
    sum->n_gen += st.n_gen;
    sum->t_prefill += st.t_prefill;
    sum->n_decode += st.n_decode;
    sum->t_decode += st.t_decode;
    return pending;
}

/* The conversation of --turns: one user turn a line (empty lines skipped).
 * Each turn's ids follow the cache: the previous reply's last token when no
 * stop id ended it (generate leaves it unevaluated), then the template's
 * text closing that reply and opening the next. Returns the exit status. */
static int chat_turns(cli_session *cs, sampler *sp, const char *path, const char *system, int max_new,
                      gen_stats *sum)
{
    int in = !strcmp(path, "-");
    FILE *f = in ? stdin : pb_fopen_read(path, 0, NULL);
    if (!f) arg_bad("generate", "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int turn = 0, lineno = 0, carry = -1, status = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if ((size_t)len != strlen(line))
            arg_bad("generate", "%s:%d: a NUL byte; a turn must be text", path, lineno);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!len) continue;
        char *text = turn ? tok_chat_turn(cs->tok, line) : tok_chat_prompt(cs->tok, system, line);
        int *enc, n = tok_encode(cs->tok, text, strlen(text), 1, &enc);
        free(text);
        int *ids = pb_malloc((size_t)(n + 1) * sizeof *ids);
        int k = 0;
        if (carry >= 0) ids[k++] = carry;
        memcpy(ids + k, enc, (size_t)n * sizeof *ids);
        free(enc);
        n += k;
        int room = cs->s->n_ctx - cs->s->n_past - n;
        if (room < 1) {
            fprintf(stderr, "purbo-bench generate: %s:%d: turn %d does not fit: %d tokens held, %d more, context %d "
                    "(--ctx)\n", path, lineno, turn + 1, cs->s->n_past, n, cs->s->n_ctx);
            free(ids);
            status = 1;
            break;
        }
        carry = reply(cs, sp, ids, n, max_new < room ? max_new : room, sum);
        free(ids);
        turn++;
    }
    free(line);
    if (!in) fclose(f);
    if (!turn && !status) arg_bad("generate", "%s: no turn (every line is empty)", path);
    return status;
}

int cmd_generate(int argc, char **argv)
{
    const char *prompt = NULL, *prompt_file = NULL, *system = NULL, *turns = NULL;
    int chat = 0, max_new = 128, n_ctx = 0;
    sample_opts so = SAMPLE_GREEDY;
    plan_spec spec;
    cli_session_opts o = {.cmd = "generate", .backend = "auto"};
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_flag(argv, i, "--help")) {
            printf("usage: purbo-bench generate --model M (--prompt TEXT | --prompt-file F | --turns F) [options]\n"
                   "  Runs the prompt through the model and prints the continuation (greedy by default).\n"
                   "  --prompt-file F  the prompt from a file; - reads standard input\n"
                   "  --chat           wrap the prompt in the model's chat template (ChatML, Gemma's turns)\n"
                   "  --turns F        a conversation (implies --chat): each line of F (- for standard input)\n"
                   "                   is a user turn, answered before the next is read; replies stay in context\n"
                   "  --system TEXT    system message with --chat (default: the model's)\n"
                   "  --max-new N      tokens to generate at most (a turn, with --turns; default 128)\n"
                   "  --ctx N          KV cache size (default: prompt + max-new, at most the model's;\n"
                   "                   with --turns the model's, at most 4096)\n"
                   "  --temperature T  sample at temperature T (default 0: greedy)\n"
                   "  --top-k K        sample among the K likeliest tokens only (default 0: all)\n"
                   "  --top-p P        sample among the likeliest tokens holding P of the mass (default 1)\n"
                   "  --seed S         the sampler's seed (default 1): the same seed, the same text\n"
                   "  --backend B      cpu, cuda or auto (default auto: cuda when a GPU is usable)\n"
                   CLI_CPU_PRODUCTS_HELP CLI_POLICY_HELP CLI_PLANFILE_HELP
                   "  Special tokens (<|im_start|> ...) in the prompt are recognised.\n");
            return 0;
        } else if ((v = arg_val("generate", argc, argv, &i, "--model"))) o.model_path = v;
        else if ((v = arg_val("generate", argc, argv, &i, "--prompt"))) prompt = v;
        else if ((v = arg_val("generate", argc, argv, &i, "--prompt-file"))) prompt_file = v;
        else if ((v = arg_val("generate", argc, argv, &i, "--turns"))) turns = v;
        else if ((v = arg_val("generate", argc, argv, &i, "--system"))) system = v;
        else if ((v = arg_val("generate", argc, argv, &i, "--backend"))) o.backend = v;
        else if (cli_cpu_products_opt("generate", argc, argv, &i)) continue;
        else if ((v = arg_val("generate", argc, argv, &i, "--max-new"))) max_new = (int)arg_long("generate", "--max-new", v, 1, 1 << 20);
        else if ((v = arg_val("generate", argc, argv, &i, "--ctx"))) n_ctx = (int)arg_long("generate", "--ctx", v, 1, 1 << 24);
        else if ((v = arg_val("generate", argc, argv, &i, "--temperature"))) so.temperature = arg_double("generate", "--temperature", v, 0, 100);
        else if ((v = arg_val("generate", argc, argv, &i, "--top-k"))) so.top_k = (int)arg_long("generate", "--top-k", v, 0, 1 << 24);
        else if ((v = arg_val("generate", argc, argv, &i, "--top-p"))) so.top_p = arg_double("generate", "--top-p", v, 0, 1);
        else if ((v = arg_val("generate", argc, argv, &i, "--seed"))) so.seed = (uint64_t)arg_long("generate", "--seed", v, 0, (1L << 62));
        else if ((v = arg_val("generate", argc, argv, &i, "--policy"))) cli_policy_arg("generate", v, &spec), o.spec = &spec;
        else if ((v = arg_val("generate", argc, argv, &i, "--retrieval-heads"))) o.heads = v;
        else if ((v = arg_val("generate", argc, argv, &i, "--plan"))) o.plan_path = v;
        else if (arg_flag(argv, i, "--chat")) chat = 1;
        else arg_bad("generate", "unknown option %s", argv[i]);
    }
    if (!o.model_path) arg_bad("generate", "--model is required");
    if (!prompt + !prompt_file + !turns != 2) arg_bad("generate", "give exactly one of --prompt, --prompt-file and --turns");
    if (!(so.top_p > 0)) arg_bad("generate", "--top-p 0: give a mass in (0, 1] (a tiny one keeps the likeliest token)");
    if (turns) chat = 1;
    char *text = NULL;
    if (!turns) {
        size_t len = 0;
        text = prompt_file ? arg_read_file("generate", prompt_file, &len) : strdup(prompt);
        if (prompt_file && strlen(text) != len) /* the tokenizer reads a C string: it would stop there */
            arg_bad("generate", "%s: offset %zu: a NUL byte; the prompt must be text", prompt_file, strlen(text));
    }
    cli_session cs;
    cli_session_load(&cs, &o);
    const model *m = cs.m;
    tokenizer *tok = cs.tok;
    if (n_ctx > m->cfg.n_ctx_train)
        arg_bad("generate", "--ctx %d exceeds the model's context %d", n_ctx, m->cfg.n_ctx_train);
    sampler sp;
    sampler_init(&sp, &so, m->cfg.n_vocab);
    gen_stats sum = {0};
    int status = 0, *ids = NULL;
    if (turns) {
        if (!n_ctx) n_ctx = m->cfg.n_ctx_train < 4096 ? m->cfg.n_ctx_train : 4096;
        cli_session_open(&cs, &o, n_ctx, n_ctx); /* the context grows turn by turn */
        status = chat_turns(&cs, &sp, turns, system, max_new, &sum);
    } else {
        if (chat) {
            char *c = tok_chat_prompt(tok, system, text);
            free(text);
            text = c;
        }
        int n = tok_encode(tok, text, strlen(text), 1, &ids);
        if (n > 0 && !chat && tok_add_bos(tok) && ids[0] != tok_bos(tok)) {  /* the chat template has its own */
            ids = pb_realloc(ids, (size_t)(n + 1) * sizeof *ids);
            memmove(ids + 1, ids, (size_t)n * sizeof *ids);
            ids[0] = tok_bos(tok);
            n++;
        }
        if (n == 0) arg_bad("generate", "the prompt is empty");
        if (!n_ctx) n_ctx = n + max_new < m->cfg.n_ctx_train ? n + max_new : m->cfg.n_ctx_train;
        if (n >= n_ctx) arg_bad("generate", "the prompt has %d tokens, the context is %d", n, n_ctx);
        if (n + max_new > n_ctx) max_new = n_ctx - n;
        cli_session_open(&cs, &o, n_ctx, n);
        reply(&cs, &sp, ids, n, max_new, &sum);
    }
    fprintf(stderr, "%s: prompt %d tokens, prefill %.2f s (%.1f tok/s); generated %d, decode %.1f tok/s\n",
            cs.b->device, sum.n_prompt, sum.t_prefill, sum.t_prefill > 0 ? sum.n_prompt / sum.t_prefill : 0.0,
            sum.n_gen, sum.n_decode ? sum.n_decode / sum.t_decode : 0.0);
    cli_session_summary(&cs, stderr);
    sampler_free(&sp);
    free(ids);
    free(text);
    cli_session_free(&cs);
    return status;
}
