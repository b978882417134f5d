/* runner_fixture.h — helpers shared by the suite-runner tests
 * (test_runner.c defines them, test_compare.c uses them too): running the
 * purbo-bench binary with its output captured, a scratch folder, integer
 * queries on a results database, and one tiny suite run shared by every
 * test that only reads it (the real model at 256 tokens, a few seconds a
 * case, so it is run once).
 */
#ifndef PURBO_RUNNER_FIXTURE_H
#define PURBO_RUNNER_FIXTURE_H

/* The scratch folder of this test process (removed at exit). */
const char *rt_dir(void);
/* Writes text to rt_dir()/name; returns the path (static per name slot). */
char *rt_write(const char *name, const char *text);
/* Runs `purbo-bench ARGS` (a shell line after the binary); *out and *err
 * (may be NULL) get malloc'd stdout and stderr. Returns the exit status,
 * or -signal. */
int rt_run(const char *args, char **out, char **err);
/* The first column of the first row of sql on db, as an integer (-1: no
 * row or an error). */
long long rt_query(const char *db, const char *sql);
/* The database of the shared tiny run (run 1: passkey and niah at 256
 * tokens, 2 cases each, and a 2-case throughput task), or NULL when that
 * run failed (the message is printed). */
const char *rt_tiny_db(void);

#endif
