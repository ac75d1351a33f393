/* `switchyard encode`: embeds texts given on the command line or one per line of a file, and
 * prints one JSON object per text, in input order: {"index":i,"dense":[...]}.
 * Texts are sent to the model in chunks so a large file streams with bounded memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "hub/hub.h"
#include "model/embedder.h"

#define CHUNK 64

static void encode_usage(FILE *f)
{
	fprintf(
	    f, "usage: switchyard encode --model DIR|ID [--pooling cls|mean|max|last] "
	       "[--normalize|--no-normalize]\n"
	       "                         [--max-length N] [--threads N] [--quantize int8|none]\n"
	       "                         [--query] [--input FILE|-] [TEXT...]\n"
	       "Prints one JSON line per text: {\"index\":i,\"dense\":[...]}; ColBERT models give\n"
	       "{\"index\":i,\"multivector\":{\"token_dims\",\"num_tokens\",\"values\"}} (--query: "
	       "the texts\n"
	       "are search queries, encoded with ColBERT's query marker and [MASK] expansion).\n"
	       "--input reads one text per line (\"-\" for stdin); TEXT arguments come first.\n");
}

struct text_list {
	char **v;
	size_t n, cap;
};

static int list_push(struct text_list *l, char *s)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		char **nv = realloc(l->v, nc * sizeof *nv);
		if (!nv)
			return -1;
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = s;
	return 0;
}

static void print_floats(const float *v, int n)
{
	putchar('[');
	for (int i = 0; i < n; i++) {
		if (i)
			putchar(',');
		printf("%.9g", v[i]);
	}
	putchar(']');
}

static int parse_int(const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > 1 << 20)
		return -1;
	*out = (int)v;
	return 0;
}

/* Multi-vector models (ColBERT): one line per text with its token vectors. */
static int encode_chunk_multi(struct embedder *e, char **texts, const size_t *lens, size_t n,
                              size_t first_index, bool is_query)
{
	bool q[CHUNK];
	struct embed_item_result r[CHUNK];
	memset(r, 0, sizeof r);
	for (size_t i = 0; i < n; i++)
		q[i] = is_query;
	struct embed_call call = {
	    .n = (int)n, .texts = (const char *const *)texts, .lens = lens, .is_query = q};
	struct sy_error err = {0};
	int rc = 0;
	if (embedder_encode_items(e, &call, &err, r, NULL) != SY_OK) {
		fprintf(stderr, "switchyard encode: %s\n", err.msg);
		rc = 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (rc == 0) {
			printf(
			    "{\"index\":%zu,\"multivector\":{\"token_dims\":%d,\"num_tokens\":%d,"
			    "\"values\":",
			    first_index + i, r[i].dims, r[i].n_vectors);
			print_floats(r[i].vectors, r[i].n_vectors * r[i].dims);
			fputs("}}\n", stdout);
		}
		embed_item_result_free(&r[i]);
	}
	return rc || ferror(stdout) ? 1 : 0;
}

static bool g_is_query; /* --query: texts are search queries (ColBERT) */

/* Embeds texts[0..n) and prints their lines, numbering from first_index. */
static int encode_chunk(struct embedder *e, char **texts, size_t n, size_t first_index, float *out)
{
	size_t lens[CHUNK] = {0};
	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(texts[i]);
	if (embedder_is_multivector_model(e))
		return encode_chunk_multi(e, texts, lens, n, first_index, g_is_query);
	if (embedder_is_extractor(e) || embedder_is_pair_model(e)) {
		fprintf(stderr, "switchyard encode: this is %s; use `switchyard %s`\n",
		        embedder_is_extractor(e) ? "an extraction model" : "a cross-encoder",
		        embedder_is_extractor(e) ? "extract" : "score");
		return 1;
	}
	struct sy_error err = {0};
	if (embedder_encode(e, (const char *const *)texts, lens, (int)n, out, &err) != SY_OK) {
		fprintf(stderr, "switchyard encode: %s\n", err.msg);
		return 1;
	}
	int dims = embedder_dims(e);
	for (size_t i = 0; i < n; i++) {
		printf("{\"index\":%zu,\"dense\":", first_index + i);
		print_floats(out + i * (size_t)dims, dims);
		fputs("}\n", stdout);
	}
	return ferror(stdout) ? 1 : 0;
}

