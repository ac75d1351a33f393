/* `switchyard encode`: embeds texts given on the command line or one per line of a file, and
 * prints one JSON object per text, in input order: {"index":i,"dense":[...]}.
 * Built on the public library (include/switchyard.h); texts are sent in chunks so a large
 * file streams with bounded memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/commands.h"

#define CHUNK 64

enum {
	ENC_MODEL,
	ENC_POOLING,
	ENC_NORMALIZE,
	ENC_NO_NORMALIZE,
	ENC_MAX_LENGTH,
	ENC_DENSE_DIMS,
	ENC_THREADS,
	ENC_QUANTIZE,
	ENC_QUERY,
	ENC_INPUT,
	ENC_IMAGE,
};

static const struct cli_opt encode_opts[] = {
    {"model", CLI_VALUE, "DIR|ID", "the model: a directory, a Hub id or use-lite (required)",
     .id = ENC_MODEL},
    {"pooling", CLI_VALUE, "cls|mean|max|last", "override the model's pooling", .id = ENC_POOLING},
    {"normalize", CLI_SWITCH, NULL, "unit-length vectors", .id = ENC_NORMALIZE},
    {"no-normalize", CLI_SWITCH, NULL, "vectors as the model gives them", .id = ENC_NO_NORMALIZE},
    {"max-length", CLI_VALUE, "N", "truncate texts to N tokens", .id = ENC_MAX_LENGTH},
    {"dense-dims", CLI_VALUE, "N", "keep the first N dimensions (Matryoshka)",
     .id = ENC_DENSE_DIMS},
    {"threads", CLI_VALUE, "N", "compute threads (default: one per core)", .id = ENC_THREADS},
    {"quantize", CLI_VALUE, "int8|none", "linear layers in int8 (default none)",
     .id = ENC_QUANTIZE},
    {"query", CLI_SWITCH, NULL, "the texts are search queries (ColBERT's query marker)",
     .id = ENC_QUERY},
    {"input", CLI_VALUE, "FILE|-", "one text per line (\"-\": stdin)", .id = ENC_INPUT},
    {"image", CLI_VALUE, "FILE", "a JPEG, PNG or WebP file for an image model (repeatable)",
     .id = ENC_IMAGE},
};

static const struct cli_cmd encode_cmd = {
    "encode",
    "usage: switchyard encode --model DIR|ID [options] [TEXT...]\n",
    "Prints one JSON line per text: {\"index\":i,\"dense\":[...]}; ColBERT models give\n"
    "{\"index\":i,\"multivector\":{\"token_dims\",\"num_tokens\",\"values\"}} (--query: the "
    "texts\nare search queries, encoded with ColBERT's query marker and [MASK] expansion).\n"
    "--input reads one text per line (\"-\" for stdin); TEXT arguments come first.\n"
    "--image FILE (repeatable) encodes a JPEG, PNG or WebP file with an image model\n"
    "(CLIP, SigLIP); image lines follow the text lines, numbered on from them.\n",
    encode_opts,
    (int)(sizeof encode_opts / sizeof *encode_opts),
    0,
};

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

/* What the chunks share: the engine, the model and how to encode. */
struct encode_run {
	sy_engine *e;
	const char *model;
	sy_encode_params p;
};

/* Encodes texts[0..n) and prints their lines, numbering from first_index: dense (or sparse,
 * vocabulary-sized) vectors, or ColBERT's token vectors. */
static int encode_chunk(const struct encode_run *r, char **texts, size_t n, size_t first_index)
{
	sy_result *res;
	int rc = sy_encode(r->e, r->model, (const char *const *)texts, n, &r->p, &res);
	if (rc < 0) {
		cli_engine_error("encode", r->e, rc);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t dims, nv;
		const float *v = sy_result_dense(res, i, &dims);
		if (v) {
			printf("{\"index\":%zu,\"dense\":", first_index + i);
			print_floats(v, (int)dims);
			fputs("}\n", stdout);
			continue;
		}
		v = sy_result_multivector(res, i, &nv, &dims);
		printf("{\"index\":%zu,\"multivector\":{\"token_dims\":%zu,\"num_tokens\":%zu,"
		       "\"values\":",
		       first_index + i, dims, nv);
		putchar('[');
		for (size_t t = 0; t < nv; t++) {
			if (t)
				putchar(',');
			print_floats(v + t * dims, (int)dims);
		}
		fputs("]}}\n", stdout);
	}
	sy_result_free(res);
	return ferror(stdout) ? 1 : 0;
}

