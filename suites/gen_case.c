/* gen_case.c — a built case's own operations (gen_case.h): its prompt hash
 * and freeing it. */
#include "suites/gen_case.h"

#include <string.h>

#include "base/hash.h"

void gen_finish(suite_case *out)
{
    uint64_t h = pb_fnv1a64(PB_FNV1A64_INIT, out->prompt, out->prompt_len); /* as the config hash */
    snprintf(out->hash, sizeof out->hash, "%016llx", (unsigned long long)h);
}

void gen_case_free(suite_case *c)
{
    free(c->prompt);
    free(c->ids);
    for (int i = 0; i < c->n_answers; i++) free(c->answers[i]);
    free(c->answers);
    free(c->needles);
    memset(c, 0, sizeof *c);
}
