/* The engine's life cycle and request path: create / drain / destroy, the task entry points
 * (plan: admit the model, check the task, prepare every item on the caller's thread; then
 * compute: queue the prepared items and wait for the workers), token counting and statistics.
 * The catalogue is in catalog.c, loading and the memory budget in loader.c, the queues'
 * workers in batcher.c; engine_internal.h describes the locking.
 *
 * A request is admitted whole or not at all: if its items do not fit in the model's queue
 * (max_queue_items), it fails at once with SY_ERR_BUSY, so latency does not pile up behind a
 * long queue. Items are tokenised before admission, so an over-long text (truncate off) fails
 * the request before any model work and never fails a batch it would share with other
 * requests, and batches close on exact token counts.
 *
 * Timing: tokenization_ms is the prepare stage; queue_ms runs from admission to the start of
 * the first batch holding one of the request's items; inference_ms from there to the end of the
 * last such batch; total_ms covers the whole call, a lazy load included. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "engine/engine_internal.h"
#include "model/arch/use_lite.h"
#include "tensor/attention.h"
#include "tensor/isa.h"
#include "tensor/ops.h"

struct engine_config engine_default_config(void)
{
	return (struct engine_config){
	    .memory_budget = 0,
	    .n_threads = 0,
	    .max_batch_tokens = 8192,
	    .max_batch_items = 256,
	    .max_wait_ms = 0,
	    .max_queue_items = 4096,
	    .max_request_tokens = 1L << 20,
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
	if (c.max_request_tokens <= 0)
		c.max_request_tokens = 1L << 20;
	if (c.idle_ttl_s < 0)
		c.idle_ttl_s = 0;
	if (c.load_wait_ms <= 0)
		c.load_wait_ms = 60000;
	if (c.load_failure_cooldown_s < 0)
		c.load_failure_cooldown_s = 0;
	if (c.n_workers <= 0)
		c.n_workers = 1;
	/* A SWITCHYARD_ISA the CPU lacks is refused here for library users (the CLI checks first). */
	if (sy_isa_init(err) != SY_OK)
		return err ? err->status : SY_ERR_INVALID_ARG;
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
	sy_log(SY_LOG_INFO, "engine: %s kernels%s", sy_isa_name(sy_isa_current()),
	       attention_bf16_active() ? ", bf16 attention for int8 models" : "");
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
	engine_loaders_join(e);
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

void engine_result_free(struct engine_result *r)
{
	if (!r)
		return;
	free(r->dense);
	free(r->scores);
	for (int i = 0; r->items && i < r->n_items; i++)
		model_item_result_free(&r->items[i]);
	free(r->items);
	free(r->n_tokens);
	memset(r, 0, sizeof *r);
}

