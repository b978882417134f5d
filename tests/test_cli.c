/* test_cli.c — the command line's contract: bad input gives exit status 2
 * and exactly one line on stderr naming the file (and the byte offset for a
 * corrupt GGUF); --help works on every command; a good run exits 0; the
 * shared --db/--run options take both spellings and only where offered. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/args.h"
#include "run/backend.h"
#include "tests/fixture.h"
#include "tests/test.h"

/* Writes the first n bytes of the model, with an optional byte patch. */
static void write_prefix(const char *path, size_t n, long patch_at, unsigned char patch)
{
    size_t len;
    char *m = fixture_read(test_model_path, &len);
    if (patch_at >= 0) m[patch_at] = (char)patch;
    FILE *f = fopen(path, "wb");
    fwrite(m, 1, n < len ? n : len, f);
    fclose(f);
    free(m);
}

TEST(cli_info_truncated_file)
{
    const char *p = "/tmp/purbo-test-trunc.gguf";
    write_prefix(p, 5000, -1, 0);
    char err[1024];
    int lines, st = fixture_run_bin("info /tmp/purbo-test-trunc.gguf", err, sizeof err, &lines);
    unlink(p);
    CHECK_MSG(st == 2, "exit status %d", st);
    CHECK_MSG(lines == 1, "%d lines: %s", lines, err);
    CHECK_MSG(strstr(err, p) && strstr(err, "offset"), "message: %s", err);
}

TEST(cli_info_bad_magic)
{
    const char *p = "/tmp/purbo-test-magic.gguf";
    write_prefix(p, 1 << 20, 0, 'X');
    char err[1024];
    int lines, st = fixture_run_bin("info /tmp/purbo-test-magic.gguf", err, sizeof err, &lines);
    unlink(p);
    CHECK_MSG(st == 2 && lines == 1, "status %d, %d lines: %s", st, lines, err);
    CHECK_MSG(strstr(err, p) && strstr(err, "offset 0"), "message: %s", err);
}

TEST(cli_missing_file_and_bad_options)
{
    char err[1024];
    int lines, st = fixture_run_bin("info /nonexistent/model.gguf", err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "/nonexistent/model.gguf"), "status %d: %s", st, err);
    st = fixture_run_bin("generate --model /nonexistent/model.gguf --prompt hi", err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "/nonexistent/model.gguf"), "status %d: %s", st, err);
    st = fixture_run_bin("generate --prompt hi", err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "--model"), "status %d: %s", st, err);
    st = fixture_run_bin("passkey --model x --tokens abc", err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "--tokens"), "status %d: %s", st, err);
    st = fixture_run_bin("frobnicate", err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "frobnicate"), "status %d: %s", st, err);
    st = fixture_run_bin("generate --model x --prompt-file /nonexistent/p.txt", err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "/nonexistent/p.txt"), "status %d: %s", st, err);
}

TEST(cli_help_everywhere)
{
    const char *cmds[] = {"--help", "info --help", "generate --help", "passkey --help", "bench-cpu --help"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char err[1024];
        int lines, st = fixture_run_bin(cmds[i], err, sizeof err, &lines);
        CHECK_MSG(st == 0 && lines == 0, "'%s': status %d, stderr %s", cmds[i], st, err);
    }
}

/* passkey: exit 1 when a case is wrong (one token cannot hold the key), the
 * status agreeing with RIGHT/WRONG otherwise; --depth is percent. */
TEST(cli_passkey_exit_status_and_depth_percent)
{
    char cmd[1400], out[4096];
    snprintf(cmd, sizeof cmd, "%s passkey --model %s --tokens 128 --max-new 1 --depth 50 --backend cpu 2>&1",
             test_bin_path, test_model_path);
    FILE *p = popen(cmd, "r");
    CHECK(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 1 && strstr(out, "WRONG") && strstr(out, "depth 5"), "status %d: %s",
              st, out);
    CHECK_MSG(strstr(out, "depth 50%") || strstr(out, "depth 49%") || strstr(out, "depth 51%"), "%s", out);
    char err[1024];
    int lines;
    st = fixture_run_bin("passkey --model x --depth 0.5x", err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "--depth"), "status %d: %s", st, err);
    snprintf(cmd, sizeof cmd, "passkey --model %s --depth 150", test_model_path);
    st = fixture_run_bin(cmd, err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "--depth"), "status %d: %s", st, err);
}

