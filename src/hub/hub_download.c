/* Downloads from the Hugging Face Hub into the cache (see hub.h), with libcurl's easy
 * interface: a pull is a one-off, sequential job run by the CLI, never by a request thread. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "hub/hub_internal.h"

#define HUB_MAX_FILES 1000
#define HUB_MAX_LISTING (8u << 20) /* bytes of the file-list JSON */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- which files an encoder needs ---- */

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && !strcmp(s + n - m, suf);
}

/* A sentence-transformers module folder: "<digits>_<Name>". */
static bool is_module_dir(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && isdigit((unsigned char)s[i]))
		i++;
	return i > 0 && i + 1 < n && s[i] == '_';
}

static bool list_has(const char *const *all, int n_all, const char *dir, size_t dir_len,
                     const char *name)
{
	for (int i = 0; i < n_all; i++) {
		const char *f = all[i];
		if (dir_len) {
			if (strncmp(f, dir, dir_len) != 0)
				continue;
			f += dir_len;
		} else if (strchr(f, '/')) {
			continue;
		}
		if (!strcmp(f, name))
			return true;
	}
	return false;
}

bool hub_file_wanted(const char *name, const char *const *all, int n_all)
{
	if (!hub_file_name_safe(name))
		return false;
	const char *slash = strrchr(name, '/');
	const char *base = slash ? slash + 1 : name;
	size_t dir_len = slash ? (size_t)(slash - name) + 1 : 0;
	if (slash) {
		/* Only one level of sentence-transformers module folders (1_Pooling, 2_Dense). */
		if (memchr(name, '/', dir_len - 1) || !is_module_dir(name, dir_len - 1))
			return false;
	}
	if (!strcmp(base, "model.safetensors"))
		return true;
	if (!strcmp(base, "pytorch_model.bin"))
		return !list_has(all, n_all, name, dir_len, "model.safetensors");
	if (slash)
		return has_suffix(base, ".json");
	return has_suffix(base, ".json") || !strcmp(base, "vocab.txt") ||
	       !strcmp(base, "merges.txt") || has_suffix(base, ".model");
}

/* ---- HTTP ---- */

struct hub_http {
	CURL *curl;
	struct curl_slist *headers;
	const struct hub_options *o;
};

static enum sy_status http_open(const struct hub_options *o, struct sy_error *err,
                                struct hub_http *h)
{
	pthread_once(&curl_once, curl_init_once);
	memset(h, 0, sizeof *h);
	h->o = o;
	h->curl = curl_easy_init();
	if (!h->curl)
		return sy_error_set(err, SY_ERR_NOMEM, "cannot start libcurl");
	if (o->token[0]) {
		char auth[600];
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", o->token);
		h->headers = curl_slist_append(h->headers, auth);
	}
	return SY_OK;
}

static void http_close(struct hub_http *h)
{
	curl_slist_free_all(h->headers);
	if (h->curl)
		curl_easy_cleanup(h->curl);
}

static void http_reset(struct hub_http *h)
{
	curl_easy_reset(h->curl);
	curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "switchyard/0.1");
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT, h->o->timeout_s ? h->o->timeout_s : 30L);
	/* A transfer that moves nothing for the timeout is dead; a slow but moving one is not. */
	curl_easy_setopt(h->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h->curl, CURLOPT_LOW_SPEED_TIME, h->o->timeout_s ? h->o->timeout_s : 30L);
	curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h->curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h->curl, CURLOPT_MAXREDIRS, 5L);
}

/* The message for a failed Hub answer. */
static enum sy_status status_error(struct sy_error *err, long code, const char *id,
                                   const char *what)
{
	if (code == 401 || code == 403)
		return sy_error_set(
		    err, SY_ERR_IO,
		    "%s: %s: HTTP %ld: the repository is gated or private, or "
		    "HF_TOKEN is not accepted (set HF_TOKEN to a token with access)",
		    id, what, code);
	if (code == 404)
		return sy_error_set(err, SY_ERR_NOT_FOUND,
		                    "%s: %s: HTTP 404: no such repository, revision or file", id,
		                    what);
	return sy_error_set(err, SY_ERR_IO, "%s: %s: HTTP %ld from the Hub", id, what, code);
}