const char *engine_task_name(enum engine_task t)
{
	switch (t) {
	case ENGINE_TASK_ENCODE: return "encode";
	case ENGINE_TASK_SCORE: return "score";
	case ENGINE_TASK_EXTRACT: return "extract";
	}
	return "?";
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
	enum sy_status s = engine_model_ensure_loaded(e, m, e->cfg.load_wait_ms, err);
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

/* What a model is, for messages that say why it cannot do something. */
static const char *model_kind(const struct model *md)
{
	if (md->encode && md->encode->outputs)
		return "a multi-output (BGE-M3) model";
	if (md->encode)
		return md->encode->output == MODEL_OUTPUT_SPARSE ? "a sparse (SPLADE) model"
		       : md->encode->output == MODEL_OUTPUT_MULTIVECTOR
		           ? "a multi-vector (ColBERT) model"
		           : "an embedding model";
	if (md->score)
		return "a cross-encoder: it scores (query, document) pairs";
	return "an extraction model (entities)";
}

/* "dense, sparse and multivector" of output bits, into buf. */
static const char *outputs_list(unsigned bits, char *buf, size_t cap)
{
	buf[0] = 0;
	int k = 0, n = __builtin_popcount(bits & MODEL_OUTPUTS_ALL);
	for (unsigned b = 1; b <= MODEL_OUTPUT_MULTIVECTOR; b <<= 1) {
		if (!(bits & b))
			continue;
		size_t at = strlen(buf);
		snprintf(buf + at, cap - at, "%s%s",
		         k == 0       ? ""
		         : k == n - 1 ? " and "
		                      : ", ",
		         model_output_name(b));
		k++;
	}
	return buf;
}

/* An encode request asking for outputs the model does not give. */
static enum sy_status output_mismatch(const struct engine_model *m, unsigned want,
                                      struct sy_error *err)
{
	static const char *const kinds[] = {"", "dense", "sparse", "", "multivector"};
	const unsigned gives = model_outputs(m->model);
	const unsigned lacks = want & ~gives & (0u - (want & ~gives)); /* one of them */
	char list[64];
	if (m->model->encode->outputs)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "model %s does not support %s output: its outputs are %s",
		                    m->id, kinds[lacks], outputs_list(gives, list, sizeof list));
	if (want & gives)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "model %s does not support %s output together with %s: ask for "
		                    "one output type per request (it gives %s vectors)",
		                    m->id, kinds[lacks], kinds[gives], kinds[gives]);
	if (gives != MODEL_OUTPUT_DENSE)
		return sy_error_set(
		    err, SY_ERR_UNSUPPORTED,
		    "model %s does not support %s output: it is %s (output type %s)", m->id,
		    kinds[lacks], model_kind(m->model), kinds[gives]);
	return sy_error_set(
	    err, SY_ERR_UNSUPPORTED,
	    "model %s does not support %s output: it gives dense vectors (%s)", m->id, kinds[lacks],
	    lacks == MODEL_OUTPUT_SPARSE ? "sparse output needs a SPLADE model, BertForMaskedLM"
	                                 : "multivector output needs a ColBERT model, HF_ColBERT");
}

/* Whether a score request carries options (score_mode, score_weights). */
static bool score_options(const struct engine_score_request *r)
{
	return r->params && (r->params->mode != MODEL_SCORE_DEFAULT || r->params->has_weights);
}

/* The reason model m cannot do what req asks, or SY_OK; mu held. */
static enum sy_status check_task_message(const struct engine_model *m,
                                         const struct engine_request *req, struct sy_error *err)
{
	const struct model *md = m->model;
	switch (req->task) {
	case ENGINE_TASK_SCORE:
		if (md->score && score_options(&req->score) && !md->score->modes)
			return sy_error_set(
			    err, SY_ERR_INVALID_ARG,
			    "model %s does not take score_mode or score_weights: it "
			    "scores one way (they are for BGE-M3 models)",
			    m->id);
		return md->score ? SY_OK
		                 : sy_error_set(err, SY_ERR_UNSUPPORTED,
		                                "model %s does not support score: it is %s, not a "
		                                "cross-encoder or a ColBERT model",
		                                m->id, model_kind(md));
	case ENGINE_TASK_EXTRACT:
		return md->extract
		           ? SY_OK
		           : sy_error_set(err, SY_ERR_UNSUPPORTED,
		                          "model %s does not support extract: it is %s, not "
		                          "an extraction model",
		                          m->id, model_kind(md));
	case ENGINE_TASK_ENCODE: break;
	}
	if (!md->encode)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "model %s does not support encode: it is %s", m->id,
		                    model_kind(md));
	const unsigned want = req->encode.outputs ? req->encode.outputs : ENGINE_OUTPUT_DENSE;
	if (md->encode->outputs)
		return want & ~md->encode->outputs ? output_mismatch(m, want, err) : SY_OK;
	return want == md->encode->output ? SY_OK : output_mismatch(m, want, err);
}

/* Whether model m offers what req asks; mu held. The messages say what the model is, in the
 * engine's terms; err->hint carries the tasks it offers, for the layers above to add their own
 * advice. */
