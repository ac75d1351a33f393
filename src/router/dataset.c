/* Labelled data for routers: the CSV parser and the loaders of the formats the intent and
 * RouteLLM datasets ship in (see dataset.h). */
#include "router/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/file.h"

#define CSV_MAX_FIELDS 16

void dataset_free(struct dataset *d)
{
	for (int i = 0; i < d->n; i++) {
		free(d->text[i]);
		free(d->label ? d->label[i] : NULL);
	}
	free(d->text);
	free(d->label);
	free(d->weak_ok);
	free(d->strong_ok);
	memset(d, 0, sizeof *d);
}

static enum sy_status dataset_grow(struct dataset *d, struct sy_error *err)
{
	const int cap = d->cap ? 2 * d->cap : 1024;
	char **t = realloc(d->text, (size_t)cap * sizeof *t);
	if (t)
		d->text = t;
	char **l = realloc(d->label, (size_t)cap * sizeof *l);
	if (l)
		d->label = l;
	bool *w = realloc(d->weak_ok, (size_t)cap * sizeof *w);
	if (w)
		d->weak_ok = w;
	bool *s = realloc(d->strong_ok, (size_t)cap * sizeof *s);
	if (s)
		d->strong_ok = s;
	if (!t || !l || !w || !s)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	d->cap = cap;
	return SY_OK;
}

enum sy_status dataset_push(struct dataset *d, const char *text, size_t text_len, const char *label,
                            bool weak_ok, bool strong_ok)
{
	if (d->n == d->cap && dataset_grow(d, NULL) != SY_OK)
		return SY_ERR_NOMEM;
	char *t = strndup(text, text_len), *l = strdup(label ? label : "");
	if (!t || !l) {
		free(t);
		free(l);
		return SY_ERR_NOMEM;
	}
	d->text[d->n] = t;
	d->label[d->n] = l;
	d->weak_ok[d->n] = weak_ok;
	d->strong_ok[d->n] = strong_ok;
	d->n++;
	return SY_OK;
}

void dataset_truncate(struct dataset *d, int n)
{
	while (d->n > n && d->n > 0) {
		d->n--;
		free(d->text[d->n]);
		free(d->label[d->n]);
	}
}

static enum sy_status push_or_fail(struct dataset *d, const char *text, const char *label,
                                   bool weak_ok, bool strong_ok, struct sy_error *err)
{
	if (dataset_push(d, text, strlen(text), label, weak_ok, strong_ok) != SY_OK)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	return SY_OK;
}

/* ---- CSV ---- */

/* One field at *p (quoted or not), unquoted in place; *p moves past its separator, which is
 * returned (',' or '\n', also at the end of the text). *line counts the newlines crossed. */
static enum sy_status csv_field(char **p, char *end, const char *name, int row_line, int *line,
                                char **field, char *sep, struct sy_error *err)
{
	char *q = *p, *out = q;
	*field = q;
	if (*q == '"') {
		q++;
		for (;;) {
			if (q >= end)
				return sy_error_set(err, SY_ERR_FORMAT,
				                    "%s: line %d: unterminated quoted field", name,
				                    row_line);
			if (*q == '"' && q + 1 < end && q[1] == '"') {
				*out++ = '"';
				q += 2;
			} else if (*q == '"') {
				q++;
				break;
			} else {
				*line += *q == '\n';
				*out++ = *q++;
			}
		}
	} else {
		while (q < end && *q != ',' && *q != '\n' && *q != '\r')
			*out++ = *q++;
	}
	/* any other character than ',' after a field (text after a closing quote) ends the row */
	*sep = q < end ? *q : '\n';
	if (*sep == '\r' && q + 1 < end && q[1] == '\n')
		q++;
	*out = '\0';
	if (q < end)
		q++;
	*p = q;
	return SY_OK;
}

enum sy_status dataset_csv_parse(char *text, size_t len, const char *name, dataset_csv_row_fn row,
                                 void *ctx, struct sy_error *err)
{
	char *p = text, *end = text + len, *fields[CSV_MAX_FIELDS];
	int line = 1;
	while (p < end) {
		int n = 0, row_line = line;
		for (;;) {
			char *f = NULL, sep = '\n';
			enum sy_status s = csv_field(&p, end, name, row_line, &line, &f, &sep, err);
			if (s != SY_OK)
				return s;
			if (n < CSV_MAX_FIELDS)
				fields[n++] = f;
			if (sep != ',') {
				line++;
				break;
			}
		}
		if (n == 1 && !fields[0][0])
			continue; /* blank line */
		enum sy_status s = row(fields, n, row_line, ctx, err);
		if (s != SY_OK)
			return s;
	}
	return SY_OK;
}

