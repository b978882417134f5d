/* plot_palette.c — one colour, point type and legend text per method, the
 * same in every chart (plot_kit.h): the methods of the suites (suites/default.yaml and the
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
 * 10/11 inverted triangle, 12/13 diamond, 14/15 pentagon (open/filled).
 * Colours: Okabe and Ito's eight colour-blind-safe colours (black #000000,
 * orange #e69f00, sky blue #56b4e9, bluish green #009e73, yellow #f0e442,
 * blue #0072b2, vermillion #d55e00, reddish purple #cc79a7; yellow unused:
 * it does not show on white), then Paul Tol's muted scheme (indigo
 * #332288, cyan #88ccee, teal #44aa99, green #117733, olive #999933, sand
 * #ddcc77, rose #cc6677, wine #882255, purple #aa4499), also built for
 * colour-blind readers. Every entry has its own point type as well, so no
 * chart tells methods apart by hue alone. */
const plot_style plot_palette[] = {
    /* suite methods: dense in black, the baseline of every chart */
    {"dense", "#000000", 7, "dense: full attention"},
    {"streaming", "#e69f00", 5, "streaming: StreamingLLM, sinks + window"},
    {"duo", "#56b4e9", 9, "duo: DuoAttention, retrieval heads dense, the rest sinks + window"},
    {"quest", "#009e73", 11, "quest: Quest, top-k pages in decode"},
    {"topk-oracle", "#cc79a7", 13, "topk-oracle: top-k blocks by exact scores"},
    {"topp-oracle", "#882255", 15, "topp-oracle: top-p blocks by exact scores"},
    {"rtpurbo", "#0072b2", 6, "rtpurbo: RTPurbo, top-p blocks by an indexer (PCA, or trained ones from a plan)"},
    {"rtpurbo-trained", "#d55e00", 4, "rtpurbo-trained: RTPurbo with trained indexers"},
    {"rtpurbo-topk", "#332288", 8, "rtpurbo-topk: RTPurbo, top-k blocks"},
    /* attention kernel implementations (bench 'attention' rows' impl) */
    {"purbo", "#cc6677", 12, "purbo: our flash attention kernels"},
    {"sdpa_cudnn", "#117733", 10, "sdpa_cudnn: torch SDPA, cuDNN backend"},
    {"sdpa_fa2", "#88ccee", 14, "sdpa_fa2: torch SDPA, FlashAttention-2 backend"},
    {"flex", "#999933", 3, "flex: torch FlexAttention"},
    {NULL, NULL, 0, NULL},
};

/* for names outside the table: the rest of Tol's muted scheme and a grey,
 * none of them a colour of plot_palette */
static const char *const SPARE[] = {"#44aa99", "#ddcc77", "#aa4499", "#777777"};
static const int SPARE_PT[] = {1, 2};

plot_style plot_style_of(const char *name)
{
    for (const plot_style *s = plot_palette; s->name; s++)
        if (!strcmp(s->name, name)) return *s;
    uint64_t h = pb_fnv1a64(PB_FNV1A64_INIT, name, strlen(name));
    return (plot_style){name, SPARE[h % (sizeof SPARE / sizeof SPARE[0])],
                        SPARE_PT[(h >> 32) % (sizeof SPARE_PT / sizeof SPARE_PT[0])], name};
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
    char labels[8192] = "";
    for (const char *p = names; *p;) {
        size_t w = strcspn(p, " ");
        if (w) {
            char name[128];
            plot_fmt(name, sizeof name, "%.*s", (int)w, p);
            plot_linetype(out, n, ++k, name, 0);
            size_t l = strlen(labels);
            plot_fmt(labels + l, sizeof labels - l, "%s\"%s\"", k > 1 ? ", " : "", plot_style_of(name).words);
        }
        p += w + (p[w] == ' ');
    }
    size_t l = strlen(out);
    if (k) plot_fmt(out + l, n - l, "array purbo_label[%d] = [%s]\n", k, labels);
}
