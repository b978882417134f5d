/* tokref.h — the tokenizer reference files of tests/data (tokenizer_ref.txt
 * for SmolLM2, gemma_tokenizer_ref.txt for Gemma; each written by its script
 * under scripts/): one case a line, NAME <tab> MODE <tab> TEXT <tab> IDS,
 * MODE S (allow_special = 1) or T (0), TEXT with \\ \t \n \r \xNN escapes.
 * Lines starting with '#' or "kjv" are not cases. */
#ifndef PURBO_TOKREF_H
#define PURBO_TOKREF_H

#include <stddef.h>

typedef struct {
    char name[64];
    int special;      /* mode S: allow_special = 1 */
    char *text;
    size_t len;
    int *ids;
    int n_ids;
} ref_case;

/* Reads every case of path; returns the count (0 if the file is missing or bad). */
int tokref_load(const char *path, ref_case **out);
void tokref_free(ref_case *cs, int n);
const ref_case *tokref_find(const ref_case *cs, int n, const char *name);

#endif
