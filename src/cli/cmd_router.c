/* `switchyard router train` and `switchyard eval intents|routellm` (docs/ROUTING.md): training
 * the learned and strong/weak routers on local embeddings, and evaluating classifier and
 * strong/weak routers on labelled data.
 *
 * Data: CSV with a header (`text,label`; quoted fields may hold commas, quotes as "" and
 * newlines), JSONL ({"text", "label"} per line), the CLINC150 `data_train_val.json`, and the
 * RouteLLM correctness tables (`prompt,<weak>,<strong>` booleans). Malformed input stops with the
 * file and line. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/file.h"
#include "cli/commands.h"
#include "model/registry.h"
#include "router/classifier.h"
#include "router/eval.h"

/* ---- labelled examples ---- */

struct examples {
	char **text;
	char **label;
	bool *weak_ok, *strong_ok; /* RouteLLM */
	int n, cap;
};

static void examples_free(struct examples *e)
{
	for (int i = 0; i < e->n; i++) {
		free(e->text[i]);
		free(e->label ? e->label[i] : NULL);
	}
	free(e->text);
	free(e->label);
	free(e->weak_ok);
	free(e->strong_ok);
	memset(e, 0, sizeof *e);
}

static int examples_push(struct examples *e, const char *text, size_t tl, const char *label,
                         bool weak_ok, bool strong_ok)
{
	if (e->n == e->cap) {
		int cap = e->cap ? 2 * e->cap : 1024;
		char **t = realloc(e->text, (size_t)cap * sizeof *t);
		if (t)
			e->text = t;
		char **l = realloc(e->label, (size_t)cap * sizeof *l);
		if (l)
			e->label = l;
		bool *w = realloc(e->weak_ok, (size_t)cap * sizeof *w);
		if (w)
			e->weak_ok = w;
		bool *s = realloc(e->strong_ok, (size_t)cap * sizeof *s);
		if (s)
			e->strong_ok = s;
		if (!t || !l || !w || !s)
			return -1;
		e->cap = cap;
	}
	e->text[e->n] = strndup(text, tl);
	e->label[e->n] = strdup(label ? label : "");
	e->weak_ok[e->n] = weak_ok;
	e->strong_ok[e->n] = strong_ok;
	e->n++;
	return 0;
}

/* Splits CSV text into rows of fields (in place); calls row(fields, n, line) for each. */
typedef int (*csv_row_fn)(char **fields, int n, int line, void *ctx);

static int csv_parse(char *p, size_t len, const char *path, csv_row_fn row, void *ctx)
{
	char *end = p + len, *fields[16];
	int line = 1;
	while (p < end) {
		int n = 0, row_line = line;
		for (;;) {
			char *out = p, *start = p;
			if (*p == '"') {
				p++;
				for (;;) {
					if (p >= end) {
						fprintf(stderr,
						        "%s: line %d: unterminated quoted field\n",
						        path, row_line);
						return -1;
					}
					if (*p == '"' && p + 1 < end && p[1] == '"') {
						*out++ = '"';
						p += 2;
					} else if (*p == '"') {
						p++;
						break;
					} else {
						line += *p == '\n';
						*out++ = *p++;
					}
				}
			} else {
				while (p < end && *p != ',' && *p != '\n' && *p != '\r')
					*out++ = *p++;
			}
			char sep = p < end ? *p : '\n';
			if (sep == '\r' && p + 1 < end && p[1] == '\n')
				p++;
			*out = '\0';
			if (n < 16)
				fields[n++] = start;
			if (p < end)
				p++;
			if (sep != ',') {
				line++;
				break;
			}
		}
		if (n == 1 && !fields[0][0])
			continue; /* blank line */
		if (row(fields, n, row_line, ctx) != 0)
			return -1;
	}
	return 0;
}

struct csv_ctx {
	struct examples *e;
	const char *path;
	int text_col, label_col, weak_col, strong_col;
	bool header_done;
};

static int csv_row(char **f, int n, int line, void *vctx)
{
	struct csv_ctx *c = vctx;
	if (!c->header_done) {
		c->header_done = true;
		return 0;
	}
	int need = c->text_col;
	if (c->label_col > need)
		need = c->label_col;
	if (c->strong_col > need)
		need = c->strong_col;
	if (n <= need) {
		fprintf(stderr, "%s: line %d: %d field(s), expected at least %d\n", c->path, line,
		        n, need + 1);
		return -1;
	}
	bool w = false, s = false;
	if (c->weak_col >= 0) {
		w = !strcmp(f[c->weak_col], "True") || !strcmp(f[c->weak_col], "true") ||
		    !strcmp(f[c->weak_col], "1");
		s = !strcmp(f[c->strong_col], "True") || !strcmp(f[c->strong_col], "true") ||
		    !strcmp(f[c->strong_col], "1");
	}
	return examples_push(c->e, f[c->text_col], strlen(f[c->text_col]),
	                     c->label_col >= 0 ? f[c->label_col] : NULL, w, s);
}