static enum sy_status check_task(const struct engine_model *m, const struct engine_request *req,
                                 struct sy_error *err)
{
	enum sy_status s = check_task_message(m, req, err);
	/* Image items go only to a task that takes them. */
	const struct model *md = m->model;
	const bool takes_images = req->task == ENGINE_TASK_ENCODE ? md->encode && md->encode->images
	                          : req->task == ENGINE_TASK_SCORE ? md->score && md->score->images
	                                                           : false;
	if (s == SY_OK && req->task == ENGINE_TASK_SCORE && !takes_images &&
	    req->score.query_image && req->score.query_image->data)
		s = sy_error_set(err, SY_ERR_UNSUPPORTED,
		                 "the query is an image, and model %s takes text only (score "
		                 "images with a CLIP or SigLIP model)",
		                 m->id);
	for (int i = 0; s == SY_OK && req->items.images && !takes_images && i < req->items.n_items;
	     i++)
		if (req->items.images[i].data)
			s = sy_error_set(err, SY_ERR_UNSUPPORTED,
			                 "item %d is an image, and model %s takes text only (%s "
			                 "images with a CLIP or SigLIP model)",
			                 i + req->items.index_base, m->id,
			                 engine_task_name(req->task));
	/* Per-request limits and pooling go only to a task that honours them, never ignored. */
	const struct model_encode_task *enc = req->task == ENGINE_TASK_ENCODE ? md->encode : NULL;
	if (s == SY_OK && (req->items.max_length > 0 || req->items.truncate_left) &&
	    !(enc && enc->item_limits))
		s = sy_error_set(err, SY_ERR_INVALID_ARG,
		                 "%s: model %s (%s) does not take a per-request sequence limit or "
		                 "truncation direction",
		                 req->items.max_length > 0 ? "max_seq_length"
		                                           : "truncation_direction",
		                 m->id, md->arch);
	if (s == SY_OK && enc && req->encode.pooling != POOLING_DEFAULT && !enc->pooling)
		s = sy_error_set(err, SY_ERR_INVALID_ARG,
		                 "pooling: model %s (%s) has no pooling head to change", m->id,
		                 md->arch);
	if (s == SY_ERR_UNSUPPORTED && err)
		err->hint = m->tasks;
	return s;
}

/* What goes before each text of an encode request: the instruction, or the model's prompt of
 * that name when the instruction names one (stella's "s2s_query"); without one, the model's
 * prompt for queries or documents under the names models use for them ("query", nomic's
 * "search_query", stella's retrieval prompt "s2p_query"; "document", "search_document"). */
static const char *encode_prefix(const struct model *m, const struct engine_encode_request *r)
{
	if (r->instruction) {
		const char *named = model_prompt(m, r->instruction);
		return named ? named : r->instruction;
	}
	static const char *const query[] = {"query", "search_query", "s2p_query"};
	static const char *const document[] = {"document", "search_document"};
	const char *const *names = r->is_query ? query : document;
	const size_t n = r->is_query ? 3 : 2;
	for (size_t i = 0; i < n; i++) {
		const char *p = model_prompt(m, names[i]);
		if (p)
			return p;
	}
	return NULL;
}

/* The model input every item of req shares (the text is filled per item); mu held, as the
 * prompt belongs to the model, which stays loaded while the request is admitted. */
static struct model_input input_frame(const struct engine_model *m,
                                      const struct engine_request *req)
{
	struct model_input in = {.truncate = req->items.truncate, .normalize = -1};
	switch (req->task) {
	case ENGINE_TASK_ENCODE: {
		const struct engine_encode_request *r = &req->encode;
		in.is_query = r->is_query;
		in.outputs = r->outputs;
		in.normalize = (signed char)(r->normalize < 0 ? -1 : r->normalize > 0);
		in.prefix = encode_prefix(m->model, r);
		in.max_length = req->items.max_length;
		in.truncate_left = req->items.truncate_left;
		in.pooling = (signed char)r->pooling;
		break;
	}
	case ENGINE_TASK_SCORE:
		in.query = req->score.query ? req->score.query : "";
		in.query_len = req->score.query ? req->score.query_len : 0;
		in.query_image = req->score.query_image && req->score.query_image->data
		                     ? req->score.query_image
		                     : NULL;
		in.prefix = req->score.instruction;
		in.score = req->score.params;
		break;
	case ENGINE_TASK_EXTRACT: in.extract = req->extract.params; break;
	}
	in.prefix_len = in.prefix ? strlen(in.prefix) : 0;
	return in;
}