/* info --keys: integer keys print as integers (not nan); --version names the commit. */
TEST(cli_info_keys_and_version)
{
    char cmd[1024], buf[65536];
    snprintf(cmd, sizeof cmd, "%s info %s --keys", test_bin_path, test_model_path);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = 0;
    pclose(p);
    CHECK_MSG(!strstr(buf, "nan") && strstr(buf, "llama.block_count                          30\n") &&
                  strstr(buf, "tokenizer.ggml.bos_token_id                1\n") &&
                  strstr(buf, "llama.rope.freq_base                       100000\n"),
              "%s", buf);
    snprintf(cmd, sizeof cmd, "%s --version", test_bin_path);
    p = popen(cmd, "r");
    CHECK(p != NULL);
    n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = 0;
    int st = pclose(p);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0 && !strncmp(buf, "purbo-bench, built at commit ", 29) &&
                  strstr(buf, ", results schema "), "%s", buf);
}

/* generate: --prompt-file - reads standard input; the text and its newline
 * come before the statistics line even when both go to one pipe. */
TEST(cli_generate_stdin_and_newline)
{
    char cmd[1400], out[4096];
    snprintf(cmd, sizeof cmd, "printf 'The capital of France is' | %s generate --model %s --prompt-file - --max-new 3"
             " --backend cpu 2>&1", test_bin_path, test_model_path);
    FILE *p = popen(cmd, "r");
    CHECK(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    const char *stats = strstr(out, "cpu: prompt ");
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0 && stats && stats > out && stats[-1] == '\n' &&
                  strstr(out, "generated 3") && strstr(out, "prompt 5 tokens"), "status %d: %s", st, out);
}

TEST(cli_info_real_model)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s info %s", test_bin_path, test_model_path);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = 0;
    int st = pclose(p);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    CHECK_MSG(strstr(buf, "layers       30") && strstr(buf, "9 query, 3 kv") && strstr(buf, "Q4_1"), "%s", buf);
}

/* --policy / --retrieval-heads: a bad name, key, value or head list is one
 * line naming it, exit 2 (spec errors before the model is even opened). */
TEST(cli_bad_policy_specs)
{
    char err[1024], args[1024];
    int lines, st;
    const char *cases[][2] = {
        {"generate --model x --prompt hi --policy sparse", "'sparse'"},
        {"passkey --model x --policy streaming:page=3", "'page'"},
        {"passkey --model x --policy topp-oracle:p=2", "p 2"},
        {"generate --model x --prompt hi --policy quest:budget=abc", "'abc'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st = fixture_run_bin(cases[i][0], err, sizeof err, &lines);
        CHECK_MSG(st == 2 && lines == 1 && strstr(err, cases[i][1]) && strstr(err, "--policy"), "'%s': status %d: %s",
                  cases[i][0], st, err);
    }
    const char *model_cases[][2] = {
        {"--policy duo", "--retrieval-heads"},
        {"--policy duo --retrieval-heads 30.0", "30.0"},
        {"--policy rtpurbo --retrieval-heads 1.2,x", "'x'"},
        {"--policy streaming --retrieval-heads 1.2", "streaming"},
    };
    for (size_t i = 0; i < sizeof model_cases / sizeof model_cases[0]; i++) {
        snprintf(args, sizeof args, "passkey --model %s %s", test_model_path, model_cases[i][0]);
        st = fixture_run_bin(args, err, sizeof err, &lines);
        CHECK_MSG(st == 2 && lines == 1 && strstr(err, model_cases[i][1]), "'%s': status %d: %s", args, st, err);
    }
}

/* --backend: a bad name, and cuda on a machine without a device, are one
 * line and exit 2 before the model loads; auto falls back to the CPU. */
TEST(cli_backend_selection)
{
    char err[1024], args[1024];
    int lines, st;
    snprintf(args, sizeof args, "generate --model %s --prompt hi --max-new 1 --backend gpu", test_model_path);
    st = fixture_run_bin(args, err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "--backend"), "status %d: %s", st, err);
    /* probe and convert take --backend as generate does, checked before the model loads */
    const char *cmds[] = {"probe locality", "convert"};
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args, "%s --model %s --backend gpu", cmds[i], test_model_path);
        st = fixture_run_bin(args, err, sizeof err, &lines);
        CHECK_MSG(st == 2 && lines == 1 && strstr(err, "--backend 'gpu'"), "%s: status %d: %s", cmds[i], st, err);
    }
    if (backend_cuda_available(NULL, 0)) return;   /* the rest is about machines without one */
    snprintf(args, sizeof args, "passkey --model %s --backend cuda", test_model_path);
    st = fixture_run_bin(args, err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "no CUDA device"), "status %d: %s", st, err);
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args, "%s --model %s --backend cuda", cmds[i], test_model_path);
        st = fixture_run_bin(args, err, sizeof err, &lines);
        CHECK_MSG(st == 2 && lines == 1 && strstr(err, "no CUDA device"), "%s: status %d: %s", cmds[i], st, err);
    }
    snprintf(args, sizeof args, "generate --model %s --prompt hi --max-new 1 --backend auto", test_model_path);
    st = fixture_run_bin(args, err, sizeof err, &lines);
    CHECK_MSG(st == 0 && strstr(err, "cpu: prompt"), "status %d: %s", st, err);
}

