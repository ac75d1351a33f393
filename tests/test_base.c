/* Tests for src/base: status strings, errors, files, the thread pool. */
#include <stdatomic.h>

#include "base/file.h"
#include "base/status.h"
#include "base/strmap.h"
#include "base/threads.h"
#include "harness.h"

static void test_error_set(void)
{
	struct sy_error err = {0};
	enum sy_status s = sy_error_set(&err, SY_ERR_FORMAT, "field %s", "x");
	CHECK(s == SY_ERR_FORMAT);
	CHECK_STREQ(err.msg, "field x");
	sy_error_prefix(&err, "file %d", 3);
	CHECK_STREQ(err.msg, "file 3: field x");
	CHECK_STREQ(sy_status_str(SY_OK), "ok");
	CHECK(sy_error_set(NULL, SY_ERR_IO, "ignored") == SY_ERR_IO);
}

static void test_file_read_missing(void)
{
	struct sy_error err = {0};
	char *buf;
	size_t len;
	CHECK(sy_file_read("/nonexistent/file", &err, &buf, &len) == SY_ERR_IO);
	CHECK(strstr(err.msg, "/nonexistent/file") != NULL);
}

static void test_file_read_and_map(void)
{
	char path[] = "/tmp/sy-test-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	FILE *f = fdopen(fd, "w");
	for (int i = 0; i < 100000; i++)
		fputc('a' + i % 26, f);
	fclose(f);
	char *buf;
	size_t len;
	CHECK(sy_file_read(path, NULL, &buf, &len) == SY_OK);
	CHECK_EQ_INT(len, 100000);
	CHECK(buf[len] == 0 && buf[27] == 'b');
	struct sy_mmap m;
	CHECK(sy_mmap_open(path, NULL, &m) == SY_OK);
	CHECK_EQ_INT(m.len, 100000);
	CHECK(memcmp(m.data, buf, len) == 0);
	sy_mmap_close(&m);
	free(buf);
	remove(path);
	char *j = sy_path_join("a/b//", "c");
	CHECK_STREQ(j, "a/b/c");
	free(j);
}

struct pool_ctx {
	struct sy_pool *pool;
	atomic_int sum;
	int parts[64];
	int phase_ok;
};

static void pool_fn(void *arg, int ith, int nth)
{
	struct pool_ctx *c = arg;
	int b, e;
	sy_split(1000, ith, nth, &b, &e);
	for (int i = b; i < e; i++)
		atomic_fetch_add(&c->sum, i);
	c->parts[ith] = 1;
	sy_pool_barrier(c->pool);
	/* after the barrier every part must have written its flag */
	for (int i = 0; i < nth; i++)
		if (!c->parts[i])
			c->phase_ok = 0;
	sy_pool_barrier(c->pool);
}

static void test_pool(void)
{
	for (int n = 1; n <= 4; n++) {
		struct sy_pool *p = sy_pool_create(n);
		CHECK(p != NULL);
		CHECK_EQ_INT(sy_pool_size(p), n);
		for (int rep = 0; rep < 200; rep++) {
			struct pool_ctx c = {.pool = p, .phase_ok = 1};
			sy_pool_run(p, pool_fn, &c);
			CHECK_EQ_INT(atomic_load(&c.sum), 999 * 1000 / 2);
			CHECK(c.phase_ok);
		}
		sy_pool_free(p);
	}
}

static void test_split(void)
{
	int covered = 0, prev_end = 0;
	for (int i = 0; i < 7; i++) {
		int b, e;
		sy_split(23, i, 7, &b, &e);
		CHECK_EQ_INT(b, prev_end);
		covered += e - b;
		prev_end = e;
	}
	CHECK_EQ_INT(covered, 23);
}

static void test_strmap(void)
{
	struct sy_strmap m;
	sy_strmap_init(&m);
	char key[32];
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(key, sizeof key, "k%d", i);
		CHECK(sy_strmap_put(&m, key, (size_t)n, i) == 0);
	}
	CHECK_EQ_INT(m.n, 5000);
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(key, sizeof key, "k%d", i);
		CHECK_EQ_INT(sy_strmap_get(&m, key, (size_t)n), i);
	}
	CHECK_EQ_INT(sy_strmap_get(&m, "missing", 7), -1);
	CHECK(sy_strmap_put(&m, "a\0b", 3, 7) == 0);
	CHECK_EQ_INT(sy_strmap_get(&m, "a\0b", 3), 7);
	CHECK_EQ_INT(sy_strmap_get(&m, "a", 1), -1);
	CHECK(sy_strmap_put(&m, "k1", 2, 99) == 0);
	CHECK_EQ_INT(sy_strmap_get(&m, "k1", 2), 99);
	sy_strmap_free(&m);
}

int main(void)
{
	RUN(test_strmap);
	RUN(test_error_set);
	RUN(test_file_read_missing);
	RUN(test_file_read_and_map);
	RUN(test_pool);
	RUN(test_split);
	return harness_summary();
}
