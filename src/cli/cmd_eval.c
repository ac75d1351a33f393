/* `switchyard eval sts`: semantic textual similarity on an STS Benchmark file.
 *
 * The file is the STS-B distribution's tab-separated format: genre, file, year, id, score,
 * sentence 1, sentence 2, and on some lines extra source columns, which are ignored. Fields are
 * not quoted: a '"' is an ordinary character (pandas reads these files with QUOTE_NONE). A first
 * line whose score is not a number is taken for a header and skipped.
 *
 * Every pair's two sentences are embedded (pairs in file order, sentence 1 then sentence 2, in
 * batches of --batch texts, which is also the order the TF.js benchmark in bench/use_lite uses),
 * the cosine similarity of each pair is compared with the gold score by Spearman's rank
 * correlation (ties get their average rank) and Pearson's correlation, and the encoding speed is
 * reported in sentences per second of wall time, tokenisation included, model loading not. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/file.h"
#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "model/registry.h"

static const char eval_usage[] =
    "usage: switchyard eval sts|intents|routellm|candidates|log [options]\n"
    "Run `switchyard eval TASK --help` for the options of one task.\n";

enum {
	STS_MODEL,
	STS_DATA,
	STS_BATCH,
	STS_THREADS,
	STS_MAX_LENGTH,
	STS_LIMIT,
	STS_JSON,
	STS_QUANTIZE
};

static const struct cli_opt sts_opts[] = {
    {"model", CLI_VALUE, "DIR|ID", "the embedding model (required)", .id = STS_MODEL},
    {"data", CLI_VALUE, "FILE", "an STS Benchmark file (required)", .id = STS_DATA},
    {"batch", CLI_VALUE, "N", "texts per encode call (default 32)", .id = STS_BATCH},
    {"threads", CLI_VALUE, "N", "compute threads (default: one per core)", .id = STS_THREADS},
    {"max-length", CLI_VALUE, "N", "truncate texts to N tokens", .id = STS_MAX_LENGTH},
    {"limit", CLI_VALUE, "N", "the first N pairs only", .id = STS_LIMIT},
    {"json", CLI_SWITCH, NULL, "one JSON object instead of text lines", .id = STS_JSON},
    {"quantize", CLI_VALUE, "int8|none", "linear layers in int8 (default none)",
     .id = STS_QUANTIZE},
};

static const struct cli_cmd sts_cmd = {
    "eval sts",
    "usage: switchyard eval sts --model DIR|ID --data FILE [options]\n",
    "Embeds both sentences of every pair of an STS Benchmark file (tab-separated:\n"
    "genre, file, year, id, score, sentence 1, sentence 2) and prints the Spearman and\n"
    "Pearson correlations of their cosine similarity with the gold scores, and the\n"
    "encoding speed.\n",
    sts_opts,
    (int)(sizeof sts_opts / sizeof *sts_opts),
    0,
};

struct sts_args {
	const char *model, *data;
	struct model_options opts;
	int batch, limit, json;
};

static int sts_apply(void *ctx, const struct cli_opt *o, const char *val)
{
	struct sts_args *a = ctx;
	switch (o->id) {
	case STS_MODEL: a->model = val; return 0;
	case STS_DATA: a->data = val; return 0;
	case STS_BATCH: return cli_int_arg("eval sts", o, val, 1, &a->batch);
	case STS_THREADS: return cli_int_arg("eval sts", o, val, 0, &a->opts.n_threads);
	case STS_MAX_LENGTH: return cli_int_arg("eval sts", o, val, 1, &a->opts.max_length);
	case STS_LIMIT: return cli_int_arg("eval sts", o, val, 0, &a->limit);
	case STS_JSON: a->json = 1; return 0;
	case STS_QUANTIZE:
		if (!linear_precision_parse(val, &a->opts.precision)) {
			fprintf(stderr, "switchyard eval sts: --quantize: use int8 or none\n");
			return -1;
		}
		return 0;
	}
	return -1;
}

struct sts_pair {
	double gold;
	const char *s1, *s2; /* into the file buffer */
	size_t len1, len2;
};

