/* test_passkey.c — the passkey prompt (suites/passkey.h) at an exact
 * length: passkey_build_exact gives exactly N model tokens for every N in
 * a sweep, on both tokenizers (BPE and SentencePiece), with the key in
 * place and the filler only lengthened; the `passkey` command prints that
 * length and exits 0 when the answer is right. */
#include <string.h>
#include <sys/wait.h>

#include "suites/passkey.h"
#include "tests/fixture.h"
#include "tests/test.h"

static void sweep(const tokenizer *t, const char *which)
{
    int off = 0;
    for (int n = 110; n <= 3000; n += 71) { /* from just above the shortest prompt (98 tokens) */
        for (int s = n & 1; s < 2; s += 2) {
            double depth = s ? 0.37 : -1;
            passkey_case pc, fit;
            CHECK(passkey_build_exact(t, n, depth, (uint64_t)(n + s), &pc));
            CHECK(passkey_build_fit(t, n, depth, (uint64_t)(n + s), &fit));
            off += pc.n_ids != n;
            char line[64];
            snprintf(line, sizeof line, "The pass key is %s. Remember it.", pc.key);
            /* the exact prompt is the fitted one with filler added before the question */
            const char *q = strstr(fit.prompt, "\n\nWhat is the pass key?");
            CHECK_MSG(q && !strncmp(pc.prompt, fit.prompt, (size_t)(q - fit.prompt)) && strstr(pc.prompt, line) &&
                          !strcmp(pc.key, fit.key) && pc.depth == fit.depth,
                      "%s n %d", which, n);
            passkey_free(&pc);
            passkey_free(&fit);
        }
    }
    CHECK_MSG(off == 0, "%s: %d lengths missed", which, off);
}

TEST(passkey_exact_length_smollm2) { sweep(fixture_tok(), "smollm2"); }
TEST(passkey_exact_length_gemma) { sweep(fixture_gemma_tok(), "gemma"); }

TEST(cli_passkey_exact_tokens_right_exit_0)
{
    char cmd[1400], out[4096];
    snprintf(cmd, sizeof cmd, "%s passkey --model %s --tokens 512 --backend cpu 2>&1", test_bin_path, test_model_path);
    FILE *p = popen(cmd, "r");
    CHECK(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, "passkey  tokens 512 ") && strstr(out, "RIGHT") &&
                  strstr(out, "prefill 512 tokens"), "status %d: %s", st, out);
}
