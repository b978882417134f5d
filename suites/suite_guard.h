/* suite_guard.h — what a suite file must pass before libyaml builds its
 * document (suite_parse calls it first): the loader's cost grows faster
 * than linearly with nesting depth and node count, so without caps a small
 * hostile file runs for minutes, and libyaml reports a bad byte at 1:1.
 */
#ifndef PURBO_SUITE_GUARD_H
#define PURBO_SUITE_GUARD_H

#include <stddef.h>

#include "base/common.h"

#define SUITE_MAX_BYTES (1 << 20) /* the shipped suites are a few KB */
#define SUITE_MAX_DEPTH 32        /* a suite nests 5 levels at most */
#define SUITE_MAX_NODES 20000     /* scalars, lists, mappings and aliases */

/* 1 when text[0..len) is within the caps and is text: valid UTF-8 without
 * NUL, C0 controls other than tab, LF and CR, DEL or C1 controls other than
 * U+0085. Else 0 and err "NAME:LINE:COL: what" at the first byte or node
 * beyond (line and column 1-based, the column in characters as libyaml
 * counts them). YAML syntax errors are left to the loader. */
int suite_guard(const char *name, const char *text, size_t len, pb_err *err);

#endif
