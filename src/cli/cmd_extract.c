/* `switchyard extract`: entities in texts with an extraction model (token classification /
 * NER, src/model/heads/token_classifier.c), one JSON line per text in input order:
 * {"index":i,"entities":[{"text","label","score","start","end"}]}, offsets in characters (code
 * points) as the HTTP API gives them. Texts come from the arguments after the options, then
 * from --input (one per line, "-" for stdin). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "hub/hub.h"
#include "model/embedder.h"
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

static int extract_texts(struct embedder *e, char **texts, int n, const struct extract_params *xp)
{
	size_t *lens = malloc((size_t)n * sizeof *lens);
	const struct extract_params **xps = malloc((size_t)n * sizeof *xps);
	struct embed_item_result *r = calloc((size_t)n, sizeof *r);
	int rc = 1;
	if (!lens || !xps || !r)
		goto out;
	for (int i = 0; i < n; i++) {
		lens[i] = strlen(texts[i]);
		xps[i] = xp;
	}
	struct embed_call call = {
	    .n = n, .texts = (const char *const *)texts, .lens = lens, .extract = xps};
	struct sy_error err = {0};
	if (embedder_encode_items(e, &call, &err, r, NULL) != SY_OK) {
		fprintf(stderr, "switchyard extract: %s\n", err.msg);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		printf("{\"index\":%d,\"entities\":[", i);
		for (int k = 0; k < r[i].n_entities; k++) {
			const struct embed_entity *en = &r[i].entities[k];
			printf(k ? ",{\"text\":" : "{\"text\":");
			print_json_str(texts[i] + en->start, en->end - en->start);
			printf(",\"label\":");
			print_json_str(en->label, strlen(en->label));
			printf(",\"score\":%.7g,\"start\":%zu,\"end\":%zu}", en->score,
			       tokenizer_char_offset(texts[i], en->start),
			       tokenizer_char_offset(texts[i], en->end));
		}
		printf("]}\n");
	}
	rc = ferror(stdout) ? 1 : 0;
out:
	for (int i = 0; r && i < n; i++)
		embed_item_result_free(&r[i]);
	free(r);
	free(xps);
	free(lens);
	return rc;
}

int cmd_extract(int argc, char **argv)
{
	const char *model = NULL, *input = NULL;
	char *labels_arg = NULL;
	const char *labels[256];
	struct embed_options opts = embed_default_options();
	struct extract_params xp = {.threshold = -1, .aggregation = NER_AGG_FIRST};
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
			int ag = ner_aggregation_parse(argv[++i]);
			if (ag < 0) {
				fprintf(stderr, "switchyard extract: --aggregation must be first, "
				                "simple, average or max\n");
				goto out;
			}
			xp.aggregation = (enum ner_aggregation)ag;
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
			opts.n_threads = atoi(argv[++i]);
		} else if (!strcmp(a, "--max-length") && val) {
			opts.max_length = atoi(argv[++i]);
		} else if (!strcmp(a, "--quantize") && val) {
			if (!linear_precision_parse(argv[++i], &opts.precision)) {
				fprintf(stderr,
				        "switchyard extract: --quantize must be int8 or none\n");
				goto out;
			}
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
	struct sy_error err = {0};
	char *hub_dir = NULL;
	struct embedder *e = NULL;
	rc = 1;
	if (hub_resolve_model(model, true, &err, &hub_dir) != SY_OK ||
	    embedder_open(hub_dir ? hub_dir : model, &opts, &err, &e) != SY_OK) {
		fprintf(stderr, "switchyard extract: %s\n", err.msg);
		free(hub_dir);
		goto free_texts;
	}
	free(hub_dir);
	if (!embedder_is_extractor(e)) {
		fprintf(stderr,
		        "switchyard extract: %s is not an extraction model (extraction needs a "
		        "token-classification (NER) model, *ForTokenClassification)\n",
		        model);
	} else {
		rc = extract_texts(e, texts, n, &xp);
	}
	embedder_close(e);
free_texts:
	for (int i = first_owned; i < n; i++)
		free(texts[i]);
out:
	free(labels_arg);
	free(texts);
	return rc;
}
