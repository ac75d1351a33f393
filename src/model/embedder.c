/* Architecture dispatch for embedders: inspects a model directory and opens the matching
 * implementation; wrappers for the optional operations (struct embedder_ext) with fallbacks
 * for implementations that lack them. */
#include "model/embedder.h"
#include "model/heads/cross_encoder.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "model/arch/use_lite.h"

enum pooling_mode pooling_mode_parse(const char *s)
{
	if (!s)
		return POOLING_DEFAULT;
	if (!strcmp(s, "cls"))
		return POOLING_CLS;
	if (!strcmp(s, "mean"))
		return POOLING_MEAN;
	if (!strcmp(s, "max"))
		return POOLING_MAX;
	if (!strcmp(s, "last"))
		return POOLING_LAST;
	return POOLING_DEFAULT;
}

const char *pooling_mode_name(enum pooling_mode m)
{
	switch (m) {
	case POOLING_CLS: return "cls";
	case POOLING_MEAN: return "mean";
	case POOLING_MAX: return "max";
	case POOLING_LAST: return "last";
	case POOLING_DEFAULT: break;
	}
	return "default";
}

int ner_aggregation_parse(const char *s)
{
	static const char *const names[] = {"first", "simple", "average", "max"};
	for (int i = 0; s && i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

const char *ner_aggregation_name(enum ner_aggregation a)
{
	switch (a) {
	case NER_AGG_FIRST: return "first";
	case NER_AGG_SIMPLE: return "simple";
	case NER_AGG_AVERAGE: return "average";
	case NER_AGG_MAX: return "max";
	}
	return "first";
}

void embed_item_result_free(struct embed_item_result *r)
{
	if (!r)
		return;
	free(r->vectors);
	free(r->entities);
	memset(r, 0, sizeof *r);
}

struct embed_options embed_default_options(void)
{
	return (struct embed_options){.pooling = POOLING_DEFAULT, .normalize = -1};
}

static int dir_has(const char *dir, const char *name)
{
	char *p = sy_path_join(dir, name);
	int ok = p && sy_path_exists(p);
	free(p);
	return ok;
}

enum sy_status embedder_open(const char *path, const struct embed_options *opts,
                             struct sy_error *err, struct embedder **out)
{
	*out = NULL;
	struct embed_options defaults = embed_default_options();
	if (!opts)
		opts = &defaults;
	char builtin[4096];
	if (!strcmp(path, USE_LITE_ID) && !sy_path_is_dir(path)) {
		path = use_lite_resolve(builtin, sizeof builtin);
		if (!path)
			return sy_error_set(
			    err, SY_ERR_NOT_FOUND,
			    "model use-lite: not found in $SWITCHYARD_MODELS/use-lite, "
			    "models/use-lite or ../shared/models/use-lite (run `make "
			    "models`)");
	}
	if (!sy_path_is_dir(path))
		return sy_error_set(err, SY_ERR_NOT_FOUND, "model %s: not a directory", path);
	struct embedder *e = calloc(1, sizeof *e);
	if (!e)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	enum sy_status s;
	if (gliner_detect(path))
		s = gliner_embedder_open(path, opts, err, e);
	else if (dir_has(path, "config.json") && token_classifier_detect(path))
		s = token_classifier_embedder_open(path, opts, err, e);
	else if (dir_has(path, "config.json") && colbert_detect(path))
		s = colbert_embedder_open(path, opts, err, e);
	else if (dir_has(path, "config.json") && cross_encoder_detect(path))
		s = cross_encoder_embedder_open(path, opts, err, e);
	else if (dir_has(path, "config.json") && splade_detect(path))
		s = splade_embedder_open(path, opts, err, e);
	else if (dir_has(path, "config.json"))
		s = bert_embedder_open(path, opts, err, e);
	else if (dir_has(path, "model.json"))
		s = use_lite_embedder_open(path, opts, err, e);
	else
		s = sy_error_set(
		    err, SY_ERR_UNSUPPORTED,
		    "model %s: no config.json (Hugging Face) or model.json (TF.js) found", path);
	if (s != SY_OK) {
		free(e);
		return s;
	}
	*out = e;
	return SY_OK;
}

int embedder_dims(const struct embedder *e)
{
	return e->vt->dims(e->impl);
}

const char *embedder_arch(const struct embedder *e)
{
	return e->vt->arch;
}

enum sy_status embedder_encode(struct embedder *e, const char *const *texts, const size_t *lens,
                               int n, float *out, struct sy_error *err)
{
	return e->vt->encode(e->impl, texts, lens, n, out, err);
}

void embedder_close(struct embedder *e)
{
	if (!e)
		return;
	e->vt->close(e->impl);
	free(e);
}

/* Fallback for embedders without encode_ex: joins each prefix to its text and calls encode. */
static enum sy_status encode_prefixed(struct embedder *e, const struct embed_call *call,
                                      struct sy_error *err, float *out)
{
	const int n = call->n;
	bool any = false;
	for (int i = 0; call->prefixes && i < n; i++)
		any |= call->prefixes[i] && call->prefix_lens[i] > 0;
	if (!any)
		return e->vt->encode(e->impl, call->texts, call->lens, n, out, err);
	char **joined = calloc((size_t)n, sizeof *joined);
	size_t *lens = malloc((size_t)n * sizeof *lens);
	enum sy_status s = joined && lens ? SY_OK : SY_ERR_NOMEM;
	for (int i = 0; s == SY_OK && i < n; i++) {
		size_t pl = call->prefixes[i] ? call->prefix_lens[i] : 0;
		lens[i] = pl + call->lens[i];
		joined[i] = malloc(lens[i] + 1);
		if (!joined[i]) {
			s = SY_ERR_NOMEM;
			break;
		}
		if (pl)
			memcpy(joined[i], call->prefixes[i], pl);
		memcpy(joined[i] + pl, call->texts[i], call->lens[i]);
		joined[i][lens[i]] = '\0';
	}
	if (s == SY_OK)
		s = e->vt->encode(e->impl, (const char *const *)joined, lens, n, out, err);
	else
		sy_error_set(err, SY_ERR_NOMEM, "out of memory for %d prefixed texts", n);
	for (int i = 0; joined && i < n; i++)
		free(joined[i]);
	free(joined);
	free(lens);
	return s;
}

enum sy_status embedder_encode_ex(struct embedder *e, const struct embed_call *call,
                                  struct sy_error *err, float *out, int *n_tokens)
{
	if (e->ext && e->ext->encode_ex)
		return e->ext->encode_ex(e->impl, call, err, out, n_tokens);
	enum sy_status s = encode_prefixed(e, call, err, out);
	for (int i = 0; s == SY_OK && n_tokens && i < call->n; i++) {
		const char *pre = call->prefixes ? call->prefixes[i] : NULL;
		size_t pl = pre ? call->prefix_lens[i] : 0;
		if (embedder_count_tokens(e, pre, pl, call->texts[i], call->lens[i], NULL,
		                          &n_tokens[i]) != SY_OK)
			n_tokens[i] = 0;
	}
	return s;
}

enum sy_status embedder_count_tokens(const struct embedder *e, const char *prefix,
                                     size_t prefix_len, const char *text, size_t len,
                                     struct sy_error *err, int *out)
{
	*out = 0;
	if (!e->ext || !e->ext->count_tokens)
		return sy_error_set(err, SY_ERR_UNSUPPORTED, "model %s: cannot count tokens",
		                    e->vt->arch);
	return e->ext->count_tokens(e->impl, prefix, prefix_len, text, len, err, out);
}

size_t embedder_bytes(const struct embedder *e)
{
	return e->ext && e->ext->bytes ? e->ext->bytes(e->impl) : 0;
}

const char *embedder_prompt(const struct embedder *e, const char *name)
{
	return e->ext && e->ext->prompt ? e->ext->prompt(e->impl, name) : NULL;
}

bool embedder_is_sparse_model(const struct embedder *e)
{
	return e->ext && e->ext->sparse && e->ext->sparse(e->impl);
}

const char *embedder_token(const struct embedder *e, int id)
{
	return e->ext && e->ext->token ? e->ext->token(e->impl, id) : NULL;
}

bool embedder_is_pair_model(const struct embedder *e)
{
	return e->ext && e->ext->pairs && e->ext->pairs(e->impl);
}

int embedder_max_tokens(const struct embedder *e)
{
	return e->ext && e->ext->max_tokens ? e->ext->max_tokens(e->impl) : 0;
}

bool embedder_is_multivector_model(const struct embedder *e)
{
	return e->ext && e->ext->multivector && e->ext->multivector(e->impl);
}

bool embedder_is_extractor(const struct embedder *e)
{
	return e->ext && e->ext->extractor && e->ext->extractor(e->impl);
}

const char *const *embedder_labels(const struct embedder *e, int *n)
{
	*n = 0;
	return e->ext && e->ext->labels ? e->ext->labels(e->impl, n) : NULL;
}

enum sy_status embedder_encode_items(struct embedder *e, const struct embed_call *call,
                                     struct sy_error *err, struct embed_item_result *out,
                                     int *n_tokens)
{
	if (!e->ext || !e->ext->encode_items)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "model %s gives fixed-size vectors, not per-token results",
		                    e->vt->arch);
	return e->ext->encode_items(e->impl, call, err, out, n_tokens);
}
