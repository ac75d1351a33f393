/* The engine: model catalogue, lazy loading, a memory budget with LRU eviction, per-model queues
 * and dynamic batching. The HTTP server (src/server) and the CLI call it; it calls the models
 * (src/model) and never the layers above it.
 *
 * Threading: every public function is safe to call from many threads at once (the HTTP server
 * calls engine_encode from its connection threads). engine_encode blocks the calling thread until
 * its items are done; the work itself runs on the engine's worker threads, where items from
 * concurrent requests for the same model are batched together.
 *
 * Errors map to the API's error codes (DESIGN.md section 3):
 *   SY_ERR_NOT_FOUND     unknown model                 -> 404 MODEL_NOT_FOUND
 *   SY_ERR_UNAVAILABLE   model still loading (waited)   -> 503 MODEL_LOADING + Retry-After
 *   SY_ERR_LOAD_FAILED   load failed (or in cooldown)   -> 502 MODEL_LOAD_FAILED
 *   SY_ERR_BUSY          queue full                     -> 503 QUEUE_FULL + Retry-After
 *   SY_ERR_INVALID_ARG   bad request content            -> 400/422 INVALID_INPUT
 *   SY_ERR_LIMIT         text too long (truncate=false)  -> 422 INVALID_INPUT
 *                        or more items than the queue holds (the server's own
 *                        --max-items check answers 413 before this)
 *   SY_ERR_UNSUPPORTED   task the model cannot do       -> 400 INVALID_INPUT */
#ifndef SY_ENGINE_ENGINE_H
#define SY_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "model/embedder.h"
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
	char labels[1024]; /* an extractor's fixed entity types, '\n'-separated ("" otherwise) */
	char error[256]; /* last load error, when state == FAILED */
	double idle_s; /* seconds since last use (-1 never used) */
	/* counters since start */
	long queue_items; /* items waiting now */
	long n_requests, n_items, n_tokens, n_batches, n_errors;
	long n_loads, n_evictions, n_load_failures;
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

enum engine_output {
	ENGINE_OUTPUT_DENSE = 1,
	ENGINE_OUTPUT_SPARSE = 2, /* SPLADE: dims = vocabulary size, mostly zeros */
	ENGINE_OUTPUT_MULTIVECTOR = 4, /* ColBERT: result items[i].vectors */
	ENGINE_OUTPUT_ENTITIES = 8, /* NER / GLiNER: result items[i].entities */
};

struct engine_encode_request {
	const char *model;
	int n_items;
	const char *const *texts; /* [n_items], UTF-8 (invalid bytes are replaced) */
	const size_t *lens; /* [n_items] bytes */
	unsigned outputs; /* ENGINE_OUTPUT_* bits; 0 means dense */
	int normalize; /* -1 model default, 0 off, 1 on */
	bool truncate; /* false: a text longer than the model limit is SY_ERR_LIMIT */
	bool is_query; /* use the model's "query" prompt when it has one */
	const char *instruction; /* prepended to each text when non-NULL (overrides prompts) */
	/* Score mode: when non-NULL, each item is the pair (query, texts[i]) for a cross-encoder,
	 * and the result has dims 1 (the relevance score). A ColBERT model scores too: the query
	 * and the items are encoded (the query as a query) and each score is their MaxSim. Other
	 * models fail with SY_ERR_UNSUPPORTED either way. */
	const char *query;
	size_t query_len;
	/* With ENGINE_OUTPUT_ENTITIES: labels, threshold and aggregation (NULL: the model's
	 * defaults). */
	const struct extract_params *extract;
	/* The caller will ask engine_model_token for the sparse terms (return_tokens): a hint
	 * for remote backends (the cluster gateway), which fetch the names with the result. */
	bool want_tokens;
};

struct engine_encode_result {
	int n_items, dims;
	float *dense; /* [n_items][dims]; NULL when items is set */
	struct embed_item_result *items; /* [n_items] multi-vectors or entities, or NULL */
	int *n_tokens; /* [n_items] tokens per item incl. special tokens (for usage) */
	double queue_ms, tokenize_ms, inference_ms, total_ms;
};

/* Blocking. On success the caller owns *out and frees it with engine_encode_result_free.
 * Timing: the models tokenise inside their call, so tokenize_ms is 0 and inference_ms covers
 * tokenisation too (from the start of the first batch holding one of the request's items to the
 * end of the last); queue_ms runs from admission to that start; total_ms includes a lazy load.
 * truncate == false is checked before admission for models that can count tokens (BERT family);
 * USE-lite clips to its limit as it always does. normalize applies to the BERT family; USE-lite
 * always normalises. A request with more items than max_queue_items fails with SY_ERR_LIMIT, one
 * that does not fit in the queue now with SY_ERR_BUSY. */
enum sy_status engine_encode(struct engine *e, const struct engine_encode_request *req,
                             struct sy_error *err, struct engine_encode_result *out);
void engine_encode_result_free(struct engine_encode_result *r);

/* Tokens of one text for a model (loads it if needed), for OpenAI usage counting. */
enum sy_status engine_count_tokens(struct engine *e, const char *model, const char *text,
                                   size_t len, struct sy_error *err, int *out);

#endif
