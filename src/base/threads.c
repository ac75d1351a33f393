/* Thread pool. Workers wait for a new generation number, run their part, and report completion
 * with an atomic counter. Waiting spins before sleeping on a condition variable: kernels for
 * small requests take tens of microseconds, and waking a sleeping thread costs about as much on
 * bare metal and far more on a VM (an idle vCPU is descheduled, and waking it took ~10 ms on the
 * benchmark hosts), so a spin keeps the latency of requests that follow each other closely low.
 * The spin is bounded by time, not by iterations (PAUSE takes 10 to 150 cycles depending on the
 * CPU): sy_pool_spin_us, SWITCHYARD_SPIN_US or `--spin-us`, SY_POOL_SPIN_US_DEFAULT unless set.
 * After the bound every idle worker sleeps, so an idle server burns no CPU. */
#include "base/threads.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/clock.h"

/* The spin-wait hint: PAUSE on x86, YIELD on ARM, nothing elsewhere. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Barrier waits (inside one run) spin this many times, then yield. */
#define SPIN_ITERS 20000

/* How long an idle worker spins before it sleeps, in microseconds; -1 until first read. */
static atomic_long spin_us = -1;

int sy_spin_us_parse(const char *s, long *out)
{
	if (!s || *s < '0' || *s > '9')
		return -1;
	char *end;
	errno = 0;
	const long v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > SY_POOL_SPIN_US_MAX)
		return -1;
	*out = v;
	return 0;
}

void sy_pool_set_spin_us(long us)
{
	atomic_store(&spin_us, us < 0 ? 0 : us > SY_POOL_SPIN_US_MAX ? SY_POOL_SPIN_US_MAX : us);
}

long sy_pool_spin_us(void)
{
	long us = atomic_load(&spin_us);
	if (us >= 0)
		return us;
	/* First use: SWITCHYARD_SPIN_US when it parses, else the default (a bad value is
	 * refused by the CLI before any pool exists). */
	if (sy_spin_us_parse(getenv("SWITCHYARD_SPIN_US"), &us) != 0)
		us = SY_POOL_SPIN_US_DEFAULT;
	long expect = -1;
	atomic_compare_exchange_strong(&spin_us, &expect, us);
	return atomic_load(&spin_us);
}

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
	atomic_int n_asleep; /* workers waiting on cv (past their spin) */
	int solo; /* set by sy_pool_run_solo for the length of its run: barriers are no-ops */
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
		unsigned spins = 0;
		/* The clock is read once per 64 pauses: cheap next to them, and fine-grained
		 * enough for a bound in microseconds. */
		const uint64_t limit_ns = (uint64_t)sy_pool_spin_us() * 1000u;
		const uint64_t t0 = sy_now_ns();
		while ((gen = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
		       !atomic_load(&p->stop)) {
			if (limit_ns > 0 && ((++spins & 63) != 0 || sy_now_ns() - t0 < limit_ns)) {
				cpu_relax();
				continue;
			}
			pthread_mutex_lock(&p->mu);
			atomic_fetch_add(&p->n_asleep, 1);
			while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
				pthread_cond_wait(&p->cv, &p->mu);
			atomic_fetch_sub(&p->n_asleep, 1);
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

int sy_pool_asleep(struct sy_pool *p)
{
	return p && p->n > 1 && atomic_load(&p->n_asleep) == p->n - 1;
}

void sy_pool_run_solo(struct sy_pool *p, sy_pool_fn fn, void *ctx)
{
	if (p)
		p->solo = 1;
	fn(ctx, 0, 1);
	if (p)
		p->solo = 0;
}

void sy_pool_barrier(struct sy_pool *p)
{
	if (!p || p->n == 1 || p->solo)
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
