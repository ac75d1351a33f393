/* The public C library (include/switchyard.h) over the engine: handles, status codes and
 * results. Messages of failed calls are kept per thread, so concurrent callers do not see each
 * other's. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "switchyard.h"

struct sy_engine {
	struct engine *e;
};

struct sy_result {
	struct engine_result r;
	enum engine_task task;
};

/* The calling thread's last failure: which engine, and its message. */
static _Thread_local const sy_engine *last_engine;
static _Thread_local char last_msg[SY_ERROR_MSG_LEN];

static int to_code(enum sy_status s)
{
	switch (s) {
	case SY_OK: return 0;
	case SY_ERR_INVALID_ARG: return SY_EINVAL;
	case SY_ERR_IO: return SY_EIO;
	case SY_ERR_FORMAT: return SY_EFORMAT;
	case SY_ERR_UNSUPPORTED: return SY_EUNSUPPORTED;
	case SY_ERR_NOT_FOUND: return SY_ENOTFOUND;
	case SY_ERR_NOMEM: return SY_ENOMEM;
	case SY_ERR_LIMIT: return SY_ELIMIT;
	case SY_ERR_BUSY: return SY_EBUSY;
	case SY_ERR_UNAVAILABLE: return SY_EUNAVAILABLE;
	case SY_ERR_LOAD_FAILED: return SY_ELOAD;
	case SY_ERR_INTERNAL:
	case SY_ERR_NO_WORKERS:
	case SY_ERR_TIMEOUT:
	case SY_ERR_DEAD_LETTER: break;
	}
	return SY_EINTERNAL;
}

static int fail(const sy_engine *e, enum sy_status s, const char *msg)
{
	last_engine = e;
	snprintf(last_msg, sizeof last_msg, "%s", msg);
	return to_code(s);
}

const char *sy_version(void)
{
	return SY_VERSION_STRING;
}

const char *sy_strerror(int status)
{
	switch (status) {
	case 0: return "ok";
	case SY_EINVAL: return "invalid argument";
	case SY_EIO: return "input/output error";
	case SY_EFORMAT: return "malformed file or message";
	case SY_EUNSUPPORTED: return "not supported by the model";
	case SY_ENOTFOUND: return "model not found";
	case SY_ENOMEM: return "out of memory";
	case SY_ELIMIT: return "limit exceeded";
	case SY_EBUSY: return "queue full";
	case SY_EUNAVAILABLE: return "unavailable";
	case SY_ELOAD: return "model failed to load";
	case SY_EINTERNAL: return "internal error";
	}
	return "unknown status";
}

const char *sy_last_error(sy_engine *e)
{
	return last_engine == e ? last_msg : "";
}

sy_engine_params sy_engine_default_params(void)
{
	return (sy_engine_params){.builtin_models = 1};
}

int sy_engine_open(const sy_engine_params *p, sy_engine **out)
{
	if (!out)
		return SY_EINVAL;
	*out = NULL;
	sy_engine_params def = sy_engine_default_params();
	if (!p)
		p = &def;
	struct engine_config cfg = engine_default_config();
	cfg.memory_budget = p->memory_budget;
	cfg.n_threads = p->n_threads;
	cfg.precision = p->quantize_int8 ? LINEAR_INT8 : LINEAR_FP32;
	cfg.builtin_models = p->builtin_models != 0;
	sy_engine *h = calloc(1, sizeof *h);
	if (!h)
		return SY_ENOMEM;
	struct sy_error err = {0};
	enum sy_status s = engine_create(&cfg, &err, &h->e);
	if (s != SY_OK) {
		free(h);
		return fail(NULL, s, err.msg);
	}
	if (last_engine == h) /* a closed engine's message at the same address */
		last_engine = NULL;
	*out = h;
	return 0;
}

void sy_engine_close(sy_engine *e)
{
	if (!e)
		return;
	if (last_engine == e)
		last_engine = NULL;
	engine_destroy(e->e);
	free(e);
}

