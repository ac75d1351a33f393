/* Hugging Face Hub models: the standard cache layout and downloads into it.
 *
 * A Hub id ("BAAI/bge-small-en-v1.5") names a repository. Files live in the cache that the
 * Python libraries share (huggingface_hub):
 *
 *   <cache>/models--BAAI--bge-small-en-v1.5/
 *       refs/main                      the commit the revision "main" pointed at
 *       blobs/<etag>                   file contents, named by git sha1 or LFS sha256
 *       snapshots/<commit>/<file>      relative symlinks into blobs/
 *
 * <cache> is $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
 * ~/.cache/huggingface/hub. Downloads come from $HF_ENDPOINT (default https://huggingface.co)
 * with $HF_TOKEN as a bearer token; $HF_HUB_OFFLINE=1 forbids the network.
 *
 * A pull lists the repository's files (GET /api/models/<id>/revision/<rev>), keeps those an
 * encoder needs (configs, tokenizer files, sentence-transformers modules, one weights file:
 * model.safetensors, else pytorch_model.bin), and downloads each one that is not cached yet:
 * into blobs/<etag>.incomplete first, resumed with a Range request when a previous attempt
 * left part of it, checked against the LFS sha256 when the Hub gives one, then renamed and
 * linked from the snapshot. refs/<rev> is written last, so a snapshot reached through a ref is
 * complete. */
#ifndef SY_HUB_HUB_H
#define SY_HUB_HUB_H

#include <stdbool.h>

#include "base/status.h"

struct hub_options {
	char endpoint[512]; /* no trailing '/' */
	char token[512]; /* "" when none */
	char cache_dir[1024];
	char revision[256]; /* "main" by default */
	bool offline;
	bool progress; /* a progress bar on stderr */
	long timeout_s; /* per request without progress; 0: 30 s */
};

/* Fills o from the environment (see the top of this file); progress when stderr is a tty. */
void hub_options_from_env(struct hub_options *o);

/* True when id has the Hub's shape: "name" or "org/name", each part 1-96 characters of
 * [A-Za-z0-9._-], not starting with '.' or '-', without "--" or "..". Paths such as
 * "../x" or "/etc" are never Hub ids. */
bool hub_id_valid(const char *id);

/* The snapshot directory of id at o->revision when the cache holds it (a commit hash is
 * looked up directly, a branch or tag through refs/). *dir_out is malloc'd. Fails with
 * SY_ERR_NOT_FOUND when it is not cached. Never uses the network. */
enum sy_status hub_cache_resolve(const struct hub_options *o, const char *id, struct sy_error *err,
                                 char **dir_out);

/* Downloads what id needs into the cache (skipping files already there) and returns the
 * snapshot directory. Offline, it behaves as hub_cache_resolve. Errors name the repository
 * and the file: 401/403 "gated or private: set HF_TOKEN", 404 "not found", a checksum
 * mismatch, a network failure (with curl's message). */
enum sy_status hub_pull(const struct hub_options *o, const char *id, struct sy_error *err,
                        char **dir_out);

/* Resolves a model as a user named it. An existing path, or a name that is not an
 * "org/name" Hub id, is left alone (*dir_out = NULL, SY_OK: the caller uses the name as it is). A Hub id
 * resolves to its cached snapshot; when it is not cached and allow_download is set (and
 * HF_HUB_OFFLINE is not), it is pulled first. Options come from the environment. */
enum sy_status hub_resolve_model(const char *name, bool allow_download, struct sy_error *err,
                                 char **dir_out);

/* Whether a repository file is one hub_pull downloads, given the whole file list (the
 * weights choice depends on what else is there). Exposed for tests. */
bool hub_file_wanted(const char *name, const char *const *all, int n_all);

#endif
