/* The engine's shared state, for its files only: the catalogue (catalog.c), loading, the memory
 * budget and eviction (loader.c), the per-model queues and the workers that batch them
 * (batcher.c), and the request path (engine.c).
 *
 * Locking: one mutex (engine.mu) guards everything below except what a worker does with the
 * items of the batch it has taken off a queue (it owns them until it hands the results back
 * under the mutex) and the model itself (run by the one worker that set model.running, or
 * opened by the loader while the state is LOADING; prepare is safe beside a run). Loads,
 * estimates, prepares and runs happen with the mutex released; the state machine below keeps
 * others away meanwhile:
 *
 *   AVAILABLE --request--> LOADING --ok--> LOADED --evict/TTL/unload--> AVAILABLE
 *                             |--fail--> FAILED --cooldown passed, next request--> LOADING
 *
 * A model is "idle" (and may be evicted or unloaded) when it is LOADED, nothing of it is queued
 * or running, and no request that was admitted to it is still inside a task entry point. */
#ifndef SY_ENGINE_ENGINE_INTERNAL_H
#define SY_ENGINE_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "engine/engine.h"
#include "model/model.h"

/* One request: its prepared items, outputs and progress. Lives on the caller's stack. */
struct engine_job {
	enum engine_task task;
	int n_items, dims;
	struct model_input *inputs; /* [n_items] what each item's prepare was given */
	struct model_prepared *prepared; /* [n_items] its tokens */
	float *out; /* encode dense or sparse: [n_items][dims]; score: [n_items]; else NULL */
	struct model_item_result *items; /* [n_items] variable-size results instead, or NULL */
	int *n_tokens; /* [n_items] */
	int remaining; /* items not done yet (engine.mu) */
	enum sy_status status; /* first failure of any of its batches (engine.mu) */
	struct sy_error err;
	uint64_t admit_ns; /* when the items were queued */
	uint64_t start_ns; /* when the first batch holding one of its items started; 0 before */
	uint64_t end_ns; /* when the last batch holding one of its items ended */
	pthread_cond_t done; /* signalled when remaining reaches 0 */
	atomic_bool abandoned; /* its caller went away: a running batch of only such jobs stops */
};

/* One item of a job, waiting in its model's queue (FIFO, singly linked). */
struct engine_item {
	struct engine_job *job;
	int index; /* into the job's arrays */
	int tokens; /* what the item computes (its prepared tokens): batches close on these */
	struct engine_item *next;
};

struct engine_model {
	char *id, *path;
	bool pinned;
	enum linear_precision precision; /* the engine's default unless set for this model */
	bool
	    precision_explicit; /* set for this model: a model that cannot honour it fails to load */
	struct model_options opts; /* pooling, normalize, max_length (engine_model_set_options) */
	enum engine_model_state state;
	struct model *model; /* when LOADED */
	char arch[32];
	int dims;
	int output_dims[3]; /* engine_model_info's, known after the first load */
	int max_tokens; /* model_max_tokens, known after the first load */
	unsigned tasks, outputs; /* engine_model_info's, known after the first load */
	bool images; /* engine_model_info's: from the directory when added, then from the load */
	char labels[1024]; /* model_labels, '\n'-separated */
	size_t bytes; /* counted against the budget: resident bytes when LOADED, the estimate
			      while LOADING, the last known value otherwise */
	char error[256]; /* last load error */
	enum sy_status error_status;
	uint64_t failed_ns; /* when the last load failed */
	uint64_t last_used_ns; /* last admission or batch end; 0 never used */
	pthread_cond_t cv; /* state changes and finished batches */
	/* queue */
	struct engine_item *head, *tail;
	long queue_items;
	bool running; /* a worker is running a batch of this model */
	int n_admitted; /* requests admitted and still inside a task entry point */
	/* counters */
	long n_requests, n_items, n_tokens, n_batches, n_errors;
	long n_loads, n_evictions, n_load_failures;
	long n_cancelled_items; /* items dropped or stopped because their caller went away */
	double load_ms;
};

struct engine {
	struct engine_config cfg;
	pthread_mutex_t mu;
	pthread_cond_t work_cv; /* workers: items queued, a batch finished, shutdown */
	pthread_cond_t idle_cv; /* drain: a request left the engine */
	pthread_cond_t reap_cv; /* the reaper: shutdown */
	struct engine_model **models; /* [n_models] catalogue order; entries are never removed */
	int n_models, cap_models;
	size_t used; /* bytes of LOADED and LOADING models */
	bool draining, stopping;
	long n_inside; /* task / count_tokens / admin calls in progress */
	pthread_t *workers;
	int n_workers;
	pthread_t reaper;
	bool has_reaper;
	long n_evictions, n_load_failures;
	long batch_size_hist[8];
	int n_loaders; /* load threads running (loader.c); destroy waits for them */
	int test_batch_delay_ms; /* test hook SY_TEST_BATCH_DELAY_MS: each batch waits that long
				    before it runs (a slow batch whose callers leave meanwhile) */
};

/* catalog.c */
struct engine_model *engine_model_find(struct engine *e, const char *id); /* mu held */
void engine_model_free(struct engine_model *m);
void engine_model_info_fill(const struct engine_model *m, uint64_t now_ns,
                            struct engine_model_info *out); /* mu held */

/* loader.c */
/* Makes m LOADED, starting its load (and evicting others) when needed. The load runs on a
 * thread of its own, so the caller waits at most wait_ms for it, whoever started it (< 0: until
 * it ends; the admin routes and pinned loads). Called and returns with mu held. */
enum sy_status engine_model_ensure_loaded(struct engine *e, struct engine_model *m, int wait_ms,
                                          struct sy_error *err);
/* Waits until no load thread runs any more (destroy); mu held. */
void engine_loaders_join(struct engine *e);
bool engine_model_idle(const struct engine_model *m); /* mu held */
/* Unloads an idle model: state AVAILABLE, bytes returned to the budget. Returns the model,
 * which the caller closes after releasing mu. */
struct model *engine_model_detach(struct engine *e, struct engine_model *m);
enum sy_status engine_reaper_start(struct engine *e, struct sy_error *err);

/* batcher.c */
enum sy_status engine_workers_start(struct engine *e, struct sy_error *err);
void engine_workers_join(struct engine *e); /* after setting stopping */

#endif
