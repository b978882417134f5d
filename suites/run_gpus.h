/* run_gpus.h — `run SUITE --gpus 0,1,...`: one shard per device on this
 * host, then one merge.
 *
 * With n devices, shard i of n (shard.h) runs as a child process
 *     purbo-bench run SUITE --shard i/n --db BASE.shard-i-of-n.db
 *         --progress lines [the other options as given]
 * with CUDA_VISIBLE_DEVICES set to the i-th device id, its output in
 * BASE.shard-i-of-n.log (BASE: the --db path without its ".db"). When all
 * have ended with status 0, or 1 (done, some pairs failed), the shards are
 * merged into --db (merge.h; with failed shards as merge --partial: the run
 * is marked failed, as an unsharded one would be) and its report printed. The ids are passed on as they are (CUDA takes indices or
 * GPU-UUIDs); on the CPU backend they only name the children, so the same
 * path runs without a GPU. SIGINT and SIGTERM are passed to the children,
 * which keep what they committed: --resume continues every shard.
 */
#ifndef PURBO_RUN_GPUS_H
#define PURBO_RUN_GPUS_H

#include "results/db.h"

/* gpus: the comma list as given; db: the merged database; plots: a folder
 * for the merged run's plots, or NULL; argc/argv: `run`'s arguments (argv[0]
 * "run"), passed on but for --gpus, --db, --plots and --progress. Returns
 * the exit status: 0, 1 (a shard failed, or the merge was refused), 2 (bad
 * input: *err filled, or a shard said so in its log) or 130 (interrupted). */
int run_gpus(const char *gpus, const char *db, const char *plots, int argc, char **argv, pb_err *err);

/* Checks a --gpus list: comma-separated ids of letters, digits and '-',
 * none empty or given twice. Returns the number of ids, or 0 with a reason
 * in why. */
int gpus_parse(const char *gpus, char *why, size_t why_len);

#endif
