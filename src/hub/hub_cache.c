/* The Hugging Face cache layout (see hub.h): where it is, how ids map to folders, and how a
 * snapshot is resolved and linked. Nothing here touches the network. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "hub/hub_internal.h"

static void env_copy(char *dst, size_t cap, const char *name, const char *dflt)
{
	const char *v = getenv(name);
	snprintf(dst, cap, "%s", v && *v ? v : dflt);
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);
	return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
	             !strcasecmp(v, "on"));
}

void hub_options_from_env(struct hub_options *o)
{
	memset(o, 0, sizeof *o);
	env_copy(o->endpoint, sizeof o->endpoint, "HF_ENDPOINT", "https://huggingface.co");
	size_t n = strlen(o->endpoint);
	while (n > 0 && o->endpoint[n - 1] == '/')
		o->endpoint[--n] = '\0';
	env_copy(o->token, sizeof o->token, "HF_TOKEN", "");
	const char *hub_cache = getenv("HF_HUB_CACHE");
	const char *hf_home = getenv("HF_HOME");
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	if (hub_cache && *hub_cache)
		snprintf(o->cache_dir, sizeof o->cache_dir, "%s", hub_cache);
	else if (hf_home && *hf_home)
		snprintf(o->cache_dir, sizeof o->cache_dir, "%s/hub", hf_home);
	else if (xdg && *xdg)
		snprintf(o->cache_dir, sizeof o->cache_dir, "%s/huggingface/hub", xdg);
	else
		snprintf(o->cache_dir, sizeof o->cache_dir, "%s/.cache/huggingface/hub",
		         home && *home ? home : ".");
	snprintf(o->revision, sizeof o->revision, "main");
	o->offline = env_true("HF_HUB_OFFLINE");
	o->progress = isatty(STDERR_FILENO);
	o->timeout_s = 30;
}

static bool id_part_valid(const char *s, size_t n)
{
	if (n == 0 || n > 96 || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return false;
		if (i > 0 && ((c == '-' && s[i - 1] == '-') || (c == '.' && s[i - 1] == '.')))
			return false;
	}
	return s[n - 1] != '.' && s[n - 1] != '-';
}

bool hub_id_valid(const char *id)
{
	if (!id)
		return false;
	const char *slash = strchr(id, '/');
	if (!slash)
		return id_part_valid(id, strlen(id));
	if (strchr(slash + 1, '/'))
		return false;
	return id_part_valid(id, (size_t)(slash - id)) &&
	       id_part_valid(slash + 1, strlen(slash + 1));
}

bool hub_is_commit(const char *rev)
{
	size_t n = strlen(rev);
	if (n != 40)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)rev[i]) && (rev[i] < 'a' || rev[i] > 'f'))
			return false;
	return true;
}

bool hub_file_name_safe(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 512 || name[0] == '/' || name[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f || c == '\\')
			return false;
		if (c == '/' && name[i + 1] == '/')
			return false;
	}
	/* No "." or ".." component. */
	const char *p = name;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += len;
		if (*p == '/')
			p++;
	}
	return true;
}

char *hub_repo_dir(const struct hub_options *o, const char *id)
{
	size_t cap = strlen(o->cache_dir) + strlen(id) * 2 + 16;
	char *d = malloc(cap);
	if (!d)
		return NULL;
	size_t n = (size_t)snprintf(d, cap, "%s/models--", o->cache_dir);
	for (const char *p = id; *p; p++) {
		if (*p == '/') {
			d[n++] = '-';
			d[n++] = '-';
		} else {
			d[n++] = *p;
		}
	}
	d[n] = '\0';
	return d;
}

enum sy_status hub_mkdirs(const char *path, struct sy_error *err)
{
	char buf[2048];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "path too long: %s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return sy_error_set(err, SY_ERR_IO, "cannot create %s: %s", buf,
			                    strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return sy_error_set(err, SY_ERR_IO, "cannot create %s: %s", buf, strerror(errno));
	return SY_OK;
}