/* Prepares (tokenises) every item of the job on the calling thread, with mu released: the
 * model is admitted, so it stays loaded, and prepare only reads it. */
static enum sy_status prepare_items(const struct engine *e, const struct engine_model *m,
                                    struct engine_job *j, const struct engine_request *req,
                                    const struct model_input *frame, struct sy_error *err)
{
	long total = 0;
	const struct model *model = m->model;
	const model_prepare_fn prepare = model_task_prepare(model, (enum model_task)req->task);
	for (int i = 0; i < j->n_items; i++) {
		j->inputs[i] = *frame;
		const struct model_image *im =
		    req->items.images && req->items.images[i].data ? &req->items.images[i] : NULL;
		j->inputs[i].text = im ? "" : req->items.texts[i];
		j->inputs[i].len = im ? 0 : req->items.lens[i];
		j->inputs[i].image = im;
		struct sy_error item_err = {0};
		enum sy_status s = prepare(model->impl, &j->inputs[i], &item_err, &j->prepared[i]);
		if (s == SY_ERR_LIMIT)
			return sy_error_set(err, s, "item %d: %s (model %s, truncate is false)",
			                    i + req->items.index_base, item_err.msg, m->id);
		if (s != SY_OK)
			return sy_error_set(err, s, "item %d: %s", i + req->items.index_base,
			                    item_err.msg);
		j->n_tokens[i] = j->prepared[i].n_tokens;
		total += j->prepared[i].enc.n > 0 ? j->prepared[i].enc.n : j->prepared[i].n_tokens;
		if (total > e->cfg.max_request_tokens)
			return sy_error_set(
			    err, SY_ERR_LIMIT,
			    "the request holds more than the %ld tokens one request may "
			    "(at item %d)",
			    e->cfg.max_request_tokens, i + req->items.index_base);
	}
	return SY_OK;
}

/* Allocates the job's arrays and its outputs for the task. */
static enum sy_status job_alloc(struct engine_job *j, const struct engine_model *m,
                                const struct engine_request *req, struct sy_error *err)
{
	const int n = j->n_items;
	j->inputs = calloc((size_t)n, sizeof *j->inputs);
	j->prepared = calloc((size_t)n, sizeof *j->prepared);
	j->n_tokens = calloc((size_t)n, sizeof *j->n_tokens);
	bool fixed = req->task == ENGINE_TASK_SCORE ||
	             (req->task == ENGINE_TASK_ENCODE && !m->model->encode->outputs &&
	              m->model->encode->output != MODEL_OUTPUT_MULTIVECTOR);
	j->dims = req->task == ENGINE_TASK_SCORE ? 1 : fixed ? m->dims : 0;
	if (fixed)
		j->out = malloc((size_t)n * (size_t)j->dims * sizeof *j->out);
	else
		j->items = calloc((size_t)n, sizeof *j->items);
	if (!j->inputs || !j->prepared || !j->n_tokens || (!j->out && !j->items))
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory for %d items", n);
	return SY_OK;
}

static void job_free(const struct engine_model *m, struct engine_job *j, bool keep_results)
{
	for (int i = 0; j->prepared && i < j->n_items; i++)
		model_prepared_free(m->model, &j->prepared[i]);
	free(j->prepared);
	free(j->inputs);
	if (keep_results)
		return;
	free(j->out);
	for (int i = 0; j->items && i < j->n_items; i++)
		model_item_result_free(&j->items[i]);
	free(j->items);
	free(j->n_tokens);
}

/* Takes the job's items still queued off m's queue (its caller went away); mu held. Returns
 * how many. */
static int unqueue_job(struct engine_model *m, const struct engine_job *j)
{
	int removed = 0;
	struct engine_item **pp = &m->head, *last = NULL;
	while (*pp) {
		struct engine_item *it = *pp;
		if (it->job == j) {
			*pp = it->next;
			removed++;
		} else {
			last = it;
			pp = &it->next;
		}
	}
	m->tail = last;
	m->queue_items -= removed;
	return removed;
}

