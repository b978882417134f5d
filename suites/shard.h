/* shard.h — splitting a suite run into shards (`run --shard i/n`).
 *
 * A suite's (case, method) pairs are numbered over its whole grid: tasks in
 * file order, each task's cases in order (gen.h, throughput.h), each case's
 * methods in file order; pair = base(task) + case * n_methods + method.
 * That is the order an unsharded run writes them in, and the number is
 * stored with every row (suite_cases.pair, suite_bench.pair), so a merge
 * can write the shards' rows back in that order.
 *
 * The plan gives every selected pair to one of n shards, a pure function of
 * the suite, the selection and n: the same on every machine, so each shard
 * computes the whole plan and keeps its own part. It balances expected cost
 * (shard_cost: longer contexts cost more, superlinearly) by the longest-first
 * rule: pairs by cost, highest first (ties: lower pair number first), each
 * to the shard with the least cost so far (ties: the lower shard). The
 * longest pairs thus land in different shards, and no shard exceeds another
 * by more than the cost of one pair.
 */
#ifndef PURBO_SHARD_H
#define PURBO_SHARD_H

#include <stddef.h>

#include "suites/suite.h"

/* The most shards a run may be split into. */
#define SHARD_MAX 4096

/* Parses "I/N" (decimal, 1 <= I <= N <= SHARD_MAX) into *index, *count.
 * 0 and a reason in why (e.g. "3/2: the shard index exceeds the count")
 * when it is not one. */
int shard_parse(const char *text, int *index, int *count, char *why, size_t why_len);

/* Cases of task t (accuracy or throughput). */
int shard_n_cases(const suite_task *t);
/* Pairs in the suite's whole grid. */
int shard_n_pairs(const suite *s);
/* The pair number of (task ti, case ci, method mi). */
int shard_pair(const suite *s, int ti, int ci, int mi);

/* The expected cost of case ci of task t, in units of one prompt token at
 * a short context: (prompt + 16 per decode step) x (1 + context / 32768)
 * for accuracy cases; throughput cases count their timed and warm-up
 * repeats the same way. Crude, but monotone in what dominates. */
double shard_cost(const suite_task *t, int ci);

/* The plan: out[pair] = the shard (1..count) of each pair with on[pair]
 * set, 0 for the others; on and out hold shard_n_pairs(s) entries. Returns
 * out (malloc'd). load[count] (may be NULL) gets each shard's total cost. */
int *shard_plan(const suite *s, const unsigned char *on, int count, double *load);

#endif