/* text,label CSV (header) or JSONL. */
static int read_labelled(const char *path, struct examples *e)
{
	char *text = NULL;
	size_t len = 0;
	struct sy_error err = {0};
	if (sy_file_read(path, &err, &text, &len) != SY_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	int rc = 0;
	size_t pl = strlen(path);
	if (pl > 6 && !strcmp(path + pl - 6, ".jsonl")) {
		int line = 0;
		for (char *p = text, *nl; p < text + len; p = nl + 1) {
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
				fprintf(stderr,
				        "%s: line %d: expected {\"text\": ..., \"label\": ...}\n",
				        path, line);
				cJSON_Delete(o);
				rc = -1;
				break;
			}
			char num[32];
			if (cJSON_IsNumber(l))
				snprintf(num, sizeof num, "%g", l->valuedouble);
			examples_push(e, t->valuestring, strlen(t->valuestring),
			              cJSON_IsString(l) ? l->valuestring : num, false, false);
			cJSON_Delete(o);
		}
	} else {
		struct csv_ctx c = {.e = e,
		                    .path = path,
		                    .text_col = 0,
		                    .label_col = 1,
		                    .weak_col = -1,
		                    .strong_col = -1};
		rc = csv_parse(text, len, path, csv_row, &c);
	}
	free(text);
	if (rc == 0 && e->n == 0) {
		fprintf(stderr, "%s: no examples\n", path);
		rc = -1;
	}
	return rc;
}

/* ---- embedding ---- */

static float *embed_all(struct model *emb, char **texts, int n, int *dims, const char *what)
{
	const int D = model_dims(emb), B = 64;
	float *X = malloc((size_t)n * D * sizeof *X);
	size_t *lens = malloc((size_t)B * sizeof *lens);
	if (!X || !lens) {
		free(X);
		free(lens);
		return NULL;
	}
	uint64_t t0 = sy_now_ns();
	for (int i = 0; i < n; i += B) {
		int m = n - i < B ? n - i : B;
		for (int k = 0; k < m; k++)
			lens[k] = strlen(texts[i + k]);
		struct sy_error err = {0};
		if (model_encode_texts(emb, (const char *const *)texts + i, lens, m, NULL, &err,
		                       X + (size_t)i * D, NULL, NULL) != SY_OK) {
			fprintf(stderr, "embedding %s: %s\n", what, err.msg);
			free(X);
			free(lens);
			return NULL;
		}
		for (int k = 0; k < m; k++) { /* unit vectors, whatever the model's default */
			float *v = X + (size_t)(i + k) * D;
			double ss = 0;
			for (int d = 0; d < D; d++)
				ss += (double)v[d] * v[d];
			float inv = (float)(1 / fmax(sqrt(ss), 1e-12));
			for (int d = 0; d < D; d++)
				v[d] *= inv;
		}
	}
	fprintf(stderr, "  embedded %d %s texts in %.1f s\n", n, what,
	        (double)(sy_now_ns() - t0) / 1e9);
	free(lens);
	*dims = D;
	return X;
}

/* Class ids for labels, in first-seen order (labels[] gets the names). */
static int *label_ids(struct examples *e, char ***labels, int *n_labels, bool grow)
{
	int *y = malloc((size_t)(e->n ? e->n : 1) * sizeof *y);
	for (int i = 0; y && i < e->n; i++) {
		int k = -1;
		for (int j = 0; j < *n_labels && k < 0; j++)
			if (!strcmp((*labels)[j], e->label[i]))
				k = j;
		if (k < 0 && grow) {
			char **l = realloc(*labels, (size_t)(*n_labels + 1) * sizeof *l);
			if (!l)
				break;
			*labels = l;
			l[*n_labels] = strdup(e->label[i]);
			k = (*n_labels)++;
		}
		y[i] = k;
	}
	return y;
}

