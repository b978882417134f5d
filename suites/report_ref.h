/* report_ref.h — `report --ref-db`: the reference method of the paired
 * differences taken from a run of another results database (a method that
 * ran alone, or the same prompts run earlier), paired case by case with the
 * reported run by task, case index and prompt hash. */
#ifndef PURBO_REPORT_REF_H
#define PURBO_REPORT_REF_H

#include <stdint.h>

#include "base/common.h"
#include "results/db.h"

typedef struct {
    int64_t run;        /* the reference run in the other database */
    int paired;         /* its cases of the method that pair with the reported run's */
    int other_prompt;   /* its cases at a (task, case index) of the reported run with another prompt */
} report_ref;

/* Makes the reported run of db (opened read-only) hold, for the rest of the
 * connection, the cases of method `method` of run ref_run of ref_path
 * ("last": the newest run that has that method), where they pair by prompt:
 * a TEMP copy of the run's suite_cases shadows the table, so every reader
 * (report's tables, the statistics, RULER's effective length) sees them as
 * the run's own. The files are not written. 0 + *err (exit 2 at the CLI):
 * ref_path not a results database, no such run or method there, or the
 * reported run has a method of that name itself. */
int report_ref_attach(pb_db *db, int64_t run, const char *method, const char *ref_path, const char *ref_run,
                      report_ref *out, pb_err *err);

#endif