TEST(cli_results_options)
{
    char *argv[] = {"plot", "--db", "a.db", "--out", "d", "--run=7", "--db=b.db", NULL};
    int argc = 7, taken = 0, others = 0;
    arg_results ro = {.db = ARG_DB_DEFAULT, .run = "last", .takes_run = 1};
    for (int i = 1; i < argc; i++) {
        if (arg_results_opt("plot", argc, argv, &i, &ro)) taken++;
        else others++;
    }
    /* --out and its value d are not the helper's: offered one at a time */
    CHECK_MSG(taken == 3 && others == 2, "taken %d, others %d", taken, others);
    CHECK(!strcmp(ro.db, "b.db") && !strcmp(ro.run, "7"));

    arg_results no_run = {.db = ARG_DB_DEFAULT};
    int i = 5;
    CHECK(!arg_results_opt("probe", argc, argv, &i, &no_run) && i == 5 && no_run.run == NULL);
    i = 1;
    CHECK(arg_results_opt("probe", argc, argv, &i, &no_run) && i == 2 && !strcmp(no_run.db, "a.db"));
}

/* Inputs that used to get through: a context past the model's, a prompt
 * file with a NUL (cut there silently before), a passkey shorter than its
 * fixed text (built longer silently before). */
TEST(cli_generate_and_passkey_limits)
{
    char args[1024], err[1024];
    int lines;
    snprintf(args, sizeof args, "generate --model %s --prompt hi --ctx 99999", test_model_path);
    int st = fixture_run_bin(args, err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "--ctx 99999 exceeds the model's context 8192"), "status %d: %s",
              st, err);
    const char *pf = "/tmp/purbo-test-nul-prompt.txt";
    FILE *f = fopen(pf, "wb");
    CHECK(f);
    fwrite("Hello\0world", 1, 11, f);
    fclose(f);
    snprintf(args, sizeof args, "generate --model %s --prompt-file %s", test_model_path, pf);
    st = fixture_run_bin(args, err, sizeof err, &lines);
    unlink(pf);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "purbo-test-nul-prompt.txt: offset 5: a NUL byte"),
              "status %d: %s", st, err);
    snprintf(args, sizeof args, "passkey --model %s --tokens 64", test_model_path);
    st = fixture_run_bin(args, err, sizeof err, &lines);
    CHECK_MSG(st == 2 && lines == 1 && strstr(err, "--tokens 64 is below the ") &&
              strstr(err, " tokens the intro, key and question take"), "status %d: %s", st, err);
}

/* A FIFO with no writer as the model, the plan or a suite method's plan:
 * one line, exit 2, at once (`timeout` turns a hang back into a failure). */
