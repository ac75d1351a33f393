/* The engine's life cycle and request path: create / drain / destroy, engine_encode (admit a
 * request's items to its model's queue and wait for the workers to finish them), token
 * counting and statistics. The catalogue is in catalog.c, loading and the memory budget in
 * loader.c, the queues' workers in batcher.c; engine_internal.h describes the locking.
 *
 * A request is admitted whole or not at all: if its items do not fit in the model's queue
 * (max_queue_items), it fails at once with SY_ERR_BUSY, so latency does not pile up behind a
 * long queue. With truncate == false the texts are tokenised on the calling thread before
 * admission, so an over-long text fails the request before any model work and never fails a
 * batch it would share with other requests.
 *
 * Timing: queue_ms runs from admission to the start of the first batch holding one of the
 * request's items; inference_ms from there to the end of the last such batch (tokenisation
 * included: the embedder tokenises inside its call, so tokenize_ms is reported as 0); total_ms
 * covers the whole call, a lazy load included. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "engine/engine_internal.h"
#include "model/heads/colbert.h"
#include "model/arch/use_lite.h"

struct engine_config engine_default_config(void)
{
	return (struct engine_config){
	    .memory_budget = 0,
	    .n_threads = 0,
	    .max_batch_tokens = 8192,
	    .max_batch_items = 256,
	    .max_wait_ms = 0,
	    .max_queue_items = 4096,
	    .idle_ttl_s = 0,
	    .load_wait_ms = 60000,
	    .load_failure_cooldown_s = 30,
	    .builtin_models = true,
	    .n_workers = 1,
	};
}

static size_t half_of_ram(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || page <= 0)
		return (size_t)4 << 30;
	return (size_t)pages * (size_t)page / 2;
}

enum sy_status engine_create(const struct engine_config *cfg, struct sy_error *err,
                             struct engine **out)
{
	*out = NULL;
	struct engine_config c = cfg ? *cfg : engine_default_config();
	if (c.memory_budget == 0)
		c.memory_budget = half_of_ram();
	if (c.max_batch_tokens <= 0)
		c.max_batch_tokens = 8192;
	if (c.max_batch_items <= 0)
		c.max_batch_items = 256;
	if (c.max_wait_ms < 0)
		c.max_wait_ms = 0;
	if (c.max_queue_items <= 0)
		c.max_queue_items = 4096;
	if (c.idle_ttl_s < 0)
		c.idle_ttl_s = 0;
	if (c.load_wait_ms <= 0)
		c.load_wait_ms = 60000;
	if (c.load_failure_cooldown_s < 0)
		c.load_failure_cooldown_s = 0;
	if (c.n_workers <= 0)
		c.n_workers = 1;
	struct engine *e = calloc(1, sizeof *e);
	if (!e)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	e->cfg = c;
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->work_cv, NULL);
	pthread_cond_init(&e->idle_cv, NULL);
	pthread_cond_init(&e->reap_cv, NULL);
	/* The first log call reads the level once; make it here, before any thread starts. */
	sy_log(SY_LOG_DEBUG,
	       "engine: budget %.0f MB, %d worker(s), batches of %d tokens / %d items",
	       (double)c.memory_budget / (1024.0 * 1024.0), c.n_workers, c.max_batch_tokens,
	       c.max_batch_items);
	enum sy_status s = SY_OK;
	if (c.builtin_models) {
		char buf[4096];
		const char *dir = use_lite_resolve(buf, sizeof buf);
		if (dir)
			s = engine_model_add(e, USE_LITE_ID, dir, false, err);
	}
	if (s == SY_OK)
		s = engine_workers_start(e, err);
	if (s == SY_OK)
		s = engine_reaper_start(e, err);
	if (s != SY_OK) {
		engine_destroy(e);
		return s;
	}
	*out = e;
	return SY_OK;
}

void engine_drain(struct engine *e)
{
	pthread_mutex_lock(&e->mu);
	e->draining = true;
	/* Workers waiting for a batch to fill run it now. */
	pthread_cond_broadcast(&e->work_cv);
	while (e->n_inside > 0)
		pthread_cond_wait(&e->idle_cv, &e->mu);
	pthread_mutex_unlock(&e->mu);
}

