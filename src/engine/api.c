/* The public C API (include/switchyard.h) over the internal embedder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/embedder.h"
#include "switchyard.h"

struct sy_embedder {
	struct embedder *e;
};

static int fail(char *errbuf, size_t errlen, const char *msg)
{
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s", msg);
	return -1;
}

struct sy_embedder_params sy_embedder_default_params(void)
{
	return (struct sy_embedder_params){.normalize = -1};
}

int sy_embedder_open(const char *model, const struct sy_embedder_params *params,
                     struct sy_embedder **out, char *errbuf, size_t errlen)
{
	*out = NULL;
	struct embed_options opts = embed_default_options();
	if (params) {
		if (params->pooling) {
			opts.pooling = pooling_mode_parse(params->pooling);
			if (opts.pooling == POOLING_DEFAULT)
				return fail(errbuf, errlen,
				            "pooling must be cls, mean, max or last");
		}
		opts.normalize = params->normalize;
		opts.max_length = params->max_length;
		opts.n_threads = params->n_threads;
	}
	struct sy_embedder *h = calloc(1, sizeof *h);
	if (!h)
		return fail(errbuf, errlen, "out of memory");
	struct sy_error err = {0};
	if (embedder_open(model, &opts, &err, &h->e) != SY_OK) {
		free(h);
		return fail(errbuf, errlen, err.msg);
	}
	*out = h;
	return 0;
}

int sy_embedder_dims(const struct sy_embedder *e)
{
	return embedder_dims(e->e);
}

int sy_embedder_encode(struct sy_embedder *e, const char *const *texts, int n, float *out,
                       char *errbuf, size_t errlen)
{
	if (n < 0)
		return fail(errbuf, errlen, "negative text count");
	size_t *lens = malloc(sizeof *lens * (size_t)(n ? n : 1));
	if (!lens)
		return fail(errbuf, errlen, "out of memory");
	for (int i = 0; i < n; i++)
		lens[i] = strlen(texts[i]);
	struct sy_error err = {0};
	enum sy_status s = embedder_encode(e->e, texts, lens, n, out, &err);
	free(lens);
	return s == SY_OK ? 0 : fail(errbuf, errlen, err.msg);
}

void sy_embedder_close(struct sy_embedder *e)
{
	if (!e)
		return;
	embedder_close(e->e);
	free(e);
}
