/* `switchyard score`: relevance scores of documents for a query with a model's score task (a
 * cross-encoder, or ColBERT's MaxSim), through the public library, one JSON line per document in
 * input order: {"index":i,"score":s}. Documents come from the arguments after the options, then
 * from --input (one per line, "-" for stdin). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/commands.h"

enum { SC_MODEL, SC_QUERY, SC_INSTRUCTION, SC_INPUT, SC_THREADS, SC_MAX_LENGTH, SC_QUANTIZE };

static const struct cli_opt score_opts[] = {
    {"model", CLI_VALUE, "DIR|ID", "the model: a directory or a Hub id (required)", .id = SC_MODEL},
    {"query", CLI_VALUE, "TEXT", "the query the documents are scored against (required)",
     .id = SC_QUERY},
    {"instruction", CLI_VALUE, "TEXT", "replaces an LLM reranker's default task instruction",
     .id = SC_INSTRUCTION},
    {"input", CLI_VALUE, "FILE|-", "one document per line (\"-\": stdin)", .id = SC_INPUT},
    {"threads", CLI_VALUE, "N", "compute threads (default: one per core)", .id = SC_THREADS},
    {"max-length", CLI_VALUE, "N", "truncate query and document to N tokens", .id = SC_MAX_LENGTH},
    {"quantize", CLI_VALUE, "int8|none", "linear layers in int8 (default none)", .id = SC_QUANTIZE},
};

static const struct cli_cmd score_cmd = {
    "score",
    "usage: switchyard score --model DIR|ID --query TEXT [options] [DOC...]\n",
    "Prints one JSON line per document, in input order: {\"index\":i,\"score\":s}\n"
    "(sigmoid of the logit for one-label models, else the probability of the last label;\n"
    "for ColBERT models the MaxSim of query and document token vectors; for LLM\n"
    "rerankers the probability of the yes answer). DOC arguments come before --input's.\n",
    score_opts,
    (int)(sizeof score_opts / sizeof *score_opts),
    0,
};

struct score_args {
	const char *model, *query, *input;
	sy_score_params sp;
	struct cli_model_opts mo;
};

static int score_apply(void *ctx, const struct cli_opt *o, const char *val)
{
	struct score_args *a = ctx;
	switch (o->id) {
	case SC_MODEL: a->model = val; return 0;
	case SC_QUERY: a->query = val; return 0;
	case SC_INSTRUCTION: a->sp.instruction = val; return 0;
	case SC_INPUT: a->input = val; return 0;
	case SC_THREADS: return cli_int_arg("score", o, val, 0, &a->mo.n_threads);
	case SC_MAX_LENGTH: return cli_int_arg("score", o, val, 1, &a->mo.max_length);
	case SC_QUANTIZE: return cli_quantize_arg("score", val, &a->mo);
	}
	return -1;
}

int cmd_score(int argc, char **argv)
{
	struct score_args a = {.sp = sy_score_default_params()};
	int first, n_docs = 0, cap = 16;
	int rc = cli_opts_parse(&score_cmd, argc, argv, score_apply, &a, &first);
	if (rc != 0)
		return rc == 1 ? 0 : 2;
	const char *model = a.model, *query = a.query, *input = a.input;
	rc = 2;
	char **docs = malloc((size_t)cap * sizeof *docs);
	if (!docs)
		return 1;
	for (int i = first; i < argc; i++) {
		if (n_docs == cap) {
			char **d = realloc(docs, (size_t)(cap *= 2) * sizeof *d);
			if (!d)
				goto out;
			docs = d;
		}
		docs[n_docs++] = argv[i];
	}
	if (!model || !query) {
		cli_usage_error(&score_cmd, "--model and --query are required");
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
	if (cli_engine_open("score", model, &a.mo, &e, &id) < 0)
		goto free_docs;
	sy_result *res;
	int st =
	    sy_score_with(e, id, query, (const char *const *)docs, (size_t)n_docs, &a.sp, &res);
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
