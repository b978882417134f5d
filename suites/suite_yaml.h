/* suite_yaml.h — the suite loader's typed getters over libyaml's document
 * API (suite_yaml.c), shared by the files that read a suite (suite_load.c,
 * suite_methods.c); nothing outside the loader includes this.
 *
 * Every getter returns 1 on success and 0 with L->err set to one line
 * "FILE:LINE:COL: what is wrong" (1-based, from the offending node's start
 * mark). A getter for an optional field leaves the default in *out when the
 * key is absent; a key given without a value ("key:") is an error.
 */
#ifndef PURBO_SUITE_YAML_H
#define PURBO_SUITE_YAML_H

#include <stdint.h>
#include <yaml.h>

#include "base/common.h"
#include "suites/suite.h"

typedef struct {
    const char *file;
    yaml_document_t *doc;
    pb_err *err;
} sy_ld;

typedef yaml_node_t sy_node;

int sy_fail_at(sy_ld *L, yaml_mark_t m, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define FAIL(L, n, ...) sy_fail_at((L), (n)->start_mark, __VA_ARGS__)
#define N_ITEMS(v) ((int)((v)->data.sequence.items.top - (v)->data.sequence.items.start))
#define ITEM(L, v, i) sy_nd((L), (v)->data.sequence.items.start[i])
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define MAX_CONTEXT (1 << 24) /* the longest context (and window, budget) a suite may name */

sy_node *sy_nd(sy_ld *L, int id);
/* "a mapping", "a list", "a plain scalar", "a quoted string" */
const char *sy_kind_name(sy_node *n);
int sy_is_null(sy_node *n);
const char *sy_sval(sy_node *n);
char *sy_dup(const char *s);
/* Checks the keys of mapping map (what: "a method", ...): each a scalar,
 * known, not repeated; keys in other[] (valid for other task types) get
 * their own message naming type_name. */
int sy_check_keys(sy_ld *L, sy_node *map, const char *what, const char *const *known, int n_known,
                  const char *const *other, int n_other, const char *type_name);
/* The value of key in map, or NULL; *keyn (if given) gets the key node. */
sy_node *sy_get(sy_ld *L, sy_node *map, const char *key, sy_node **keyn);
/* Finds key: 0 on error (missing and required, or null); *v = NULL if absent. */
int sy_field(sy_ld *L, sy_node *map, const char *what, const char *key, int required, sy_node **v);
int sy_want_kind(sy_ld *L, sy_node *v, const char *key, yaml_node_type_t t);
/* A number from a plain scalar in [lo, hi] (lo excluded when lo_open). */
int sy_scalar_num(sy_ld *L, sy_node *v, const char *key, int integer, double lo, double hi, int lo_open, double *out);
int sy_get_int(sy_ld *L, sy_node *map, const char *what, const char *key, int required, long lo, long hi, int def,
               int *out);
int sy_get_num(sy_ld *L, sy_node *map, const char *key, double lo, double hi, int lo_open, double def, double *out);
int sy_get_seed(sy_ld *L, sy_node *map, uint64_t def, uint64_t *out);
int sy_get_str(sy_ld *L, sy_node *map, const char *what, const char *key, int required, char **out);
/* A name: 1-64 characters, letters, digits and _ . + - only. */
int sy_get_name(sy_ld *L, sy_node *map, const char *what, const char *key, int required, const char *def, char **out);
int sy_scalar_enum(sy_ld *L, sy_node *v, const char *key, const char *const *names, int n, int *out);
int sy_get_enum(sy_ld *L, sy_node *map, const char *key, const char *const *names, int n, int def, int *out);
/* A list field: the sequence node (NULL if absent); at least one item. */
int sy_get_list(sy_ld *L, sy_node *map, const char *what, const char *key, int required, sy_node **v);


/* The suite's methods from the `methods` list (suite_methods.c): each item
 * one method, or with `sweep` its points; names unique. Fills s->methods
 * and s->n_methods. */
int sy_load_methods(sy_ld *L, sy_node *list, suite *s);

#endif
