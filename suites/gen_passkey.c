/* gen_passkey.c — the passkey task as suite cases, on top of passkey.c.
 *
 * passkey_build sizes its filler from a per-sentence estimate, which can miss
 * the budget by a few sentences either way; passkey_build_fit searches its
 * target so the prompt is the largest of whole sentences that fits
 * context - max_new. The depth is the case's (percent) or, with no depths
 * in the task, passkey.c's draw from the case seed. Metric: exact.
 */
#include <string.h>

#include "suites/gen_impl.h"
#include "suites/passkey.h"

int gen_passkey(gen_job *j, suite_case *out, pb_err *err)
{
    double depth = j->depth < 0 ? -1 : j->depth / 100;
    passkey_case best;
    int have = passkey_build_fit(j->tok, j->budget, depth, j->seed, &best);
    if (!have)
        return gen_fail(j, err, "at context %d the passkey prompt does not fit context - max_new = %d", j->context,
                        j->budget);
    j->metric = METRIC_EXACT;
    out->prompt = best.prompt;
    out->prompt_len = strlen(best.prompt);
    out->ids = best.ids;
    out->n_ids = best.n_ids;
    if (j->depth < 0) out->depth = best.depth * 100;
    gen_answer(j, best.key);
    out->answers = j->answers;
    out->n_answers = j->n_answers;
    j->answers = NULL;
    j->n_answers = 0;
    /* where things are: the filler sits between the intro and the question */
    const char *p = best.prompt, *b = strstr(p, "there.\n\n"), *e = strstr(p, "\n\nWhat is the pass key?");
    char line[40];
    snprintf(line, sizeof line, "The pass key is %s.", best.key);
    const char *k = strstr(p, line);
    PB_CHECK(b && e && k, "gen_passkey: passkey.c's text changed");
    out->hay_begin = (size_t)(b + 8 - p);
    out->hay_end = (size_t)(e - p);
    out->needles = pb_malloc(sizeof *out->needles);
    out->needles[0] = (size_t)(k - p);
    out->n_needles = 1;
    out->amount = -1;
    gen_finish(out);
    return 1;
}