int sy_model_add(sy_engine *e, const char *id, const char *path_or_hub_id)
{
	if (!e || !id || !*id || !path_or_hub_id || !*path_or_hub_id)
		return fail(e, SY_ERR_INVALID_ARG, "sy_model_add: an id and a path are needed");
	struct sy_error err = {0};
	enum sy_status s = engine_model_add(e->e, id, path_or_hub_id, false, &err);
	return s == SY_OK ? 0 : fail(e, s, err.msg);
}

sy_model_params sy_model_default_params(void)
{
	return (sy_model_params){0};
}

int sy_model_add_with(sy_engine *e, const char *id, const char *path_or_hub_id,
                      const sy_model_params *p)
{
	struct model_options o = model_default_options();
	if (p && p->pooling) {
		o.pooling = pooling_mode_parse(p->pooling);
		if (o.pooling == POOLING_DEFAULT)
			return fail(e, SY_ERR_INVALID_ARG,
			            "pooling must be cls, mean, max or last");
	}
	if (p && p->max_length < 0)
		return fail(e, SY_ERR_INVALID_ARG, "max_length must not be negative");
	o.max_length = p ? p->max_length : 0;
	if (p && p->dense_dims < 0)
		return fail(e, SY_ERR_INVALID_ARG, "dense_dims must not be negative");
	o.dense_dims = p ? p->dense_dims : 0;
	if (p && (p->quantize < -1 || p->quantize > 1))
		return fail(e, SY_ERR_INVALID_ARG, "quantize must be -1 (fp32), 0 or 1 (int8)");
	int rc = sy_model_add(e, id, path_or_hub_id);
	if (rc < 0)
		return rc;
	struct sy_error err = {0};
	enum sy_status s = engine_model_set_options(e->e, id, &o, &err);
	if (s == SY_OK && p && p->quantize)
		s = engine_model_set_precision(e->e, id,
		                               p->quantize > 0 ? LINEAR_INT8 : LINEAR_FP32, &err);
	return s == SY_OK ? 0 : fail(e, s, err.msg);
}

int sy_model_tasks(sy_engine *e, const char *model, int *tasks, int *output)
{
	if (!e || !model)
		return e ? fail(e, SY_ERR_INVALID_ARG, "sy_model_tasks: no model named")
		         : SY_EINVAL;
	struct sy_error err = {0};
	struct engine_model_info info;
	enum sy_status s = engine_model_load(e->e, model, &err);
	if (s == SY_OK)
		s = engine_model_get(e->e, model, &err, &info);
	if (s != SY_OK)
		return fail(e, s, err.msg);
	if (tasks)
		*tasks = (int)info.tasks;
	if (output)
		*output = (int)info.outputs;
	return 0;
}

sy_encode_params sy_encode_default_params(void)
{
	return (sy_encode_params){.normalize = -1, .truncate = 1, .output = SY_OUTPUT_DENSE};
}

/* The lengths of n texts, or an error naming the first NULL one. */
static int text_lens(sy_engine *e, const char *const *texts, size_t n, size_t **out)
{
	*out = NULL;
	if (!texts || n == 0 || n > (size_t)1 << 30)
		return fail(e, SY_ERR_INVALID_ARG, "no texts given");
	size_t *lens = malloc(n * sizeof *lens);
	if (!lens)
		return fail(e, SY_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (!texts[i]) {
			free(lens);
			char msg[64];
			snprintf(msg, sizeof msg, "text %zu is NULL", i);
			return fail(e, SY_ERR_INVALID_ARG, msg);
		}
		lens[i] = strlen(texts[i]);
	}
	*out = lens;
	return 0;
}

/* Runs req and wraps its result. */
static int run(sy_engine *e, const struct engine_request *req, sy_result **out)
{
	sy_result *r = calloc(1, sizeof *r);
	if (!r)
		return fail(e, SY_ERR_NOMEM, "out of memory");
	struct sy_error err = {0};
	enum sy_status s = engine_request_run(e->e, req, &err, &r->r);
	if (s != SY_OK) {
		free(r);
		return fail(e, s, err.msg);
	}
	r->task = req->task;
	*out = r;
	return 0;
}

