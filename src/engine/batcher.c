/* Dynamic batching: the engine's worker threads take prepared items off the per-model queues
 * and run them through the model's task as one call, items of several requests together.
 *
 * Which model runs next (fairness): among the models with a batch ready to run and none
 * running, the one whose oldest queued item has waited longest, so a busy model cannot starve a
 * quiet one and requests are served roughly in arrival order across models. A batch still
 * waiting for company (below) does not hold up a ready batch of another model.
 *
 * When a batch closes: it takes items from the head of the queue until the next item would
 * pass max_batch_tokens (exact: items are tokenised before they queue; the first item always
 * goes in), max_batch_items are taken, or the next item is of another task (a ColBERT model
 * both encodes and scores; a batch runs one task). If the queue ends before either limit, the batch waits
 * until its oldest item has waited max_wait_ms, so that requests arriving meanwhile join it;
 * while draining it runs at once. Items of one request may span several batches. The default
 * max_wait_ms is 0: waiting for company added 2-3 ms to a lone request (4.4-5.0 ms instead of
 * 6.5-8.1 ms median on the MiniLM shape) and gained no throughput with 8 concurrent clients,
 * since items already gather in the queue while the worker computes.
 *
 * The models pack their batches without padding (src/model/arch/packed_batch.c), so sorting
 * the items of a batch by length would save no computation; items keep their queue order.
 *
 * Workers default to one: each running batch uses the model's own pool of n_threads compute
 * threads, and on a machine with few cores two models computing at once would only share the
 * cores less well. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "engine/engine_internal.h"

/* Per-worker buffers for a batch, grown to the largest batch seen. */
struct worker_buf {
	struct engine_item **items;
	struct model_item *mitems;
	struct model_item_result *results;
	int cap;
	float *out;
	size_t cap_out; /* floats */
};

static void worker_buf_free(struct worker_buf *b)
{
	free(b->items);
	free(b->mitems);
	free(b->results);
	free(b->out);
	memset(b, 0, sizeof *b);
}

static bool worker_buf_reserve(struct worker_buf *b, int n, int dims)
{
	if (n > b->cap) {
		free(b->items);
		free(b->mitems);
		free(b->results);
		b->items = malloc((size_t)n * sizeof *b->items);
		b->mitems = malloc((size_t)n * sizeof *b->mitems);
		b->results = malloc((size_t)n * sizeof *b->results);
		b->cap = b->items && b->mitems && b->results ? n : 0;
		if (!b->cap)
			return false;
	}
	size_t need = (size_t)n * (size_t)(dims > 0 ? dims : 1);
	if (need > b->cap_out) {
		free(b->out);
		b->out = malloc(need * sizeof *b->out);
		b->cap_out = b->out ? need : 0;
		if (!b->out)
			return false;
	}
	return true;
}

/* How many items the next batch of m takes; *full tells whether a limit closed it (rather
 * than the end of the queue). */
static int batch_size(const struct engine *e, const struct engine_model *m, bool *full)
{
	int n = 0;
	long tokens = 0;
	*full = false;
	for (const struct engine_item *it = m->head; it; it = it->next) {
		/* A batch runs one task; another task's items wait for the next one. */
		if (n == e->cfg.max_batch_items || it->job->task != m->head->job->task ||
		    (n > 0 && tokens + it->tokens > e->cfg.max_batch_tokens)) {
			*full = true;
			break;
		}
		tokens += it->tokens;
		n++;
	}
	if (n == e->cfg.max_batch_items || tokens >= e->cfg.max_batch_tokens)
		*full = true;
	return n;
}

/* Picks the model to run next: among the models with queued items and no batch running whose
 * batch is ready (closed by a limit, or its oldest item has waited max_wait_ms, or the engine
 * is draining), the one whose oldest item is oldest. Returns NULL when none is ready, with
 * *wake the time the first one will be (0 when nothing is queued). */
static struct engine_model *pick_model(struct engine *e, uint64_t now, int *n_out, uint64_t *wake)
{
	struct engine_model *best = NULL;
	int best_n = 0;
	*wake = 0;
	const uint64_t wait = (uint64_t)e->cfg.max_wait_ms * 1000000ull;
	for (int i = 0; i < e->n_models; i++) {
		struct engine_model *m = e->models[i];
		if (!m->head || m->running || m->state != ENGINE_MODEL_LOADED)
			continue;
		const uint64_t admit = m->head->job->admit_ns;
		if (best && admit >= best->head->job->admit_ns)
			continue;
		bool full;
		int n = batch_size(e, m, &full);
		if (full || now >= admit + wait || e->draining || e->stopping) {
			best = m;
			best_n = n;
		} else if (!*wake || admit + wait < *wake) {
			*wake = admit + wait;
		}
	}
	*n_out = best_n;
	return best;
}

static int hist_bucket(int n)
{
	int b = 0;
	while (b < 7 && n > (1 << b))
		b++;
	return b;
}

static void timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t mono_deadline_ns)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t mono = sy_now_ns();
	uint64_t left = mono_deadline_ns > mono ? mono_deadline_ns - mono : 0;
	uint64_t t = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec + left;
	struct timespec ts = {.tv_sec = (time_t)(t / 1000000000ull),
	                      .tv_nsec = (long)(t % 1000000000ull)};
	pthread_cond_timedwait(cv, mu, &ts);
}

struct batch_jobs {
	struct engine_item *const *items;
	int n;
};

/* Whether every caller the batch serves has gone away (asked between layers, mu released: the
 * jobs stay alive until the batch hands its results back). */
