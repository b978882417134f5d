/* hash.h — FNV-1a 64, the one non-cryptographic hash of the project: the
 * plan file's checksum and model identity, a suite's config hash, a prompt's
 * hash, the calibration text's fingerprint. Stable across machines and
 * builds, so stored hashes stay comparable; never change the constants. */
#ifndef PURBO_HASH_H
#define PURBO_HASH_H

#include <stddef.h>
#include <stdint.h>

#define PB_FNV1A64_INIT 0xcbf29ce484222325ULL
/* Continues an FNV-1a 64 hash h over n bytes. */
uint64_t pb_fnv1a64(uint64_t h, const void *p, size_t n);

#endif
