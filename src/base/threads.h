/* A fixed pool of worker threads that run one task split by (ith, nth).
 *
 * `sy_pool_run(pool, fn, ctx)` calls fn(ctx, ith, nth) once for every ith in [0, nth) where
 * nth == sy_pool_size(pool); the calling thread runs ith == 0 itself, so a pool of size 1 has no
 * extra threads and no synchronisation cost. It returns when every part has finished. Inside fn,
 * `sy_pool_barrier(pool)` waits for all parts to reach the same point, so one run can execute a
 * whole plan of kernels with a barrier between steps (the ggml way).
 *
 * One run at a time per pool: callers serialise (each engine worker owns its pool). */
#ifndef SY_BASE_THREADS_H
#define SY_BASE_THREADS_H

struct sy_pool;

typedef void (*sy_pool_fn)(void *ctx, int ith, int nth);

/* n_threads <= 0 means one per online core. Returns NULL on failure. */
struct sy_pool *sy_pool_create(int n_threads);
void sy_pool_free(struct sy_pool *pool);
int sy_pool_size(const struct sy_pool *pool);
void sy_pool_run(struct sy_pool *pool, sy_pool_fn fn, void *ctx);
void sy_pool_barrier(struct sy_pool *pool);

/* Sporadic small requests: sy_pool_asleep says whether every worker has spun out its bound and
 * sleeps; sy_pool_run_solo runs fn(ctx, 0, 1) on the calling thread alone, its barriers no-ops,
 * leaving the workers asleep. A caller with little work (a lone short request) does better alone
 * than waking threads that take up to ~10 ms to run on a VM, or that another process holds. */
int sy_pool_asleep(struct sy_pool *pool);
void sy_pool_run_solo(struct sy_pool *pool, sy_pool_fn fn, void *ctx);

/* The [begin, end) share of n items for part ith of nth, in contiguous blocks. */
static inline void sy_split(int n, int ith, int nth, int *begin, int *end)
{
	int per = n / nth, rem = n % nth;
	*begin = ith * per + (ith < rem ? ith : rem);
	*end = *begin + per + (ith < rem ? 1 : 0);
}

int sy_n_cores(void);

/* How long an idle worker spins for the next run before it sleeps on a condition variable, in
 * microseconds, for every pool of the process. Spinning keeps a request that comes soon after
 * the last one from paying the wake-up of a sleeping thread (on a VM an idle vCPU takes up to
 * ~10 ms to wake); sleeping after the bound keeps an idle process off the CPU. Unless set, the
 * first pool reads SWITCHYARD_SPIN_US, else SY_POOL_SPIN_US_DEFAULT; 0 sleeps at once. */
#define SY_POOL_SPIN_US_DEFAULT 2000
#define SY_POOL_SPIN_US_MAX 10000000L /* 10 s */
void sy_pool_set_spin_us(long us);
long sy_pool_spin_us(void);
/* Parses a decimal microsecond count in [0, SY_POOL_SPIN_US_MAX] into *out: 0, or -1 when s is
 * NULL, empty, not a whole number or out of range (*out untouched). */
int sy_spin_us_parse(const char *s, long *out);

#endif