struct membuf {
	char *data;
	size_t len, cap, limit;
	bool over;
};

static size_t membuf_write(char *p, size_t size, size_t n, void *userdata)
{
	struct membuf *b = userdata;
	size_t add = size * n;
	if (b->len + add > b->limit) {
		b->over = true;
		return 0;
	}
	if (b->len + add + 1 > b->cap) {
		size_t cap = (b->len + add + 1) * 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, add);
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

/* Percent-encodes a path component set (keeps '/', unreserved characters). */
static void url_path_append(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(dst);
	for (; *s && n + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/')
			dst[n++] = (char)c;
		else
			n += (size_t)snprintf(dst + n, cap - n, "%%%02X", c);
	}
	dst[n] = '\0';
}

/* GET <endpoint>/api/models/<id>/revision/<rev>: the commit and the file names. */
static enum sy_status list_files(struct hub_http *h, const char *id, struct sy_error *err,
                                 char commit[41], char ***names_out, int *n_out)
{
	char url[2048];
	snprintf(url, sizeof url, "%s/api/models/%s/revision/", h->o->endpoint, id);
	url_path_append(url, sizeof url, h->o->revision);
	struct membuf b = {.limit = HUB_MAX_LISTING};
	http_reset(h);
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, membuf_write);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &b);
	CURLcode rc = curl_easy_perform(h->curl);
	long code = 0;
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code);
	enum sy_status s = SY_OK;
	if (b.over)
		s = sy_error_set(err, SY_ERR_LIMIT, "%s: the file list is over %u bytes", id,
		                 HUB_MAX_LISTING);
	else if (rc != CURLE_OK)
		s = sy_error_set(err, SY_ERR_IO, "%s: cannot reach %s: %s", id, h->o->endpoint,
		                 curl_easy_strerror(rc));
	else if (code != 200)
		s = status_error(err, code, id, "listing the files");
	cJSON *doc = s == SY_OK ? cJSON_ParseWithLength(b.data ? b.data : "", b.len) : NULL;
	free(b.data);
	if (s != SY_OK)
		return s;
	const cJSON *sha = cJSON_GetObjectItemCaseSensitive(doc, "sha");
	const cJSON *sib = cJSON_GetObjectItemCaseSensitive(doc, "siblings");
	if (!doc || !cJSON_IsString(sha) || !hub_is_commit(sha->valuestring) ||
	    !cJSON_IsArray(sib)) {
		cJSON_Delete(doc);
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: the Hub's file list has no \"sha\" commit or no "
		                    "\"siblings\" array",
		                    id);
	}
	memcpy(commit, sha->valuestring, 41);
	int n = cJSON_GetArraySize(sib);
	if (n > HUB_MAX_FILES) {
		cJSON_Delete(doc);
		return sy_error_set(err, SY_ERR_LIMIT, "%s: %d files (at most %d are handled)", id,
		                    n, HUB_MAX_FILES);
	}
	char **names = calloc((size_t)n + 1, sizeof *names);
	int k = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, sib)
	{
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(it, "rfilename");
		if (names && cJSON_IsString(f))
			names[k++] = strdup(f->valuestring);
	}
	cJSON_Delete(doc);
	if (!names)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	*names_out = names;
	*n_out = k;
	return SY_OK;
}

/* ---- one file ---- */

struct file_meta {
	char etag[160]; /* LFS sha256, else the git blob id */
	char commit[41];
	long long size; /* -1: unknown */
};

static void trim_value(char *v)
{
	size_t n = strlen(v);
	while (n > 0 && isspace((unsigned char)v[n - 1]))
		v[--n] = '\0';
}

