/* The engine: model catalogue, lazy loading, a memory budget with LRU eviction, per-model queues
 * and dynamic batching. The HTTP server (src/server) and the CLI call it; it calls the models
 * (src/model) and never the layers above it.
 *
 * Threading: every public function is safe to call from many threads at once (the HTTP server
 * calls the task entry points from its connection threads). engine_encode, engine_score and
 * engine_extract block the calling thread until its items are done; the items are prepared
 * (tokenised) on that thread, the computation runs on the engine's worker threads, where items
 * from concurrent requests for the same model and task are batched together.
 *
 * Errors are status codes with neutral messages; the layers above word them for their users:
 *   SY_ERR_NOT_FOUND     unknown model
 *   SY_ERR_UNAVAILABLE   model still loading (waited), or the engine is draining
 *   SY_ERR_LOAD_FAILED   load failed (or in cooldown)
 *   SY_ERR_BUSY          queue full
 *   SY_ERR_INVALID_ARG   bad request content
 *   SY_ERR_LIMIT         text too long (truncate off), or more items than the queue holds
 *   SY_ERR_UNSUPPORTED   a task or output the model does not offer */
#ifndef SY_ENGINE_ENGINE_H
#define SY_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "model/model.h"
#include "tensor/linear.h"

struct engine;

struct engine_config {
	size_t memory_budget; /* bytes for loaded models; 0 = half of physical RAM */
	int n_threads; /* compute threads per model run; 0 = one per core */
	int max_batch_tokens; /* a batch closes when its tokens would pass this (default 8192) */
	int max_batch_items; /* ... or at this many items (default 256) */
	int max_wait_ms; /* ... or when its oldest item has waited this long (default 0: an idle
	                  * worker runs what is queued at once; items gather while it is busy) */
	int max_queue_items; /* per model; admission beyond it fails with SY_ERR_BUSY (default 4096) */
	long max_request_tokens; /* tokens one request may hold once prepared (instructions and
				    prompts included); more fails with SY_ERR_LIMIT before any
				    model work (default 1 << 20; <= 0: the default) */
	int idle_ttl_s; /* unload a model idle this long; 0 = never (default 0) */
	enum linear_precision precision; /* models' linear layers unless set per model
	                                   (engine_model_set_precision); default fp32 */
	int load_wait_ms; /* how long a request waits for a load (default 60000) */
	int load_failure_cooldown_s; /* a failed load is not retried before this (default 30) */
	bool builtin_models; /* add the built-in ids (use-lite) when found (default true) */
	int n_workers; /* batches that run at once, across models; each running batch
				   uses n_threads compute threads, so keep n_workers * n_threads
				   near the core count (default 1; 0 = 1) */
};

struct engine_config engine_default_config(void);

enum sy_status engine_create(const struct engine_config *cfg, struct sy_error *err,
                             struct engine **out);
/* Stops accepting work, finishes what is queued, unloads everything and frees. */
void engine_destroy(struct engine *e);
/* Refuse new requests (SY_ERR_UNAVAILABLE) and wait until in-flight work is done (shutdown). */
void engine_drain(struct engine *e);

/* Catalogue. id may contain '/'; path is a model directory. Adding an existing id replaces its
 * path when the model is not loaded, else fails with SY_ERR_INVALID_ARG. */
enum sy_status engine_model_add(struct engine *e, const char *id, const char *path, bool pinned,
                                struct sy_error *err);
/* Runs model id's linear layers in precision p from its next load on (int8: dynamic
 * quantisation). Fails with SY_ERR_NOT_FOUND for an unknown id and SY_ERR_INVALID_ARG while the
 * model is loaded. */
enum sy_status engine_model_set_precision(struct engine *e, const char *id, enum linear_precision p,
                                          struct sy_error *err);
/* Loads model id with these pooling, normalize and max_length options (n_threads and precision
 * are ignored: the engine's and engine_model_set_precision's) from its next load on. Fails like
 * engine_model_set_precision. */
enum sy_status engine_model_set_options(struct engine *e, const char *id,
                                        const struct model_options *o, struct sy_error *err);
/* Adds every subdirectory of dir as a model named after it. */
enum sy_status engine_models_dir_add(struct engine *e, const char *dir, struct sy_error *err);

enum engine_model_state {
	ENGINE_MODEL_AVAILABLE, /* known, not loaded */
	ENGINE_MODEL_LOADING,
	ENGINE_MODEL_LOADED,
	ENGINE_MODEL_FAILED,
};
const char *engine_model_state_str(enum engine_model_state s); /* "available", ... */