/* Waits for the workers to finish the job; with a cancel, looks every 50 ms whether its caller
 * is still there, and when it is not drops what is still queued and marks the job abandoned,
 * which stops a running batch that serves no one else (batcher.c). mu held. */
static void wait_job(struct engine_model *m, struct engine_job *j, struct engine *e,
                     const struct engine_cancel *cancel)
{
	bool dropped = false;
	while (j->remaining > 0) {
		if (!cancel || !cancel->gone || dropped) {
			pthread_cond_wait(&j->done, &e->mu);
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&j->done, &e->mu, &ts);
		if (j->remaining > 0 && cancel->gone(cancel->ctx)) {
			dropped = true;
			atomic_store(&j->abandoned, true);
			const int k = unqueue_job(m, j);
			j->remaining -= k;
			m->n_cancelled_items += k;
			if (j->status == SY_OK) {
				j->status = SY_ERR_UNAVAILABLE;
				sy_error_set(&j->err, SY_ERR_UNAVAILABLE,
				             "the caller went away: %d queued item(s) dropped", k);
			}
			pthread_cond_broadcast(&e->work_cv);
		}
	}
}

/* Queues the job's items and waits until the workers are done with them; mu held. */
static enum sy_status queue_and_wait(struct engine *e, struct engine_model *m, struct engine_job *j,
                                     struct engine_item *items, const struct engine_cancel *cancel,
                                     struct sy_error *err)
{
	const int n = j->n_items;
	if (n > e->cfg.max_queue_items)
		return sy_error_set(err, SY_ERR_LIMIT,
		                    "model %s: a request may hold at most %d items (it has %d)",
		                    m->id, e->cfg.max_queue_items, n);
	if (m->queue_items + n > e->cfg.max_queue_items)
		return sy_error_set(err, SY_ERR_BUSY,
		                    "model %s: queue full (%ld items waiting, limit %d)", m->id,
		                    m->queue_items, e->cfg.max_queue_items);
	for (int i = 0; i < n; i++)
		items[i] = (struct engine_item){.job = j,
		                                .index = i,
		                                .tokens = j->prepared[i].enc.n > 0
		                                              ? j->prepared[i].enc.n
		                                              : j->prepared[i].n_tokens,
		                                .next = i + 1 < n ? &items[i + 1] : NULL};
	pthread_cond_init(&j->done, NULL);
	atomic_init(&j->abandoned, false);
	j->remaining = n;
	j->admit_ns = sy_now_ns();
	if (m->tail)
		m->tail->next = &items[0];
	else
		m->head = &items[0];
	m->tail = &items[n - 1];
	m->queue_items += n;
	m->n_requests++;
	m->n_items += n;
	pthread_cond_broadcast(&e->work_cv);
	wait_job(m, j, e, cancel);
	pthread_cond_destroy(&j->done);
	if (j->status != SY_OK && err)
		*err = j->err;
	return j->status;
}

/* Whether a request's dimensions can be given: the model's own size, or fewer when the model
 * was trained for it (*kind says how) and its output is one dense vector. mu held. */
static enum sy_status check_dimensions(const struct engine_model *m,
                                       const struct engine_encode_request *r, struct sy_error *err,
                                       enum model_matryoshka *kind)
{
	const unsigned want = r->outputs ? r->outputs : ENGINE_OUTPUT_DENSE;
	if (r->dimensions < 0)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "dimensions must be positive");
	if (want != ENGINE_OUTPUT_DENSE)
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "dimensions applies to dense output alone");
	if (r->dimensions == m->dims)
		return SY_OK;
	if (r->dimensions > m->dims)
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "dimensions: model %s gives %d dimensions, %d were asked for",
		                    m->id, m->dims, r->dimensions);
	*kind = model_matryoshka(m->model);
	if (*kind == MODEL_MRL_NONE)
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "dimensions: model %s (%d dimensions) is not trained for fewer "
		                    "(Matryoshka); %d were asked for",
		                    m->id, m->dims, r->dimensions);
	return SY_OK;
}

/* A multi-output model's per-item results of a request for dense or sparse alone, as a
 * one-output model gives them: out->dense [n][dims] (sparse: vocabulary-sized, mostly zeros). */