static struct model *open_encoder(const char *model, int threads)
{
	struct model_options opts = model_default_options();
	opts.n_threads = threads;
	struct model *emb = NULL;
	struct sy_error err = {0};
	if (model_open(model, &opts, &err, &emb) != SY_OK)
		fprintf(stderr, "switchyard: %s\n", err.msg);
	return emb;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The threshold on P(weak is good enough) that sends `share` of these prompts to the strong
 * model (those below it): the share-quantile of p_weak[n], which is sorted in place. */
static double strong_share_threshold(double *p_weak, int n, double share)
{
	qsort(p_weak, (size_t)n, sizeof *p_weak, cmp_double);
	const int k = (int)floor(share * n);
	return k < n ? p_weak[k] : 1.0;
}

/* ---- switchyard router train ---- */

static void train_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: switchyard router train --data FILE --out FILE [--model ID] [--threads N]\n"
	    "                               [--strong-weak [--strong-share X]]\n"
	    "Trains the classifier of a `learned` route (labels = candidate names) or, with\n"
	    "--strong-weak, of a `strong_weak` route (label 1: the weak model's answer is good\n"
	    "enough, 0: it is not), on --model embeddings (default use-lite). FILE: CSV with a\n"
	    "header (text,label) or JSONL ({\"text\",\"label\"}). --strong-share calibrates the\n"
	    "threshold so that this share of the training prompts goes to the strong model.\n");
}

static int cmd_router_train(int argc, char **argv)
{
	const char *data = NULL, *out = NULL, *model = "use-lite";
	int threads = 0;
	bool sw = false;
	double share = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			train_usage(stdout);
			return 0;
		} else if (!strcmp(a, "--data") && v) {
			data = argv[++i];
		} else if (!strcmp(a, "--out") && v) {
			out = argv[++i];
		} else if (!strcmp(a, "--model") && v) {
			model = argv[++i];
		} else if (!strcmp(a, "--threads") && v) {
			threads = atoi(argv[++i]);
		} else if (!strcmp(a, "--strong-weak")) {
			sw = true;
		} else if (!strcmp(a, "--strong-share") && v) {
			share = atof(argv[++i]);
			if (!(share > 0 && share < 1)) {
				fprintf(
				    stderr,
				    "switchyard router train: --strong-share must be in (0, 1)\n");
				return 2;
			}
		} else {
			fprintf(stderr,
			        "switchyard router train: unknown or incomplete option '%s'\n", a);
			train_usage(stderr);
			return 2;
		}
	}
	if (!data || !out) {
		fprintf(stderr, "switchyard router train: --data and --out are required\n");
		train_usage(stderr);
		return 2;
	}
	struct examples e = {0};
	if (read_labelled(data, &e) != 0)
		return 1;
	char **labels = NULL;
	int n_labels = 0;
	if (sw) { /* classes 0 (needs strong) and 1 (weak is good) */
		labels = calloc(2, sizeof *labels);
		labels[0] = strdup("strong");
		labels[1] = strdup("weak");
		n_labels = 2;
		for (int i = 0; i < e.n; i++) {
			if (strcmp(e.label[i], "0") && strcmp(e.label[i], "1")) {
				fprintf(
				    stderr,
				    "%s: example %d: a strong/weak label is 0 or 1, not \"%s\"\n",
				    data, i + 1, e.label[i]);
				examples_free(&e);
				return 1;
			}
			const bool weak = e.label[i][0] == '1';
			free(e.label[i]);
			e.label[i] = strdup(weak ? "weak" : "strong");
		}
	}
	int *y = label_ids(&e, &labels, &n_labels, !sw);
	int rc = 1, dims = 0;
	struct model *emb = open_encoder(model, threads);
	float *X = emb ? embed_all(emb, e.text, e.n, &dims, "training") : NULL;
	struct classifier *c = NULL;
	struct sy_error err = {0};
	if (X && y &&
	    classifier_train(X, y, e.n, dims, (const char *const *)labels, n_labels, NULL, &err,
	                     &c) != SY_OK)
		fprintf(stderr, "switchyard router train: %s\n", err.msg);
	if (c) {
		snprintf(c->encoder, sizeof c->encoder, "%s", model);
		int right = 0;
		double *p_weak = sw ? malloc((size_t)e.n * sizeof *p_weak) : NULL;
		float probs[1024];
		for (int i = 0; i < e.n; i++) {
			float *pp = n_labels <= 1024 ? probs : NULL;
			right += classifier_predict(c, X + (size_t)i * dims, pp) == y[i];
			if (p_weak && pp)
				p_weak[i] = pp[1];
		}
		for (int i = 0; sw && p_weak && i < e.n; i++)
			p_weak[i] = classifier_p1(c, X + (size_t)i * dims);
		if (sw && share > 0 && p_weak) {
			/* threshold: the share-quantile of P(weak is good), lowest first */
			const int k = (int)floor(share * e.n);
			c->threshold = strong_share_threshold(p_weak, e.n, share);
			printf("threshold %.9f sends %.1f%% of the training prompts to the strong "
			       "model\n",
			       c->threshold, 100.0 * k / e.n);
		}
		free(p_weak);
		if (classifier_save(c, out, &err) == SY_OK) {
			printf("trained on %d examples, %d classes, %d dims: training accuracy "
			       "%.4f -> %s\n",
			       e.n, n_labels, dims, (double)right / e.n, out);
			rc = 0;
		} else {
			fprintf(stderr, "switchyard router train: %s\n", err.msg);
		}
		classifier_free(c);
	}
	free(X);
	free(y);
	for (int i = 0; i < n_labels; i++)
		free(labels[i]);
	free(labels);
	model_close(emb);
	examples_free(&e);
	return rc;
}