/* Header lines of the HEAD answer. A redirect's own headers carry X-Linked-Etag and
 * X-Linked-Size for LFS files, which is why the HEAD does not follow redirects. */
static size_t meta_header(char *p, size_t size, size_t n, void *userdata)
{
	struct file_meta *m = userdata;
	size_t len = size * n;
	char line[512];
	if (len >= sizeof line)
		return len;
	memcpy(line, p, len);
	line[len] = '\0';
	char *colon = strchr(line, ':');
	if (!colon)
		return len;
	*colon = '\0';
	char *v = colon + 1;
	while (*v == ' ')
		v++;
	trim_value(v);
	if (!strncmp(v, "W/", 2))
		v += 2;
	if (*v == '"') {
		v++;
		char *q = strchr(v, '"');
		if (q)
			*q = '\0';
	}
	if (!strcasecmp(line, "x-linked-etag") || (!strcasecmp(line, "etag") && !m->etag[0]))
		snprintf(m->etag, sizeof m->etag, "%s", v);
	else if (!strcasecmp(line, "x-repo-commit"))
		snprintf(m->commit, sizeof m->commit, "%s", v);
	else if (!strcasecmp(line, "x-linked-size") ||
	         (!strcasecmp(line, "content-length") && m->size < 0))
		m->size = strtoll(v, NULL, 10);
	return len;
}

static bool etag_is_sha256(const char *e)
{
	if (strlen(e) != 64)
		return false;
	for (int i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)e[i]))
			return false;
	return true;
}

static bool etag_safe(const char *e)
{
	if (!e[0] || strlen(e) > 128)
		return false;
	for (const char *p = e; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
	return true;
}

static enum sy_status file_meta_get(struct hub_http *h, const char *id, const char *url,
                                    const char *file, struct sy_error *err, struct file_meta *m)
{
	memset(m, 0, sizeof *m);
	m->size = -1;
	http_reset(h);
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h->curl, CURLOPT_HEADERFUNCTION, meta_header);
	curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, m);
	CURLcode rc = curl_easy_perform(h->curl);
	long code = 0;
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK)
		return sy_error_set(err, SY_ERR_IO, "%s: %s: %s", id, file, curl_easy_strerror(rc));
	if (code != 200 && (code < 300 || code > 308))
		return status_error(err, code, id, file);
	if (!etag_safe(m->etag))
		return sy_error_set(err, SY_ERR_FORMAT, "%s: %s: the Hub sent no usable ETag", id,
		                    file);
	return SY_OK;
}

struct download {
	FILE *f;
	EVP_MD_CTX *sha;
	long long have; /* bytes in the file before this transfer */
	long long got; /* bytes written by this transfer */
	bool checked_status;
	bool restart; /* the server ignored the Range: start over */
	CURL *curl;
	const struct hub_options *o;
	const char *file;
	long long total;
	double last_print;
};

static size_t download_write(char *p, size_t size, size_t n, void *userdata)
{
	struct download *d = userdata;
	size_t len = size * n;
	if (!d->checked_status) {
		d->checked_status = true;
		long code = 0;
		curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &code);
		if (d->have > 0 && code == 200) {
			/* Full content instead of the rest: drop what we had. */
			if (fflush(d->f) != 0 || ftruncate(fileno(d->f), 0) != 0 ||
			    fseek(d->f, 0, SEEK_SET) != 0)
				return 0;
			d->have = 0;
			EVP_DigestInit_ex(d->sha, EVP_sha256(), NULL);
		}
	}
	if (fwrite(p, 1, len, d->f) != len)
		return 0;
	EVP_DigestUpdate(d->sha, p, len);
	d->got += (long long)len;
	return len;
}

