/* A tiny test harness: each test binary defines test functions, registers them in main with
 * RUN(test_fn), and ends with `return harness_summary();`, which prints "N passed, N failed".
 * A test fails when any CHECK inside it fails; CHECKs print file:line and the expression.
 *
 * Environment: SY_SHARED points at ../shared (default "../shared" relative to the repo root);
 * tests find it with harness_shared_path("models/...").  */
#ifndef SY_TESTS_HARNESS_H
#define SY_TESTS_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int harness_passed, harness_failed, harness_cur_failed;
static const char *harness_cur_name;

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "  FAIL %s:%d in %s: %s\n", __FILE__, __LINE__, \
			        harness_cur_name, #cond);                               \
			harness_cur_failed = 1;                                         \
		}                                                                       \
	} while (0)

#define CHECKF(cond, ...)                                                               \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "  FAIL %s:%d in %s: %s: ", __FILE__, __LINE__, \
			        harness_cur_name, #cond);                               \
			fprintf(stderr, __VA_ARGS__);                                   \
			fputc('\n', stderr);                                            \
			harness_cur_failed = 1;                                         \
		}                                                                       \
	} while (0)

#define CHECK_EQ_INT(a, b)                                          \
	do {                                                        \
		long long _a = (long long)(a), _b = (long long)(b); \
		CHECKF(_a == _b, "%lld != %lld", _a, _b);           \
	} while (0)

#define CHECK_STREQ(a, b)                                                                     \
	do {                                                                                  \
		const char *_a = (a), *_b = (b);                                              \
		CHECKF(_a &&_b &&strcmp(_a, _b) == 0, "\"%s\" != \"%s\"", _a ? _a : "(null)", \
		       _b ? _b : "(null)");                                                   \
	} while (0)

#define RUN(fn)                                                  \
	do {                                                     \
		harness_cur_name = #fn;                          \
		harness_cur_failed = 0;                          \
		fn();                                            \
		if (harness_cur_failed) {                        \
			harness_failed++;                        \
			fprintf(stderr, "not ok %s\n", #fn);     \
		} else {                                         \
			harness_passed++;                        \
			if (getenv("SY_TEST_VERBOSE"))           \
				fprintf(stderr, "ok %s\n", #fn); \
		}                                                \
	} while (0)

static inline int harness_summary(void)
{
	printf("%d passed, %d failed\n", harness_passed, harness_failed);
	return harness_failed ? 1 : 0;
}

/* Path to a file under the shared directory (SY_SHARED or ../shared). Static buffer. */
static inline const char *harness_shared_path(const char *rel)
{
	static char buf[4096];
	const char *root = getenv("SY_SHARED");
	snprintf(buf, sizeof buf, "%s/%s", root ? root : "../shared", rel);
	return buf;
}

/* Max |a-b| over n floats. */
static inline float harness_max_abs_diff(const float *a, const float *b, size_t n)
{
	float m = 0;
	for (size_t i = 0; i < n; i++) {
		float d = fabsf(a[i] - b[i]);
		if (d > m || d != d)
			m = d != d ? INFINITY : d;
	}
	return m;
}

static inline double harness_cosine(const float *a, const float *b, size_t n)
{
	double ab = 0, aa = 0, bb = 0;
	for (size_t i = 0; i < n; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	return ab / (sqrt(aa) * sqrt(bb) + 1e-30);
}

#endif