struct engine_model_info {
	char id[256];
	char path[1024];
	char arch[32]; /* "bert", "use-lite", ... ("" until loaded once) */
	enum engine_model_state state;
	bool pinned;
	enum linear_precision precision; /* what the model loads (or loaded) with */
	size_t bytes; /* resident bytes when loaded (weights + scratch), else estimate or 0 */
	int dims; /* dense output dims (0 until loaded once) */
	/* The width of each encode output, indexed by its ENGINE_OUTPUT_* bit's position (dense,
	 * sparse: the vocabulary, multivector: per token); 0 for outputs the model lacks and until
	 * loaded once */
	int output_dims[3];
	int max_tokens; /* tokens per text the model takes, special ones included (0 until loaded
	                   once, or when unknown) */
	unsigned tasks; /* ENGINE_TASK_* bits the model offers (0 until loaded once) */
	unsigned outputs; /* ENGINE_OUTPUT_* bits of its encode task (0 without one) */
	bool images; /* it takes image items as well as texts (CLIP, SigLIP): known from the
			directory's config when added, and from the model once loaded */
	char labels[1024]; /* an extractor's fixed entity types, '\n'-separated ("" otherwise) */
	char error[256]; /* last load error, when state == FAILED */
	double idle_s; /* seconds since last use (-1 never used) */
	/* counters since start */
	long queue_items; /* items waiting now */
	long n_requests, n_items, n_tokens, n_batches, n_errors;
	long n_loads, n_evictions, n_load_failures;
	long n_cancelled_items; /* items dropped or stopped because their caller went away */
	double load_ms; /* duration of the last load */
};

/* The vocabulary piece of token id of a loaded sparse model (SPLADE terms), copied into buf.
 * SY_ERR_NOT_FOUND when the model is unknown, not loaded or has no such id. */
enum sy_status engine_model_token(struct engine *e, const char *model, int id, char *buf,
                                  size_t cap);
/* Fills up to cap entries (catalogue order) and returns the number of models. */
int engine_models_list(struct engine *e, struct engine_model_info *out, int cap);
enum sy_status engine_model_get(struct engine *e, const char *id, struct sy_error *err,
                                struct engine_model_info *out);
/* Loads every pinned model now, blocking (pinned models are meant to be loaded eagerly, at
 * startup after the catalogue is built; the others load on first use). A failure is remembered
 * per model as usual and the others are still loaded; returns the first failure. */
enum sy_status engine_models_load_pinned(struct engine *e, struct sy_error *err);
/* Admin: load now (blocking) / unload now (waits for the model's in-flight batch). */
enum sy_status engine_model_load(struct engine *e, const char *id, struct sy_error *err);
enum sy_status engine_model_unload(struct engine *e, const char *id, struct sy_error *err);

struct engine_stats {
	size_t memory_budget, memory_used; /* bytes */
	int n_models, n_loaded;
	long queue_items; /* all models */
	long n_evictions, n_load_failures;
	long batch_size_hist[8]; /* batches with items in (0,1],(1,2],(2,4],...,(64,inf) */
};
void engine_stats_get(struct engine *e, struct engine_stats *out);

/* Tasks (engine_model_info.tasks bits, and the task of an engine_request): the model's. */
enum engine_task {
	ENGINE_TASK_ENCODE = MODEL_TASK_ENCODE,
	ENGINE_TASK_SCORE = MODEL_TASK_SCORE,
	ENGINE_TASK_EXTRACT = MODEL_TASK_EXTRACT,
};
const char *engine_task_name(enum engine_task t); /* "encode", "score", "extract" */

/* Outputs of the encode task: the model's output bits (model/model.h). */
enum engine_output {
	ENGINE_OUTPUT_DENSE = MODEL_OUTPUT_DENSE,
	ENGINE_OUTPUT_SPARSE =
	    MODEL_OUTPUT_SPARSE, /* SPLADE: dims = vocabulary size, mostly zeros */
	ENGINE_OUTPUT_MULTIVECTOR = MODEL_OUTPUT_MULTIVECTOR, /* ColBERT: result items[i].vectors */
};

/* The items of a request, whatever its task. */
struct engine_items {
	const char *model;
	int n_items;
	const char *const *texts; /* [n_items], UTF-8 (invalid bytes are replaced) */
	const size_t *lens; /* [n_items] bytes */
	bool truncate; /* false: a text longer than the model limit is SY_ERR_LIMIT */
	/* [n_items] or NULL: item i is an image when images[i].data is set (its text is then
	 * ignored; encode and score only, for models that take images) */
	const struct model_image *images;
	/* encode: a token limit below the model's (0: the model's; SIE's max_seq_length), and
	 * truncation from the start (TEI's truncation_direction Left); models whose encode task
	 * lacks item_limits refuse both with SY_ERR_INVALID_ARG */
	int max_length;
	bool truncate_left;
	/* The index of item 0 in the client's request, added to the item numbers in messages (a
	 * cluster worker runs one item of a larger request); 0 otherwise. */
	int index_base;
};

