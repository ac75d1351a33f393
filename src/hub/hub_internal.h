/* Shared between hub_cache.c (layout) and hub_download.c (network). */
#ifndef SY_HUB_HUB_INTERNAL_H
#define SY_HUB_HUB_INTERNAL_H

#include <stdbool.h>

#include "base/status.h"
#include "hub/hub.h"

/* <cache>/models--org--name, malloc'd. */
char *hub_repo_dir(const struct hub_options *o, const char *id);

/* True for 40 lowercase hex digits (a git commit). */
bool hub_is_commit(const char *rev);

/* mkdir -p. */
enum sy_status hub_mkdirs(const char *path, struct sy_error *err);

/* Links snapshots/<commit>/<file> to ../../blobs/<etag> (with one more "../" per '/' in file),
 * replacing an existing link. */
enum sy_status hub_link_snapshot(const char *repo_dir, const char *commit, const char *file,
                                 const char *etag, struct sy_error *err);

/* Writes refs/<rev> = commit (atomically: a temporary file renamed). */
enum sy_status hub_write_ref(const char *repo_dir, const char *rev, const char *commit,
                             struct sy_error *err);

/* A file name from the Hub is safe to put under snapshots/: relative, no "..", no "//",
 * no backslash or control characters. */
bool hub_file_name_safe(const char *name);

#endif