/* Splits the file in place into pairs. Returns 0, or prints the offending line and returns 1. */
static int sts_parse(char *text, size_t len, const char *path, struct sts_pair **out, int *n_out)
{
	*out = NULL;
	*n_out = 0;
	int cap = 0, n = 0, line_no = 0;
	struct sts_pair *v = NULL;
	char *p = text, *end = text + len;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *le = nl ? nl : end;
		line_no++;
		if (le > p && le[-1] == '\r')
			le--;
		*le = '\0';
		char *line = p;
		p = nl ? nl + 1 : end;
		if (*line == '\0')
			continue;
		char *f[7];
		int nf = 0;
		for (char *q = line; nf < 7;) {
			f[nf++] = q;
			char *tab = strchr(q, '\t');
			if (!tab)
				break;
			*tab = '\0';
			q = tab + 1;
		}
		/* The seventh field runs to the next tab, if any: later columns are ignored. */
		if (nf == 7) {
			char *tab = strchr(f[6], '\t');
			if (tab)
				*tab = '\0';
		}
		char *num_end;
		double gold = nf >= 5 ? strtod(f[4], &num_end) : NAN;
		int num_ok = nf >= 5 && num_end != f[4] && *num_end == '\0' && isfinite(gold);
		if (!num_ok && line_no == 1 && n == 0)
			continue; /* a header */
		if (nf < 7 || !num_ok) {
			fprintf(stderr,
			        "switchyard eval: %s:%d: expected 7 tab-separated fields with a "
			        "numeric score in the fifth\n",
			        path, line_no);
			free(v);
			return 1;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			struct sts_pair *nv = realloc(v, (size_t)cap * sizeof *nv);
			if (!nv) {
				free(v);
				fprintf(stderr, "switchyard eval: out of memory\n");
				return 1;
			}
			v = nv;
		}
		v[n++] = (struct sts_pair){gold, f[5], f[6], strlen(f[5]), strlen(f[6])};
	}
	*out = v;
	*n_out = n;
	return 0;
}

static double pearson(const double *x, const double *y, int n)
{
	double mx = 0, my = 0;
	for (int i = 0; i < n; i++) {
		mx += x[i];
		my += y[i];
	}
	mx /= n;
	my /= n;
	double sxy = 0, sxx = 0, syy = 0;
	for (int i = 0; i < n; i++) {
		sxy += (x[i] - mx) * (y[i] - my);
		sxx += (x[i] - mx) * (x[i] - mx);
		syy += (y[i] - my) * (y[i] - my);
	}
	return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
}

static int rank_cmp(const void *a, const void *b, void *keys)
{
	const double *k = keys;
	double x = k[*(const int *)a], y = k[*(const int *)b];
	return x < y ? -1 : x > y ? 1 : 0;
}

/* Ranks 1..n with ties sharing their average rank (scipy.stats.rankdata "average"). */
static int ranks(const double *x, int n, double *r)
{
	int *idx = malloc((size_t)n * sizeof *idx);
	if (!idx)
		return -1;
	for (int i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, (size_t)n, sizeof *idx, rank_cmp, (void *)x);
	for (int i = 0; i < n;) {
		int j = i;
		while (j + 1 < n && x[idx[j + 1]] == x[idx[i]])
			j++;
		double avg = (i + j) / 2.0 + 1;
		for (int k = i; k <= j; k++)
			r[idx[k]] = avg;
		i = j + 1;
	}
	free(idx);
	return 0;
}