struct engine_encode_request {
	struct engine_items items;
	unsigned outputs; /* ENGINE_OUTPUT_* bits; 0 means dense */
	int normalize; /* -1 model default, 0 off, 1 on */
	bool is_query; /* use the model's "query" prompt when it has one */
	const char *instruction; /* prepended to each text when non-NULL (overrides prompts) */
	int dimensions; /* > 0: dense vectors cut to this many dimensions (Matryoshka), for models
	                   trained for it; 0: all */
	/* enum pooling_mode: the model's pooling replaced for this request (SIE's options.pooling);
	 * POOLING_DEFAULT: the model's. Models without a pooling head refuse it. */
	int pooling;
	/* The caller will ask engine_model_token for the sparse terms (return_tokens): a hint
	 * for remote backends (the cluster gateway), which fetch the names with the result. */
	bool want_tokens;
};

/* Each item is the pair (query, texts[i]); the result is one relevance score per item. */
struct engine_score_request {
	struct engine_items items;
	const char *query;
	size_t query_len;
	/* An image as the query instead of the text (image models: an image against text
	 * labels, zero-shot classification), or NULL */
	const struct model_image *query_image;
	const char *instruction; /* put before each document by models that read one (ColBERT) */
	/* score_mode and score_weights (BGE-M3), or NULL; a model that scores one way refuses
	 * them with SY_ERR_INVALID_ARG */
	const struct score_params *params;
};

struct engine_extract_request {
	struct engine_items items;
	const struct extract_params *params; /* labels, threshold, aggregation; NULL defaults */
};

/* A request of any task, for the layers that carry requests without looking into them (the
 * server's dispatch stage, the cluster's wire format). items is the common first member of
 * each request type. */
/* Whether the caller still wants the answer, asked while the request waits (with the engine's
 * lock held, so it must be quick and not call the engine). When gone() says so, the request's
 * items still queued are dropped and the request fails with SY_ERR_UNAVAILABLE as soon as its
 * items already in a running batch are done. */
struct engine_cancel {
	bool (*gone)(void *ctx);
	void *ctx;
};

struct engine_request {
	enum engine_task task;
	union {
		struct engine_items items;
		struct engine_encode_request encode;
		struct engine_score_request score;
		struct engine_extract_request extract;
	};
	const struct engine_cancel *cancel; /* NULL: the caller always waits */
};

struct engine_result {
	int n_items, dims;
	float *dense; /* encode, dense or sparse: [n_items][dims]; NULL otherwise */
	float *scores; /* score: [n_items] relevance; NULL otherwise */
	struct model_item_result *items; /* [n_items] multi-vectors or entities, or NULL */
	int *n_tokens; /* [n_items] tokens per item incl. special tokens (for usage) */
	int sparse_dims; /* items with several outputs: the sparse output's width (vocabulary) */
	/* tokenization_ms: preparing the items on the caller's thread before they queue;
	 * queue_ms: from admission to the start of the first batch holding one of them;
	 * inference_ms: from there to the end of the last; total_ms: the whole call, a lazy
	 * load included. */
	double tokenization_ms, queue_ms, inference_ms, total_ms;
};
void engine_result_free(struct engine_result *r);

/* The task entry points. Blocking; on success the caller owns *out (engine_result_free).
 * Each item is prepared (tokenised) on the calling thread before it queues, so a text too
 * long for the model with truncate off fails the request before any model work, batches
 * close on exact token counts, and nothing is tokenised twice. A request with more items than
 * max_queue_items fails with SY_ERR_LIMIT, one that does not fit in the queue now with
 * SY_ERR_BUSY. A model without the task fails with SY_ERR_UNSUPPORTED (engine_model_get tells
 * what it can do). */
enum sy_status engine_encode(struct engine *e, const struct engine_encode_request *req,
                             struct sy_error *err, struct engine_result *out);
enum sy_status engine_score(struct engine *e, const struct engine_score_request *req,
                            struct sy_error *err, struct engine_result *out);
enum sy_status engine_extract(struct engine *e, const struct engine_extract_request *req,
                              struct sy_error *err, struct engine_result *out);
/* The entry point of req->task. */
enum sy_status engine_request_run(struct engine *e, const struct engine_request *req,
                                  struct sy_error *err, struct engine_result *out);

/* Runs fn on the calling thread with model's tokenizer (and the model, for its prompts) while
 * the model is held loaded: it is loaded first if needed and is not evicted or unloaded until
 * fn returns. tok and m are read-only and valid during the call only. Fails like the task
 * entry points for an unknown, loading or failed model, and with SY_ERR_UNSUPPORTED when the
 * model has no Hugging Face tokenizer (USE-lite); else returns fn's status. For the tokenize
 * and decode routes. */
typedef enum sy_status (*engine_tokenizer_fn)(void *ctx, const struct tokenizer *tok,
                                              const struct model *m, struct sy_error *err);
enum sy_status engine_tokenizer_use(struct engine *e, const char *model, engine_tokenizer_fn fn,
                                    void *ctx, struct sy_error *err);

/* Tokens of one text for a model (loads it if needed), for OpenAI usage counting. */
enum sy_status engine_count_tokens(struct engine *e, const char *model, const char *text,
                                   size_t len, struct sy_error *err, int *out);

#endif
