/* score.h — scoring a generated answer against a case's references.
 *
 * RULER's rules (scripts/eval/evaluate.py and eval/synthetic/constants.py):
 * the prediction is cleaned (stripped; each byte below 0x20 becomes '\n';
 * stripped again), then each reference is looked for as a case-insensitive
 * substring. string_match_all scores the fraction of references found,
 * string_match_part 1 if any is found; a task's score is the mean over its
 * cases x 100, rounded to 2 decimals. exact (passkey): each reference must
 * appear as a whole word, case-sensitive, with no letter or digit right
 * before or after it; the score is the fraction found.
 * Lower-casing is ASCII only (RULER's is Unicode; every generated reference
 * is ASCII).
 */
#ifndef PURBO_SCORE_H
#define PURBO_SCORE_H

#include "suites/suite.h"

/* Score of one prediction in [0, 1]. m must not be METRIC_DEFAULT. */
double score_case(suite_metric m, const char *pred, const char *const *refs, int n_refs);
/* 1 if ref occurs in s as a whole word (the exact rule above). */
int score_whole_word(const char *s, const char *ref);
/* Mean x 100 rounded to 2 decimals (0 for n = 0). */
double score_aggregate(const double *scores, int n);

#endif
