/* fuzz_planfile.c — libFuzzer target for the .purbo plan file reader (make fuzz).
 *
 * Each input goes through plan_file_parse with no model (every check but
 * the model's fingerprint and shape), as it is and again with its last 8
 * bytes set to the checksum of the rest, so mutations get past the checksum
 * to the class, padding and matrix checks. Beyond ASan/UBSan it traps when the
 * contract breaks: a refused input leaves one line starting "fuzz.purbo: ";
 * an accepted one has every field in the documented range, and serialising
 * it gives back the input byte for byte (the format has one spelling).
 *   build/fuzz/fuzz_planfile -max_total_time=600 -artifact_prefix=fuzz/ fuzz/corpus_plan tests/badinput
 * Crashers go to fuzz/regress/plan/ (tests/test_fuzz_regress.c replays them).
 */
#include "policy/planfile.h"
#include "base/hash.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok)
{
    if (!ok) __builtin_trap();
}

/* plan_from_file (planfile.c) turns a plan file into an engine plan; this
 * target never calls it, and linking the engine for it would pull in the
 * forward pass and its libraries. These stand-ins trap if it ever did. */
int plan_policy_uses_heads(int policy) { (void)policy; __builtin_trap(); }
int plan_spec_init(plan_spec *sp, const char *policy, pb_err *err) { (void)sp, (void)policy, (void)err; __builtin_trap(); }
int plan_make(plan *p, const model_config *c, const plan_spec *spec, const unsigned char *retr, pb_err *err)
{
    (void)p, (void)c, (void)spec, (void)retr, (void)err;
    __builtin_trap();
}
void plan_alloc_indexers(plan *p) { (void)p; __builtin_trap(); }

static void one(const uint8_t *data, size_t size)
{
    pb_err e;
    e.msg[0] = 0;
    plan_file p;
    if (!plan_file_parse(data, size, "fuzz.purbo", NULL, &p, &e)) {
        check(!strncmp(e.msg, "fuzz.purbo: ", 12) && !strchr(e.msg, '\n'));
        return;
    }
    check(p.n_layer >= 1 && p.n_head >= 1 && p.n_head_kv >= 1 && p.n_head % p.n_head_kv == 0);
    check(p.window >= 1 && p.block >= 1 && p.sink >= 0 && p.local >= 0 && p.r >= 1 && p.r <= p.head_dim);
    check(p.p > 0 && p.p <= 1);
    size_t n;
    unsigned char *b = plan_file_serialise(&p, &n);
    check(n == size && !memcmp(b, data, n));
    free(b);
    plan_file_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size);
    if (size < 16) return 0;
    uint8_t *c = malloc(size);
    memcpy(c, data, size);
    uint64_t h = pb_fnv1a64(PB_FNV1A64_INIT, c, size - 8);
    for (int i = 0; i < 8; i++) c[size - 8 + i] = (uint8_t)(h >> (8 * i));
    one(c, size);
    free(c);
    return 0;
}