int cmd_router(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "train"))
		return cmd_router_train(argc - 1, argv + 1);
	fprintf(stderr, "usage: switchyard router train --data FILE --out FILE [...]\n");
	return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : 2;
}

/* ---- switchyard eval intents ---- */

static bool path_has(const char *dir, const char *name)
{
	char *p = sy_path_join(dir, name);
	bool ok = p && sy_path_exists(p);
	free(p);
	return ok;
}

static int read_clinc(const char *dir, struct examples *train, struct examples *test)
{
	char *path = sy_path_join(dir, "data_train_val.json"), *text = NULL;
	size_t len = 0;
	struct sy_error err = {0};
	if (sy_file_read(path, &err, &text, &len) != SY_OK) {
		fprintf(stderr, "%s\n", err.msg);
		free(path);
		return -1;
	}
	cJSON *doc = cJSON_ParseWithLength(text, len);
	free(text);
	static const char *const parts[] = {"train", "oos_train", "val", "oos_val"};
	int rc = 0;
	for (int p = 0; p < 4 && rc == 0; p++) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(doc, parts[p]), *row;
		if (!cJSON_IsArray(a)) {
			fprintf(stderr, "%s: no \"%s\" list\n", path, parts[p]);
			rc = -1;
			break;
		}
		int i = 0;
		cJSON_ArrayForEach(row, a)
		{
			const cJSON *t = cJSON_GetArrayItem(row, 0),
			            *l = cJSON_GetArrayItem(row, 1);
			if (!cJSON_IsString(t) || !cJSON_IsString(l)) {
				fprintf(stderr, "%s: %s[%d]: expected [text, label]\n", path,
				        parts[p], i);
				rc = -1;
				break;
			}
			examples_push(p < 2 ? train : test, t->valuestring, strlen(t->valuestring),
			              l->valuestring, false, false);
			i++;
		}
	}
	cJSON_Delete(doc);
	free(path);
	return rc;
}

static void eval_intents_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: switchyard eval intents --data DIR|FILE [--model ID] [--threads N]\n"
	    "                               [--oos-threshold X] [--test FILE] [--json]\n"
	    "Trains a classifier router (multinomial logistic regression on --model embeddings,\n"
	    "default use-lite) and a semantic nearest-example router, and reports accuracy,\n"
	    "macro-F1, the worst classes and top confusions of each on held-out data:\n"
	    "  CLINC150 (a folder with data_train_val.json): train (+oos_train) -> val "
	    "(+oos_val);\n"
	    "           out-of-scope = max probability below --oos-threshold (default 0.5);\n"
	    "  a CSV/JSONL file (BANKING77 train.csv): every 5th example held out, or --test.\n");
}

