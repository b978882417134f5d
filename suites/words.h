/* words.h — the word lists behind "words" needle keys (adjective-noun) and
 * the cwe word pool (suites/words.c). Static data, never freed. */
#ifndef PURBO_WORDS_H
#define PURBO_WORDS_H

const char *const *words_adjectives(int *n);
const char *const *words_nouns(int *n);
const char *const *words_verbs(int *n);

#endif
