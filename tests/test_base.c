/* test_base.c — the engine/base helpers without a test of their own
 * elsewhere: the duration text of progress lines and ETAs (pb_fmt_secs)
 * and the escaping of error lines (pb_escape_line, pb_errf).
 */
#include "tests/test.h"

#include "base/common.h"

TEST(base_fmt_secs)
{
    static const struct { double s; const char *want; } cases[] = {
        {-1, "?"},        {NAN, "?"},        {INFINITY, "?"},     {0, "0s"},
        {42.4, "42s"},    {59.4, "59s"},     {60, "1m00s"},       {187.9, "3m07s"},
        {3599.9, "59m59s"}, {3600, "1h00m"}, {7530, "2h05m"},     {90061, "25h01m"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        pb_fmt_secs(buf, sizeof buf, cases[i].s);
        CHECK_MSG(!strcmp(buf, cases[i].want), "%g s: '%s', want '%s'", cases[i].s, buf, cases[i].want);
    }
}

/* Error lines: control bytes, DEL, invalid UTF-8 and C1 controls become
 * \xNN; valid UTF-8 and tabs stay; newlines become spaces; truncation
 * never splits a character or an escape. */
TEST(base_escape_line)
{
    char s[64];
    snprintf(s, sizeof s, "%s", "a\x1b[31mb\x7f\xff\xc3\xa9\xc2\x9b\tz\nw");
    pb_escape_line(s, sizeof s);
    CHECK_MSG(!strcmp(s, "a\\x1b[31mb\\x7f\\xff\xc3\xa9\\xc2\\x9b\tz w"), "%s", s);
    snprintf(s, sizeof s, "%s", "ab\x01");
    pb_escape_line(s, 6); /* room for "ab" and no whole escape */
    CHECK_MSG(!strcmp(s, "ab"), "%s", s);
    snprintf(s, sizeof s, "%s", "a\xe2\x82\xac");
    pb_escape_line(s, 4); /* the euro sign needs 3 bytes + NUL after "a" */
    CHECK_MSG(!strcmp(s, "a"), "%s", s);
    pb_err e;
    pb_errf(&e, "f\x1b.txt", 3, "bad %s", "\x07");
    CHECK_MSG(!strcmp(e.msg, "f\\x1b.txt: offset 3: bad \\x07"), "%s", e.msg);
}
