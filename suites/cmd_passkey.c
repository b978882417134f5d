/* cmd_passkey.c — `purbo-bench passkey`: hides a random key in filler text
 * of a chosen length (exactly --tokens model tokens, the chat template and
 * question included: passkey_build_exact), asks for it, and reports the answer,
 * whether it is right, and the prefill/decode speed. Exit status 0 when
 * every case is right, 1 when any is wrong (scripts can test it), 2 on bad
 * input. Depth is in percent of the filler, as a suite's `depths`. */
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "run/generate.h"
#include "suites/passkey.h"

int cmd_passkey(int argc, char **argv)
{
    int tokens = 1500, n_cases = 1, max_new = 12;
    double depth = -1.0;
    long long seed = 1;
    plan_spec spec;
    cli_session_opts o = {.cmd = "passkey", .backend = "auto"};
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_flag(argv, i, "--help")) {
            printf("usage: purbo-bench passkey --model M [options]\n"
                   "  Passkey retrieval: a 5-digit key hidden in filler text, then the question.\n"
                   "  --tokens N   prompt length in model tokens, exactly (default 1500)\n"
                   "  --depth D    key position in percent of the filler, 0-100 (as a suite's depths;\n"
                   "               default: drawn from the seed)\n"
                   "  --seed S     seed of the key and depth (default 1)\n"
                   "  --cases N    run N cases with seeds S, S+1, ... (default 1)\n"
                   "  --max-new N  tokens to generate at most (default 12)\n"
                   "  --backend B  cpu, cuda or auto (default auto: cuda when a GPU is usable)\n"
                   CLI_CPU_PRODUCTS_HELP CLI_POLICY_HELP CLI_PLANFILE_HELP
                   "  Exit status: 0 when every case is right, 1 when any is wrong, 2 on bad input.\n");
            return 0;
        } else if ((v = arg_val("passkey", argc, argv, &i, "--model"))) o.model_path = v;
        else if ((v = arg_val("passkey", argc, argv, &i, "--backend"))) o.backend = v;
        else if (cli_cpu_products_opt("passkey", argc, argv, &i)) continue;
        else if ((v = arg_val("passkey", argc, argv, &i, "--tokens"))) tokens = (int)arg_long("passkey", "--tokens", v, 64, 1 << 24);
        else if ((v = arg_val("passkey", argc, argv, &i, "--depth"))) depth = arg_double("passkey", "--depth", v, 0.0, 100.0) / 100;
        else if ((v = arg_val("passkey", argc, argv, &i, "--seed"))) seed = arg_long("passkey", "--seed", v, 0, (1L << 62));
        else if ((v = arg_val("passkey", argc, argv, &i, "--cases"))) n_cases = (int)arg_long("passkey", "--cases", v, 1, 100000);
        else if ((v = arg_val("passkey", argc, argv, &i, "--max-new"))) max_new = (int)arg_long("passkey", "--max-new", v, 1, 4096);
        else if ((v = arg_val("passkey", argc, argv, &i, "--policy"))) cli_policy_arg("passkey", v, &spec), o.spec = &spec;
        else if ((v = arg_val("passkey", argc, argv, &i, "--retrieval-heads"))) o.heads = v;
        else if ((v = arg_val("passkey", argc, argv, &i, "--plan"))) o.plan_path = v;
        else arg_bad("passkey", "unknown option %s", argv[i]);
    }
    if (!o.model_path) arg_bad("passkey", "--model is required");
    cli_session cs;
    cli_session_load(&cs, &o);
    const tokenizer *tok = cs.tok;
    if (tokens + max_new > cs.m->cfg.n_ctx_train)
        arg_bad("passkey", "--tokens %d + --max-new %d exceeds the model's context %d", tokens, max_new,
                cs.m->cfg.n_ctx_train);
    passkey_case least; /* the prompt with no filler: the shortest there is */
    passkey_build(tok, 0, 0.5, (uint64_t)seed, &least);
    int n_least = least.n_ids;
    passkey_free(&least);
    if (tokens < n_least)
        arg_bad("passkey", "--tokens %d is below the %d tokens the intro, key and question take without filler",
                tokens, n_least);
    cli_session_open(&cs, &o, tokens + max_new + 64, tokens);
    int stop[2] = {tok_eos(tok), tok_chat_stop(tok)};
    int *out = pb_malloc((size_t)max_new * sizeof(int));
    int right = 0;
    for (int c = 0; c < n_cases; c++) {
        passkey_case pc;
        PB_CHECK(passkey_build_exact(tok, tokens, depth, (uint64_t)seed + (uint64_t)c, &pc), "passkey: no case");
        if (pc.n_ids != tokens)
            fprintf(stderr, "purbo-bench passkey: no filler cut gives exactly %d tokens; %d instead\n", tokens,
                    pc.n_ids);
        session_reset(cs.s);
        gen_stats st;
        int n = generate_greedy(cs.s, pc.ids, pc.n_ids, max_new, stop, stop[1] >= 0 ? 2 : 1, out, &st, NULL, NULL);
        char *ans = NULL;
        size_t cap = 0, len = 0;
        for (int i = 0; i < n; i++) len = tok_decode_append(tok, out[i], &ans, len, &cap);
        ans = pb_realloc(ans, len + 1);
        ans[len] = 0;
        int ok = passkey_score(&pc, ans);
        right += ok;
        printf("passkey  tokens %d  depth %.0f%%  key %s  answer \"%s\"  %s\n", pc.n_ids, 100 * pc.depth, pc.key,
               ans, ok ? "RIGHT" : "WRONG");
        printf("speed    %s: prefill %d tokens in %.2f s (%.1f tok/s), decode %.1f tok/s\n", cs.b->device,
               st.n_prompt, st.t_prefill, st.n_prompt / st.t_prefill, st.n_decode ? st.n_decode / st.t_decode : 0.0);
        free(ans);
        passkey_free(&pc);
    }
    if (n_cases > 1) printf("accuracy %d/%d\n", right, n_cases);
    cli_session_summary(&cs, stdout);
    free(out);
    cli_session_free(&cs);
    return right == n_cases ? 0 : 1;
}
