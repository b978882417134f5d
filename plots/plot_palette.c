/* plot_palette.c — one colour and point type per method, the same in every
 * chart (plot_kit.h): the methods of the suites (suites/default.yaml and the
 * others) and the attention kernel implementations (purbo's own and the
 * peers of suites/peers).
 *
 * Invariants: no two fixed entries share a colour or a point type; a name
 * outside the table gets a colour of SPARE (none of them a fixed colour)
 * and a point type of SPARE_PT (none of them a fixed one), both chosen by
 * the FNV-1a hash of the name, so an unknown method too keeps its style
 * from chart to chart and run to run. Changing an entry recolours the
 * charts of old runs as well; add entries rather than reorder them.
 */
#include <string.h>

#include "base/hash.h"
#include "plots/plot_kit.h"

/* pngcairo point types: 1 +, 2 x, 3 *, 4/5 square, 6/7 circle, 8/9 triangle,
 * 10/11 inverted triangle, 12/13 diamond, 14/15 pentagon (open/filled). */
const plot_style plot_palette[] = {
    /* suite methods: dense in black, the baseline of every chart */
    {"dense", "#000000", 7},
    {"streaming", "#e69f00", 5},
    {"duo", "#56b4e9", 9},
    {"quest", "#009e73", 11},
    {"topk-oracle", "#cc79a7", 13},
    {"topp-oracle", "#8c564b", 15},
    {"rtpurbo", "#0072b2", 6},
    {"rtpurbo-trained", "#d55e00", 4},
    {"rtpurbo-topk", "#7b3294", 8},
    /* attention kernel implementations (bench 'attention' rows' impl) */
    {"purbo", "#e31a1c", 12},
    {"sdpa_cudnn", "#76b900", 10},
    {"sdpa_fa2", "#17becf", 14},
    {"flex", "#bcbd22", 3},
    {NULL, NULL, 0},
};

/* for names outside the table: none of these is a colour of plot_palette,
 * and each stands apart from them (grey, magenta, dark red, navy, dark
 * olive, gold) */
static const char *const SPARE[] = {"#999999", "#ff00ff", "#8b0000", "#000080", "#556b2f", "#ffd700"};
static const int SPARE_PT[] = {1, 2};

plot_style plot_style_of(const char *name)
{
    for (const plot_style *s = plot_palette; s->name; s++)
        if (!strcmp(s->name, name)) return *s;
    uint64_t h = pb_fnv1a64(PB_FNV1A64_INIT, name, strlen(name));
    return (plot_style){name, SPARE[h % (sizeof SPARE / sizeof SPARE[0])],
                        SPARE_PT[(h >> 32) % (sizeof SPARE_PT / sizeof SPARE_PT[0])]};
}

void plot_linetype(char *out, size_t n, int k, const char *name, int dt)
{
    plot_style s = plot_style_of(name);
    size_t l = strlen(out);
    if (dt > 0) plot_fmt(out + l, n - l, "set linetype %d lc rgb '%s' pt %d dt %d\n", k, s.rgb, s.pt, dt);
    else plot_fmt(out + l, n - l, "set linetype %d lc rgb '%s' pt %d\n", k, s.rgb, s.pt);
}

void plot_linetypes(char *out, size_t n, const char *names)
{
    int k = 0;
    for (const char *p = names; *p;) {
        size_t w = strcspn(p, " ");
        if (w) {
            char name[128];
            plot_fmt(name, sizeof name, "%.*s", (int)w, p);
            plot_linetype(out, n, ++k, name, 0);
        }
        p += w + (p[w] == ' ');
    }
}
