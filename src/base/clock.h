/* Monotonic clock. */
#ifndef SY_BASE_CLOCK_H
#define SY_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t sy_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline double sy_now_ms(void)
{
	return (double)sy_now_ns() / 1e6;
}

#endif
