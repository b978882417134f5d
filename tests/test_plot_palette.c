/* test_plot_palette.c — the method palette of the charts (plots/plot_kit.h,
 * plots/plot_palette.c): every method of the suites and every attention
 * kernel implementation has a fixed entry, no two entries share a colour or
 * a point type, an unknown name gets the same spare style on every call and
 * never a fixed colour, and the linetype lines the charts put ahead of
 * their scripts carry those styles in the order given. */
#include <ctype.h>
#include <math.h>
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
    size_t l = strlen(want);
    snprintf(want + l, sizeof want - l, "array purbo_label[3] = [\"%s\", \"%s\", \"method-7\"]\n", a.words, b.words);
    CHECK_MSG(!strcmp(out, want), "got:\n%swant:\n%s", out, want);
    CHECK(strstr(out, "set linetype 2 lc rgb '#000000' pt 7\n")); /* dense: black filled circles */
    CHECK(strstr(out, "\"dense: full attention\"")); /* the legend names the method in words */
    out[0] = 0;
    plot_linetype(out, sizeof out, 4, "flex", 3);
    snprintf(want, sizeof want, "set linetype 4 lc rgb '%s' pt %d dt 3\n", plot_style_of("flex").rgb,
             plot_style_of("flex").pt);
    CHECK_MSG(!strcmp(out, want), "got %s, want %s", out, want);
}

/* sRGB "#rrggbb" as CIE L*a*b* (D65), seen by a reader with normal vision
 * (m NULL) or through a colour-vision-deficiency matrix m on linear RGB
 * (Machado, Oliveira and Fernandes 2009, severity 1). */
static void to_lab(const char *hex, const double m[3][3], double lab[3])
{
    double c[3], v[3];
    for (int i = 0; i < 3; i++) {
        unsigned x;
        sscanf(hex + 1 + 2 * i, "%2x", &x);
        double s = x / 255.0;
        c[i] = s <= 0.04045 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4);
    }
    for (int i = 0; i < 3; i++) {
        v[i] = m ? m[i][0] * c[0] + m[i][1] * c[1] + m[i][2] * c[2] : c[i];
        v[i] = v[i] < 0 ? 0 : v[i] > 1 ? 1 : v[i];
    }
    double X = (0.4124 * v[0] + 0.3576 * v[1] + 0.1805 * v[2]) / 0.95047,
           Y = 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2],
           Z = (0.0193 * v[0] + 0.1192 * v[1] + 0.9505 * v[2]) / 1.08883;
#define F(t) ((t) > 0.008856 ? cbrt(t) : 7.787 * (t) + 16.0 / 116)
    lab[0] = 116 * F(Y) - 16;
    lab[1] = 500 * (F(X) - F(Y));
    lab[2] = 200 * (F(Y) - F(Z));
#undef F
}

/* Colour-blind-safe in fact: the methods of one chart (the suite methods;
 * the kernel implementations) stay at least 15 CIE76 units apart (about
 * five just-noticeable differences) for normal vision and as protanopes,
 * deuteranopes and tritanopes see them. The former palette's kernels were
 * 5 apart for a protanope (sdpa_cudnn's and flex's greens). */
TEST(plot_palette_colour_blind_safe)
{
    static const double CVD[3][3][3] = {
        {{0.152286, 1.052583, -0.204868}, {0.114503, 0.786281, 0.099216}, {-0.003882, -0.048116, 1.051998}},
        {{0.367322, 0.860646, -0.227968}, {0.280085, 0.672501, 0.047413}, {-0.011820, 0.042940, 0.968881}},
        {{1.255528, -0.076749, -0.178779}, {-0.078411, 0.930809, 0.147602}, {0.004733, 0.691367, 0.303900}},
    };
    static const char *const who[4] = {"normal vision", "protanopia", "deuteranopia", "tritanopia"};
    const int groups[2][2] = {{0, 9}, {9, N_FIXED}}; /* FIXED[]: nine suite methods, then four kernels */
    for (int g = 0; g < 2; g++)
        for (int v = 0; v < 4; v++)
            for (int i = groups[g][0]; i < groups[g][1]; i++)
                for (int j = i + 1; j < groups[g][1]; j++) {
                    double a[3], b[3];
                    to_lab(plot_style_of(FIXED[i]).rgb, v ? CVD[v - 1] : NULL, a);
                    to_lab(plot_style_of(FIXED[j]).rgb, v ? CVD[v - 1] : NULL, b);
                    double d = sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                                    (a[2] - b[2]) * (a[2] - b[2]));
                    CHECK_MSG(d >= 15, "%s and %s are %.1f apart under %s", FIXED[i], FIXED[j], d, who[v]);
                }
    /* every fixed entry names itself first, then says what it is; no quote breaks the gnuplot array */
    for (int i = 0; i < N_FIXED; i++) {
        const char *w = plot_style_of(FIXED[i]).words;
        size_t n = strlen(FIXED[i]);
        CHECK_MSG(w && !strncmp(w, FIXED[i], n) && !strncmp(w + n, ": ", 2) && strlen(w) > n + 6 && !strchr(w, '"'),
                  "%s: words '%s'", FIXED[i], w ? w : "(none)");
    }
}
