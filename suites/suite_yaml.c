/* suite_yaml.c — the typed getters of the suite loader (suite_yaml.h): a
 * field of a YAML mapping read as an integer, number, name, string, enum or
 * list, its range checked, any problem one line "FILE:LINE:COL: what" from
 * the node's start mark. Every libyaml call's result is checked.
 */
#include "suites/suite_yaml.h"

#include "base/suggest.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

/* ---- errors ---------------------------------------------------------------- */

int sy_fail_at(sy_ld *L, yaml_mark_t m, const char *fmt, ...)
{
    char where[400], msg[400];
    snprintf(where, sizeof where, "%s:%zu:%zu", L->file, m.line + 1, m.column + 1);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pb_errf(L->err, where, -1, "%s", msg);
}

/* ---- nodes ----------------------------------------------------------------- */

sy_node *sy_nd(sy_ld *L, int id)
{
    sy_node *n = yaml_document_get_node(L->doc, id);
    PB_CHECK(n, "libyaml: node %d of a loaded document is missing", id);
    return n;
}

const char *sy_kind_name(sy_node *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_SCALAR_NODE: return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? "a plain scalar" : "a quoted string";
    default: return "nothing";
    }
}

int sy_is_null(sy_node *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

const char *sy_sval(sy_node *n) { return (const char *)n->data.scalar.value; }

char *sy_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(pb_malloc(n), s, n);
}

/* Checks the keys of mapping `map` (what: "a method", ...): each a scalar,
 * known, not repeated. keys valid for other task types get their own line. */
int sy_check_keys(sy_ld *L, sy_node *map, const char *what, const char *const *known, int n_known,
                      const char *const *other, int n_other, const char *type_name)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        sy_node *k = sy_nd(L, p->key);
        if (k->type != YAML_SCALAR_NODE) return FAIL(L, k, "a key of %s must be a plain name, not %s", what, sy_kind_name(k));
        const char *name = sy_sval(k);
        int ok = 0;
        for (int i = 0; i < n_known && !ok; i++) ok = !strcmp(name, known[i]);
        if (!ok) {
            for (int i = 0; i < n_other; i++)
                if (!strcmp(name, other[i])) return FAIL(L, k, "'%s' does not apply to task type %s", name, type_name);
            char hint[96];
            pb_suggest(name, known, n_known, hint, sizeof hint);
            return FAIL(L, k, "unknown key '%s' in %s%s", name, what, hint);
        }
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            sy_node *k2 = sy_nd(L, q->key);
            if (k2->type == YAML_SCALAR_NODE && !strcmp(sy_sval(k2), name))
                return FAIL(L, k, "duplicate key '%s' (first at line %zu, column %zu)", name, k2->start_mark.line + 1,
                            k2->start_mark.column + 1);
        }
    }
    return 1;
}

/* The value of key in map, or NULL. *keyn (if given) gets the key node. */
sy_node *sy_get(sy_ld *L, sy_node *map, const char *key, sy_node **keyn)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        sy_node *k = sy_nd(L, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp(sy_sval(k), key)) {
            if (keyn) *keyn = k;
            return sy_nd(L, p->value);
        }
    }
    return NULL;
}

/* Finds key; 0 on error (missing and required, or null). *v = NULL if absent. */
int sy_field(sy_ld *L, sy_node *map, const char *what, const char *key, int required, sy_node **v)
{
    *v = sy_get(L, map, key, NULL);
    if (!*v) return required ? FAIL(L, map, "%s is missing required field '%s'", what, key) : 1;
    if (sy_is_null(*v)) return FAIL(L, *v, "'%s' has no value", key);
    return 1;
}

int sy_want_kind(sy_ld *L, sy_node *v, const char *key, yaml_node_type_t t)
{
    if (v->type == t) return 1;
    const char *w = t == YAML_MAPPING_NODE ? "a mapping" : t == YAML_SEQUENCE_NODE ? "a list" : "a scalar";
    return FAIL(L, v, "'%s' must be %s, not %s", key, w, sy_kind_name(v));
}