int sy_encode(sy_engine *e, const char *model, const char *const *texts, size_t n,
              const sy_encode_params *p, sy_result **out)
{
	if (!e || !model || !out)
		return e ? fail(e, SY_ERR_INVALID_ARG,
		                "sy_encode: engine, model and out are needed")
		         : SY_EINVAL;
	*out = NULL;
	sy_encode_params def = sy_encode_default_params();
	if (!p)
		p = &def;
	if (p->output != SY_OUTPUT_DENSE && p->output != SY_OUTPUT_SPARSE &&
	    p->output != SY_OUTPUT_MULTIVECTOR)
		return fail(e, SY_ERR_INVALID_ARG, "sy_encode: output must be one SY_OUTPUT_*");
	size_t *lens;
	int rc = text_lens(e, texts, n, &lens);
	if (rc < 0)
		return rc;
	struct engine_request req = {
	    .task = ENGINE_TASK_ENCODE,
	    .encode = {.items = {model, (int)n, texts, lens, p->truncate != 0},
	               .outputs = (unsigned)p->output,
	               .normalize = p->normalize,
	               .is_query = p->is_query != 0,
	               .instruction = p->instruction}};
	rc = run(e, &req, out);
	free(lens);
	return rc;
}

int sy_encode_images(sy_engine *e, const char *model, const void *const *images, const size_t *lens,
                     size_t n, const sy_encode_params *p, sy_result **out)
{
	if (!e || !model || !out || !images || !lens || n == 0 || n > (size_t)1 << 24)
		return e ? fail(e, SY_ERR_INVALID_ARG,
		                "sy_encode_images: engine, model, images, lens and out are needed")
		         : SY_EINVAL;
	*out = NULL;
	sy_encode_params def = sy_encode_default_params();
	if (!p)
		p = &def;
	struct model_image *ims = calloc(n, sizeof *ims);
	const char **texts = calloc(n, sizeof *texts);
	size_t *tlens = calloc(n, sizeof *tlens);
	int rc = ims && texts && tlens ? 0 : fail(e, SY_ERR_NOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!images[i] || !lens[i]) {
			char msg[64];
			snprintf(msg, sizeof msg, "image %zu is empty", i);
			rc = fail(e, SY_ERR_INVALID_ARG, msg);
		}
		ims[i] = (struct model_image){images[i], lens[i], 0};
		texts[i] = "";
	}
	struct engine_request req = {.task = ENGINE_TASK_ENCODE,
	                             .encode = {.items = {model, (int)n, texts, tlens, true, ims},
	                                        .outputs = ENGINE_OUTPUT_DENSE,
	                                        .normalize = p->normalize}};
	if (rc == 0)
		rc = run(e, &req, out);
	free(ims);
	free(texts);
	free(tlens);
	return rc;
}

sy_score_params sy_score_default_params(void)
{
	return (sy_score_params){.truncate = 1};
}

int sy_score_with(sy_engine *e, const char *model, const char *query, const char *const *docs,
                  size_t n, const sy_score_params *p, sy_result **out)
{
	if (!e || !model || !query || !out)
		return e ? fail(e, SY_ERR_INVALID_ARG,
		                "sy_score: engine, model, query and out are needed")
		         : SY_EINVAL;
	const sy_score_params def = sy_score_default_params();
	if (!p)
		p = &def;
	*out = NULL;
	size_t *lens;
	int rc = text_lens(e, docs, n, &lens);
	if (rc < 0)
		return rc;
	struct engine_request req = {
	    .task = ENGINE_TASK_SCORE,
	    .score = {.items = {model, (int)n, docs, lens, p->truncate != 0},
	              .query = query,
	              .query_len = strlen(query),
	              .instruction = p->instruction}};
	rc = run(e, &req, out);
	free(lens);
	return rc;
}

int sy_score(sy_engine *e, const char *model, const char *query, const char *const *docs, size_t n,
             sy_result **out)
{
	return sy_score_with(e, model, query, docs, n, NULL, out);
}

