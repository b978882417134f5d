/* suite_guard.c — the byte scan and the streaming depth and node count that
 * run before the document loader (suite_guard.h). Both passes are linear
 * and stop at the first problem: the event parser reads no further than the
 * node that crosses a cap.
 */
#include "suites/suite_guard.h"

#include <yaml.h>

#include "base/utf8.h"

static int fail_at(pb_err *err, const char *name, size_t line, size_t col, const char *what, unsigned v)
{
    char where[400];
    snprintf(where, sizeof where, "%s:%zu:%zu", name, line, col);
    return pb_errf(err, where, -1, what, v);
}

/* The bytes: text, and no more than SUITE_MAX_BYTES of it. */
static int scan_bytes(const char *name, const unsigned char *s, size_t len, pb_err *err)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < len;) {
        if (i >= SUITE_MAX_BYTES)
            return fail_at(err, name, line, col, "the file goes on past %u bytes, more than a suite may hold",
                           SUITE_MAX_BYTES);
        uint32_t cp;
        size_t n = utf8_next(s + i, len - i, &cp);
        if (cp == UC_INVALID) return fail_at(err, name, line, col, "byte 0x%02x is not valid UTF-8", s[i]);
        if (cp == 0) return fail_at(err, name, line, col, "a NUL byte (a suite is text)", 0);
        if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0x7f || (cp >= 0x80 && cp < 0xa0 && cp != 0x85))
            return fail_at(err, name, line, col, "control character U+%04X (a suite is text)", cp);
        if (cp == '\n' || (cp == '\r' && (i + 1 == len || s[i + 1] != '\n'))) line++, col = 1;
        else if (cp != '\r') col++;
        i += n;
    }
    return 1;
}

int suite_guard(const char *name, const char *text, size_t len, pb_err *err)
{
    if (!scan_bytes(name, (const unsigned char *)text, len, err)) return 0;
    yaml_parser_t p;
    PB_CHECK(yaml_parser_initialize(&p), "cannot initialise the YAML parser");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int ok = 1, depth = 0, nodes = 0;
    for (int end = 0; ok && !end;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) break; /* a syntax error: the loader reports it */
        yaml_mark_t m = ev.start_mark;
        switch (ev.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth > SUITE_MAX_DEPTH)
                ok = fail_at(err, name, m.line + 1, m.column + 1, "nested more than %u levels deep", SUITE_MAX_DEPTH);
            /* fall through */
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
            if (ok && ++nodes > SUITE_MAX_NODES)
                ok = fail_at(err, name, m.line + 1, m.column + 1, "more than %u values in one file", SUITE_MAX_NODES);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: depth--; break;
        case YAML_STREAM_END_EVENT: end = 1; break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    return ok;
}