void engine_destroy(struct engine *e)
{
	if (!e)
		return;
	engine_drain(e);
	pthread_mutex_lock(&e->mu);
	e->stopping = true;
	pthread_cond_broadcast(&e->work_cv);
	pthread_cond_broadcast(&e->reap_cv);
	pthread_mutex_unlock(&e->mu);
	engine_workers_join(e);
	if (e->has_reaper)
		pthread_join(e->reaper, NULL);
	for (int i = 0; i < e->n_models; i++)
		engine_model_free(e->models[i]);
	free(e->models);
	pthread_cond_destroy(&e->reap_cv);
	pthread_cond_destroy(&e->idle_cv);
	pthread_cond_destroy(&e->work_cv);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

void engine_stats_get(struct engine *e, struct engine_stats *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&e->mu);
	out->memory_budget = e->cfg.memory_budget;
	out->memory_used = e->used;
	out->n_models = e->n_models;
	for (int i = 0; i < e->n_models; i++) {
		const struct engine_model *m = e->models[i];
		out->n_loaded += m->state == ENGINE_MODEL_LOADED;
		out->queue_items += m->queue_items;
	}
	out->n_evictions = e->n_evictions;
	out->n_load_failures = e->n_load_failures;
	memcpy(out->batch_size_hist, e->batch_size_hist, sizeof out->batch_size_hist);
	pthread_mutex_unlock(&e->mu);
}

void engine_encode_result_free(struct engine_encode_result *r)
{
	if (!r)
		return;
	free(r->dense);
	for (int i = 0; r->items && i < r->n_items; i++)
		embed_item_result_free(&r->items[i]);
	free(r->items);
	free(r->n_tokens);
	memset(r, 0, sizeof *r);
}

/* Finds the model, refuses while draining, and loads it. On success the model is LOADED and
 * counted as admitted (so it cannot be unloaded) until admitted_leave; mu held throughout. */
static enum sy_status admitted_enter(struct engine *e, const char *id, struct sy_error *err,
                                     struct engine_model **out)
{
	*out = NULL;
	if (e->draining)
		return sy_error_set(err, SY_ERR_UNAVAILABLE, "the engine is shutting down");
	struct engine_model *m = engine_model_find(e, id);
	if (!m)
		return sy_error_set(err, SY_ERR_NOT_FOUND, "model %s: not in the catalogue", id);
	e->n_inside++;
	enum sy_status s = engine_model_ensure_loaded(e, m, err);
	if (s != SY_OK) {
		m->n_errors++;
		e->n_inside--;
		pthread_cond_broadcast(&e->idle_cv);
		return s;
	}
	m->n_admitted++;
	m->last_used_ns = sy_now_ns();
	*out = m;
	return SY_OK;
}

static void admitted_leave(struct engine *e, struct engine_model *m, enum sy_status s)
{
	if (s != SY_OK)
		m->n_errors++;
	m->n_admitted--;
	m->last_used_ns = sy_now_ns();
	pthread_cond_broadcast(&m->cv);
	e->n_inside--;
	pthread_cond_broadcast(&e->idle_cv);
}

/* With truncate off: every text must fit the model's sequence limit. Runs with mu released
 * (the model is admitted, so it stays loaded; counting only reads the tokenizer). */
static enum sy_status check_lengths(const struct engine_model *m, const struct engine_job *j,
                                    struct sy_error *err)
{
	const int limit = embedder_max_tokens(m->emb);
	if (limit <= 0)
		return SY_OK; /* the model cannot say; it truncates as it always does */
	for (int i = 0; i < j->n_items; i++) {
		int n;
		enum sy_status s = embedder_count_tokens(m->emb, j->prefix, j->prefix_len,
		                                         j->texts[i], j->lens[i], err, &n);
		if (s == SY_ERR_UNSUPPORTED)
			return SY_OK;
		if (s != SY_OK)
			return s;
		if (n > limit)
			return sy_error_set(err, SY_ERR_LIMIT,
			                    "item %d: %d tokens, more than the %d model %s takes "
			                    "(truncate is false)",
			                    i, n, limit, m->id);
	}
	return SY_OK;
}