int cmd_encode(int argc, char **argv)
{
	const char *model = NULL, *input = NULL;
	struct embed_options opts = embed_default_options();
	struct text_list texts = {0};
	int rc = 2;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			encode_usage(stdout);
			free(texts.v);
			return 0;
		} else if (!strcmp(a, "--model") && val) {
			model = val;
			i++;
		} else if (!strcmp(a, "--pooling") && val) {
			opts.pooling = pooling_mode_parse(val);
			if (opts.pooling == POOLING_DEFAULT) {
				fprintf(stderr, "switchyard encode: --pooling must be cls, mean, "
				                "max or last\n");
				goto out;
			}
			i++;
		} else if (!strcmp(a, "--quantize") && val) {
			if (!linear_precision_parse(val, &opts.precision)) {
				fprintf(stderr,
				        "switchyard encode: --quantize must be int8 or none\n");
				goto out;
			}
			i++;
		} else if (!strcmp(a, "--query")) {
			g_is_query = true;
		} else if (!strcmp(a, "--normalize")) {
			opts.normalize = 1;
		} else if (!strcmp(a, "--no-normalize")) {
			opts.normalize = 0;
		} else if (!strcmp(a, "--max-length") && val) {
			if (parse_int(val, &opts.max_length) != 0 || opts.max_length < 1) {
				fprintf(
				    stderr,
				    "switchyard encode: --max-length needs a positive integer\n");
				goto out;
			}
			i++;
		} else if (!strcmp(a, "--threads") && val) {
			if (parse_int(val, &opts.n_threads) != 0) {
				fprintf(
				    stderr,
				    "switchyard encode: --threads needs a non-negative integer\n");
				goto out;
			}
			i++;
		} else if (!strcmp(a, "--input") && val) {
			input = val;
			i++;
		} else if (a[0] == '-' && a[1] == '-') {
			fprintf(stderr, "switchyard encode: unknown or incomplete option '%s'\n",
			        a);
			encode_usage(stderr);
			goto out;
		} else if (list_push(&texts, (char *)a) != 0) {
			rc = 1;
			goto out;
		}
	}
	if (!model) {
		fprintf(stderr, "switchyard encode: --model is required\n");
		encode_usage(stderr);
		goto out;
	}
	if (!input && texts.n == 0) {
		fprintf(stderr,
		        "switchyard encode: no input: give TEXT arguments or --input FILE\n");
		goto out;
	}

	FILE *in = NULL;
	if (input) {
		in = !strcmp(input, "-") ? stdin : fopen(input, "rb");
		if (!in) {
			fprintf(stderr, "switchyard encode: cannot open %s: %s\n", input,
			        strerror(errno));
			rc = 1;
			goto out;
		}
	}

	struct sy_error err = {0};
	struct embedder *e = NULL;
	char *hub_dir = NULL;
	if (hub_resolve_model(model, true, &err, &hub_dir) != SY_OK ||
	    embedder_open(hub_dir ? hub_dir : model, &opts, &err, &e) != SY_OK) {
		free(hub_dir);
		fprintf(stderr, "switchyard encode: %s\n", err.msg);
		if (in && in != stdin)
			fclose(in);
		rc = 1;
		goto out;
	}
	free(hub_dir);
	float *vecs = malloc(sizeof(float) * CHUNK * (size_t)(embedder_dims(e) + 1));
	rc = vecs ? 0 : 1;
	size_t index = 0;
	for (size_t i = 0; rc == 0 && i < texts.n; i += CHUNK) {
		size_t n = texts.n - i < CHUNK ? texts.n - i : CHUNK;
		rc = encode_chunk(e, texts.v + i, n, index, vecs);
		index += n;
	}
	if (in && rc == 0) {
		char *chunk[CHUNK];
		size_t n = 0;
		char *line = NULL;
		size_t cap = 0;
		ssize_t got;
		while (rc == 0 && (got = getline(&line, &cap, in)) >= 0) {
			while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
				line[--got] = '\0';
			chunk[n] = strdup(line);
			if (!chunk[n]) {
				rc = 1;
				break;
			}
			if (++n == CHUNK) {
				rc = encode_chunk(e, chunk, n, index, vecs);
				index += n;
				for (size_t j = 0; j < n; j++)
					free(chunk[j]);
				n = 0;
			}
		}
		if (rc == 0 && n)
			rc = encode_chunk(e, chunk, n, index, vecs);
		for (size_t j = 0; j < n; j++)
			free(chunk[j]);
		free(line);
		if (in != stdin)
			fclose(in);
	}
	free(vecs);
	embedder_close(e);
out:
	free(texts.v);
	return rc;
}
