/* test_base.c — the engine/base helpers without a test of their own
 * elsewhere: the duration text of progress lines and ETAs (pb_fmt_secs).
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
