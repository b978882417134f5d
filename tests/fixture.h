/* fixture.h — the bundled model and its tokenizer, loaded once per test run
 * and shared by every test that needs them (loading dequantizes ~135M
 * weights, so it is done once). */
#ifndef PURBO_FIXTURE_H
#define PURBO_FIXTURE_H

#include "model/model.h"
#include "model/tokenizer.h"
#include "results/db.h"

const model *fixture_model(void);
const tokenizer *fixture_tok(void);
/* The same for Gemma-3-270M (test_gemma_path; the model is ~1.1 GB of f32
 * weights, the tokenizer reads the file without them). */
const model *fixture_gemma(void);
const tokenizer *fixture_gemma_tok(void);

/* Reads a whole file into a NUL-terminated buffer (NULL if unreadable). */
char *fixture_read(const char *path, size_t *len);

/* A fresh folder /tmp/purbo-TAG-XXXXXX, mode 0755 (malloc'ed path; exits
 * on failure), and its removal with everything in it (frees dir). */
char *fixture_tmpdir(const char *tag);
void fixture_rmtree(char *dir);

/* Runs `purbo-bench ARGS` (test_bin_path) with stdout discarded and stderr
 * captured; returns the exit status (-1 if it did not exit), fills err with
 * stderr and *lines with its line count. */
int fixture_run_bin(const char *args, char *err, size_t errlen, int *lines);

/* Runs the shell line cmd with its stdout captured into out (at most cap - 1
 * bytes, NUL-terminated); returns the exit status, -1 if it did not start or
 * exit. */
int fixture_shell(const char *cmd, char *out, size_t cap);

/* One synthetic accuracy case of run (a suite_cases row of suite 'pal':
 * task, method, its policy (NULL: the method's name), case_index, context,
 * score, density; the rest fixed). */
void fixture_case_row(pb_db *db, int64_t run, const char *task, const char *method, const char *policy, int index,
                      int context, double score, double density);
/* One synthetic throughput case of run (a bench row of n timed repeats t[],
 * tokens = context, linked by a suite_bench row of suite 'pal'). */
void fixture_bench_row(pb_db *db, int64_t run, const char *task, const char *method, int index, int context,
                       const char *phase, const double *t, int n);

#endif