static enum sy_status flatten_items(struct engine_result *out, unsigned want, int dims)
{
	const int n = out->n_items;
	float *flat = calloc((size_t)n * (size_t)(dims > 0 ? dims : 1), sizeof *flat);
	if (!flat)
		return SY_ERR_NOMEM;
	for (int i = 0; i < n; i++) {
		const struct model_item_result *r = &out->items[i];
		float *row = flat + (size_t)i * dims;
		if (want == ENGINE_OUTPUT_DENSE && r->dense)
			memcpy(row, r->dense,
			       (size_t)(r->dense_dims < dims ? r->dense_dims : dims) * sizeof *row);
		for (int k = 0; want == ENGINE_OUTPUT_SPARSE && k < r->n_sparse; k++)
			if (r->sparse_ids[k] >= 0 && r->sparse_ids[k] < dims)
				row[r->sparse_ids[k]] = r->sparse_weights[k];
	}
	for (int i = 0; i < n; i++)
		model_item_result_free(&out->items[i]);
	free(out->items);
	out->items = NULL;
	out->dense = flat;
	out->dims = dims;
	return SY_OK;
}

enum sy_status engine_request_run(struct engine *e, const struct engine_request *req,
                                  struct sy_error *err, struct engine_result *out)
{
	memset(out, 0, sizeof *out);
	const uint64_t t0 = sy_now_ns();
	if (!req || !req->items.model)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "no model named");
	const int n = req->items.n_items;
	if (n <= 0 || ((!req->items.texts || !req->items.lens) && !req->items.images))
		return sy_error_set(err, SY_ERR_INVALID_ARG, "no items to %s",
		                    engine_task_name(req->task));
	for (int i = 0; i < n; i++)
		if (!(req->items.images && req->items.images[i].data) &&
		    !(req->items.texts && req->items.texts[i] && req->items.lens))
			return sy_error_set(err, SY_ERR_INVALID_ARG, "item %d: no text",
			                    i + req->items.index_base);

	pthread_mutex_lock(&e->mu);
	struct engine_model *m;
	enum sy_status s = admitted_enter(e, req->items.model, err, &m);
	if (s != SY_OK) {
		pthread_mutex_unlock(&e->mu);
		return s;
	}
	s = check_task(m, req, err);
	struct model_input frame = {0};
	unsigned flat = 0; /* a multi-output model asked for dense or sparse alone */
	int flat_dims = 0;
	enum model_matryoshka mrl = MODEL_MRL_NONE;
	if (s == SY_OK && req->task == ENGINE_TASK_ENCODE && req->encode.dimensions)
		s = check_dimensions(m, &req->encode, err, &mrl);
	bool softmax = false; /* the model's scores are logits for a softmax per request */
	int sparse_dims = 0; /* read with mu held, as the catalogue may re-add the model */
	if (s == SY_OK) {
		frame = input_frame(m, req);
		sparse_dims = m->output_dims[1];
		softmax = req->task == ENGINE_TASK_SCORE && m->model->score->softmax;
		if (req->task == ENGINE_TASK_ENCODE && m->model->encode->outputs) {
			const unsigned want =
			    req->encode.outputs ? req->encode.outputs : ENGINE_OUTPUT_DENSE;
			if (want == ENGINE_OUTPUT_DENSE || want == ENGINE_OUTPUT_SPARSE) {
				flat = want;
				flat_dims = model_output_dims(m->model, (enum model_output)want);
			}
		}
	}
	pthread_mutex_unlock(&e->mu);

	struct engine_job job = {.task = req->task, .n_items = n};
	struct engine_item *items = calloc((size_t)n, sizeof *items);
	if (s == SY_OK && !items)
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory for %d items", n);
	if (s == SY_OK)
		s = job_alloc(&job, m, req, err);
	const uint64_t t_prep = sy_now_ns();
	if (s == SY_OK)
		s = prepare_items(e, m, &job, req, &frame, err);
	const uint64_t t_queue = sy_now_ns();

	pthread_mutex_lock(&e->mu);
	if (s == SY_OK)
		s = queue_and_wait(e, m, &job, items, req->cancel, err);
	admitted_leave(e, m, s);
	pthread_mutex_unlock(&e->mu);
	free(items);
	job_free(m, &job, s == SY_OK);
	if (s != SY_OK)
		return s;
	out->n_items = n;
	out->dims = job.dims;
	if (req->task == ENGINE_TASK_SCORE) {
		out->scores = job.out;
		if (softmax)
			softmax_f32(out->scores, n); /* zero-shot: over this request's items */
	} else
		out->dense = job.out;
	out->items = job.items;
	out->n_tokens = job.n_tokens;
	out->sparse_dims = sparse_dims;
	if (flat && flatten_items(out, flat, flat_dims) != SY_OK) {
		engine_result_free(out);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory for %d items", n);
	}
	if (mrl != MODEL_MRL_NONE && out->dense && req->encode.dimensions < out->dims) {
		model_matryoshka_apply(mrl, out->dense, n, out->dims, req->encode.dimensions);
		out->dims = req->encode.dimensions;
	}
	out->tokenization_ms = (double)(t_queue - t_prep) / 1e6;
	out->queue_ms = (double)(job.start_ns - job.admit_ns) / 1e6;
	out->inference_ms = (double)(job.end_ns - job.start_ns) / 1e6;
	out->total_ms = (double)(sy_now_ns() - t0) / 1e6;
	return SY_OK;
}