/* Which columns a CSV loader reads; -1: none. */
struct csv_columns {
	struct dataset *d;
	const char *name;
	int text_col, label_col, weak_col, strong_col;
	bool header_done;
};

static bool csv_true(const char *v)
{
	return !strcmp(v, "True") || !strcmp(v, "true") || !strcmp(v, "1");
}

static enum sy_status csv_columns_row(char **f, int n, int line, void *vctx, struct sy_error *err)
{
	struct csv_columns *c = vctx;
	if (!c->header_done) {
		c->header_done = true;
		return SY_OK;
	}
	int need = c->text_col;
	if (c->label_col > need)
		need = c->label_col;
	if (c->strong_col > need)
		need = c->strong_col;
	if (n <= need)
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: line %d: %d field(s), expected at least %d", c->name, line,
		                    n, need + 1);
	const bool w = c->weak_col >= 0 && csv_true(f[c->weak_col]);
	const bool s = c->strong_col >= 0 && csv_true(f[c->strong_col]);
	return push_or_fail(c->d, f[c->text_col], c->label_col >= 0 ? f[c->label_col] : NULL, w, s,
	                    err);
}

/* ---- loaders ---- */

static enum sy_status jsonl_parse(const char *name, const char *text, size_t len,
                                  struct sy_error *err, struct dataset *out)
{
	int line = 0;
	for (const char *p = text, *nl; p < text + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(text + len - p));
		if (!nl)
			nl = text + len;
		line++;
		if (nl == p)
			continue;
		cJSON *o = cJSON_ParseWithLength(p, (size_t)(nl - p));
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text");
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(o, "label");
		if (!cJSON_IsString(t) || !(cJSON_IsString(l) || cJSON_IsNumber(l))) {
			cJSON_Delete(o);
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s: line %d: expected {\"text\": ..., \"label\": ...}",
			                    name, line);
		}
		char num[32];
		if (cJSON_IsNumber(l))
			snprintf(num, sizeof num, "%g", l->valuedouble);
		enum sy_status s =
		    push_or_fail(out, t->valuestring, cJSON_IsString(l) ? l->valuestring : num,
		                 false, false, err);
		cJSON_Delete(o);
		if (s != SY_OK)
			return s;
	}
	return SY_OK;
}

enum sy_status dataset_labelled_parse(const char *name, char *text, size_t len,
                                      struct sy_error *err, struct dataset *out)
{
	const size_t nl = strlen(name);
	if (nl > 6 && !strcmp(name + nl - 6, ".jsonl"))
		return jsonl_parse(name, text, len, err, out);
	struct csv_columns c = {.d = out,
	                        .name = name,
	                        .text_col = 0,
	                        .label_col = 1,
	                        .weak_col = -1,
	                        .strong_col = -1};
	return dataset_csv_parse(text, len, name, csv_columns_row, &c, err);
}

enum sy_status dataset_read_labelled(const char *path, struct sy_error *err, struct dataset *out)
{
	char *text = NULL;
	size_t len = 0;
	enum sy_status s = sy_file_read(path, err, &text, &len);
	if (s != SY_OK)
		return s;
	const int before = out->n;
	s = dataset_labelled_parse(path, text, len, err, out);
	free(text);
	if (s == SY_OK && out->n == before)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: no examples", path);
	return s;
}

enum sy_status dataset_routellm_parse(const char *name, char *text, size_t len,
                                      struct sy_error *err, struct dataset *out)
{
	struct csv_columns c = {
	    .d = out, .name = name, .text_col = 0, .label_col = -1, .weak_col = 1, .strong_col = 2};
	return dataset_csv_parse(text, len, name, csv_columns_row, &c, err);
}

