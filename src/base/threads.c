/* Thread pool. Workers wait for a new generation number, run their part, and report completion
 * with an atomic counter. Waiting spins briefly before sleeping on a condition variable: kernels
 * for small requests take tens of microseconds, and waking a sleeping thread costs about as much,
 * so a short spin keeps single-request latency low while idle workers still sleep. */
#include "base/threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* The spin-wait hint: PAUSE on x86, YIELD on ARM, nothing elsewhere. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

#define SPIN_ITERS 20000

struct worker {
	struct sy_pool *pool;
	int ith;
	pthread_t thread;
};

struct sy_pool {
	int n;
	struct worker *workers;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_uint generation; /* bumped for each run; workers run once per new value */
	atomic_int pending; /* parts of the current run not yet finished */
	atomic_int stop;
	sy_pool_fn fn;
	void *ctx;
	/* barrier state */
	atomic_int barrier_count;
	atomic_uint barrier_phase;
};

int sy_n_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct sy_pool *p = w->pool;
	unsigned seen = 0;
	for (;;) {
		unsigned gen;
		int spins = 0;
		while ((gen = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
		       !atomic_load(&p->stop)) {
			if (++spins < SPIN_ITERS) {
				cpu_relax();
				continue;
			}
			pthread_mutex_lock(&p->mu);
			while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
				pthread_cond_wait(&p->cv, &p->mu);
			pthread_mutex_unlock(&p->mu);
		}
		if (atomic_load(&p->stop))
			return NULL;
		seen = gen;
		p->fn(p->ctx, w->ith, p->n);
		atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
	}
}

struct sy_pool *sy_pool_create(int n_threads)
{
	if (n_threads <= 0)
		n_threads = sy_n_cores();
	struct sy_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->n = n_threads;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->workers = calloc((size_t)n_threads, sizeof *p->workers);
	if (!p->workers) {
		free(p);
		return NULL;
	}
	for (int i = 1; i < n_threads; i++) {
		p->workers[i].pool = p;
		p->workers[i].ith = i;
		if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0) {
			p->n = i; /* run with the threads we have */
			break;
		}
	}
	return p;
}

void sy_pool_free(struct sy_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->stop, 1);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 1; i < p->n; i++)
		pthread_join(p->workers[i].thread, NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->workers);
	free(p);
}

int sy_pool_size(const struct sy_pool *p)
{
	return p ? p->n : 1;
}

void sy_pool_run(struct sy_pool *p, sy_pool_fn fn, void *ctx)
{
	if (!p || p->n == 1) {
		fn(ctx, 0, 1);
		return;
	}
	p->fn = fn;
	p->ctx = ctx;
	atomic_store(&p->barrier_count, 0);
	atomic_store(&p->pending, p->n - 1);
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	fn(ctx, 0, p->n);
	while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0)
		cpu_relax();
}

void sy_pool_barrier(struct sy_pool *p)
{
	if (!p || p->n == 1)
		return;
	unsigned phase = atomic_load_explicit(&p->barrier_phase, memory_order_acquire);
	if (atomic_fetch_add_explicit(&p->barrier_count, 1, memory_order_acq_rel) == p->n - 1) {
		atomic_store_explicit(&p->barrier_count, 0, memory_order_relaxed);
		atomic_fetch_add_explicit(&p->barrier_phase, 1, memory_order_release);
		return;
	}
	int spins = 0;
	while (atomic_load_explicit(&p->barrier_phase, memory_order_acquire) == phase) {
		if (++spins < SPIN_ITERS)
			cpu_relax();
		else
			sched_yield();
	}
}
