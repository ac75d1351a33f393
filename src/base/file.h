/* Whole-file reads and read-only memory maps. */
#ifndef SY_BASE_FILE_H
#define SY_BASE_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"

/* Reads the whole file into a malloc'd buffer with a trailing NUL (not counted in *len).
 * The caller frees *out with free(). */
enum sy_status sy_file_read(const char *path, struct sy_error *err, char **out, size_t *len);

/* A read-only mapping of a whole file. An empty file maps to data == NULL, len == 0. */
struct sy_mmap {
	const unsigned char *data;
	size_t len;
};

enum sy_status sy_mmap_open(const char *path, struct sy_error *err, struct sy_mmap *out);
void sy_mmap_close(struct sy_mmap *m);
/* Drops the resident pages of [p, p + n) (the whole pages inside it) from the mapping: a loader
 * that has copied or converted a tensor calls it so that the file's pages and the converted copy
 * are not both resident until the file is closed. Reading the range again faults the pages back
 * in from the file. A range outside m (or an empty m) is ignored. */
void sy_mmap_release(const struct sy_mmap *m, const void *p, size_t n);

bool sy_path_exists(const char *path);
bool sy_path_is_dir(const char *path);

/* Joins dir and name with one '/'; returns a malloc'd string or NULL on allocation failure. */
char *sy_path_join(const char *dir, const char *name);

#endif