static enum sy_status read_routellm_csv(const char *path, struct sy_error *err, struct dataset *out)
{
	char *text = NULL;
	size_t len = 0;
	enum sy_status s = sy_file_read(path, err, &text, &len);
	if (s != SY_OK)
		return s;
	s = dataset_routellm_parse(path, text, len, err, out);
	free(text);
	return s;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir not starting with '.', sorted (caller frees each and the array). */
static enum sy_status list_dir(const char *dir, struct sy_error *err, char ***out, int *n)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return sy_error_set(err, SY_ERR_IO, "%s: %s", dir, strerror(errno));
	int cap = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			char **v = realloc(*out, (size_t)cap * sizeof *v);
			if (!v)
				break;
			*out = v;
		}
		(*out)[(*n)++] = strdup(e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(*out, (size_t)*n, sizeof **out, cmp_str);
	return SY_OK;
}

enum sy_status dataset_read_routellm(const char *dir, struct sy_error *err, struct dataset *mmlu,
                                     struct dataset *gsm8k)
{
	char *mdir = sy_path_join(dir, "mmlu");
	char **files = NULL;
	int n_files = 0;
	enum sy_status s = mdir ? list_dir(mdir, err, &files, &n_files)
	                        : sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	for (int i = 0; s == SY_OK && i < n_files; i++) {
		const size_t l = files[i] ? strlen(files[i]) : 0;
		if (l > 4 && !strcmp(files[i] + l - 4, ".csv") && !strncmp(files[i], "mmlu_", 5)) {
			char *p = sy_path_join(mdir, files[i]);
			s = p ? read_routellm_csv(p, err, mmlu)
			      : sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			free(p);
		}
	}
	if (s == SY_OK) {
		char *gp = sy_path_join(dir, "gsm8k/gsm8k_responses.csv");
		s = gp ? read_routellm_csv(gp, err, gsm8k)
		       : sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		free(gp);
	}
	for (int i = 0; i < n_files; i++)
		free(files[i]);
	free(files);
	free(mdir);
	return s;
}

enum sy_status dataset_routellm_split(const struct dataset *mmlu, struct sy_error *err,
                                      struct dataset *train, struct dataset *calibrate,
                                      struct dataset *test)
{
	for (int i = 0; i < mmlu->n; i++) {
		struct dataset *to = i % 5 == 4 ? test : i % 5 == 3 ? calibrate : train;
		enum sy_status s = push_or_fail(to, mmlu->text[i], NULL, mmlu->weak_ok[i],
		                                mmlu->strong_ok[i], err);
		if (s != SY_OK)
			return s;
	}
	return SY_OK;
}

/* One of CLINC150's lists of [text, label] into out. */
static enum sy_status clinc_part(const cJSON *doc, const char *path, const char *part,
                                 struct sy_error *err, struct dataset *out)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(doc, part), *row;
	if (!cJSON_IsArray(a))
		return sy_error_set(err, SY_ERR_FORMAT, "%s: no \"%s\" list", path, part);
	int i = 0;
	cJSON_ArrayForEach(row, a)
	{
		const cJSON *t = cJSON_GetArrayItem(row, 0), *l = cJSON_GetArrayItem(row, 1);
		if (!cJSON_IsString(t) || !cJSON_IsString(l))
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s: %s[%d]: expected [text, label]", path, part, i);
		enum sy_status s =
		    push_or_fail(out, t->valuestring, l->valuestring, false, false, err);
		if (s != SY_OK)
			return s;
		i++;
	}
	return SY_OK;
}

/* Reads a JSON file into *doc (caller deletes); fails naming the file when it is not JSON. */
static enum sy_status json_file(const char *path, struct sy_error *err, cJSON **doc)
{
	char *text = NULL;
	size_t len = 0;
	*doc = NULL;
	enum sy_status s = sy_file_read(path, err, &text, &len);
	if (s != SY_OK)
		return s;
	*doc = cJSON_ParseWithLength(text, len);
	free(text);
	if (!*doc)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: not JSON", path);
	return SY_OK;
}

enum sy_status dataset_read_clinc(const char *dir, struct sy_error *err, struct dataset *train,
                                  struct dataset *test)
{
	return dataset_read_clinc_test(dir, NULL, err, train, test);
}

/* Whether a file starts (after blanks) with '{' and parses as a JSON object with a "test" list:
 * CLINC150's format (data_full.json and the like). */
static bool clinc_test_file(const char *path)
{
	cJSON *doc = NULL;
	struct sy_error e = {0};
	bool yes = json_file(path, &e, &doc) == SY_OK &&
	           cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "test"));
	cJSON_Delete(doc);
	return yes;
}