int cmd_eval_intents(int argc, char **argv)
{
	const char *data = NULL, *model = "use-lite", *test_path = NULL;
	int threads = 0;
	bool json = false;
	double oos_th = 0.5;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			eval_intents_usage(stdout);
			return 0;
		} else if (!strcmp(a, "--data") && v) {
			data = argv[++i];
		} else if (!strcmp(a, "--test") && v) {
			test_path = argv[++i];
		} else if (!strcmp(a, "--model") && v) {
			model = argv[++i];
		} else if (!strcmp(a, "--threads") && v) {
			threads = atoi(argv[++i]);
		} else if (!strcmp(a, "--oos-threshold") && v) {
			oos_th = atof(argv[++i]);
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else {
			fprintf(stderr,
			        "switchyard eval intents: unknown or incomplete option '%s'\n", a);
			eval_intents_usage(stderr);
			return 2;
		}
	}
	if (!data) {
		eval_intents_usage(stderr);
		return 2;
	}
	struct examples train = {0}, test = {0};
	bool clinc = sy_path_is_dir(data) && path_has(data, "data_train_val.json");
	int rc = 1;
	if (clinc) {
		if (read_clinc(data, &train, &test) != 0)
			return 1;
	} else {
		struct examples all = {0};
		const char *p = sy_path_is_dir(data) && path_has(data, "train.csv") ? NULL : data;
		char *joined = p ? NULL : sy_path_join(data, "train.csv");
		if (read_labelled(p ? p : joined, &all) != 0) {
			free(joined);
			return 1;
		}
		free(joined);
		if (test_path) {
			train = all;
			if (read_labelled(test_path, &test) != 0)
				goto out;
		} else {
			for (int i = 0; i < all.n; i++)
				examples_push(i % 5 == 4 ? &test : &train, all.text[i],
				              strlen(all.text[i]), all.label[i], false, false);
			examples_free(&all);
		}
	}
	char **labels = NULL;
	int n_labels = 0;
	/* out-of-scope examples are not a class to train on: their id is added last */
	struct examples in_train = {0};
	for (int i = 0; i < train.n; i++)
		if (strcmp(train.label[i], "oos") != 0)
			examples_push(&in_train, train.text[i], strlen(train.text[i]),
			              train.label[i], false, false);
	int *y = label_ids(&in_train, &labels, &n_labels, true);
	const int n_in = n_labels;
	int oos = -1;
	if (clinc) {
		char **l = realloc(labels, (size_t)(n_labels + 1) * sizeof *l);
		if (l) {
			labels = l;
			labels[n_labels] = strdup("oos");
			oos = n_labels++;
		}
	}
	int *yt = label_ids(&test, &labels, &n_labels, false);
	for (int i = 0; yt && i < test.n; i++)
		if (yt[i] < 0) {
			fprintf(stderr,
			        "test example %d: label \"%s\" is not in the training data\n",
			        i + 1, test.label[i]);
			goto out_labels;
		}
	int dims = 0, dt = 0;
	struct model *emb = open_encoder(model, threads);
	float *X = emb ? embed_all(emb, in_train.text, in_train.n, &dims, "training") : NULL;
	float *T = X ? embed_all(emb, test.text, test.n, &dt, "test") : NULL;
	model_close(emb);
	struct classifier *c = NULL;
	struct sy_error err = {0};
	uint64_t t0 = sy_now_ns();
	if (T && classifier_train(X, y, in_train.n, dims, (const char *const *)labels, n_in, NULL,
	                          &err, &c) != SY_OK)
		fprintf(stderr, "switchyard eval intents: %s\n", err.msg);
	if (c) {
		const double train_s = (double)(sy_now_ns() - t0) / 1e9;
		int *pred = malloc((size_t)test.n * sizeof *pred),
		    *pred_nn = malloc((size_t)test.n * sizeof *pred_nn);
		float *p = malloc((size_t)n_in * sizeof *p);
		t0 = sy_now_ns();
		for (int i = 0; i < test.n; i++) {
			int k = classifier_predict(c, T + (size_t)i * dims, p);
			pred[i] = oos >= 0 && p[k] < oos_th ? oos : k;
		}
		const double us = (double)(sy_now_ns() - t0) / 1e3 / (test.n ? test.n : 1);
		/* semantic router: the label of the nearest training example (cosine) */
		for (int i = 0; i < test.n; i++) {
			const float *q = T + (size_t)i * dims;
			double best = -2;
			int bk = 0;
			for (int j = 0; j < in_train.n; j++) {
				const float *x = X + (size_t)j * dims;
				double dot = 0;
				for (int d = 0; d < dims; d++)
					dot += (double)q[d] * x[d];
				if (dot > best) {
					best = dot;
					bk = y[j];
				}
			}
			pred_nn[i] = bk;
		}
		struct intent_report r, rn;
		intent_report_compute(yt, pred, test.n, n_labels, oos, &r);
		intent_report_compute(yt, pred_nn, test.n, n_labels, oos, &rn);
		if (json) {
			printf("{\"data\":\"%s\",\"model\":\"%s\",\"train\":%d,\"test\":%d,"
			       "\"classes\":%d,"
			       "\"learned\":{\"accuracy\":%.6f,\"macro_f1\":%.6f,\"in_scope_"
			       "accuracy\":%.6f,"
			       "\"oos_recall\":%.6f,\"oos_precision\":%.6f,\"train_s\":%.2f,"
			       "\"predict_us\":%.2f},\"semantic\":{\"accuracy\":%.6f,\"macro_f1\":%"
			       ".6f}}\n",
			       data, model, in_train.n, test.n, n_in, r.accuracy, r.macro_f1,
			       r.in_scope_accuracy, r.oos_recall, r.oos_precision, train_s, us,
			       rn.accuracy, rn.macro_f1);
		} else {
			printf("%s: %d training examples, %d test examples, %d classes, %s "
			       "embeddings\n",
			       data, in_train.n, test.n, n_in, model);
			printf(
			    "learned router (logistic regression, trained in %.1f s, %.1f us per "
			    "prediction):\n",
			    train_s, us);
			intent_report_print(&r, (const char *const *)labels, 5, 5);
			printf("semantic router (nearest training example):\n");
			intent_report_print(&rn, (const char *const *)labels, 3, 3);
		}
		intent_report_free(&r);
		intent_report_free(&rn);
		free(pred);
		free(pred_nn);
		free(p);
		classifier_free(c);
		rc = 0;
	}
	free(X);
	free(T);
