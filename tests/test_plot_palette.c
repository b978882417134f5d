/* test_plot_palette.c — the method palette of the charts (plots/plot_kit.h,
 * plots/plot_palette.c): every method of the suites and every attention
 * kernel implementation has a fixed entry, no two entries share a colour or
 * a point type, an unknown name gets the same spare style on every call and
 * never a fixed colour, and the linetype lines the charts put ahead of
 * their scripts carry those styles in the order given. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "plots/plot_kit.h"
#include "tests/test.h"

/* the methods of the suites and the impls of bench 'attention' rows */
static const char *const FIXED[] = {"dense",   "streaming",    "duo",         "quest",           "topk-oracle",
                                    "topp-oracle", "rtpurbo",  "rtpurbo-trained", "rtpurbo-topk", "purbo",
                                    "sdpa_cudnn", "sdpa_fa2",  "flex"};
#define N_FIXED (int)(sizeof FIXED / sizeof FIXED[0])

static int is_rgb(const char *s)
{
    if (!s || strlen(s) != 7 || s[0] != '#') return 0;
    for (int i = 1; i < 7; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return 0;
    return 1;
}

static int is_fixed_rgb(const char *rgb)
{
    for (const plot_style *p = plot_palette; p->name; p++)
        if (!strcmp(p->rgb, rgb)) return 1;
    return 0;
}

TEST(plot_palette_fixed_styles_distinct)
{
    int n = 0;
    for (const plot_style *p = plot_palette; p->name; p++) n++;
    CHECK_MSG(n == N_FIXED, "palette has %d entries, the test knows %d methods", n, N_FIXED);
    plot_style s[N_FIXED];
    for (int i = 0; i < N_FIXED; i++) {
        s[i] = plot_style_of(FIXED[i]);
        /* found in the table, not given a spare style */
        int in_table = 0;
        for (const plot_style *p = plot_palette; p->name; p++)
            if (!strcmp(p->name, FIXED[i])) in_table = !strcmp(p->rgb, s[i].rgb) && p->pt == s[i].pt;
        CHECK_MSG(in_table, "%s has no entry of its own in plot_palette", FIXED[i]);
        CHECK_MSG(is_rgb(s[i].rgb), "%s: colour '%s' is not #rrggbb (lower case)", FIXED[i], s[i].rgb);
        CHECK_MSG(s[i].pt >= 1 && s[i].pt <= 15, "%s: point type %d outside pngcairo's 1..15", FIXED[i], s[i].pt);
    }
    for (int i = 0; i < N_FIXED; i++)
        for (int j = i + 1; j < N_FIXED; j++) {
            CHECK_MSG(strcmp(s[i].rgb, s[j].rgb), "%s and %s share colour %s", FIXED[i], FIXED[j], s[i].rgb);
            CHECK_MSG(s[i].pt != s[j].pt, "%s and %s share point type %d", FIXED[i], FIXED[j], s[i].pt);
        }
    /* the pair the score chart used to draw in the same purple */
    CHECK(strcmp(plot_style_of("dense").rgb, plot_style_of("rtpurbo-topk").rgb) != 0);
}

TEST(plot_palette_unknown_names_spare)
{
    char name[32], seen[8][8] = {{0}};
    int n_seen = 0;
    for (int i = 0; i < 64; i++) {
        snprintf(name, sizeof name, "method-%d", i);
        plot_style a = plot_style_of(name), b = plot_style_of(name);
        CHECK_MSG(is_rgb(a.rgb), "%s: colour '%s'", name, a.rgb);
        CHECK_MSG(!is_fixed_rgb(a.rgb), "%s got the fixed colour %s", name, a.rgb);
        CHECK_MSG(!strcmp(a.rgb, b.rgb) && a.pt == b.pt, "%s: %s pt %d, then %s pt %d", name, a.rgb, a.pt, b.rgb,
                  b.pt);
        CHECK_MSG(a.pt >= 1 && a.pt <= 15, "%s: point type %d", name, a.pt);
        int k = 0;
        while (k < n_seen && strcmp(seen[k], a.rgb)) k++;
        if (k == n_seen && n_seen < 8) snprintf(seen[n_seen++], sizeof seen[0], "%s", a.rgb);
    }
    /* the hash spreads names over the spare list */
    CHECK_MSG(n_seen >= 4, "64 unknown names got only %d colours", n_seen);
    /* a near-miss of a fixed name is unknown too */
    CHECK(!is_fixed_rgb(plot_style_of("Dense").rgb));
    CHECK(!is_fixed_rgb(plot_style_of("rtpurbo-topk2").rgb));
}

TEST(plot_palette_linetype_lines)
{
    char out[1024] = "", want[1024];
    plot_linetypes(out, sizeof out, "rtpurbo-topk dense method-7");
    plot_style a = plot_style_of("rtpurbo-topk"), b = plot_style_of("dense"), c = plot_style_of("method-7");
    snprintf(want, sizeof want,
             "set linetype 1 lc rgb '%s' pt %d\nset linetype 2 lc rgb '%s' pt %d\nset linetype 3 lc rgb '%s' pt %d\n",
             a.rgb, a.pt, b.rgb, b.pt, c.rgb, c.pt);
    CHECK_MSG(!strcmp(out, want), "got:\n%swant:\n%s", out, want);
    CHECK(strstr(out, "set linetype 2 lc rgb '#000000' pt 7\n")); /* dense: black filled circles */
    out[0] = 0;
    plot_linetype(out, sizeof out, 4, "flex", 3);
    snprintf(want, sizeof want, "set linetype 4 lc rgb '%s' pt %d dt 3\n", plot_style_of("flex").rgb,
             plot_style_of("flex").pt);
    CHECK_MSG(!strcmp(out, want), "got %s, want %s", out, want);
}