static bool batch_abandoned(void *ctx)
{
	const struct batch_jobs *b = ctx;
	for (int i = 0; i < b->n; i++)
		if (!atomic_load(&b->items[i]->job->abandoned))
			return false;
	return true;
}

/* Runs the batch's task on the model; the results land in b (fixed-size outputs in b->out,
 * the others in b->results). */
static enum sy_status batch_compute(const struct engine *e, struct engine_model *m,
                                    struct worker_buf *b, int n, struct sy_error *err)
{
	struct batch_jobs jobs = {b->items, n};
	const struct model_stop stop = {batch_abandoned, &jobs};
	if (e->test_batch_delay_ms > 0)
		usleep((useconds_t)e->test_batch_delay_ms * 1000);
	const struct engine_job *j0 = b->items[0]->job;
	for (int i = 0; i < n; i++) {
		const struct engine_item *it = b->items[i];
		b->mitems[i] =
		    (struct model_item){&it->job->inputs[it->index], &it->job->prepared[it->index]};
	}
	return model_task_run(m->model, (enum model_task)j0->task, b->mitems, n, &stop, err, b->out,
	                      b->results);
}

/* Runs one batch of n items (taken off m's queue by the caller) with mu released, then hands
 * the results back under mu. */
static void batch_run(struct engine *e, struct engine_model *m, struct worker_buf *b, int n)
{
	const struct engine_job *j0 = b->items[0]->job;
	const int width = j0->task == ENGINE_TASK_SCORE ? 1 : j0->out ? j0->dims : 0;
	struct sy_error err = {0};
	enum sy_status s = SY_OK;
	pthread_mutex_unlock(&e->mu);

	if (!worker_buf_reserve(b, n, width))
		s = sy_error_set(&err, SY_ERR_NOMEM, "out of memory for a batch of %d items", n);
	if (s == SY_OK)
		s = batch_compute(e, m, b, n, &err);
	long tokens = 0;
	for (int i = 0; s == SY_OK && i < n; i++) {
		const struct engine_item *it = b->items[i];
		struct engine_job *j = it->job;
		/* The job waits for its remaining count under mu, so it is alive here. */
		if (j->out)
			memcpy(j->out + (size_t)it->index * width, b->out + (size_t)i * width,
			       (size_t)width * sizeof(float));
		else
			j->items[it->index] = b->results[i]; /* the job owns it now */
		tokens += j->n_tokens[it->index];
	}
	const uint64_t end = sy_now_ns();

	const bool stopped = s != SY_OK && batch_abandoned(&(struct batch_jobs){b->items, n});

	pthread_mutex_lock(&e->mu);
	if (stopped)
		m->n_cancelled_items += n;
	for (int i = 0; i < n; i++) {
		struct engine_job *j = b->items[i]->job;
		j->end_ns = end;
		if (s != SY_OK && j->status == SY_OK) {
			j->status = s;
			j->err = err;
		}
		if (--j->remaining == 0)
			pthread_cond_signal(&j->done);
	}
	m->running = false;
	m->n_batches++;
	m->n_tokens += tokens;
	m->last_used_ns = end;
	e->batch_size_hist[hist_bucket(n)]++;
	pthread_cond_broadcast(&m->cv);
	/* Another worker may have skipped m while it ran. */
	if (e->cfg.n_workers > 1 && m->head)
		pthread_cond_broadcast(&e->work_cv);
}

static void *worker_main(void *arg)
{
	struct engine *e = arg;
	struct worker_buf buf = {0};
	pthread_mutex_lock(&e->mu);
	for (;;) {
		uint64_t now = sy_now_ns(), wake;
		int n;
		struct engine_model *m = pick_model(e, now, &n, &wake);
		if (!m) {
			if (wake)
				timed_wait(&e->work_cv, &e->mu, wake);
			else if (e->stopping)
				break;
			else
				pthread_cond_wait(&e->work_cv, &e->mu);
			continue;
		}
		if (!worker_buf_reserve(&buf, n, 0)) {
			/* Run one at a time until memory comes back. */
			n = 1;
			if (!worker_buf_reserve(&buf, 1, 0)) {
				timed_wait(&e->work_cv, &e->mu, now + 10000000ull);
				continue;
			}
		}
		for (int i = 0; i < n; i++) {
			struct engine_item *it = m->head;
			m->head = it->next;
			it->next = NULL;
			buf.items[i] = it;
			if (!it->job->start_ns)
				it->job->start_ns = now;
		}
		if (!m->head)
			m->tail = NULL;
		m->queue_items -= n;
		m->running = true;
		batch_run(e, m, &buf, n);
	}
	pthread_mutex_unlock(&e->mu);
	worker_buf_free(&buf);
	return NULL;
}

enum sy_status engine_workers_start(struct engine *e, struct sy_error *err)
{
	int n = e->cfg.n_workers;
	const char *delay = getenv("SY_TEST_BATCH_DELAY_MS");
	e->test_batch_delay_ms = delay ? atoi(delay) : 0;
	e->workers = calloc((size_t)n, sizeof *e->workers);
	if (!e->workers)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		if (pthread_create(&e->workers[i], NULL, worker_main, e) != 0)
			return sy_error_set(err, SY_ERR_INTERNAL, "cannot start engine worker %d",
			                    i);
		e->n_workers = i + 1;
	}
	return SY_OK;
}

void engine_workers_join(struct engine *e)
{
	for (int i = 0; i < e->n_workers; i++)
		pthread_join(e->workers[i], NULL);
	free(e->workers);
	e->workers = NULL;
	e->n_workers = 0;
}
