/* `switchyard extract`: entities in texts with an extraction model (token classification /
 * NER, or GLiNER with --labels) through the public library, one JSON line per text in input order:
 * {"index":i,"entities":[{"text","label","score","start","end"}]}, offsets in characters (code
 * points) as the HTTP API gives them. Texts come from the arguments after the options, then
 * from --input (one per line, "-" for stdin). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "text/tokenizer.h"

enum {
	EX_MODEL,
	EX_INPUT,
	EX_AGGREGATION,
	EX_THRESHOLD,
	EX_LABELS,
	EX_THREADS,
	EX_MAX_LENGTH,
	EX_QUANTIZE
};

static const struct cli_opt extract_opts[] = {
    {"model", CLI_VALUE, "DIR|ID", "the NER or GLiNER model: a directory or a Hub id (required)",
     .id = EX_MODEL},
    {"aggregation", CLI_VALUE, "first|simple|average|max", "how token labels join into entities",
     .id = EX_AGGREGATION},
    {"threshold", CLI_VALUE, "X", "entities scoring below X (0 to 1) are dropped",
     .id = EX_THRESHOLD},
    {"labels", CLI_VALUE, "A,B,...", "the labels GLiNER looks for", .id = EX_LABELS},
    {"threads", CLI_VALUE, "N", "compute threads (default: one per core)", .id = EX_THREADS},
    {"max-length", CLI_VALUE, "N", "truncate texts to N tokens", .id = EX_MAX_LENGTH},
    {"quantize", CLI_VALUE, "int8|none", "linear layers in int8 (default none)", .id = EX_QUANTIZE},
    {"input", CLI_VALUE, "FILE|-", "one text per line (\"-\": stdin)", .id = EX_INPUT},
};

static const struct cli_cmd extract_cmd = {
    "extract",
    "usage: switchyard extract --model DIR|ID [options] [TEXT...]\n",
    "Prints one JSON line per text, in input order:\n"
    "{\"index\":i,\"entities\":[{\"text\",\"label\",\"score\",\"start\",\"end\"}]} (character "
    "offsets).\nTEXT arguments come before --input's lines.\n",
    extract_opts,
    (int)(sizeof extract_opts / sizeof *extract_opts),
    0,
};

struct extract_args {
	const char *model, *input;
	char *labels_arg; /* owned; labels point into it */
	const char *labels[256];
	struct cli_model_opts mo;
	sy_extract_params xp;
};

static int extract_apply(void *ctx, const struct cli_opt *o, const char *val)
{
	struct extract_args *a = ctx;
	double t;
	switch (o->id) {
	case EX_MODEL: a->model = val; return 0;
	case EX_INPUT: a->input = val; return 0;
	case EX_AGGREGATION:
		if (strcmp(val, "first") && strcmp(val, "simple") && strcmp(val, "average") &&
		    strcmp(val, "max")) {
			fprintf(stderr, "switchyard extract: --aggregation must be first, simple, "
			                "average or max\n");
			return -1;
		}
		a->xp.aggregation = val;
		return 0;
	case EX_THRESHOLD:
		if (cli_double_arg("extract", o, val, 0, 1, true, &t) != 0)
			return -1;
		a->xp.threshold = (float)t;
		return 0;
	case EX_LABELS:
		free(a->labels_arg);
		a->labels_arg = strdup(val);
		if (!a->labels_arg)
			return -1;
		a->xp.n_labels = 0;
		for (char *sv, *tok = strtok_r(a->labels_arg, ",", &sv);
		     tok && a->xp.n_labels < 256; tok = strtok_r(NULL, ",", &sv))
			a->labels[a->xp.n_labels++] = tok;
		a->xp.labels = a->xp.n_labels ? a->labels : NULL;
		return 0;
	case EX_THREADS: return cli_int_arg("extract", o, val, 0, &a->mo.n_threads);
	case EX_MAX_LENGTH: return cli_int_arg("extract", o, val, 1, &a->mo.max_length);
	case EX_QUANTIZE: return cli_quantize_arg("extract", val, &a->mo);
	}
	return -1;
}

static void print_json_str(const char *s, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static int extract_texts(sy_engine *e, const char *model, char **texts, int n,
                         const sy_extract_params *xp)
{
	sy_result *r;
	int rc = sy_extract_with(e, model, (const char *const *)texts, (size_t)n, xp, &r);
	if (rc < 0) {
		cli_engine_error("extract", e, rc);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		printf("{\"index\":%d,\"entities\":[", i);
		const size_t ne = sy_result_entity_count(r, (size_t)i);
		for (size_t k = 0; k < ne; k++) {
			float score;
			size_t start, end;
			const char *label = sy_result_entity(r, (size_t)i, k, &score, &start, &end);
			printf(k ? ",{\"text\":" : "{\"text\":");
			print_json_str(texts[i] + start, end - start);
			printf(",\"label\":");
			print_json_str(label, strlen(label));
			printf(",\"score\":%.7g,\"start\":%zu,\"end\":%zu}", score,
			       tokenizer_char_offset(texts[i], start),
			       tokenizer_char_offset(texts[i], end));
		}
		printf("]}\n");
	}
	sy_result_free(r);
	return ferror(stdout) ? 1 : 0;
}

int cmd_extract(int argc, char **argv)
{
	struct extract_args a = {.xp = sy_extract_default_params()};
	int n = 0, cap = 16, first, first_owned;
	int rc = cli_opts_parse(&extract_cmd, argc, argv, extract_apply, &a, &first);
	char **texts = rc == 0 ? malloc((size_t)cap * sizeof *texts) : NULL;
	if (!texts) {
		free(a.labels_arg);
		return rc == 1 ? 0 : rc == 2 ? 2 : 1;
	}
	const char *model = a.model, *input = a.input;
	rc = 2;
	for (int i = first; i < argc; i++) {
		if (n == cap) {
			char **t = realloc(texts, (size_t)(cap *= 2) * sizeof *t);
			if (!t)
				goto out;
			texts = t;
		}
		texts[n++] = argv[i];
	}
	first_owned = n;
	if (!model) {
		cli_usage_error(&extract_cmd, "--model is required");
		goto out;
	}
	if (input && cli_read_lines("extract", input, &texts, &n, &cap) != 0) {
		rc = 1;
		goto free_texts;
	}
	if (n == 0) {
		fprintf(stderr,
		        "switchyard extract: no input: give TEXT arguments or --input FILE\n");
		goto free_texts;
	}
	sy_engine *e;
	const char *id;
	rc = 1;
	if (cli_engine_open("extract", model, &a.mo, &e, &id) < 0)
		goto free_texts;
	int tasks = 0, st = sy_model_tasks(e, id, &tasks, NULL);
	if (st < 0)
		cli_engine_error("extract", e, st);
	else if (!(tasks & SY_TASK_EXTRACT))
		fprintf(stderr,
		        "switchyard extract: %s is not an extraction model (extraction needs a "
		        "token-classification (NER) model, *ForTokenClassification, or GLiNER)\n",
		        model);
	else
		rc = extract_texts(e, id, texts, n, &a.xp);
	sy_engine_close(e);
free_texts:
	for (int i = first_owned; i < n; i++)
		free(texts[i]);
out:
	free(a.labels_arg);
	free(texts);
	return rc;
}
