/* `switchyard score`: relevance scores of documents for a query with a model's score task (a
 * cross-encoder, or ColBERT's MaxSim), through the public library, one JSON line per document in
 * input order: {"index":i,"score":s}. Documents come from the arguments after the options, then
 * from --input (one per line, "-" for stdin). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

static void score_usage(FILE *f)
{
	fprintf(f,
	        "usage: switchyard score --model DIR|ID --query TEXT [--instruction TEXT]\n"
	        "                        [--threads N] [--max-length N] [--quantize int8|none]\n"
	        "                        [--input FILE|-] [DOC...]\n"
	        "Prints one JSON line per document, in input order: {\"index\":i,\"score\":s}\n"
	        "(sigmoid of the logit for one-label models, else the probability of the last "
	        "label; for ColBERT models the MaxSim of query and document token vectors;\n"
	        "for LLM rerankers the probability of the yes answer). --instruction replaces an\n"
	        "LLM reranker's default task instruction.\n");
}

int cmd_score(int argc, char **argv)
{
	const char *model = NULL, *query = NULL, *input = NULL;
	sy_score_params sp = sy_score_default_params();
	struct cli_model_opts mo = {0};
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
		} else if (!strcmp(a, "--instruction") && val) {
			sp.instruction = argv[++i];
		} else if (!strcmp(a, "--input") && val) {
			input = argv[++i];
		} else if (!strcmp(a, "--threads") && val) {
			mo.n_threads = atoi(argv[++i]);
		} else if (!strcmp(a, "--max-length") && val) {
			mo.max_length = atoi(argv[++i]);
		} else if (!strcmp(a, "--quantize") && val) {
			const char *q = argv[++i];
			if (strcmp(q, "int8") && strcmp(q, "none")) {
				fprintf(stderr,
				        "switchyard score: --quantize must be int8 or none\n");
				goto out;
			}
			mo.int8 = !strcmp(q, "int8");
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
	sy_engine *e;
	const char *id;
	rc = 1;
	if (cli_engine_open("score", model, &mo, &e, &id) < 0)
		goto free_docs;
	sy_result *res;
	int st = sy_score_with(e, id, query, (const char *const *)docs, (size_t)n_docs, &sp, &res);
	if (st < 0) {
		cli_engine_error("score", e, st);
	} else {
		for (int i = 0; i < n_docs; i++)
			printf("{\"index\":%d,\"score\":%.9g}\n", i,
			       sy_result_score(res, (size_t)i));
		sy_result_free(res);
		rc = ferror(stdout) ? 1 : 0;
	}
	sy_engine_close(e);
free_docs:
	for (int i = first_owned; i < n_docs; i++)
		free(docs[i]);
out:
	free(docs);
	return rc;
}
