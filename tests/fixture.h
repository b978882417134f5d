/* fixture.h — the bundled model and its tokenizer, loaded once per test run
 * and shared by every test that needs them (loading dequantizes ~135M
 * weights, so it is done once). */
#ifndef PURBO_FIXTURE_H
#define PURBO_FIXTURE_H

#include "model.h"
#include "tokenizer.h"

const model *fixture_model(void);
const tokenizer *fixture_tok(void);

/* Reads a whole file into a NUL-terminated buffer (NULL if unreadable). */
char *fixture_read(const char *path, size_t *len);

#endif
