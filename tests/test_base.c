/* Tests for src/base: status strings, errors, files, the thread pool, byte sizes, the YAML
 * reader and the JSON field reader. */
#include <stdatomic.h>
#include <unistd.h>

#include "base/file.h"
#include "base/json_read.h"
#include "base/size.h"
#include "base/status.h"
#include "base/strmap.h"
#include "base/threads.h"
#include "base/yaml.h"
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
	/* released pages come back from the file when read again; ranges outside are ignored */
	sy_mmap_release(&m, m.data + 5000, 60000);
	sy_mmap_release(&m, m.data + 90000, 20000);
	sy_mmap_release(&m, buf, 10);
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

/* The spin bound's parser, and pools that sleep at once (0) or spin long between runs. */
static void test_pool_spin_us(void)
{
	long us = 7;
	CHECK_EQ_INT(sy_spin_us_parse("0", &us), 0);
	CHECK(us == 0);
	CHECK_EQ_INT(sy_spin_us_parse("250000", &us), 0);
	CHECK(us == 250000);
	CHECK_EQ_INT(sy_spin_us_parse("10000000", &us), 0);
	const char *bad[] = {NULL, "", "-1", "1ms", " 5", "5 ", "10000001", "99999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		us = 7;
		CHECK_EQ_INT(sy_spin_us_parse(bad[i], &us), -1);
		CHECK(us == 7);
	}
	const long saved = sy_pool_spin_us();
	const long bounds[] = {0, 100000};
	for (size_t b = 0; b < 2; b++) {
		sy_pool_set_spin_us(bounds[b]);
		CHECK(sy_pool_spin_us() == bounds[b]);
		struct sy_pool *p = sy_pool_create(3);
		for (int rep = 0; rep < 50; rep++) {
			struct pool_ctx c = {.pool = p, .phase_ok = 1};
			sy_pool_run(p, pool_fn, &c);
			CHECK_EQ_INT(atomic_load(&c.sum), 999 * 1000 / 2);
			CHECK(c.phase_ok);
		}
		sy_pool_free(p);
	}
	/* With no spin the workers go to sleep; a solo run then does all the work on this thread,
	 * through its barriers, and leaves them asleep. */
	sy_pool_set_spin_us(0);
	struct sy_pool *p = sy_pool_create(3);
	for (int tries = 0; tries < 2000 && !sy_pool_asleep(p); tries++)
		usleep(1000);
	CHECK(sy_pool_asleep(p));
	struct pool_ctx c = {.pool = p, .phase_ok = 1};
	sy_pool_run_solo(p, pool_fn, &c);
	CHECK_EQ_INT(atomic_load(&c.sum), 999 * 1000 / 2);
	CHECK(c.phase_ok && c.parts[0] && !c.parts[1]);
	CHECK(sy_pool_asleep(p));
	struct pool_ctx c2 = {.pool = p, .phase_ok = 1};
	sy_pool_run(p, pool_fn, &c2);
	CHECK_EQ_INT(atomic_load(&c2.sum), 999 * 1000 / 2);
	CHECK(c2.parts[1] && c2.parts[2]);
	sy_pool_free(p);
	CHECK(!sy_pool_asleep(NULL));
	sy_pool_set_spin_us(-5);
	CHECK(sy_pool_spin_us() == 0);
	sy_pool_set_spin_us(saved);
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

static struct yaml_doc *yaml_ok(const char *text)
{
	struct sy_error err = {0};
	struct yaml_doc *d = NULL;
	CHECKF(yaml_doc_load_text("t.yaml", text, strlen(text), &err, &d) == SY_OK, "%s", err.msg);
	return d;
}

/* Loads text expecting a failure whose message holds frag. */
static void yaml_bad(const char *text, const char *frag)
{
	struct sy_error err = {0};
	struct yaml_doc *d = NULL;
	CHECKF(yaml_doc_load_text("t.yaml", text, strlen(text), &err, &d) != SY_OK, "loaded %s",
	       text);
	CHECK(d == NULL);
	CHECKF(strstr(err.msg, frag) != NULL, "\"%s\" lacks \"%s\"", err.msg, frag);
}

static void test_yaml_tree(void)
{
	struct yaml_doc *d = yaml_ok("# comment\n"
	                             "name: top\n"
	                             "list:\n"
	                             "  - a\n"
	                             "  - {x: 1, y: [2, 3]}\n"
	                             "  - 'quoted'\n"
	                             "empty:\n"
	                             "name: again\n");
	if (!d)
		return;
	const struct yaml_value *r = d->root;
	CHECK(yaml_is_mapping(r));
	CHECK_EQ_INT(yaml_count(r), 4);
	CHECK_EQ_INT(r->line, 2);
	CHECK_STREQ(yaml_scalar(yaml_map_key(r, 0)), "name");
	CHECK_STREQ(yaml_scalar(yaml_lookup(r, "name")), "again"); /* the last one wins */
	CHECK_STREQ(yaml_scalar(yaml_lookup(r, "empty")), "");
	CHECK(yaml_lookup(r, "absent") == NULL);
	const struct yaml_value *l = yaml_lookup(r, "list");
	CHECK(yaml_is_sequence(l));
	CHECK_EQ_INT(yaml_count(l), 3);
	CHECK_EQ_INT(l->line, 4);
	CHECK_STREQ(yaml_scalar(yaml_seq_item(l, 0)), "a");
	CHECK(!yaml_seq_item(l, 0)->quoted && yaml_seq_item(l, 2)->quoted);
	const struct yaml_value *m = yaml_seq_item(l, 1);
	CHECK_EQ_INT(m->line, 5);
	const struct yaml_value *y = yaml_lookup(m, "y");
	CHECK_EQ_INT(yaml_count(y), 2);
	CHECK_STREQ(yaml_scalar(yaml_seq_item(y, 1)), "3");
	CHECK(yaml_seq_item(y, 2) == NULL && yaml_map_key(y, 0) == NULL);
	CHECK(yaml_scalar(y) == NULL);
	CHECK_STREQ(yaml_kind_name(y), "a list");
	yaml_doc_free(d);

	/* Empty streams have no root; only the first document is read. */
	d = yaml_ok("");
	CHECK(d && d->root == NULL);
	yaml_doc_free(d);
	d = yaml_ok("# only a comment\n");
	CHECK(d && d->root == NULL);
	yaml_doc_free(d);
	d = yaml_ok("a: 1\n---\nb: 2\n");
	CHECK(d && yaml_lookup(d->root, "a") && !yaml_lookup(d->root, "b"));
	yaml_doc_free(d);
	/* An anchor alone is harmless. */
	d = yaml_ok("a: &x 1\n");
	CHECK(d && !strcmp(yaml_scalar(yaml_lookup(d->root, "a")), "1"));
	yaml_doc_free(d);
}

static void test_yaml_refused(void)
{
	yaml_bad("a: [1, 2\n", "t.yaml: line ");
	yaml_bad("a: &x [1]\nb: *x\n", "t.yaml: line 2: aliases (*x) are not supported");
	/* Billion laughs: refused at the first alias, before anything is expanded. */
	yaml_bad("a: &a [x, x, x, x, x, x, x, x, x]\n"
	         "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	         "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
	         "line 2: aliases");
	/* An alias as a mapping's value, after its key: the pending key is freed too (ASan). */
	yaml_bad("a: &x 1\nm:\n  k: *x\n", "line 3: aliases");
	yaml_bad("? [a]\n: b\n", "t.yaml: line 1: a mapping key must be a plain value, not a list");
	yaml_bad("{{a: 1}: b}\n", "a mapping key must be a plain value, not a mapping");
	char deep[YAML_MAX_DEPTH + 2];
	memset(deep, '[', YAML_MAX_DEPTH + 1);
	deep[YAML_MAX_DEPTH + 1] = '\0';
	yaml_bad(deep, "nested deeper than 64 levels");
	struct sy_error err = {0};
	struct yaml_doc *d = NULL;
	CHECK(yaml_doc_load_file("/nonexistent/c.yaml", &err, &d) != SY_OK && d == NULL);
	CHECK(strstr(err.msg, "/nonexistent/c.yaml") != NULL);
}

/* Runs a typed read (YAML or JSON) that must fail; its message must hold frag. The call names
 * its error `bad_err`. */
#define YAML_GET_BAD(call, frag)                                                              \
	do {                                                                                  \
		struct sy_error bad_err = {0};                                                \
		CHECK((call) != SY_OK);                                                       \
		CHECKF(strstr(bad_err.msg, frag) != NULL, "\"%s\" lacks \"%s\"", bad_err.msg, \
		       frag);                                                                 \
	} while (0)

static void test_yaml_get(void)
{
	struct yaml_doc *d = yaml_ok("port: 8080\n"
	                             "big: 70000\n"
	                             "frac: 1.5\n"
	                             "exp: 1e3\n"
	                             "word: two\n"
	                             "flag: Yes\n"
	                             "off: off\n"
	                             "size: 2G\n"
	                             "list: [a, b]\n"
	                             "mixed: [a, [b]]\n"
	                             "long: abcdefghij\n"
	                             "ratio: 0.25\n"
	                             "map: {k: v}\n");
	if (!d)
		return;
	const struct yaml_value *r = d->root;
	struct sy_error err = {0};
	int i = -1;
	CHECK(yaml_get_int(d, yaml_lookup(r, "port"), "port", 0, 65535, &err, &i) == SY_OK);
	CHECK_EQ_INT(i, 8080);
	CHECK(yaml_get_int(d, yaml_lookup(r, "exp"), "exp", 0, 5000, &err, &i) == SY_OK);
	CHECK_EQ_INT(i, 1000);
	i = 7; /* absent: no error, the default stays */
	CHECK(yaml_get_int(d, yaml_lookup(r, "nope"), "nope", 0, 1, &err, &i) == SY_OK);
	CHECK_EQ_INT(i, 7);
	YAML_GET_BAD(yaml_get_int(d, yaml_lookup(r, "big"), "big", 0, 65535, &bad_err, &i),
	             "t.yaml: line 2: big: expected an integer in [0, 65535], got '70000'");
	YAML_GET_BAD(yaml_get_int(d, yaml_lookup(r, "frac"), "frac", 0, 9, &bad_err, &i),
	             "line 3: frac: expected an integer");
	YAML_GET_BAD(yaml_get_int(d, yaml_lookup(r, "word"), "word", 0, 9, &bad_err, &i),
	             "got 'two'");
	YAML_GET_BAD(yaml_get_int(d, yaml_lookup(r, "list"), "list", 0, 9, &bad_err, &i),
	             "line 9: list: expected a value, got a list");
	CHECK_EQ_INT(i, 7);

	double x = 0;
	CHECK(yaml_get_num(d, yaml_lookup(r, "ratio"), "ratio", 0, 1, &err, &x) == SY_OK);
	CHECK(x == 0.25);
	YAML_GET_BAD(yaml_get_num(d, yaml_lookup(r, "frac"), "frac", 0, 1, &bad_err, &x),
	             "frac: expected a number in [0, 1], got '1.5'");
	YAML_GET_BAD(yaml_get_num(d, yaml_lookup(r, "map"), "map", 0, 1, &bad_err, &x),
	             "line 13: map: expected a value, got a mapping");

	bool b = false;
	CHECK(yaml_get_bool(d, yaml_lookup(r, "flag"), "flag", &err, &b) == SY_OK && b);
	CHECK(yaml_get_bool(d, yaml_lookup(r, "off"), "off", &err, &b) == SY_OK && !b);
	YAML_GET_BAD(yaml_get_bool(d, yaml_lookup(r, "word"), "word", &bad_err, &b),
	             "line 5: word: expected true or false, got 'two'");

	size_t sz = 0;
	CHECK(yaml_get_size(d, yaml_lookup(r, "size"), "size", &err, &sz) == SY_OK);
	CHECK_EQ_INT(sz, (size_t)2 << 30);
	YAML_GET_BAD(yaml_get_size(d, yaml_lookup(r, "word"), "word", &bad_err, &sz),
	             "t.yaml: line 5: word: 'two': expected a byte count");

	const char *s = NULL;
	CHECK(yaml_get_str(d, yaml_lookup(r, "word"), "word", &err, &s) == SY_OK);
	CHECK_STREQ(s, "two");
	char *dup = NULL;
	CHECK(yaml_get_strdup(d, yaml_lookup(r, "word"), "word", &err, &dup) == SY_OK);
	CHECK(yaml_get_strdup(d, yaml_lookup(r, "long"), "long", &err, &dup) == SY_OK);
	CHECK_STREQ(dup, "abcdefghij");
	free(dup);
	char buf[8] = "keep";
	YAML_GET_BAD(yaml_get_strbuf(d, yaml_lookup(r, "long"), "long", sizeof buf, &bad_err, buf),
	             "line 11: long: expected a string of at most 7 bytes");
	CHECK_STREQ(buf, "keep");
	CHECK(yaml_get_strbuf(d, yaml_lookup(r, "word"), "word", sizeof buf, &err, buf) == SY_OK);
	CHECK_STREQ(buf, "two");

	char **list = NULL;
	int n = 0;
	CHECK(yaml_get_strings(d, yaml_lookup(r, "list"), "list", &err, &list, &n) == SY_OK);
	CHECK_EQ_INT(n, 2);
	if (n == 2)
		CHECK(!strcmp(list[0], "a") && !strcmp(list[1], "b"));
	for (int k = 0; k < n; k++)
		free(list[k]);
	free(list);
	YAML_GET_BAD(yaml_get_strings(d, yaml_lookup(r, "mixed"), "mixed", &bad_err, &list, &n),
	             "line 10: mixed[1]: expected a string, got a list");
	YAML_GET_BAD(yaml_get_strings(d, yaml_lookup(r, "word"), "word", &bad_err, &list, &n),
	             "word: expected a list of strings, got a value");
	yaml_doc_free(d);
}

static void test_yaml_keys(void)
{
	struct yaml_doc *d = yaml_ok("up:\n  base_url: u\n  model: m\n  colour: red\nl: [1]\n");
	if (!d)
		return;
	static const char *const known[] = {"base_url", "model", NULL};
	const struct yaml_value *up = yaml_lookup(d->root, "up");
	YAML_GET_BAD(yaml_check_keys(d, up, "up", "an upstream setting", known, &bad_err),
	             "t.yaml: line 4: colour is not an upstream setting (base_url, model)");
	static const char *const all[] = {"base_url", "model", "colour", NULL};
	struct sy_error err = {0};
	CHECK(yaml_check_keys(d, up, "up", "an upstream setting", all, &err) == SY_OK);
	YAML_GET_BAD(yaml_check_keys(d, yaml_lookup(d->root, "l"), "l", "x", all, &bad_err),
	             "line 5: l: expected a mapping, got a list");
	YAML_GET_BAD(yaml_error(d, up, &bad_err, "custom %d", 42), "t.yaml: line 2: custom 42");
	yaml_doc_free(d);
}

static void test_size_parse(void)
{
	static const struct {
		const char *s;
		size_t want;
	} ok[] = {
	    {"0", 0},
	    {"1048576", 1048576},
	    {"512K", (size_t)512 << 10},
	    {"512k", (size_t)512 << 10},
	    {"64M", (size_t)64 << 20},
	    {"2G", (size_t)2 << 30},
	    {"1.5G", (size_t)3 << 29},
	    {"3GiB", (size_t)3 << 30},
	    {"10MB", (size_t)10 << 20},
	    {"1T", (size_t)1 << 40},
	    {" 7M ", (size_t)7 << 20},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		size_t v = 1;
		struct sy_error err = {0};
		CHECKF(sy_size_parse(ok[i].s, &err, &v) == SY_OK, "%s: %s", ok[i].s, err.msg);
		CHECKF(v == ok[i].want, "%s: %zu != %zu", ok[i].s, v, ok[i].want);
	}
	static const char *const bad[] = {"", "M", "-1", "12X", "1.5", "1e3", "5 G B", "abc"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t v;
		struct sy_error err = {0};
		CHECKF(sy_size_parse(bad[i], &err, &v) != SY_OK, "accepted '%s'", bad[i]);
		CHECK(err.msg[0] != '\0');
	}
}

static void test_json_read(void)
{
	cJSON *doc = cJSON_Parse("{\"b\": true, \"i\": 42, \"big\": 70000, \"frac\": 1.5,"
	                         " \"s\": \"text\", \"n\": null, \"arr\": [\"x\", \"y\"],"
	                         " \"mixed\": [\"x\", 3], \"obj\": {\"inner\": {\"k\": \"v\"}}}");
	CHECK(doc != NULL);
	struct sy_error err = {0};
	bool b = false;
	CHECK(json_read_bool(doc, "b", "cfg", false, &err, &b) == SY_OK && b);
	CHECK(json_read_bool(doc, "n", "cfg", true, &err, &b) == SY_OK && b); /* null: default */
	CHECK(json_read_bool(doc, "absent", "cfg", false, &err, &b) == SY_OK && !b);
	YAML_GET_BAD(json_read_bool(doc, "i", "cfg", false, &bad_err, &b),
	             "cfg.i: expected boolean");

	long i = 0;
	CHECK(json_read_int(doc, "i", NULL, 0, 100, 7, &err, &i) == SY_OK);
	CHECK_EQ_INT(i, 42);
	CHECK(json_read_int(doc, "absent", NULL, 0, 100, 7, &err, &i) == SY_OK);
	CHECK_EQ_INT(i, 7);
	YAML_GET_BAD(json_read_int(doc, "big", "a.b[1]", 0, 65535, 0, &bad_err, &i),
	             "a.b[1].big: 70000 out of range [0, 65535]");
	YAML_GET_BAD(json_read_int(doc, "frac", "", 0, 9, 0, &bad_err, &i),
	             "frac: expected integer");
	YAML_GET_BAD(json_read_int(doc, "s", NULL, 0, 9, 0, &bad_err, &i), "s: expected integer");

	double x = 0;
	CHECK(json_read_number(doc, "frac", NULL, 0, 2, 0, &err, &x) == SY_OK && x == 1.5);
	YAML_GET_BAD(json_read_number(doc, "frac", "p", 0, 1, 0, &bad_err, &x),
	             "p.frac: 1.5 out of range [0, 1]");
	YAML_GET_BAD(json_read_number(doc, "arr", "p", 0, 1, 0, &bad_err, &x),
	             "p.arr: expected number");

	const char *s = NULL;
	CHECK(json_read_string(doc, "s", NULL, "d", &err, &s) == SY_OK);
	CHECK_STREQ(s, "text");
	CHECK(json_read_string(doc, "n", NULL, "d", &err, &s) == SY_OK);
	CHECK_STREQ(s, "d");
	YAML_GET_BAD(json_read_string(doc, "i", "top", NULL, &bad_err, &s),
	             "top.i: expected string");
	YAML_GET_BAD(json_read_string_required(doc, "absent", "top", &bad_err, &s),
	             "top.absent: missing");
	const cJSON *inner = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "obj"), "inner");
	CHECK(json_read_string_required(inner, "k", "obj.inner", &err, &s) == SY_OK);
	CHECK_STREQ(s, "v");
	YAML_GET_BAD(json_read_bool(inner, "k", "obj.inner", false, &bad_err, &b),
	             "obj.inner.k: expected boolean");

	const char **list = NULL;
	int n = -1;
	CHECK(json_read_strings(doc, "arr", NULL, &err, &list, &n) == SY_OK);
	CHECK_EQ_INT(n, 2);
	if (n == 2)
		CHECK(!strcmp(list[0], "x") && !strcmp(list[1], "y"));
	free(list);
	CHECK(json_read_strings(doc, "absent", NULL, &err, &list, &n) == SY_OK);
	CHECK(list == NULL && n == 0);
	YAML_GET_BAD(json_read_strings(doc, "mixed", "q", &bad_err, &list, &n),
	             "q.mixed[1]: expected string");
	YAML_GET_BAD(json_read_strings(doc, "s", "q", &bad_err, &list, &n),
	             "q.s: expected array of strings");

	CHECK_STREQ(json_read_type_name(cJSON_GetObjectItem(doc, "i")), "integer");
	CHECK_STREQ(json_read_type_name(cJSON_GetObjectItem(doc, "frac")), "number");
	CHECK_STREQ(json_read_type_name(cJSON_GetObjectItem(doc, "n")), "null");
	CHECK_STREQ(json_read_type_name(doc), "object");
	CHECK(json_read_has_number(doc, "frac", &x) && x == 1.5);
	CHECK(!json_read_has_number(doc, "s", &x) && !json_read_has_number(doc, "absent", &x));
	cJSON_Delete(doc);
}

int main(void)
{
	RUN(test_strmap);
	RUN(test_error_set);
	RUN(test_file_read_missing);
	RUN(test_file_read_and_map);
	RUN(test_pool);
	RUN(test_pool_spin_us);
	RUN(test_split);
	RUN(test_size_parse);
	RUN(test_yaml_tree);
	RUN(test_yaml_refused);
	RUN(test_yaml_get);
	RUN(test_yaml_keys);
	RUN(test_json_read);
	return harness_summary();
}