out_labels:
	free(yt);
	free(y);
	for (int i = 0; i < n_labels; i++)
		free(labels[i]);
	free(labels);
	examples_free(&in_train);
out:
	examples_free(&train);
	examples_free(&test);
	return rc;
}

/* ---- switchyard eval routellm ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir, sorted. */
static int list_dir(const char *dir, char ***out, int *n)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
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
	qsort(*out, (size_t)*n, sizeof **out, cmp_str);
	return 0;
}

static int read_routellm_csv(const char *path, struct examples *e)
{
	char *text = NULL;
	size_t len = 0;
	struct sy_error err = {0};
	if (sy_file_read(path, &err, &text, &len) != SY_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	struct csv_ctx c = {
	    .e = e, .path = path, .text_col = 0, .label_col = -1, .weak_col = 1, .strong_col = 2};
	int rc = csv_parse(text, len, path, csv_row, &c);
	free(text);
	return rc;
}

static void eval_routellm_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: switchyard eval routellm --data DIR [--model ID] [--threads N]\n"
	    "                                [--strong-share X] [--svg FILE] [--limit N] [--json]\n"
	    "Strong/weak routing on RouteLLM's correctness tables (DIR/mmlu/*.csv and\n"
	    "DIR/gsm8k/gsm8k_responses.csv: prompt, weak correct, strong correct). A strong/weak\n"
	    "classifier on --model embeddings (default use-lite) is trained on 4/5 of the MMLU\n"
	    "prompts and evaluated on the other fifth and on GSM8K: APGR, CPT(50%%), CPT(80%%),\n"
	    "strong calls saved against the random router, and the share of strong calls and\n"
	    "PGR at a threshold calibrated on the training prompts for --strong-share (default\n"
	    "0.5). Random (mean of 20 seeds) and oracle routers are reported alongside. --svg\n"
	    "writes the quality-vs-cost curves of the MMLU held-out fifth.\n");
}

/* Deterministic pseudo-random scores for the random baseline. */
static void random_scores(double *s, int n, unsigned seed)
{
	for (int i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		s[i] = (double)(seed >> 8) / 16777216.0;
	}
}

struct split_result {
	double apgr, cpt50, cpt80, share_at_t, pgr_at_t;
	double apgr_random, cpt50_random, cpt80_random, apgr_oracle, cpt50_oracle;
	double r_weak, r_strong;
	int n;
};

static void eval_split(const double *p_weak_ok, const bool *w, const bool *s, int n,
                       double threshold, struct split_result *out, struct routellm_curve *keep,
                       struct routellm_curve *keep_random, struct routellm_curve *keep_oracle)
{
	double *score = calloc((size_t)(n > 0 ? n : 1), sizeof *score);
	memset(out, 0, sizeof *out);
	if (!score)
		return;
	for (int i = 0; i < n; i++)
		score[i] = 1 - p_weak_ok[i];
	struct routellm_curve c = {0}, rc = {0}, oc = {0};
	routellm_curve_compute(score, w, s, n, &c);
	out->n = n;
	out->apgr = c.apgr;
	out->cpt50 = routellm_cpt(&c, 0.5);
	out->cpt80 = routellm_cpt(&c, 0.8);
	out->r_weak = c.r_weak;
	out->r_strong = c.r_strong;
	/* at the calibrated threshold: strong when P(weak ok) < threshold */
	int k = 0;
	long correct = 0;
	for (int i = 0; i < n; i++) {
		bool strong = p_weak_ok[i] < threshold;
		k += strong;
		correct += strong ? s[i] : w[i];
	}
	out->share_at_t = (double)k / n;
	out->pgr_at_t =
	    c.r_strong != c.r_weak ? ((double)correct / n - c.r_weak) / (c.r_strong - c.r_weak) : 0;
	double a = 0, c5 = 0, c8 = 0;
	for (int seed = 1; seed <= 20; seed++) {
		random_scores(score, n, (unsigned)seed * 7919u);
		routellm_curve_compute(score, w, s, n, &rc);
		a += rc.apgr;
		c5 += routellm_cpt(&rc, 0.5);
		c8 += routellm_cpt(&rc, 0.8);
		if (seed == 1 && keep_random)
			*keep_random = rc;
		else
			routellm_curve_free(&rc);
	}
	out->apgr_random = a / 20;
	out->cpt50_random = c5 / 20;
	out->cpt80_random = c8 / 20;
	for (int i = 0; i < n; i++)
		score[i] = (double)s[i] - (double)w[i];
	routellm_curve_compute(score, w, s, n, &oc);
	out->apgr_oracle = oc.apgr;
	out->cpt50_oracle = routellm_cpt(&oc, 0.5);
	if (keep)
		*keep = c;
	else
		routellm_curve_free(&c);
	if (keep_oracle)
		*keep_oracle = oc;
	else
		routellm_curve_free(&oc);
	free(score);
}