/* Reads the whole file at path into *data (malloc'd); -1 with a message on failure. */
static int read_file(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	*data = NULL;
	*len = 0;
	if (!f) {
		fprintf(stderr, "switchyard encode: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 0;
	for (;;) {
		if (*len == cap) {
			cap = cap ? cap * 2 : 1 << 16;
			char *d = realloc(*data, cap);
			if (!d)
				break;
			*data = d;
		}
		size_t got = fread(*data + *len, 1, cap - *len, f);
		*len += got;
		if (got == 0)
			break;
	}
	const bool bad = ferror(f) || !*data;
	fclose(f);
	if (bad) {
		fprintf(stderr, "switchyard encode: cannot read %s\n", path);
		free(*data);
		*data = NULL;
		return -1;
	}
	return 0;
}

/* Encodes the image files paths[0..n) and prints their lines, numbering from first_index. */
static int encode_image_chunk(const struct encode_run *r, char **paths, size_t n,
                              size_t first_index)
{
	char *data[CHUNK] = {0};
	size_t lens[CHUNK];
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (read_file(paths[i], &data[i], &lens[i]) != 0)
			rc = 1;
	sy_result *res = NULL;
	if (rc == 0 &&
	    sy_encode_images(r->e, r->model, (const void *const *)data, lens, n, &r->p, &res) < 0) {
		cli_engine_error("encode", r->e, -1);
		rc = 1;
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		size_t dims;
		const float *v = sy_result_dense(res, i, &dims);
		printf("{\"index\":%zu,\"dense\":", first_index + i);
		print_floats(v, (int)dims);
		fputs("}\n", stdout);
	}
	sy_result_free(res);
	for (size_t i = 0; i < n; i++)
		free(data[i]);
	return rc ? rc : ferror(stdout) ? 1 : 0;
}

/* Opens the engine and checks that the model encodes; fills r. */
static int encode_open(const char *model, const struct cli_model_opts *mo, struct encode_run *r)
{
	if (cli_engine_open("encode", model, mo, &r->e, &r->model) < 0)
		return 1;
	int tasks = 0, output = 0;
	int rc = sy_model_tasks(r->e, r->model, &tasks, &output);
	if (rc < 0) {
		cli_engine_error("encode", r->e, rc);
	} else if (!(tasks & SY_TASK_ENCODE)) {
		const bool extractor = tasks & SY_TASK_EXTRACT;
		fprintf(stderr, "switchyard encode: this is %s; use `switchyard %s`\n",
		        extractor ? "an extraction model" : "a cross-encoder",
		        extractor ? "extract" : "score");
		rc = -1;
	}
	if (rc < 0) {
		sy_engine_close(r->e);
		r->e = NULL;
		return 1;
	}
	r->p.output = output;
	return 0;
}

/* Encodes the lines of in (line endings dropped) in chunks, numbering from index. */
static int encode_lines(const struct encode_run *run, FILE *in, size_t *next_index)
{
	size_t index = *next_index;
	char *chunk[CHUNK];
	size_t n = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	int rc = 0;
	while (rc == 0 && (got = getline(&line, &cap, in)) >= 0) {
		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = '\0';
		chunk[n] = strdup(line);
		if (!chunk[n]) {
			rc = 1;
			break;
		}
		if (++n == CHUNK) {
			rc = encode_chunk(run, chunk, n, index);
			index += n;
			for (size_t j = 0; j < n; j++)
				free(chunk[j]);
			n = 0;
		}
	}
	if (rc == 0 && n)
		rc = encode_chunk(run, chunk, n, index);
	*next_index = index + n;
	for (size_t j = 0; j < n; j++)
		free(chunk[j]);
	free(line);
	return rc;
}

/* The options of one run, as encode_apply fills them. */
struct encode_args {
	const char *model, *input;
	struct cli_model_opts mo;
	struct encode_run *run;
	struct text_list images;
};

static int encode_apply(void *ctx, const struct cli_opt *o, const char *val)
{
	struct encode_args *a = ctx;
	switch (o->id) {
	case ENC_MODEL: a->model = val; return 0;
	case ENC_POOLING:
		if (strcmp(val, "cls") && strcmp(val, "mean") && strcmp(val, "max") &&
		    strcmp(val, "last")) {
			fprintf(stderr,
			        "switchyard encode: --pooling must be cls, mean, max or last\n");
			return -1;
		}
		a->mo.pooling = val;
		return 0;
	case ENC_QUANTIZE:
		if (strcmp(val, "int8") && strcmp(val, "none")) {
			fprintf(stderr, "switchyard encode: --quantize must be int8 or none\n");
			return -1;
		}
		a->mo.int8 = !strcmp(val, "int8");
		return 0;
	case ENC_QUERY: a->run->p.is_query = 1; return 0;
	case ENC_NORMALIZE:
	case ENC_NO_NORMALIZE: a->run->p.normalize = o->id == ENC_NORMALIZE; return 0;
	case ENC_DENSE_DIMS:
	case ENC_MAX_LENGTH: {
		int *dst = o->id == ENC_DENSE_DIMS ? &a->mo.dense_dims : &a->mo.max_length;
		if (parse_int(val, dst) != 0 || *dst < 1) {
			fprintf(stderr, "switchyard encode: --%s needs a positive integer\n",
			        o->name);
			return -1;
		}
		return 0;
	}
	case ENC_THREADS:
		if (parse_int(val, &a->mo.n_threads) != 0) {
			fprintf(stderr,
			        "switchyard encode: --threads needs a non-negative integer\n");
			return -1;
		}
		return 0;
	case ENC_INPUT: a->input = val; return 0;
	case ENC_IMAGE: return list_push(&a->images, (char *)val);
	}
	return -1;
}

int cmd_encode(int argc, char **argv)
{
	struct encode_run run = {.p = sy_encode_default_params()};
	struct encode_args args = {.run = &run};
	struct text_list texts = {0};
	int first;
	int rc = cli_opts_parse(&encode_cmd, argc, argv, encode_apply, &args, &first);
	if (rc != 0) {
		free(args.images.v);
		return rc == 1 ? 0 : 2;
	}
	const char *model = args.model, *input = args.input;
	struct cli_model_opts mo = args.mo;
	struct text_list images = args.images;
	rc = 2;
	for (int i = first; i < argc; i++) {
		if (list_push(&texts, argv[i]) != 0) {
			rc = 1;
			goto out;
		}
	}
	if (!model) {
		cli_usage_error(&encode_cmd, "--model is required");
		goto out;
	}
	if (!input && texts.n == 0 && images.n == 0) {
		fprintf(stderr, "switchyard encode: no input: give TEXT arguments, --input FILE "
		                "or --image FILE\n");
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

	if (encode_open(model, &mo, &run) != 0) {
		if (in && in != stdin)
			fclose(in);
		rc = 1;
		goto out;
	}
	rc = 0;
	size_t index = 0;
	for (size_t i = 0; rc == 0 && i < texts.n; i += CHUNK) {
		size_t n = texts.n - i < CHUNK ? texts.n - i : CHUNK;
		rc = encode_chunk(&run, texts.v + i, n, index);
		index += n;
	}
	if (in && rc == 0)
		rc = encode_lines(&run, in, &index);
	if (in && in != stdin)
		fclose(in);
	for (size_t i = 0; rc == 0 && i < images.n; i += CHUNK) {
		size_t n = images.n - i < CHUNK ? images.n - i : CHUNK;
		rc = encode_image_chunk(&run, images.v + i, n, index);
		index += n;
	}
	sy_engine_close(run.e);
out:
	free(texts.v);
	free(images.v);
	return rc;
}
