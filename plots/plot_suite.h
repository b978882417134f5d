/* plot_suite.h — the suite plots of one run, drawn from the results
 * database only (never from suite files):
 *
 *   suite_niah_TASK.png  NIAH heatmap per niah task: needle depth x context
 *                        length, one panel per method, colour = mean score
 *   suite_scores.png     score per task and method (clustered bars, 95% interval
 *                        as an error bar: results/score_cells.h)
 *   suite_density.png    score vs attention density, one point per (method, task)
 *   suite_frontier.png   the score-density frontier: per method its score (every
 *                        case pooled) with its 95% interval against its density,
 *                        the methods of one family (a method and its sweep's
 *                        points, METHOD@KNOB=VALUE) joined by rising density;
 *                        the envelope of the exact oracles' points (topp-oracle,
 *                        topk-oracle) as the upper frontier, streaming's as the lower
 *   suite_throughput.png throughput (tok/s) and speedup over dense vs
 *                        context length, one line per (task, shape, phase, method);
 *                        model-level rows (bench 'forward')
 *   suite_attention.png  attention-level rows (bench 'attention'): a panel per
 *                        (shape, phase), TFLOP/s (prefill) or GB/s (decode) vs
 *                        context length, one line per impl (purbo and the peers),
 *                        p10..p90 bars; the card (runs.device) in the title
 *   suite_attention_ratio.png  t(sdpa_cudnn) / t(impl) on the same panels
 *                        (when the run has sdpa_cudnn rows)
 *
 * Each plot's data goes to OUTDIR/NAME.dat and its script (plots/suite_*.gp,
 * embedded in the binary: plot_kit.h) to OUTDIR, then gnuplot (pngcairo)
 * draws it there. A plot with no data in the run is skipped. Each method
 * (and each attention impl) is drawn in its palette colour and point type
 * (plot_style_of, plot_kit.h), the same in every chart. `run --plots
 * DIR` calls this after a run; `purbo-bench plot` runs the same charts as
 * one family of its table (plot_suite_charts, plot_kit.h).
 */
#ifndef PURBO_PLOT_SUITE_H
#define PURBO_PLOT_SUITE_H

#include <stdint.h>

#include "results/db.h"

/* Draws every plot the run has data for into outdir (created if missing),
 * printing "plot: PATH" per PNG on stdout. Returns the number of PNGs, or
 * -1 + *err when outdir cannot be created. gnuplot missing or failing is a
 * runtime error (exit 1). */
int plot_suite(pb_db *db, int64_t run, const char *outdir, pb_err *err);

#endif
