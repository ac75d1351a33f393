/* `switchyard score`: relevance scores of documents for a query with a cross-encoder
 * (src/model/heads/cross_encoder.h) or a ColBERT model (MaxSim of the query's and each document's
 * token vectors, src/model/heads/colbert.h), one JSON line per document in input order:
 * {"index":i,"score":s}. Documents come from the arguments after the options, then from
 * --input (one per line, "-" for stdin). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "hub/hub.h"
#include "model/heads/colbert.h"
#include "model/heads/cross_encoder.h"

static void score_usage(FILE *f)
{
	fprintf(f, "usage: switchyard score --model DIR|ID --query TEXT [--threads N] "
	           "[--max-length N]\n"
	           "                        [--quantize int8|none] [--input FILE|-] [DOC...]\n"
	           "Prints one JSON line per document, in input order: {\"index\":i,\"score\":s}\n"
	           "(sigmoid of the logit for one-label models, else the probability of the last "
	           "label; for ColBERT models the MaxSim of query and document token vectors).\n");
}

/* ColBERT: the query and the documents as token vectors, each score their MaxSim. */
static int score_colbert(const char *dir, const struct embed_options *opts, const char *query,
                         const char **docs, int n_docs)
{
	struct sy_error err = {0};
	struct embedder *e = NULL;
	if (embedder_open(dir, opts, &err, &e) != SY_OK) {
		fprintf(stderr, "switchyard score: %s\n", err.msg);
		return 1;
	}
	const int n = n_docs + 1;
	const char **texts = malloc((size_t)n * sizeof *texts);
	size_t *lens = malloc((size_t)n * sizeof *lens);
	bool *isq = calloc((size_t)n, sizeof *isq);
	struct embed_item_result *r = calloc((size_t)n, sizeof *r);
	int rc = 1;
	if (texts && lens && isq && r) {
		texts[0] = query;
		isq[0] = true;
		for (int i = 0; i < n; i++) {
			if (i)
				texts[i] = docs[i - 1];
			lens[i] = strlen(texts[i]);
		}
		struct embed_call call = {.n = n, .texts = texts, .lens = lens, .is_query = isq};
		if (embedder_encode_items(e, &call, &err, r, NULL) == SY_OK) {
			for (int i = 1; i < n; i++)
				printf("{\"index\":%d,\"score\":%.9g}\n", i - 1,
				       colbert_maxsim(r[0].vectors, r[0].n_vectors, r[i].vectors,
				                      r[i].n_vectors, r[0].dims));
			rc = 0;
		} else {
			fprintf(stderr, "switchyard score: %s\n", err.msg);
		}
		for (int i = 0; i < n; i++)
			embed_item_result_free(&r[i]);
	}
	free(texts);
	free(lens);
	free(isq);
	free(r);
	embedder_close(e);
	return rc;
}

int cmd_score(int argc, char **argv)
{
	const char *model = NULL, *query = NULL, *input = NULL;
	struct embed_options opts = embed_default_options();
	int n_docs = 0, cap = 16, rc = 2;
	char **docs = malloc((size_t)cap * sizeof *docs);
	if (!docs)
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			score_usage(stdout);
			free(docs);
			return 0;
		} else if (!strcmp(a, "--model") && val) {
			model = argv[++i];
		} else if (!strcmp(a, "--query") && val) {
			query = argv[++i];
		} else if (!strcmp(a, "--input") && val) {
			input = argv[++i];
		} else if (!strcmp(a, "--threads") && val) {
			opts.n_threads = atoi(argv[++i]);
		} else if (!strcmp(a, "--max-length") && val) {
			opts.max_length = atoi(argv[++i]);
		} else if (!strcmp(a, "--quantize") && val) {
			if (!linear_precision_parse(argv[++i], &opts.precision)) {
				fprintf(stderr,
				        "switchyard score: --quantize must be int8 or none\n");
				goto out;
			}
		} else if (a[0] == '-' && a[1] == '-') {
			fprintf(stderr, "switchyard score: unknown or incomplete option '%s'\n", a);
			score_usage(stderr);
			goto out;
		} else {
			if (n_docs == cap) {
				char **d = realloc(docs, (size_t)(cap *= 2) * sizeof *d);
				if (!d)
					goto out;
				docs = d;
			}
			docs[n_docs++] = argv[i];
		}
	}
	if (!model || !query) {
		fprintf(stderr, "switchyard score: --model and --query are required\n");
		score_usage(stderr);
		goto out;
	}
	int first_owned = n_docs;
	if (input && cli_read_lines("score", input, &docs, &n_docs, &cap) != 0) {
		rc = 1;
		goto free_docs;
	}
	if (n_docs == 0) {
		fprintf(stderr,
		        "switchyard score: no documents: give DOC arguments or --input FILE\n");
		goto free_docs;
	}
	struct sy_error err = {0};
	char *hub_dir = NULL;
	struct cross_encoder *ce = NULL;
	rc = 1;
	const enum sy_status hs = hub_resolve_model(model, true, &err, &hub_dir);
	if (hs == SY_OK && colbert_detect(hub_dir ? hub_dir : model)) {
		rc = score_colbert(hub_dir ? hub_dir : model, &opts, query, (const char **)docs,
		                   n_docs);
		free(hub_dir);
		goto free_docs;
	}
	if (hs != SY_OK ||
	    cross_encoder_open(hub_dir ? hub_dir : model, &opts, &err, &ce) != SY_OK) {
		fprintf(stderr, "switchyard score: %s\n", err.msg);
		free(hub_dir);
		goto free_docs;
	}
	free(hub_dir);
	const char **q = malloc((size_t)n_docs * sizeof *q);
	size_t *ql = malloc((size_t)n_docs * sizeof *ql), *dl = malloc((size_t)n_docs * sizeof *dl);
	float *scores = malloc((size_t)n_docs * sizeof *scores);
	if (q && ql && dl && scores) {
		for (int i = 0; i < n_docs; i++) {
			q[i] = query;
			ql[i] = strlen(query);
			dl[i] = strlen(docs[i]);
		}
		if (cross_encoder_score(ce, q, ql, (const char *const *)docs, dl, n_docs, &err,
		                        scores, NULL, NULL) == SY_OK) {
			for (int i = 0; i < n_docs; i++)
				printf("{\"index\":%d,\"score\":%.9g}\n", i, scores[i]);
			rc = 0;
		} else {
			fprintf(stderr, "switchyard score: %s\n", err.msg);
		}
	}
	free(q);
	free(ql);
	free(dl);
	free(scores);
	cross_encoder_close(ce);
free_docs:
	for (int i = first_owned; i < n_docs; i++)
		free(docs[i]);
out:
	free(docs);
	return rc;
}
