/* Embeds texts with the Switchyard C library and prints one JSON line per text, as
 * `switchyard encode` does: {"index":i,"dense":[...]} (or "multivector" for ColBERT models).
 *
 *   cc embed.c $(PKG_CONFIG_PATH=build pkg-config --static --cflags --libs switchyard) -o embed
 *   ./embed MODEL_DIR_OR_HUB_ID "first text" "second text"
 */
#include <stdio.h>

#include "switchyard.h"

static void print_floats(const float *v, size_t n)
{
	putchar('[');
	for (size_t i = 0; i < n; i++)
		printf(i ? ",%.9g" : "%.9g", v[i]);
	putchar(']');
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s MODEL TEXT...\n", argv[0]);
		return 2;
	}
	const char *model = argv[1];
	sy_engine *e;
	int rc = sy_engine_open(NULL, &e);
	if (rc < 0) {
		fprintf(stderr, "embed: %s\n", sy_strerror(rc));
		return 1;
	}
	int tasks = 0, output = 0;
	sy_result *r = NULL;
	if ((rc = sy_model_add(e, "m", model)) < 0 ||
	    (rc = sy_model_tasks(e, "m", &tasks, &output)) < 0)
		goto fail;
	sy_encode_params p = sy_encode_default_params();
	p.output = output; /* what the model gives: dense, sparse or multivector */
	rc = sy_encode(e, "m", (const char *const *)argv + 2, (size_t)(argc - 2), &p, &r);
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < sy_result_count(r); i++) {
		size_t dims, n;
		const float *v = sy_result_dense(r, i, &dims);
		if (v) {
			printf("{\"index\":%zu,\"dense\":", i);
			print_floats(v, dims);
			puts("}");
		} else if ((v = sy_result_multivector(r, i, &n, &dims))) {
			printf(
			    "{\"index\":%zu,\"multivector\":{\"token_dims\":%zu,\"num_tokens\":%zu,"
			    "\"values\":",
			    i, dims, n);
			putchar('[');
			for (size_t t = 0; t < n; t++) {
				if (t)
					putchar(',');
				print_floats(v + t * dims, dims);
			}
			puts("]}}");
		}
	}
	sy_result_free(r);
	sy_engine_close(e);
	return 0;
fail:
	fprintf(stderr, "embed: %s: %s\n", sy_strerror(rc), sy_last_error(e));
	sy_engine_close(e);
	return 1;
}