sy_extract_params sy_extract_default_params(void)
{
	return (sy_extract_params){.threshold = -1};
}

int sy_extract_with(sy_engine *e, const char *model, const char *const *texts, size_t n,
                    const sy_extract_params *p, sy_result **out)
{
	sy_extract_params def = sy_extract_default_params();
	if (!p)
		p = &def;
	if (!e || !model || !out || (p->n_labels && !p->labels) || p->n_labels > 4096)
		return e ? fail(e, SY_ERR_INVALID_ARG,
		                "sy_extract: engine, model and out are needed (and labels when "
		                "n_labels > 0)")
		         : SY_EINVAL;
	*out = NULL;
	const int agg = p->aggregation ? ner_aggregation_parse(p->aggregation) : NER_AGG_FIRST;
	if (agg < 0)
		return fail(e, SY_ERR_INVALID_ARG,
		            "aggregation must be first, simple, average or max");
	size_t *lens;
	int rc = text_lens(e, texts, n, &lens);
	if (rc < 0)
		return rc;
	struct extract_params xp = {.labels = p->n_labels ? p->labels : NULL,
	                            .n_labels = (int)p->n_labels,
	                            .threshold = p->threshold,
	                            .aggregation = (enum ner_aggregation)agg};
	struct engine_request req = {
	    .task = ENGINE_TASK_EXTRACT,
	    .extract = {.items = {model, (int)n, texts, lens, true}, .params = &xp}};
	rc = run(e, &req, out);
	free(lens);
	return rc;
}

int sy_extract(sy_engine *e, const char *model, const char *const *texts, size_t n,
               const char *const *labels, size_t n_labels, sy_result **out)
{
	sy_extract_params p = sy_extract_default_params();
	p.labels = labels;
	p.n_labels = n_labels;
	return sy_extract_with(e, model, texts, n, &p, out);
}

size_t sy_result_count(const sy_result *r)
{
	return r ? (size_t)r->r.n_items : 0;
}

static bool in_range(const sy_result *r, size_t i)
{
	return r && i < (size_t)r->r.n_items;
}

const float *sy_result_dense(const sy_result *r, size_t i, size_t *dims)
{
	if (dims)
		*dims = 0;
	if (!in_range(r, i) || !r->r.dense)
		return NULL;
	if (dims)
		*dims = (size_t)r->r.dims;
	return r->r.dense + i * (size_t)r->r.dims;
}

float sy_result_score(const sy_result *r, size_t i)
{
	return in_range(r, i) && r->r.scores ? r->r.scores[i] : 0.0f;
}

const float *sy_result_multivector(const sy_result *r, size_t i, size_t *n_vectors, size_t *dims)
{
	if (n_vectors)
		*n_vectors = 0;
	if (dims)
		*dims = 0;
	if (!in_range(r, i) || !r->r.items || r->task != ENGINE_TASK_ENCODE)
		return NULL;
	const struct model_item_result *it = &r->r.items[i];
	if (n_vectors)
		*n_vectors = (size_t)it->n_vectors;
	if (dims)
		*dims = (size_t)it->dims;
	return it->vectors;
}

size_t sy_result_entity_count(const sy_result *r, size_t i)
{
	return in_range(r, i) && r->r.items && r->task == ENGINE_TASK_EXTRACT
	           ? (size_t)r->r.items[i].n_entities
	           : 0;
}

const char *sy_result_entity(const sy_result *r, size_t i, size_t k, float *score, size_t *start,
                             size_t *end)
{
	if (k >= sy_result_entity_count(r, i))
		return NULL;
	const struct model_entity *en = &r->r.items[i].entities[k];
	if (score)
		*score = en->score;
	if (start)
		*start = en->start;
	if (end)
		*end = en->end;
	return en->label;
}

size_t sy_result_tokens(const sy_result *r, size_t i)
{
	return in_range(r, i) && r->r.n_tokens ? (size_t)r->r.n_tokens[i] : 0;
}

void sy_result_free(sy_result *r)
{
	if (!r)
		return;
	engine_result_free(&r->r);
	free(r);
}