/* Whether model m does what req asks (the output type, or scoring); mu held. */
static enum sy_status check_task(const struct engine_model *m,
                                 const struct engine_encode_request *req, unsigned outputs,
                                 struct sy_error *err)
{
	const struct embedder *emb = m->emb;
	const char *id = req->model;
	if (embedder_is_pair_model(emb) != (req->query != NULL))
		return embedder_is_pair_model(emb)
		           ? sy_error_set(
		                 err, SY_ERR_UNSUPPORTED,
		                 "model %s is a cross-encoder: it scores (query, document) "
		                 "pairs; use /v1/score/%s or /v1/rerank",
		                 id, id)
		           : sy_error_set(
		                 err, SY_ERR_UNSUPPORTED,
		                 "model %s does not support score: it is %s (scoring needs "
		                 "a cross-encoder, a *ForSequenceClassification model, or a "
		                 "ColBERT model)",
		                 id,
		                 embedder_is_extractor(emb) ? "an extraction model"
		                                            : "an embedding model");
	if (req->query)
		return SY_OK;
	if (embedder_is_extractor(emb) != ((outputs & ENGINE_OUTPUT_ENTITIES) != 0))
		return embedder_is_extractor(emb)
		           ? sy_error_set(err, SY_ERR_UNSUPPORTED,
		                          "model %s is an extraction model (entities): use "
		                          "/v1/extract/%s",
		                          id, id)
		           : sy_error_set(
		                 err, SY_ERR_UNSUPPORTED,
		                 "model %s does not support extract (entities): extraction needs a "
		                 "token-classification (NER) model, "
		                 "*ForTokenClassification",
		                 id);
	if (outputs & ENGINE_OUTPUT_ENTITIES)
		return SY_OK;
	static const char *const kinds[] = {"", "dense", "sparse", "", "multivector"};
	const unsigned gives = embedder_is_sparse_model(emb)        ? ENGINE_OUTPUT_SPARSE
	                       : embedder_is_multivector_model(emb) ? ENGINE_OUTPUT_MULTIVECTOR
	                                                            : ENGINE_OUTPUT_DENSE;
	if (outputs == gives)
		return SY_OK;
	if (outputs & (outputs - 1)) { /* several types: name one the model does not give */
		const unsigned other = outputs & ~gives & (0u - (outputs & ~gives));
		if (outputs & gives)
			return sy_error_set(
			    err, SY_ERR_UNSUPPORTED,
			    "model %s does not support %s output together with %s: ask "
			    "for one output type per request (it gives %s vectors)",
			    id, kinds[other], kinds[gives], kinds[gives]);
		outputs = other;
	}
	if (gives != ENGINE_OUTPUT_DENSE)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "model %s is a %s model: ask for output_types [\"%s\"]", id,
		                    gives == ENGINE_OUTPUT_SPARSE ? "sparse (SPLADE)"
		                                                  : "multi-vector (ColBERT)",
		                    kinds[gives]);
	return sy_error_set(err, SY_ERR_UNSUPPORTED,
	                    "model %s does not support %s output: %s; it gives dense vectors "
	                    "(output_types [\"dense\"])",
	                    id, kinds[outputs],
	                    outputs == ENGINE_OUTPUT_SPARSE
	                        ? "it has no masked-language-model head (sparse output needs a "
	                          "SPLADE model, BertForMaskedLM)"
	                        : "multivector output needs a ColBERT model (HF_ColBERT)");
}

/* Score mode on a ColBERT model: the query encoded as a query, the items as documents, each
 * score their MaxSim. */