static void print_split(const char *name, const struct split_result *r, bool json, bool last)
{
	if (json) {
		printf("\"%s\":{\"n\":%d,\"r_weak\":%.4f,\"r_strong\":%.4f,\"apgr\":%.4f,\"cpt50\":"
		       "%.4f,"
		       "\"cpt80\":%.4f,\"random\":{\"apgr\":%.4f,\"cpt50\":%.4f,\"cpt80\":%.4f},"
		       "\"oracle\":{\"apgr\":%.4f,\"cpt50\":%.4f},\"calibrated\":{\"strong_share\":"
		       "%.4f,"
		       "\"pgr\":%.4f}}%s",
		       name, r->n, r->r_weak, r->r_strong, r->apgr, r->cpt50, r->cpt80,
		       r->apgr_random, r->cpt50_random, r->cpt80_random, r->apgr_oracle,
		       r->cpt50_oracle, r->share_at_t, r->pgr_at_t, last ? "" : ",");
		return;
	}
	printf("%s: %d prompts, weak correct %.4f, strong correct %.4f\n", name, r->n, r->r_weak,
	       r->r_strong);
	printf("  router  APGR %.4f  CPT(50%%) %.2f%%  CPT(80%%) %.2f%%\n", r->apgr, 100 * r->cpt50,
	       100 * r->cpt80);
	printf("  random  APGR %.4f  CPT(50%%) %.2f%%  CPT(80%%) %.2f%%  (mean of 20 seeds)\n",
	       r->apgr_random, 100 * r->cpt50_random, 100 * r->cpt80_random);
	printf("  oracle  APGR %.4f  CPT(50%%) %.2f%%\n", r->apgr_oracle, 100 * r->cpt50_oracle);
	printf("  strong calls saved vs random: %.1f%% at 50%% PGR, %.1f%% at 80%% PGR\n",
	       100 * (1 - r->cpt50 / r->cpt50_random), 100 * (1 - r->cpt80 / r->cpt80_random));
	printf("  calibrated threshold: %.2f%% strong calls, PGR %.4f\n", 100 * r->share_at_t,
	       r->pgr_at_t);
}

