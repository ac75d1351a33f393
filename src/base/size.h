/* Byte counts as people write them in flags and config files: "512M", "2G", "1048576". */
#ifndef SY_BASE_SIZE_H
#define SY_BASE_SIZE_H

#include <stddef.h>

#include "base/status.h"

/* Parses a byte size: digits with an optional fraction and an optional K/M/G/T suffix (powers
 * of 1024, optionally followed by "B" or "iB"), e.g. "512M", "1.5G", "2GiB", "1048576".
 * Surrounding spaces are allowed; a count without a suffix must be whole. */
enum sy_status sy_size_parse(const char *s, struct sy_error *err, size_t *out);

#endif