static enum sy_status colbert_score(struct engine *e, const struct engine_encode_request *req,
                                    struct sy_error *err, struct engine_encode_result *out)
{
	const uint64_t t0 = sy_now_ns();
	struct engine_encode_request q = {
	    .model = req->model,
	    .n_items = 1,
	    .texts = &req->query,
	    .lens = &req->query_len,
	    .outputs = ENGINE_OUTPUT_MULTIVECTOR,
	    .truncate = true,
	    .is_query = true,
	};
	struct engine_encode_request d = *req;
	d.query = NULL;
	d.query_len = 0;
	d.outputs = ENGINE_OUTPUT_MULTIVECTOR;
	d.is_query = false;
	struct engine_encode_result qr, dr;
	enum sy_status s = engine_encode(e, &q, err, &qr);
	if (s != SY_OK)
		return s;
	s = engine_encode(e, &d, err, &dr);
	if (s != SY_OK) {
		engine_encode_result_free(&qr);
		return s;
	}
	const int n = dr.n_items;
	out->dense = malloc((size_t)n * sizeof *out->dense);
	if (!out->dense) {
		engine_encode_result_free(&qr);
		engine_encode_result_free(&dr);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	const struct embed_item_result *qv = &qr.items[0];
	for (int i = 0; i < n; i++)
		out->dense[i] =
		    (float)colbert_maxsim(qv->vectors, qv->n_vectors, dr.items[i].vectors,
		                          dr.items[i].n_vectors, qv->dims);
	out->n_items = n;
	out->dims = 1;
	out->n_tokens = dr.n_tokens; /* the documents' tokens; the query's are added to the first */
	dr.n_tokens = NULL;
	if (n > 0)
		out->n_tokens[0] += qr.n_tokens[0];
	out->queue_ms = qr.queue_ms + dr.queue_ms;
	out->inference_ms = qr.inference_ms + dr.inference_ms;
	out->total_ms = (double)(sy_now_ns() - t0) / 1e6;
	engine_encode_result_free(&qr);
	engine_encode_result_free(&dr);
	return SY_OK;
}

enum sy_status engine_encode(struct engine *e, const struct engine_encode_request *req,
                             struct sy_error *err, struct engine_encode_result *out)
{
	memset(out, 0, sizeof *out);
	const uint64_t t0 = sy_now_ns();
	if (!req || !req->model)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "no model named");
	if (req->n_items <= 0 || !req->texts || !req->lens)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "no items to encode");
	const unsigned outputs = req->outputs ? req->outputs : ENGINE_OUTPUT_DENSE;
	if (outputs & ENGINE_OUTPUT_ENTITIES && outputs != ENGINE_OUTPUT_ENTITIES)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "entities come alone");
	for (int i = 0; i < req->n_items; i++)
		if (!req->texts[i])
			return sy_error_set(err, SY_ERR_INVALID_ARG, "item %d: no text", i);

	pthread_mutex_lock(&e->mu);
	struct engine_model *m;
	enum sy_status s = admitted_enter(e, req->model, err, &m);
	if (s != SY_OK) {
		pthread_mutex_unlock(&e->mu);
		return s;
	}
	const bool multivector = embedder_is_multivector_model(m->emb);
	if (multivector && req->query) {
		/* ColBERT scores by MaxSim over its own encodings (two requests of its own). */
		admitted_leave(e, m, SY_OK);
		pthread_mutex_unlock(&e->mu);
		return colbert_score(e, req, err, out);
	}
	s = check_task(m, req, outputs, err);
	if (s != SY_OK) {
		admitted_leave(e, m, s);
		pthread_mutex_unlock(&e->mu);
		return s;
	}
	const bool variable = multivector || embedder_is_extractor(m->emb);
	const int n = req->n_items, dims = m->dims;
	struct engine_job job = {
	    .n_items = n,
	    .dims = dims,
	    .texts = req->texts,
	    .lens = req->lens,
	    .normalize = (signed char)(req->normalize < 0 ? -1 : req->normalize > 0),
	    .remaining = n,
	    .is_query = req->is_query,
	    .extract = req->extract,
	};
	/* The prompt belongs to the embedder, which stays loaded while the request is admitted. */
	job.prefix = req->query         ? req->query
	             : req->instruction ? req->instruction
	             : req->is_query    ? embedder_prompt(m->emb, "query")
	                                : NULL;
	job.prefix_len = req->query ? req->query_len : job.prefix ? strlen(job.prefix) : 0;
	pthread_mutex_unlock(&e->mu);

	if (variable)
		job.items = calloc((size_t)n, sizeof *job.items);
	else
		job.dense = malloc((size_t)n * (size_t)dims * sizeof *job.dense);
	job.n_tokens = calloc((size_t)n, sizeof *job.n_tokens);
	struct engine_item *items = calloc((size_t)n, sizeof *items);
	if ((!job.dense && !job.items) || !job.n_tokens || !items)
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory for %d items", n);
	if (s == SY_OK && !req->truncate)
		s = check_lengths(m, &job, err);
	for (int i = 0; s == SY_OK && i < n; i++) {
		items[i].job = &job;
		items[i].index = i;
		size_t bytes = req->lens[i] + job.prefix_len;
		items[i].est_tokens =
		    bytes / 4 + 2 > (size_t)1 << 30 ? 1 << 30 : (int)(bytes / 4 + 2);
		items[i].next = i + 1 < n ? &items[i + 1] : NULL;
	}

	pthread_mutex_lock(&e->mu);
	if (s == SY_OK && n > e->cfg.max_queue_items)
		s = sy_error_set(err, SY_ERR_LIMIT,
		                 "model %s: a request may hold at most %d items (it has %d)", m->id,
		                 e->cfg.max_queue_items, n);
	else if (s == SY_OK && m->queue_items + n > e->cfg.max_queue_items)
		s = sy_error_set(err, SY_ERR_BUSY,
		                 "model %s: queue full (%ld items waiting, limit %d)", m->id,
		                 m->queue_items, e->cfg.max_queue_items);
	if (s == SY_OK) {
		pthread_cond_init(&job.done, NULL);
		job.admit_ns = sy_now_ns();
		if (m->tail)
			m->tail->next = &items[0];
		else
			m->head = &items[0];
		m->tail = &items[n - 1];
		m->queue_items += n;
		m->n_requests++;
		m->n_items += n;
		pthread_cond_broadcast(&e->work_cv);
		while (job.remaining > 0)
			pthread_cond_wait(&job.done, &e->mu);
		pthread_cond_destroy(&job.done);
		s = job.status;
		if (s != SY_OK && err)
			*err = job.err;
	}
	admitted_leave(e, m, s);
	pthread_mutex_unlock(&e->mu);
	free(items);
	if (s != SY_OK) {
		free(job.dense);
		for (int i = 0; job.items && i < n; i++)
			embed_item_result_free(&job.items[i]);
		free(job.items);
		free(job.n_tokens);
		return s;
	}
	const uint64_t t1 = sy_now_ns();
	out->n_items = n;
	out->dims = dims;
	out->dense = job.dense;
	out->items = job.items;
	out->n_tokens = job.n_tokens;
	out->queue_ms = (double)(job.start_ns - job.admit_ns) / 1e6;
	out->tokenize_ms = 0;
	out->inference_ms = (double)(job.end_ns - job.start_ns) / 1e6;
	out->total_ms = (double)(t1 - t0) / 1e6;
	return SY_OK;
}

enum sy_status engine_count_tokens(struct engine *e, const char *model, const char *text,
                                   size_t len, struct sy_error *err, int *out)
{
	*out = 0;
	pthread_mutex_lock(&e->mu);
	struct engine_model *m;
	enum sy_status s = admitted_enter(e, model, err, &m);
	if (s != SY_OK) {
		pthread_mutex_unlock(&e->mu);
		return s;
	}
	pthread_mutex_unlock(&e->mu);
	s = embedder_count_tokens(m->emb, NULL, 0, text, len, err, out);
	pthread_mutex_lock(&e->mu);
	/* A model that cannot count is not a failed request. */
	admitted_leave(e, m, s == SY_ERR_UNSUPPORTED ? SY_OK : s);
	pthread_mutex_unlock(&e->mu);
	return s;
}