int cmd_eval_routellm(int argc, char **argv)
{
	const char *data = NULL, *model = "use-lite", *svg = NULL;
	int threads = 0, limit = 0;
	bool json = false;
	double share = 0.5;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			eval_routellm_usage(stdout);
			return 0;
		} else if (!strcmp(a, "--data") && v) {
			data = argv[++i];
		} else if (!strcmp(a, "--model") && v) {
			model = argv[++i];
		} else if (!strcmp(a, "--threads") && v) {
			threads = atoi(argv[++i]);
		} else if (!strcmp(a, "--limit") && v) {
			limit = atoi(argv[++i]);
		} else if (!strcmp(a, "--strong-share") && v) {
			share = atof(argv[++i]);
		} else if (!strcmp(a, "--svg") && v) {
			svg = argv[++i];
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else {
			fprintf(stderr,
			        "switchyard eval routellm: unknown or incomplete option '%s'\n", a);
			eval_routellm_usage(stderr);
			return 2;
		}
	}
	if (!data || !(share > 0 && share < 1)) {
		eval_routellm_usage(stderr);
		return 2;
	}
	struct examples mmlu = {0}, gsm = {0};
	char *dir = sy_path_join(data, "mmlu");
	char **files = NULL;
	int n_files = 0;
	struct sy_error err = {0};
	if (list_dir(dir, &files, &n_files) != 0) {
		free(dir);
		return 1;
	}
	int rc = 1;
	for (int i = 0; i < n_files; i++) {
		size_t l = strlen(files[i]);
		if (l > 4 && !strcmp(files[i] + l - 4, ".csv") && !strncmp(files[i], "mmlu_", 5)) {
			char *p = sy_path_join(dir, files[i]);
			int r = read_routellm_csv(p, &mmlu);
			free(p);
			if (r != 0)
				goto out;
		}
	}
	char *gp = sy_path_join(data, "gsm8k/gsm8k_responses.csv");
	if (read_routellm_csv(gp, &gsm) != 0) {
		free(gp);
		goto out;
	}
	free(gp);
	if (limit > 0) {
		while (mmlu.n > limit) {
			mmlu.n--;
			free(mmlu.text[mmlu.n]);
			free(mmlu.label[mmlu.n]);
		}
		while (gsm.n > limit / 4 + 1) {
			gsm.n--;
			free(gsm.text[gsm.n]);
			free(gsm.label[gsm.n]);
		}
	}
	/* 3/5 of MMLU to train, 1/5 to calibrate the threshold, every 5th to test */
	struct examples tr = {0}, ca = {0}, te = {0};
	for (int i = 0; i < mmlu.n; i++)
		examples_push(i % 5 == 4   ? &te
		              : i % 5 == 3 ? &ca
		                           : &tr,
		              mmlu.text[i], strlen(mmlu.text[i]), NULL, mmlu.weak_ok[i],
		              mmlu.strong_ok[i]);
	int *y = malloc((size_t)tr.n * sizeof *y);
	for (int i = 0; i < tr.n; i++) /* 0: the strong model is needed (wins), 1: weak will do */
		y[i] = !(tr.strong_ok[i] && !tr.weak_ok[i]);
	int dims = 0, d2 = 0, d3 = 0;
	struct model *emb = open_encoder(model, threads);
	int dc = 0;
	float *X = emb ? embed_all(emb, tr.text, tr.n, &dims, "MMLU training") : NULL;
	float *C = X ? embed_all(emb, ca.text, ca.n, &dc, "MMLU calibration") : NULL;
	float *T = C ? embed_all(emb, te.text, te.n, &d2, "MMLU held-out") : NULL;
	float *G = T ? embed_all(emb, gsm.text, gsm.n, &d3, "GSM8K") : NULL;
	model_close(emb);
	struct classifier *c = NULL;
	const char *labels[] = {"strong", "weak"};
	/* Stronger regularisation than for intents: the signal in a prompt's embedding about
	 * which model will answer it right is weak, and a sharper fit ranks held-out prompts
	 * worse. */
	struct classifier_train_options to = classifier_default_options();
	to.l2 = 1e-3;
	to.lr = 8;
	to.epochs = 200;
	if (G && classifier_train(X, y, tr.n, dims, labels, 2, &to, &err, &c) != SY_OK)
		fprintf(stderr, "switchyard eval routellm: %s\n", err.msg);
	if (c) {
		double *pw = malloc((size_t)(tr.n > te.n ? (tr.n > gsm.n ? tr.n : gsm.n)
		                                         : (te.n > gsm.n ? te.n : gsm.n)) *
		                    sizeof *pw);
		/* calibrate: the share-quantile of P(weak ok) on the calibration prompts (not the
		 * training ones, where the classifier is overconfident) */
		for (int i = 0; i < ca.n; i++)
			pw[i] = classifier_p1(c, C + (size_t)i * dims);
		const double threshold = strong_share_threshold(pw, ca.n, share);
		struct split_result rm, rg;
		struct routellm_curve curves[3];
		for (int i = 0; i < te.n; i++)
			pw[i] = classifier_p1(c, T + (size_t)i * dims);
		eval_split(pw, te.weak_ok, te.strong_ok, te.n, threshold, &rm, &curves[0],
		           &curves[1], &curves[2]);
		for (int i = 0; i < gsm.n; i++)
			pw[i] = classifier_p1(c, G + (size_t)i * dims);
		eval_split(pw, gsm.weak_ok, gsm.strong_ok, gsm.n, threshold, &rg, NULL, NULL, NULL);
		if (json) {
			printf("{\"model\":\"%s\",\"train\":%d,\"target_strong_share\":%.3f,"
			       "\"threshold\":%.6f,",
			       model, tr.n, share, threshold);
			print_split("mmlu_heldout", &rm, true, false);
			print_split("gsm8k", &rg, true, true);
			printf("}\n");
		} else {
			printf("strong/weak router on %s embeddings, trained on %d MMLU prompts; "
			       "threshold "
			       "%.4f calibrated for %.0f%% strong calls\n",
			       model, tr.n, threshold, 100 * share);
			print_split("MMLU held-out fifth", &rm, false, false);
			print_split("GSM8K (another domain)", &rg, false, true);
		}
		if (svg) {
			struct sbuf b = {0};
			const char *names[] = {"router", "random", "oracle"};
			routellm_svg(&b, curves, names, 3,
			             "RouteLLM MMLU held-out: quality vs cost");
			FILE *f = fopen(svg, "w");
			if (f) {
				fwrite(b.data, 1, b.len, f);
				fclose(f);
				if (!json)
					printf("quality-vs-cost curves: %s\n", svg);
			}
			sbuf_free(&b);
		}
		for (int i = 0; i < 3; i++)
			routellm_curve_free(&curves[i]);
		free(pw);
		classifier_free(c);
		rc = 0;
	}
	free(X);
	free(C);
	free(T);
	free(G);
	free(y);
	examples_free(&tr);
	examples_free(&ca);
	examples_free(&te);
out:
	for (int i = 0; i < n_files; i++)
		free(files[i]);
	free(files);
	free(dir);
	examples_free(&mmlu);
	examples_free(&gsm);
	return rc;
}