enum sy_status engine_encode(struct engine *e, const struct engine_encode_request *req,
                             struct sy_error *err, struct engine_result *out)
{
	struct engine_request r = {.task = ENGINE_TASK_ENCODE, .encode = *req};
	return engine_request_run(e, &r, err, out);
}

enum sy_status engine_score(struct engine *e, const struct engine_score_request *req,
                            struct sy_error *err, struct engine_result *out)
{
	struct engine_request r = {.task = ENGINE_TASK_SCORE, .score = *req};
	return engine_request_run(e, &r, err, out);
}

enum sy_status engine_extract(struct engine *e, const struct engine_extract_request *req,
                              struct sy_error *err, struct engine_result *out)
{
	struct engine_request r = {.task = ENGINE_TASK_EXTRACT, .extract = *req};
	return engine_request_run(e, &r, err, out);
}

/* The tokens the model's first task prepares for text (after the model's truncation). */
enum sy_status engine_tokenizer_use(struct engine *e, const char *model, engine_tokenizer_fn fn,
                                    void *ctx, struct sy_error *err)
{
	pthread_mutex_lock(&e->mu);
	struct engine_model *m;
	enum sy_status s = admitted_enter(e, model, err, &m);
	pthread_mutex_unlock(&e->mu);
	if (s != SY_OK)
		return s;
	const struct tokenizer *tok = model_tokenizer(m->model);
	if (tok)
		s = fn(ctx, tok, m->model, err);
	else
		s = sy_error_set(
		    err, SY_ERR_UNSUPPORTED,
		    "model %s has no Hugging Face tokenizer (tokenizer.json or vocab.txt)", model);
	pthread_mutex_lock(&e->mu);
	admitted_leave(e, m, SY_OK); /* a bad id or text is the client's error */
	pthread_mutex_unlock(&e->mu);
	return s;
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
	const struct model *md = m->model;
	static const char *const one_label[] = {"x"};
	const struct extract_params any_labels = {
	    .labels = one_label, .n_labels = 1, .threshold = -1};
	struct model_input in = {.text = text, .len = len, .truncate = true, .normalize = -1};
	struct model_prepared p = {0};
	const enum model_task t = md->encode  ? MODEL_TASK_ENCODE
	                          : md->score ? MODEL_TASK_SCORE
	                                      : MODEL_TASK_EXTRACT;
	if (t == MODEL_TASK_EXTRACT && !md->extract->labels)
		in.extract = &any_labels; /* zero-shot: a label to prepare with */
	s = model_task_prepare(md, t)(md->impl, &in, err, &p);
	*out = p.n_tokens;
	model_prepared_free(md, &p);
	pthread_mutex_lock(&e->mu);
	admitted_leave(e, m, s);
	pthread_mutex_unlock(&e->mu);
	return s;
}
