/* merge.h — `purbo-bench merge`: joins the shards of one suite run (run
 * --shard i/n, each in its own database) into one run of another database.
 *
 * What a merge takes from each input file: its newest shard run (a run with
 * shard_index set), all of that run's rows: suite_cases, bench + suite_bench,
 * kernel_timings (linked to its bench rows) and its runs row (kept in
 * run_parts). A run holding rows the merge cannot place (another table, a
 * bench row without its suite_bench link) is refused, so nothing is lost.
 *
 * Refused, one line naming the file, exit status 2, OUT untouched:
 *   - shards of different runs: config hash, model fingerprint, shard count,
 *     selection (--only, --methods) or commit differ from the first file's;
 *   - a shard missing, or a shard run not done (killed, failed), unless
 *     partial: then the merged run records incomplete = 1;
 *   - a pair present twice (two files, or a file and OUT's merged run) with
 *     different results: every column but the row ids, created_at and, for
 *     accuracy cases, the timings t_prefill and t_decode.
 * The merged run is the newest run of OUT with the same config hash and
 * selection that a merge made (shard_count set, shard_index NULL); a new
 * one when there is none. Its rows are written in pair order (shard.h), the
 * order an unsharded run writes them in, so report, compare, export and plot
 * read it as they read the unsharded run. Its runs row is the first shard's
 * (config, model, commit, build, device) with started_at the earliest of the
 * parts, finished_at the latest, status done unless a part is not, and the
 * Slurm ids of the merging process (the array job id when all parts share
 * one).
 *
 * All-or-nothing: the merge writes a copy of OUT (a new file when OUT does
 * not exist) in one transaction and renames it over OUT at the end; any
 * failure, a runtime one included, removes the copy and leaves OUT as it
 * was. Merging what OUT already holds changes nothing (OUT is not
 * rewritten). No other process may have OUT open meanwhile.
 */
#ifndef PURBO_MERGE_H
#define PURBO_MERGE_H

#include <stdint.h>
#include <stdio.h>

#include "results/db.h"

typedef struct {
    const char *out;            /* the merged database */
    const char *const *in;      /* the shards' databases */
    int n_in;
    int partial;                /* merge without missing or unfinished shards */
    const char *command;        /* recorded as the merged run's command */
} merge_opts;

typedef struct {
    int64_t run;                /* the merged run's id in OUT */
    int added;                  /* pairs written now */
    int present;                /* pairs OUT's run held already (or given twice) */
    int shards_done, shard_count;
    int changed;                /* 0: OUT was left as it was (nothing new) */
} merge_result;

/* Merges. Returns 0, or 2 with *err filled (bad input: nothing written).
 * Runtime failures exit 1, the copy removed. */
int merge_run(const merge_opts *o, merge_result *res, pb_err *err);

/* One line on stderr saying what the merge did, then the merged run's
 * report (runner_report) on f. */
void merge_print(const merge_opts *o, const merge_result *r, FILE *f);

/* ---- between merge.c and merge_parts.c -------------------------------- */

/* What merge_parts.c reads of each input's shard run. */
typedef struct {
    const char *path;           /* as given */
    char *real;                 /* its absolute path (run_parts.source) */
    int64_t run;                /* the shard run's id in that file */
    int shard_index, shard_count;
    char *config_hash, *model_fp, *scope, *git_sha, *status, *notes;
    int pairs;                  /* suite_cases + suite_bench rows */
} merge_part;

/* Reads and checks the inputs (one part per file, in the order given) as
 * merge.h says (of one run, each done unless partial); *incomplete: some
 * part is not done. 0 + *err at the first problem. */
int merge_parts_read(const merge_opts *o, merge_part *parts, int *incomplete, pb_err *err);
/* done[1..count]: the shards done among the inputs and OUT's merged run.
 * 0 + *err naming the missing ones, unless partial. */
int merge_missing(const merge_opts *o, int count, const unsigned char *done, pb_err *err);
void merge_parts_free(merge_part *parts, int n);

#endif