enum sy_status dataset_read_clinc_test(const char *dir, const char *test_path, struct sy_error *err,
                                       struct dataset *train, struct dataset *test)
{
	char *path = sy_path_join(dir, "data_train_val.json");
	if (!path)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	cJSON *doc = NULL;
	enum sy_status s = json_file(path, err, &doc);
	static const char *const parts[] = {"train", "oos_train", "val", "oos_val"};
	const int n_parts = test_path ? 2 : 4; /* with a test file, val stays unused */
	for (int p = 0; p < n_parts && s == SY_OK; p++)
		s = clinc_part(doc, path, parts[p], err, p < 2 ? train : test);
	cJSON_Delete(doc);
	free(path);
	if (s != SY_OK || !test_path)
		return s;
	if (!sy_path_exists(test_path) || sy_path_is_dir(test_path))
		return sy_error_set(err, SY_ERR_NOT_FOUND, "--test %s: no such file", test_path);
	if (clinc_test_file(test_path)) {
		/* CLINC150's format: test, and oos_test when present */
		s = json_file(test_path, err, &doc);
		if (s == SY_OK)
			s = clinc_part(doc, test_path, "test", err, test);
		if (s == SY_OK && cJSON_GetObjectItemCaseSensitive(doc, "oos_test"))
			s = clinc_part(doc, test_path, "oos_test", err, test);
		cJSON_Delete(doc);
	} else {
		s = dataset_read_labelled(test_path, err, test);
	}
	if (s == SY_OK && test->n == 0)
		s = sy_error_set(err, SY_ERR_FORMAT, "--test %s: no test examples", test_path);
	return s;
}

static bool path_has(const char *dir, const char *name)
{
	char *p = sy_path_join(dir, name);
	bool ok = p && sy_path_exists(p);
	free(p);
	return ok;
}

enum sy_status dataset_read_intents(const char *data, const char *test_path, struct sy_error *err,
                                    struct dataset *train, struct dataset *test, bool *clinc)
{
	*clinc = sy_path_is_dir(data) && path_has(data, "data_train_val.json");
	if (*clinc)
		return dataset_read_clinc_test(data, test_path, err, train, test);
	const bool in_dir = sy_path_is_dir(data) && path_has(data, "train.csv");
	char *joined = in_dir ? sy_path_join(data, "train.csv") : NULL;
	if (in_dir && !joined)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	struct dataset all = {0};
	enum sy_status s = dataset_read_labelled(in_dir ? joined : data, err, &all);
	free(joined);
	if (s != SY_OK) {
		dataset_free(&all);
		return s;
	}
	if (test_path) {
		*train = all;
		s = dataset_read_labelled(test_path, err, test);
		if (s == SY_OK && test->n == 0)
			s = sy_error_set(err, SY_ERR_FORMAT, "--test %s: no test examples",
			                 test_path);
		return s;
	}
	for (int i = 0; s == SY_OK && i < all.n; i++)
		s = push_or_fail(i % 5 == 4 ? test : train, all.text[i], all.label[i], false, false,
		                 err);
	dataset_free(&all);
	return s;
}

/* ---- labels ---- */

int *dataset_label_ids(const struct dataset *d, char ***labels, int *n_labels, bool grow)
{
	int *y = malloc((size_t)(d->n ? d->n : 1) * sizeof *y);
	for (int i = 0; y && i < d->n; i++) {
		int k = -1;
		for (int j = 0; j < *n_labels && k < 0; j++)
			if (!strcmp((*labels)[j], d->label[i]))
				k = j;
		if (k < 0 && grow) {
			char **l = realloc(*labels, (size_t)(*n_labels + 1) * sizeof *l);
			char *name = l ? strdup(d->label[i]) : NULL;
			if (l)
				*labels = l;
			if (!name) {
				free(y);
				return NULL;
			}
			l[*n_labels] = name;
			k = (*n_labels)++;
		}
		y[i] = k;
	}
	return y;
}

enum sy_status dataset_strong_weak_labels(struct dataset *d, const char *name, struct sy_error *err)
{
	for (int i = 0; i < d->n; i++) {
		if (strcmp(d->label[i], "0") && strcmp(d->label[i], "1"))
			return sy_error_set(
			    err, SY_ERR_FORMAT,
			    "%s: example %d: a strong/weak label is 0 or 1, not \"%s\"", name,
			    i + 1, d->label[i]);
		char *l = strdup(d->label[i][0] == '1' ? "weak" : "strong");
		if (!l)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		free(d->label[i]);
		d->label[i] = l;
	}
	return SY_OK;
}