static int download_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                             curl_off_t ultotal, curl_off_t ulnow)
{
	(void)ultotal;
	(void)ulnow;
	struct download *d = userdata;
	if (!d->o->progress)
		return 0;
	long long total = d->total > 0 ? d->total : (long long)dltotal + d->have;
	long long now = (long long)dlnow + d->have;
	double mb = 1.0 / (1 << 20);
	fprintf(stderr, "\r  %-40.40s %8.1f / %.1f MB %3d%%", d->file, now * mb, total * mb,
	        total > 0 ? (int)(100.0 * now / total) : 0);
	return 0;
}

/* Hashes the part of a file already on disk (a resumed download). */
static bool hash_existing(FILE *f, EVP_MD_CTX *sha, long long n)
{
	char buf[1 << 16];
	if (fseek(f, 0, SEEK_SET) != 0)
		return false;
	while (n > 0) {
		size_t want = n > (long long)sizeof buf ? sizeof buf : (size_t)n;
		if (fread(buf, 1, want, f) != want)
			return false;
		EVP_DigestUpdate(sha, buf, want);
		n -= (long long)want;
	}
	return fseek(f, 0, SEEK_END) == 0;
}

static enum sy_status download_blob(struct hub_http *h, const char *id, const char *url,
                                    const char *file, const struct file_meta *m, const char *blob,
                                    struct sy_error *err)
{
	char part[2200];
	snprintf(part, sizeof part, "%s.incomplete", blob);
	struct stat stt;
	long long have = stat(part, &stt) == 0 ? (long long)stt.st_size : 0;
	if (m->size >= 0 && have > m->size)
		have = 0;
	FILE *f = fopen(part, have > 0 ? "r+b" : "wb");
	if (!f)
		return sy_error_set(err, SY_ERR_IO, "cannot write %s: %s", part, strerror(errno));
	struct download d = {.f = f,
	                     .sha = EVP_MD_CTX_new(),
	                     .have = have,
	                     .curl = h->curl,
	                     .o = h->o,
	                     .file = file,
	                     .total = m->size};
	enum sy_status s = SY_OK;
	if (!d.sha || !EVP_DigestInit_ex(d.sha, EVP_sha256(), NULL))
		s = sy_error_set(err, SY_ERR_NOMEM, "cannot start SHA-256");
	if (s == SY_OK && have > 0 && !hash_existing(f, d.sha, have))
		s = sy_error_set(err, SY_ERR_IO, "cannot read %s", part);
	if (s == SY_OK) {
		http_reset(h);
		curl_easy_setopt(h->curl, CURLOPT_URL, url);
		curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, download_write);
		curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &d);
		curl_easy_setopt(h->curl, CURLOPT_NOPROGRESS, h->o->progress ? 0L : 1L);
		curl_easy_setopt(h->curl, CURLOPT_XFERINFOFUNCTION, download_progress);
		curl_easy_setopt(h->curl, CURLOPT_XFERINFODATA, &d);
		if (have > 0)
			curl_easy_setopt(h->curl, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)have);
		CURLcode rc = curl_easy_perform(h->curl);
		if (h->o->progress)
			fputc('\n', stderr);
		long code = 0;
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code);
		if (rc != CURLE_OK)
			s = sy_error_set(err, SY_ERR_IO,
			                 "%s: %s: download interrupted after %lld bytes (%s); run "
			                 "the pull again to resume",
			                 id, file, d.have + d.got, curl_easy_strerror(rc));
		else if (code != 200 && code != 206)
			s = status_error(err, code, id, file);
	}
	if (fclose(f) != 0 && s == SY_OK)
		s = sy_error_set(err, SY_ERR_IO, "cannot write %s: %s", part, strerror(errno));
	long long size = d.have + d.got;
	if (s == SY_OK && m->size >= 0 && size != m->size)
		s = sy_error_set(err, SY_ERR_IO, "%s: %s: got %lld bytes, the Hub announced %lld",
		                 id, file, size, m->size);
	if (s == SY_OK && etag_is_sha256(m->etag)) {
		unsigned char md[32];
		unsigned int md_len = 0;
		char hex[65];
		EVP_DigestFinal_ex(d.sha, md, &md_len);
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		if (strcasecmp(hex, m->etag) != 0) {
			unlink(part);
			s = sy_error_set(err, SY_ERR_FORMAT,
			                 "%s: %s: SHA-256 %s does not match the Hub's %s; the "
			                 "partial file was removed",
			                 id, file, hex, m->etag);
		}
	}
	EVP_MD_CTX_free(d.sha);
	if (s == SY_OK && rename(part, blob) != 0)
		s = sy_error_set(err, SY_ERR_IO, "cannot move %s into place: %s", part,
		                 strerror(errno));
	return s;
}