static double cosine(const float *a, const float *b, int n)
{
	double ab = 0, aa = 0, bb = 0;
	for (int i = 0; i < n; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* Embeds the pairs and prints the figures. */
static int sts_run(struct model *e, const struct sts_pair *pairs, int n, int batch,
                   const char *model, const char *data, int json)
{
	const int dims = model_dims(e);
	const int n_texts = 2 * n;
	const char **texts = malloc((size_t)n_texts * sizeof *texts);
	size_t *lens = malloc((size_t)n_texts * sizeof *lens);
	float *vecs = malloc((size_t)n_texts * (size_t)dims * sizeof *vecs);
	double *sim = malloc((size_t)n * sizeof *sim), *gold = malloc((size_t)n * sizeof *gold);
	double *rs = malloc((size_t)n * sizeof *rs), *rg = malloc((size_t)n * sizeof *rg);
	int rc = 1;
	if (!texts || !lens || !vecs || !sim || !gold || !rs || !rg) {
		fprintf(stderr, "switchyard eval: out of memory\n");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		texts[2 * i] = pairs[i].s1;
		lens[2 * i] = pairs[i].len1;
		texts[2 * i + 1] = pairs[i].s2;
		lens[2 * i + 1] = pairs[i].len2;
	}
	struct sy_error err = {0};
	uint64_t t0 = sy_now_ns();
	for (int i = 0; i < n_texts; i += batch) {
		int k = n_texts - i < batch ? n_texts - i : batch;
		if (model_encode_texts(e, texts + i, lens + i, k, NULL, &err,
		                       vecs + (size_t)i * dims, NULL, NULL) != SY_OK) {
			fprintf(stderr, "switchyard eval: %s\n", err.msg);
			goto out;
		}
	}
	double secs = (double)(sy_now_ns() - t0) / 1e9;
	for (int i = 0; i < n; i++) {
		sim[i] =
		    cosine(vecs + (size_t)2 * i * dims, vecs + (size_t)(2 * i + 1) * dims, dims);
		gold[i] = pairs[i].gold;
	}
	if (ranks(sim, n, rs) || ranks(gold, n, rg)) {
		fprintf(stderr, "switchyard eval: out of memory\n");
		goto out;
	}
	double sp = pearson(rs, rg, n), pe = pearson(sim, gold, n);
	double rate = secs > 0 ? n_texts / secs : 0;
	if (json) {
		printf("{\"task\":\"sts\",\"model\":");
		json_str(model);
		printf(",\"arch\":");
		json_str(e->arch);
		printf(",\"data\":");
		json_str(data);
		printf(",\"pairs\":%d,\"spearman\":%.6f,\"pearson\":%.6f,\"sentences\":%d,"
		       "\"seconds\":%.4f,\"sentences_per_second\":%.1f,\"batch\":%d}\n",
		       n, sp, pe, n_texts, secs, rate, batch);
	} else {
		printf("model:     %s (%s, %d dims)\n", model, e->arch, dims);
		printf("data:      %s\n", data);
		printf("pairs:     %d\n", n);
		printf("spearman:  %.4f\n", sp);
		printf("pearson:   %.4f\n", pe);
		printf("speed:     %d sentences in %.3f s, %.1f sentences/s (batch %d)\n", n_texts,
		       secs, rate, batch);
	}
	rc = ferror(stdout) ? 1 : 0;
out:
	free(texts);
	free(lens);
	free(vecs);
	free(sim);
	free(gold);
	free(rs);
	free(rg);
	return rc;
}

int cmd_eval(int argc, char **argv)
{
	if (argc < 2) {
		fputs(eval_usage, stderr);
		return 2;
	}
	const int opt = cli_group_option("eval", argv[1], eval_usage);
	if (opt >= 0)
		return opt;
	if (!strcmp(argv[1], "intents"))
		return cmd_eval_intents(argc - 1, argv + 1);
	if (!strcmp(argv[1], "routellm"))
		return cmd_eval_routellm(argc - 1, argv + 1);
	if (!strcmp(argv[1], "candidates"))
		return cmd_eval_candidates(argc - 1, argv + 1);
	if (!strcmp(argv[1], "log"))
		return cmd_eval_log(argc - 1, argv + 1);
	if (strcmp(argv[1], "sts") != 0) {
		fprintf(stderr,
		        "switchyard eval: unknown task '%s' (sts, intents, routellm, candidates, "
		        "log)\n",
		        argv[1]);
		fputs(eval_usage, stderr);
		return 2;
	}
	struct sts_args a = {.opts = model_default_options(), .batch = 32};
	int first, prc = cli_opts_parse(&sts_cmd, argc - 1, argv + 1, sts_apply, &a, &first);
	if (prc != 0)
		return prc == 1 ? 0 : 2;
	if (first < argc - 1)
		return cli_usage_error(&sts_cmd, "unexpected argument '%s'", argv[1 + first]);
	if (!a.model || !a.data)
		return cli_usage_error(&sts_cmd, "--model and --data are required");
	const char *model = a.model, *data = a.data;
	const struct model_options opts = a.opts;
	const int batch = a.batch, json = a.json;
	int limit = a.limit;
	char *text;
	size_t len;
	struct sy_error err = {0};
	if (sy_file_read(data, &err, &text, &len) != SY_OK) {
		fprintf(stderr, "switchyard eval: %s\n", err.msg);
		return 1;
	}
	struct sts_pair *pairs;
	int n;
	if (sts_parse(text, len, data, &pairs, &n) != 0) {
		free(text);
		return 1;
	}
	if (limit > 0 && limit < n)
		n = limit;
	int rc = 1;
	struct model *e = NULL;
	if (n < 2)
		fprintf(stderr, "switchyard eval: %s: need at least 2 pairs, found %d\n", data, n);
	else if (model_open(model, &opts, &err, &e) != SY_OK)
		fprintf(stderr, "switchyard eval: %s\n", err.msg);
	else
		rc = sts_run(e, pairs, n, batch, model, data, json);
	model_close(e);
	free(pairs);
	free(text);
	return rc;
}