/* A number from a plain scalar, in [lo, hi] (lo excluded when lo_open). */
int sy_scalar_num(sy_ld *L, sy_node *v, const char *key, int integer, double lo, double hi, int lo_open, double *out)
{
    if (v->type != YAML_SCALAR_NODE || v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return FAIL(L, v, "'%s' must be %s, not %s", key, integer ? "an integer" : "a number", sy_kind_name(v));
    const char *s = sy_sval(v);
    char *end;
    errno = 0;
    double x;
    if (integer) {
        long long i = strtoll(s, &end, 10);
        x = (double)i;
    } else {
        x = strtod(s, &end);
    }
    if (end == s || *end || errno || !isfinite(x) || isspace((unsigned char)*s))
        return FAIL(L, v, "'%s' must be %s, not '%s'", key, integer ? "an integer" : "a number", s);
    if (x < lo || x > hi || (lo_open && x == lo)) {
        if (integer) return FAIL(L, v, "'%s' is %s, out of range [%.0f, %.0f]", key, s, lo, hi);
        return FAIL(L, v, "'%s' is %s, out of range %s%g, %g]", key, s, lo_open ? "(" : "[", lo, hi);
    }
    *out = x;
    return 1;
}

int sy_get_int(sy_ld *L, sy_node *map, const char *what, const char *key, int required, long lo, long hi, int def, int *out)
{
    sy_node *v;
    double x = 0;
    *out = def;
    if (!sy_field(L, map, what, key, required, &v)) return 0;
    if (!v) return 1;
    if (!sy_scalar_num(L, v, key, 1, (double)lo, (double)hi, 0, &x)) return 0;
    *out = (int)x;
    return 1;
}

int sy_get_num(sy_ld *L, sy_node *map, const char *key, double lo, double hi, int lo_open, double def, double *out)
{
    sy_node *v;
    *out = def;
    if (!sy_field(L, map, "", key, 0, &v)) return 0;
    return !v || sy_scalar_num(L, v, key, 0, lo, hi, lo_open, out);
}

int sy_get_seed(sy_ld *L, sy_node *map, uint64_t def, uint64_t *out)
{
    sy_node *v;
    *out = def;
    if (!sy_field(L, map, "", "seed", 0, &v)) return 0;
    if (!v) return 1;
    const char *s = v->type == YAML_SCALAR_NODE ? sy_sval(v) : "";
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (v->type != YAML_SCALAR_NODE || v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !isdigit((unsigned char)*s) ||
        *end || errno)
        return FAIL(L, v, "'seed' must be an integer in [0, 2^64), not %s", v->type == YAML_SCALAR_NODE ? s : sy_kind_name(v));
    *out = x;
    return 1;
}

int sy_get_str(sy_ld *L, sy_node *map, const char *what, const char *key, int required, char **out)
{
    sy_node *v;
    *out = NULL;
    if (!sy_field(L, map, what, key, required, &v)) return 0;
    if (!v) return 1;
    if (v->type != YAML_SCALAR_NODE) return FAIL(L, v, "'%s' must be a string, not %s", key, sy_kind_name(v));
    if (strlen(sy_sval(v)) != v->data.scalar.length) return FAIL(L, v, "'%s' contains a NUL byte", key);
    *out = sy_dup(sy_sval(v));
    return 1;
}

/* A name: 1-64 characters, letters, digits and _ . + - only. */
int sy_get_name(sy_ld *L, sy_node *map, const char *what, const char *key, int required, const char *def, char **out)
{
    if (!sy_get_str(L, map, what, key, required, out)) return 0;
    if (!*out) {
        *out = def ? sy_dup(def) : NULL;
        return 1;
    }
    size_t n = strlen(*out);
    int ok = n >= 1 && n <= 64;
    for (size_t i = 0; i < n && ok; i++) ok = isalnum((unsigned char)(*out)[i]) || strchr("_.+-", (*out)[i]);
    if (!ok) return FAIL(L, sy_get(L, map, key, NULL), "'%s' must be 1-64 characters of letters, digits, _ . + -", key);
    return 1;
}

int sy_scalar_enum(sy_ld *L, sy_node *v, const char *key, const char *const *names, int n, int *out)
{
    if (v->type != YAML_SCALAR_NODE) return FAIL(L, v, "'%s' must be a name, not %s", key, sy_kind_name(v));
    for (int i = 0; i < n; i++)
        if (!strcmp(sy_sval(v), names[i])) return *out = i, 1;
    char list[256] = "", hint[96];
    for (int i = 0; i < n; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    pb_suggest(sy_sval(v), names, n, hint, sizeof hint);
    return FAIL(L, v, "unknown %s '%s'%s; one of: %s", key, sy_sval(v), hint, list);
}

int sy_get_enum(sy_ld *L, sy_node *map, const char *key, const char *const *names, int n, int def, int *out)
{
    sy_node *v;
    *out = def;
    if (!sy_field(L, map, "", key, 0, &v)) return 0;
    return !v || sy_scalar_enum(L, v, key, names, n, out);
}

/* A list field: the sequence node (NULL if absent); at least one item. */
int sy_get_list(sy_ld *L, sy_node *map, const char *what, const char *key, int required, sy_node **v)
{
    if (!sy_field(L, map, what, key, required, v)) return 0;
    if (!*v) return 1;
    if (!sy_want_kind(L, *v, key, YAML_SEQUENCE_NODE)) return 0;
    if ((*v)->data.sequence.items.top == (*v)->data.sequence.items.start) return FAIL(L, *v, "'%s' is an empty list", key);
    return 1;
}

#define ITEM(L, v, i) sy_nd((L), (v)->data.sequence.items.start[i])