static enum sy_status pull_file(struct hub_http *h, const char *id, const char *repo,
                                const char *commit, const char *file, struct sy_error *err)
{
	char url[4096];
	snprintf(url, sizeof url, "%s/%s/resolve/%s/", h->o->endpoint, id, commit);
	url_path_append(url, sizeof url, file);
	struct file_meta m;
	enum sy_status s = file_meta_get(h, id, url, file, err, &m);
	if (s != SY_OK)
		return s;
	char blob[2100];
	snprintf(blob, sizeof blob, "%s/blobs/%s", repo, m.etag);
	struct stat st;
	bool cached = stat(blob, &st) == 0 && (m.size < 0 || (long long)st.st_size == m.size);
	if (!cached) {
		char blobs[2100];
		snprintf(blobs, sizeof blobs, "%s/blobs", repo);
		s = hub_mkdirs(blobs, err);
		if (s == SY_OK)
			s = download_blob(h, id, url, file, &m, blob, err);
		if (s != SY_OK)
			return s;
	} else if (h->o->progress) {
		fprintf(stderr, "  %-40.40s cached\n", file);
	}
	return hub_link_snapshot(repo, commit, file, m.etag, err);
}

enum sy_status hub_pull(const struct hub_options *o, const char *id, struct sy_error *err,
                        char **dir_out)
{
	*dir_out = NULL;
	if (!hub_id_valid(id))
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "\"%s\" is not a Hugging Face model id", id);
	if (o->offline) {
		enum sy_status s = hub_cache_resolve(o, id, err, dir_out);
		if (s == SY_ERR_NOT_FOUND)
			sy_error_prefix(err, "offline (HF_HUB_OFFLINE is set)");
		return s;
	}
	struct hub_http h;
	enum sy_status s = http_open(o, err, &h);
	if (s != SY_OK)
		return s;
	char commit[41];
	char **names = NULL;
	int n = 0;
	s = list_files(&h, id, err, commit, &names, &n);
	char *repo = s == SY_OK ? hub_repo_dir(o, id) : NULL;
	if (s == SY_OK && !repo)
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	int wanted = 0;
	bool has_config = false;
	for (int i = 0; s == SY_OK && i < n; i++) {
		if (!hub_file_wanted(names[i], (const char *const *)names, n))
			continue;
		wanted++;
		has_config |= !strcmp(names[i], "config.json") || !strcmp(names[i], "model.json");
		s = pull_file(&h, id, repo, commit, names[i], err);
	}
	if (s == SY_OK && (!wanted || !has_config))
		s = sy_error_set(err, SY_ERR_UNSUPPORTED,
		                 "%s: the repository has no config.json (%d of %d files usable); "
		                 "it is not a model Switchyard can load",
		                 id, wanted, n);
	if (s == SY_OK && !hub_is_commit(o->revision))
		s = hub_write_ref(repo, o->revision, commit, err);
	if (s == SY_OK) {
		size_t cap = strlen(repo) + 64;
		*dir_out = malloc(cap);
		if (*dir_out)
			snprintf(*dir_out, cap, "%s/snapshots/%s", repo, commit);
		else
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(repo);
	http_close(&h);
	return s;
}
