/* `switchyard extract`: entities in texts with an extraction model (token classification /
 * NER, or GLiNER with --labels) through the public library, one JSON line per text in input order:
 * {"index":i,"entities":[{"text","label","score","start","end"}]}, offsets in characters (code
 * points) as the HTTP API gives them. Texts come from the arguments after the options, then
 * from --input (one per line, "-" for stdin). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "text/tokenizer.h"

static void extract_usage(FILE *f)
{
	fprintf(
	    f, "usage: switchyard extract --model DIR|ID [--aggregation first|simple|average|max]\n"
	       "                          [--threshold X] [--labels A,B,...] [--threads N]\n"
	       "                          [--max-length N] [--quantize int8|none]\n"
	       "                          [--input FILE|-] [TEXT...]\n"
	       "Prints one JSON line per text, in input order:\n"
	       "{\"index\":i,\"entities\":[{\"text\",\"label\",\"score\",\"start\",\"end\"}]} "
	       "(character offsets).\n");
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
	const char *model = NULL, *input = NULL;
	char *labels_arg = NULL;
	const char *labels[256];
	struct cli_model_opts mo = {0};
	sy_extract_params xp = sy_extract_default_params();
	int n = 0, cap = 16, rc = 2, first_owned;
	char **texts = malloc((size_t)cap * sizeof *texts);
	if (!texts)
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			extract_usage(stdout);
			rc = 0;
			goto out;
		} else if (!strcmp(a, "--model") && val) {
			model = argv[++i];
		} else if (!strcmp(a, "--input") && val) {
			input = argv[++i];
		} else if (!strcmp(a, "--aggregation") && val) {
			const char *ag = argv[++i];
			if (strcmp(ag, "first") && strcmp(ag, "simple") && strcmp(ag, "average") &&
			    strcmp(ag, "max")) {
				fprintf(stderr, "switchyard extract: --aggregation must be first, "
				                "simple, average or max\n");
				goto out;
			}
			xp.aggregation = ag;
		} else if (!strcmp(a, "--threshold") && val) {
			char *end;
			double t = strtod(argv[++i], &end);
			if (*end || !(t >= 0 && t <= 1)) {
				fprintf(stderr,
				        "switchyard extract: --threshold must be from 0 to 1\n");
				goto out;
			}
			xp.threshold = (float)t;
		} else if (!strcmp(a, "--labels") && val) {
			free(labels_arg);
			labels_arg = strdup(argv[++i]);
			xp.n_labels = 0;
			for (char *sv, *t = strtok_r(labels_arg, ",", &sv); t && xp.n_labels < 256;
			     t = strtok_r(NULL, ",", &sv))
				labels[xp.n_labels++] = t;
			xp.labels = xp.n_labels ? labels : NULL;
		} else if (!strcmp(a, "--threads") && val) {
			mo.n_threads = atoi(argv[++i]);
		} else if (!strcmp(a, "--max-length") && val) {
			mo.max_length = atoi(argv[++i]);
		} else if (!strcmp(a, "--quantize") && val) {
			const char *q = argv[++i];
			if (strcmp(q, "int8") && strcmp(q, "none")) {
				fprintf(stderr,
				        "switchyard extract: --quantize must be int8 or none\n");
				goto out;
			}
			mo.int8 = !strcmp(q, "int8");
		} else if (a[0] == '-' && a[1] == '-') {
			fprintf(stderr, "switchyard extract: unknown or incomplete option '%s'\n",
			        a);
			extract_usage(stderr);
			goto out;
		} else {
			if (n == cap) {
				char **t = realloc(texts, (size_t)(cap *= 2) * sizeof *t);
				if (!t)
					goto out;
				texts = t;
			}
			texts[n++] = argv[i];
		}
	}
	first_owned = n;
	if (!model) {
		fprintf(stderr, "switchyard extract: --model is required\n");
		extract_usage(stderr);
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
	if (cli_engine_open("extract", model, &mo, &e, &id) < 0)
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
		rc = extract_texts(e, id, texts, n, &xp);
	sy_engine_close(e);
free_texts:
	for (int i = first_owned; i < n; i++)
		free(texts[i]);
out:
	free(labels_arg);
	free(texts);
	return rc;
}