enum sy_status hub_link_snapshot(const char *repo_dir, const char *commit, const char *file,
                                 const char *etag, struct sy_error *err)
{
	char link[2048], target[2048], dir[2048];
	snprintf(link, sizeof link, "%s/snapshots/%s/%s", repo_dir, commit, file);
	snprintf(dir, sizeof dir, "%s", link);
	*strrchr(dir, '/') = '\0';
	enum sy_status s = hub_mkdirs(dir, err);
	if (s != SY_OK)
		return s;
	/* From snapshots/<commit>/<a/b/file> up to the repo folder: 2 + one per '/' in file. */
	size_t n = 0;
	n += (size_t)snprintf(target, sizeof target, "../../");
	for (const char *p = file; *p; p++)
		if (*p == '/')
			n += (size_t)snprintf(target + n, sizeof target - n, "../");
	snprintf(target + n, sizeof target - n, "blobs/%s", etag);
	unlink(link);
	if (symlink(target, link) != 0)
		return sy_error_set(err, SY_ERR_IO, "cannot link %s: %s", link, strerror(errno));
	return SY_OK;
}

enum sy_status hub_write_ref(const char *repo_dir, const char *rev, const char *commit,
                             struct sy_error *err)
{
	char path[2048], tmp[2100], dir[2048];
	snprintf(path, sizeof path, "%s/refs/%s", repo_dir, rev);
	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = '\0';
	enum sy_status s = hub_mkdirs(dir, err);
	if (s != SY_OK)
		return s;
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return sy_error_set(err, SY_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
	fputs(commit, f);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return sy_error_set(err, SY_ERR_IO, "cannot write %s: %s", path, strerror(errno));
	}
	return SY_OK;
}

/* Reads refs/<rev>: one line, a commit hash. */
static enum sy_status read_ref(const char *repo_dir, const char *rev, struct sy_error *err,
                               char commit[41])
{
	char *path = NULL;
	size_t cap = strlen(repo_dir) + strlen(rev) + 8;
	path = malloc(cap);
	if (!path)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	snprintf(path, cap, "%s/refs/%s", repo_dir, rev);
	char *text = NULL;
	size_t len = 0;
	struct sy_error ignored;
	enum sy_status s = sy_file_read(path, &ignored, &text, &len);
	free(path);
	if (s != SY_OK)
		return SY_ERR_NOT_FOUND;
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		text[--len] = '\0';
	if (!hub_is_commit(text)) {
		s = sy_error_set(err, SY_ERR_FORMAT, "%s/refs/%s does not hold a commit hash",
		                 repo_dir, rev);
		free(text);
		return s;
	}
	memcpy(commit, text, 41);
	free(text);
	return SY_OK;
}

enum sy_status hub_cache_resolve(const struct hub_options *o, const char *id, struct sy_error *err,
                                 char **dir_out)
{
	*dir_out = NULL;
	if (!hub_id_valid(id))
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "\"%s\" is not a Hugging Face model id", id);
	if (strstr(o->revision, "..") || o->revision[0] == '/' || !o->revision[0])
		return sy_error_set(err, SY_ERR_INVALID_ARG, "bad revision \"%s\"", o->revision);
	char *repo = hub_repo_dir(o, id);
	if (!repo)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	char commit[41];
	enum sy_status s = SY_OK;
	if (hub_is_commit(o->revision))
		memcpy(commit, o->revision, 41);
	else
		s = read_ref(repo, o->revision, err, commit);
	if (s == SY_ERR_NOT_FOUND)
		s = sy_error_set(err, SY_ERR_NOT_FOUND,
		                 "%s (revision %s) is not in the Hugging Face cache %s; run "
		                 "`switchyard models pull %s`",
		                 id, o->revision, o->cache_dir, id);
	if (s != SY_OK) {
		free(repo);
		return s;
	}
	size_t cap = strlen(repo) + 64;
	char *dir = malloc(cap);
	if (!dir) {
		free(repo);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	snprintf(dir, cap, "%s/snapshots/%s", repo, commit);
	free(repo);
	if (!sy_path_is_dir(dir)) {
		s = sy_error_set(err, SY_ERR_NOT_FOUND,
		                 "%s: snapshot %s is missing from the cache (%s)", id, commit, dir);
		free(dir);
		return s;
	}
	*dir_out = dir;
	return SY_OK;
}