TEST(cli_fifo_model_and_plan)
{
    char dir[] = "/tmp/purbo-cli-fifo-XXXXXX";
    CHECK(mkdtemp(dir));
    char fifo[64], out[96], cmd[1024];
    snprintf(fifo, sizeof fifo, "%s/f", dir);
    snprintf(out, sizeof out, "%s/err", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    /* a suite whose method takes the FIFO as its plan file */
    char suite[96];
    snprintf(suite, sizeof suite, "%s/s.yaml", dir);
    FILE *sf = fopen(suite, "w");
    CHECK(sf);
    fprintf(sf, "name: t\nmodel: %s\nbackend: cpu\nmethods: [{policy: rtpurbo, params: {plan: %s}}]\n"
                "tasks:\n  - {type: passkey, contexts: [256], samples: 1}\n", test_model_path, fifo);
    fclose(sf);
    for (int i = 0; i < 3; i++) {
        if (i == 0) snprintf(cmd, sizeof cmd, "timeout 60 %s info %s 2>%s", test_bin_path, fifo, out);
        else if (i == 1)
            snprintf(cmd, sizeof cmd, "timeout 60 %s generate --model %s --prompt hi --plan %s 2>%s", test_bin_path,
                     test_model_path, fifo, out);
        else snprintf(cmd, sizeof cmd, "timeout 60 %s run %s --db %s/r.db 2>%s", test_bin_path, suite, dir, out);
        int st = system(cmd);
        size_t n;
        char *e = fixture_read(out, &n);
        int ok = WIFEXITED(st) && WEXITSTATUS(st) == 2 && e && strstr(e, "/f: not a regular file");
        CHECK_MSG(ok, "case %d: status %d: %s", i, WIFEXITED(st) ? WEXITSTATUS(st) : -1, e ? e : "");
        free(e);
    }
    CHECK_MSG(access(suite, F_OK) == 0 && snprintf(cmd, sizeof cmd, "%s/r.db", dir) > 0 && access(cmd, F_OK) != 0,
              "the refused run wrote its database");
    unlink(suite);
    unlink(fifo);
    unlink(out);
    rmdir(dir);
}

/* plan show and plan set: a copy with a length rule and a dense layer reads
 * back as written; removing the rule of a plan without dense heads gives
 * back convert's version 1 bytes; bad input is one line, exit 2, nothing
 * written. */
TEST(cli_plan_show_and_set)
{
    const char *src = "suites/plans/smollm2-135m-need.purbo", *a = "/tmp/purbo-test-plan-a.purbo",
               *b = "/tmp/purbo-test-plan-b.purbo";
    char cmd[1400], out[8192], err[1024];
    unlink(a), unlink(b);
    snprintf(cmd, sizeof cmd, "plan set %s --out %s --by-length '1536 kmin=1; 3072 local=256 p=0.65' "
             "--dense-layers '7 9-10'", src, a);
    int lines, st = fixture_run_bin(cmd, err, sizeof err, &lines);
    CHECK_MSG(st == 0 && lines == 0, "status %d: %s", st, err);
    snprintf(cmd, sizeof cmd, "%s plan show %s --model %s 2>&1", test_bin_path, a, test_model_path);
    st = fixture_shell(cmd, out, sizeof out);
    CHECK_MSG(st == 0 && strstr(out, "(version 2), made for this model") &&
                  strstr(out, "length rule  1536 kmin=1; 3072 local=256 p=0.65") &&
                  strstr(out, "\n    7          0      0      9\n") && strstr(out, "\n   10          0      0      9\n") &&
                  strstr(out, " 27 dense of 270"),
              "status %d: %s", st, out);
    snprintf(cmd, sizeof cmd, "plan set %s --out %s --by-length none", src, b);
    CHECK(fixture_run_bin(cmd, err, sizeof err, &lines) == 0);
    size_t na, nb;
    char *x = fixture_read(src, &na), *y = fixture_read(b, &nb);
    CHECK_MSG(x && y && na == nb && !memcmp(x, y, na), "a plan without rule or dense heads is not convert's bytes");
    free(x), free(y);
    unlink(b);
    const char *bad[][2] = {
        {"plan set suites/plans/smollm2-135m-need.purbo --out /tmp/purbo-test-plan-b.purbo --dense-layers 30",
         "layer 30: suites/plans/smollm2-135m-need.purbo has 30 layers"},
        {"plan set suites/plans/smollm2-135m-need.purbo --out /tmp/purbo-test-plan-b.purbo --by-length '9 p=2'",
         "--by-length: by_length row 1: p 2 is out of range (0, 1]"},
        {"plan set suites/plans/smollm2-135m-need.purbo --by-length none", "set needs --out"},
        {"plan frob suites/plans/smollm2-135m-need.purbo", "unknown subcommand 'frob'"},
        {"plan show /nonexistent.purbo", "/nonexistent.purbo: cannot open"},
    };
    for (int i = 0; i < 5; i++) {
        st = fixture_run_bin(bad[i][0], err, sizeof err, &lines);
        CHECK_MSG(st == 2 && lines == 1 && strstr(err, bad[i][1]), "%s: status %d, %s", bad[i][0], st, err);
    }
    CHECK_MSG(access(b, F_OK) != 0, "a refused set wrote %s", b);
    unlink(a);
}
