/* Tests of the server layer's pure parts: the JSON codecs (request parsing with field-precise
 * errors, response writing), auth key files, YAML settings and sizes, the error mapping and the
 * metrics exposition. The running server is tested by tests/integration/server.sh. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "server/auth.h"
#include "server/config.h"
#include "server/errors.h"
#include "server/json_codec.h"
#include "server/quantize.h"
#include "server/metrics.h"
#include "base/sbuf.h"
#include "server/server.h"
#include "text/tokenizer.h"
#include <strings.h>

static struct server_limits test_limits(void)
{
	return (struct server_limits){.max_body_bytes = 1 << 20, .max_items = 4, .max_chars = 10};
}

/* Parses an encode body and expects failure with status and a message containing frag. */
static void expect_encode_error(const char *body, int status, const char *frag)
{
	struct server_limits lim = test_limits();
	struct encode_request r;
	struct api_error e = {0};
	enum sy_status st = json_encode_request_parse(body, strlen(body), &lim, &e, &r);
	CHECKF(st != SY_OK, "accepted: %s", body);
	if (st == SY_OK) {
		json_encode_request_free(&r);
		return;
	}
	CHECKF(e.http_status == status, "%s: status %d, want %d (%s)", body, e.http_status, status,
	       e.message);
	CHECKF(strstr(e.message, frag) != NULL, "%s: message '%s' lacks '%s'", body, e.message,
	       frag);
	CHECK_STREQ(e.code, status == 500 ? "INTERNAL_ERROR" : "INVALID_INPUT");
	CHECK(r.doc == NULL && r.texts == NULL);
}

static void expect_embeddings_error(const char *body, int status, const char *frag)
{
	struct server_limits lim = test_limits();
	struct embeddings_request r;
	struct api_error e = {0};
	enum sy_status st = json_embeddings_request_parse(body, strlen(body), &lim, &e, &r);
	CHECKF(st != SY_OK, "accepted: %s", body);
	if (st == SY_OK) {
		json_embeddings_request_free(&r);
		return;
	}
	CHECKF(e.http_status == status, "%s: status %d, want %d", body, e.http_status, status);
	CHECKF(strstr(e.message, frag) != NULL, "%s: message '%s' lacks '%s'", body, e.message,
	       frag);
}

static void test_sbuf(void)
{
	struct sbuf b = {0};
	sbuf_puts(&b, "abc");
	sbuf_putc(&b, '-');
	sbuf_printf(&b, "%d", 42);
	CHECK_STREQ(b.data, "abc-42");
	CHECK_EQ_INT(b.len, 6);
	/* A printf longer than the fast path's stack buffer. */
	char big[600];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	sbuf_printf(&b, "[%s]", big);
	CHECK_EQ_INT(b.len, 6 + 601);
	CHECK(b.data[b.len - 1] == ']' && b.data[b.len] == '\0');
	size_t len;
	char *p = sbuf_take(&b, &len);
	CHECK_EQ_INT(len, 607);
	CHECK(b.data == NULL && b.len == 0);
	free(p);
	sbuf_free(&b);
}

static void test_json_write_str(void)
{
	struct sbuf b = {0};
	json_write_str(&b, "a\"b\\c\n\t\x01/é", -1);
	CHECK_STREQ(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001/é\"");
	b.len = 0;
	/* Invalid UTF-8 becomes U+FFFD so the output stays valid JSON. */
	json_write_str(&b, "x\xff\xc3(y\xed\xa0\x80", -1);
	CHECK_STREQ(b.data, "\"x\\ufffd\\ufffd(y\\ufffd\\ufffd\\ufffd\"");
	b.len = 0;
	/* Explicit length: an embedded NUL is written, not a terminator. */
	json_write_str(&b, "a\0b", 3);
	CHECK_STREQ(b.data, "\"a\\u0000b\"");
	b.len = 0;
	json_write_str(&b, "🚂 emoji", -1);
	cJSON *j = cJSON_Parse(b.data);
	CHECK(j && cJSON_IsString(j) && !strcmp(j->valuestring, "🚂 emoji"));
	cJSON_Delete(j);
	sbuf_free(&b);
}

static void test_json_write_floats(void)
{
	struct sbuf b = {0};
	float v[] = {0.1f, -1.5f, 3.4028235e38f, 1e-45f, 0.0f, NAN, INFINITY};
	json_write_floats(&b, v, 7);
	CHECK_STREQ(b.data, "[0.100000001,-1.5,3.40282347e+38,1.40129846e-45,0,null,null]");
	/* 9 significant digits round-trip every float exactly. */
	unsigned seed = 12345;
	for (int i = 0; i < 1000; i++) {
		seed = seed * 1103515245u + 12345u;
		uint32_t bits = seed;
		float f;
		memcpy(&f, &bits, sizeof f);
		if (!isfinite(f))
			continue;
		b.len = 0;
		json_write_float(&b, f);
		float g = strtof(b.data, NULL);
		CHECKF(memcmp(&f, &g, sizeof f) == 0 || (f == 0 && g == 0), "%s", b.data);
	}
	b.len = 0;
	json_write_floats(&b, v, 0);
	CHECK_STREQ(b.data, "[]");
	sbuf_free(&b);
}

/* The fast formatter must write exactly what snprintf("%.9g") writes (the CLI's text). */
static void test_json_write_float_matches_printf(void)
{
	struct sbuf b = {0};
	char want[64];
	long mismatches = 0, n = 0;
	unsigned seed = 987654321u;
	for (long i = 0; i < 400000; i++) {
		float f;
		if (i < 300) {
			/* Powers of two and their neighbours across and past the fast range:
			 * exact decimal ties such as 2^-13 = 0.0001220703125 live here. */
			f = ldexpf(1.0f, (int)(i % 100) - 40) * (i < 100   ? 1.0f
			                                         : i < 200 ? 3.0f
			                                                   : -5.0f);
		} else if (i < 200000) {
			seed = seed * 1103515245u + 12345u;
			uint32_t bits = seed ^ (seed << 13);
			memcpy(&f, &bits, sizeof f);
		} else {
			/* Embedding-like values: mostly within (-1, 1). */
			seed = seed * 1103515245u + 12345u;
			f = ((float)(seed >> 8) / 16777216.0f - 0.5f) * (float)(1 << (i % 12)) /
			    64.0f;
		}
		if (!isfinite(f))
			continue;
		b.len = 0;
		json_write_float(&b, f);
		snprintf(want, sizeof want, "%.9g", (double)f);
		n++;
		if (strcmp(b.data, want) != 0 && mismatches++ < 5)
			CHECKF(0, "%.9g: wrote '%s', printf '%s'", (double)f, b.data, want);
	}
	CHECKF(mismatches == 0, "%ld of %ld differ", mismatches, n);
	sbuf_free(&b);
}

static void test_json_write_base64(void)
{
	static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const out[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
	                                  "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	struct sbuf b = {0};
	for (int i = 0; i < 7; i++) {
		b.len = 0;
		sbuf_puts(&b, "");
		json_write_base64(&b, in[i], strlen(in[i]));
		CHECK_STREQ(b.data ? b.data : "", out[i]);
	}
	/* Little-endian float32 bytes: 1.0f is 00 00 80 3f. */
	b.len = 0;
	float one = 1.0f;
	json_write_base64(&b, &one, sizeof one);
	CHECK_STREQ(b.data, "AACAPw==");
	sbuf_free(&b);
}

static void test_utf8_count(void)
{
	size_t bad = 99;
	CHECK_EQ_INT(json_utf8_count("abc", 3, &bad), 3);
	CHECK_EQ_INT(json_utf8_count("é🚂", strlen("é🚂"), &bad), 2);
	CHECK_EQ_INT(json_utf8_count("", 0, &bad), 0);
	CHECK_EQ_INT(json_utf8_count("ab\xc0\x80", 4, &bad), -1); /* overlong NUL */
	CHECK_EQ_INT(bad, 2);
	CHECK_EQ_INT(json_utf8_count("\xed\xa0\x80", 3, &bad), -1); /* surrogate */
	CHECK_EQ_INT(json_utf8_count("\xf4\x90\x80\x80", 4, &bad), -1); /* > U+10FFFF */
	CHECK_EQ_INT(json_utf8_count("x\xe2\x82", 3, &bad), -1); /* truncated */
	CHECK_EQ_INT(bad, 1);
	CHECK_EQ_INT(json_utf8_count("\x80", 1, &bad), -1); /* stray continuation */
	CHECK_EQ_INT(json_utf8_count("\xf0\x9f\x9a\x82", 4, &bad), 1);
}

static void test_encode_parse_ok(void)
{
	struct server_limits lim = test_limits();
	const char *body = "{\"items\":[{\"text\":\"hello\"},{\"id\":\"b\",\"text\":\"wörld\"}],"
	                   "\"params\":{\"output_types\":[\"dense\"],\"normalize\":false,"
	                   "\"truncate\":false,\"is_query\":true,\"instruction\":\"q: \","
	                   "\"output_dtype\":\"float32\"},\"extra\":1}";
	struct encode_request r;
	struct api_error e = {0};
	CHECK(json_encode_request_parse(body, strlen(body), &lim, &e, &r) == SY_OK);
	CHECK_EQ_INT(r.n_items, 2);
	CHECK(r.ids[0] == NULL);
	CHECK_STREQ(r.ids[1], "b");
	CHECK_STREQ(r.texts[1], "wörld");
	CHECK_EQ_INT(r.lens[1], strlen("wörld"));
	CHECK_EQ_INT(r.outputs, ENGINE_OUTPUT_DENSE);
	CHECK_EQ_INT(r.normalize, 0);
	CHECK(!r.truncate && r.is_query);
	CHECK_STREQ(r.instruction, "q: ");
	json_encode_request_free(&r);

	/* Defaults. */
	const char *minimal = " {\"items\":[{\"text\":\"\"}]}\n";
	CHECK(json_encode_request_parse(minimal, strlen(minimal), &lim, &e, &r) == SY_OK);
	CHECK_EQ_INT(r.n_items, 1);
	CHECK_EQ_INT(r.lens[0], 0);
	CHECK_EQ_INT(r.normalize, -1);
	CHECK(r.truncate && !r.is_query && r.instruction == NULL);
	CHECK_EQ_INT(r.outputs, ENGINE_OUTPUT_DENSE);
	json_encode_request_free(&r);

	const char *multi = "{\"items\":[{\"text\":\"a\"}],\"params\":{\"output_types\":"
	                    "[\"sparse\",\"multivector\"]}}";
	CHECK(json_encode_request_parse(multi, strlen(multi), &lim, &e, &r) == SY_OK);
	CHECK_EQ_INT(r.outputs, ENGINE_OUTPUT_SPARSE | ENGINE_OUTPUT_MULTIVECTOR);
	json_encode_request_free(&r);

	/* SIE's precedence: options.output_types over params; params.output_dtype and
	 * params.instruction over options; options.is_query over params.is_query; a template
	 * stands for an instruction when none is given. */
	const char *sie =
	    "{\"items\":[{\"text\":\"a\"}],\"params\":{\"output_types\":[\"dense\"],"
	    "\"output_dtype\":\"int8\",\"is_query\":false,\"options\":{"
	    "\"output_types\":[\"sparse\"],\"output_dtype\":\"binary\","
	    "\"is_query\":true,\"normalize\":false,\"profile\":\"default\","
	    "\"query_template\":\"query: {text}\",\"doc_template\":\"passage: {text}\"}}}";
	CHECK(json_encode_request_parse(sie, strlen(sie), &lim, &e, &r) == SY_OK);
	CHECK_EQ_INT(r.outputs, ENGINE_OUTPUT_SPARSE);
	CHECK_EQ_INT(r.output_dtype, OUTPUT_DTYPE_INT8);
	CHECK(r.is_query && r.normalize == 0);
	CHECK_STREQ(r.instruction, "query: ");
	json_encode_request_free(&r);
	const char *sie2 = "{\"items\":[{\"text\":\"a\"}],\"params\":{\"instruction\":\"mine\","
	                   "\"options\":{\"output_dtype\":\"uint8\",\"instruction\":\"theirs\","
	                   "\"doc_template\":\"passage: {text}\"}}}";
	CHECK(json_encode_request_parse(sie2, strlen(sie2), &lim, &e, &r) == SY_OK);
	CHECK_EQ_INT(r.output_dtype, OUTPUT_DTYPE_UINT8);
	CHECK(!r.is_query);
	CHECK_STREQ(r.instruction, "mine");
	json_encode_request_free(&r);

	/* At the limits exactly: 4 items, 10 characters (multi-byte counted once). */
	const char *edge = "{\"items\":[{\"text\":\"ééééééééé\\u00e9\"},{\"text\":\"a\"},"
	                   "{\"text\":\"b\"},{\"text\":\"c\"}]}";
	CHECK(json_encode_request_parse(edge, strlen(edge), &lim, &e, &r) == SY_OK);
	json_encode_request_free(&r);
}

static void test_encode_parse_errors(void)
{
	expect_encode_error("", 400, "body: empty");
	expect_encode_error("{", 400, "malformed JSON");
	expect_encode_error("{\"items\":[{\"text\":\"a\"}]} x", 400, "unexpected data");
	expect_encode_error("[]", 400, "expected a JSON object, got array");
	expect_encode_error("{}", 400, "items: required field is missing");
	expect_encode_error("{\"items\":{}}", 400, "items: expected array, got object");
	expect_encode_error("{\"items\":[]}", 400, "items: must not be empty");
	expect_encode_error("{\"items\":[1]}", 400, "items[0]: expected object, got number");
	expect_encode_error("{\"items\":[{\"text\":\"a\"},{\"text\":\"b\"},{\"text\":null}]}", 400,
	                    "items[2].text: expected string, got null");
	expect_encode_error("{\"items\":[{\"id\":\"x\"}]}", 400, "items[0].text: required");
	expect_encode_error("{\"items\":[{\"text\":\"a\",\"id\":[]}]}", 400,
	                    "items[0].id: expected string, got array");
	expect_encode_error("{\"items\":[{\"text\":\"a\xff\"}]}", 400,
	                    "items[0].text: invalid UTF-8 at byte 1");
	expect_encode_error("{\"items\":[{\"text\":\"a\",\"id\":\"\xc3\"}]}", 400,
	                    "items[0].id: invalid UTF-8");
	expect_encode_error("{\"items\":[{\"text\":\"\\udc00\"}]}", 400, "malformed JSON");
	expect_encode_error("{\"items\":[{\"text\":\"a\"},{\"text\":\"b\"},{\"text\":\"c\"},"
	                    "{\"text\":\"d\"},{\"text\":\"e\"}]}",
	                    413, "5 items exceed the limit of 4");
	expect_encode_error("{\"items\":[{\"text\":\"a\"},{\"text\":\"12345678901\"}]}", 422,
	                    "items[1].text: 11 characters exceed the limit of 10");
	expect_encode_error("{\"items\":[{\"text\":\"a\"}],\"params\":3}", 400,
	                    "params: expected object, got number");
	expect_encode_error(
	    "{\"items\":[{\"text\":\"a\"}],\"params\":{\"output_types\":\"dense\"}}", 400,
	    "params.output_types: expected array");
	expect_encode_error("{\"items\":[{\"text\":\"a\"}],\"params\":{\"output_types\":[]}}", 400,
	                    "params.output_types: must name at least one");
	expect_encode_error("{\"items\":[{\"text\":\"a\"}],\"params\":{\"output_types\":[\"x\"]}}",
	                    400, "params.output_types[0]: unknown output type");
	expect_encode_error("{\"items\":[{\"text\":\"a\"}],\"params\":{\"output_types\":[1]}}", 400,
	                    "params.output_types[0]: expected string");
	expect_encode_error("{\"items\":[{\"text\":\"a\"}],\"params\":{\"normalize\":1}}", 400,
	                    "params.normalize: expected boolean, got number");
	expect_encode_error("{\"items\":[{\"text\":\"a\"}],\"params\":{\"truncate\":\"no\"}}", 400,
	                    "params.truncate: expected boolean");
	expect_encode_error("{\"items\":[{\"text\":\"a\"}],\"params\":{\"is_query\":[]}}", 400,
	                    "params.is_query: expected boolean");
	expect_encode_error("{\"items\":[{\"text\":\"a\"}],\"params\":{\"instruction\":1}}", 400,
	                    "params.instruction: expected string");
	expect_encode_error("{\"items\":[{\"text\":\"a\"}],\"params\":{\"output_dtype\":\"f64\"}}",
	                    400, "params.output_dtype: expected one of float32");
	expect_encode_error("{\"items\":[{\"text\":\"a\"}],\"params\":{\"options\":{\"pooling\":"
	                    "\"median\"}}}",
	                    400, "params.options.pooling: expected one of cls, mean");
	expect_encode_error("{\"items\":[{\"text\":\"a\"}],\"params\":{\"options\":{"
	                    "\"max_seq_length\":\"8\"}}}",
	                    400, "params.options.max_seq_length: expected a positive integer");
	expect_encode_error("{\"items\":[{\"text\":\"a\"}],\"params\":{\"options\":{"
	                    "\"muvera\":true}}}",
	                    400, "params.options.muvera: option not supported");
	expect_encode_error("{\"items\":[{\"text\":\"a\"}],\"params\":{\"options\":{\"profile\":"
	                    "\"fast\"}}}",
	                    400, "params.options.profile: unknown profile");
	expect_encode_error("{\"items\":[{\"text\":\"a\"}],\"params\":{\"options\":{"
	                    "\"query_template\":\"{text} end\"}}}",
	                    400, "params.options.query_template");
	/* Deep nesting is refused by the parser rather than overflowing the stack. */
	char deep[4003];
	memset(deep, '[', 2000);
	memset(deep + 2000, ']', 2000);
	deep[4000] = '\0';
	expect_encode_error(deep, 400, "malformed JSON");
}

static void test_embeddings_parse(void)
{
	struct server_limits lim = test_limits();
	struct embeddings_request r;
	struct api_error e = {0};
	const char *one = "{\"model\":\"m/x\",\"input\":\"hello\"}";
	CHECK(json_embeddings_request_parse(one, strlen(one), &lim, &e, &r) == SY_OK);
	CHECK_STREQ(r.model, "m/x");
	CHECK_EQ_INT(r.n_inputs, 1);
	CHECK_STREQ(r.texts[0], "hello");
	CHECK(!r.base64 && r.dimensions == 0);
	json_embeddings_request_free(&r);
	const char *arr = "{\"model\":\"m\",\"input\":[\"a\",\"b\"],\"encoding_format\":\"base64\","
	                  "\"dimensions\":64,\"user\":\"u\"}";
	CHECK(json_embeddings_request_parse(arr, strlen(arr), &lim, &e, &r) == SY_OK);
	CHECK_EQ_INT(r.n_inputs, 2);
	CHECK_STREQ(r.texts[1], "b");
	CHECK(r.base64);
	CHECK_EQ_INT(r.dimensions, 64);
	json_embeddings_request_free(&r);

	expect_embeddings_error("{\"input\":\"x\"}", 400, "model: required");
	expect_embeddings_error("{\"model\":\"\",\"input\":\"x\"}", 400,
	                        "model: expected a non-empty");
	expect_embeddings_error("{\"model\":\"m\"}", 400, "input: required");
	expect_embeddings_error("{\"model\":\"m\",\"input\":[]}", 400, "input: must not be empty");
	expect_embeddings_error("{\"model\":\"m\",\"input\":5}", 400,
	                        "input: expected a string or an array of strings, got number");
	expect_embeddings_error("{\"model\":\"m\",\"input\":[1,2]}", 400,
	                        "input[0]: token-id arrays are not supported");
	expect_embeddings_error("{\"model\":\"m\",\"input\":[\"a\",[1]]}", 400,
	                        "input[1]: token-id arrays");
	expect_embeddings_error("{\"model\":\"m\",\"input\":[\"a\",{}]}", 400,
	                        "input[1]: expected string, got object");
	expect_embeddings_error("{\"model\":\"m\",\"input\":\"x\",\"encoding_format\":\"hex\"}",
	                        400, "encoding_format");
	expect_embeddings_error("{\"model\":\"m\",\"input\":\"x\",\"dimensions\":0}", 400,
	                        "dimensions: expected a positive integer");
	expect_embeddings_error("{\"model\":\"m\",\"input\":\"x\",\"dimensions\":1.5}", 400,
	                        "dimensions");
	expect_embeddings_error("{\"model\":\"m\",\"input\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", 413,
	                        "5 inputs exceed the limit of 4");
	expect_embeddings_error("{\"model\":\"m\",\"input\":\"12345678901\"}", 422,
	                        "input: 11 characters");
	expect_embeddings_error("{\"model\":\"m\",\"input\":[\"\xff\"]}", 400,
	                        "input[0]: invalid UTF-8");
}

static void test_model_info_json(void)
{
	struct engine_model_info m = {0};
	snprintf(m.id, sizeof m.id, "BAAI/bge \"small\"");
	snprintf(m.arch, sizeof m.arch, "bert");
	m.state = ENGINE_MODEL_FAILED;
	m.bytes = 123;
	m.dims = 384;
	m.idle_s = -1;
	snprintf(m.error, sizeof m.error, "config.json: missing");
	struct sbuf b = {0};
	json_model_info_write(&b, &m, false);
	cJSON *j = cJSON_Parse(b.data);
	CHECKF(j != NULL, "not JSON: %s", b.data);
	if (j) {
		CHECK_STREQ(cJSON_GetObjectItem(j, "id")->valuestring, "BAAI/bge \"small\"");
		CHECK_STREQ(cJSON_GetObjectItem(j, "state")->valuestring,
		            engine_model_state_str(ENGINE_MODEL_FAILED));
		cJSON *tasks = cJSON_GetObjectItem(j, "tasks");
		CHECK(cJSON_IsArray(tasks) && cJSON_GetArraySize(tasks) == 1);
		CHECK_EQ_INT(cJSON_GetObjectItem(j, "bytes")->valuedouble, 123);
		CHECK_EQ_INT(cJSON_GetObjectItem(j, "dims")->valuedouble, 384);
		CHECK_STREQ(cJSON_GetObjectItem(j, "error")->valuestring, "config.json: missing");
	}
	cJSON_Delete(j);
	sbuf_free(&b);
}

static void test_errors(void)
{
	static const struct {
		enum sy_status st;
		bool draining;
		int http;
		const char *code;
		int retry;
	} cases[] = {
	    {SY_ERR_NOT_FOUND, false, 404, "MODEL_NOT_FOUND", 0},
	    {SY_ERR_UNAVAILABLE, false, 503, "MODEL_LOADING", 1},
	    {SY_ERR_UNAVAILABLE, true, 503, "SHUTTING_DOWN", 0},
	    {SY_ERR_LOAD_FAILED, false, 502, "MODEL_LOAD_FAILED", 0},
	    {SY_ERR_BUSY, false, 503, "QUEUE_FULL", 1},
	    {SY_ERR_INVALID_ARG, false, 400, "INVALID_INPUT", 0},
	    {SY_ERR_UNSUPPORTED, false, 400, "INVALID_INPUT", 0},
	    {SY_ERR_LIMIT, false, 422, "INVALID_INPUT", 0},
	    {SY_ERR_INTERNAL, false, 500, "INTERNAL_ERROR", 0},
	    {SY_ERR_NOMEM, false, 500, "INTERNAL_ERROR", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sy_error err = {0};
		sy_error_set(&err, cases[i].st, "model x: %s", "why");
		struct api_error ae;
		api_error_from_engine(&ae, &err, cases[i].draining);
		CHECK_EQ_INT(ae.http_status, cases[i].http);
		CHECK_STREQ(ae.code, cases[i].code);
		CHECK_EQ_INT(ae.retry_after_s, cases[i].retry);
		CHECK_STREQ(ae.message, "model x: why");
	}
	struct api_error ae;
	api_error_set(&ae, 400, "INVALID_INPUT", "items[%d].text: \"bad\"", 2);
	struct sbuf b = {0};
	api_error_write_json(&ae, &b);
	CHECK_STREQ(b.data, "{\"error\":{\"code\":\"INVALID_INPUT\",\"message\":\"items[2].text: "
	                    "\\\"bad\\\"\"}}");
	sbuf_free(&b);
}

/* Server paths are taken out of what non-admin callers see (issue 23.16); API routes stay. */
static void test_redact_paths(void)
{
	char m[256] = "model ghost: /srv/models/ghost/config.json: not valid JSON; use "
	              "/v1/extract/ner (see \"/etc/x/y\", /tmp) or a/b/c";
	text_redact_paths(m, sizeof m);
	CHECK_STREQ(m, "model ghost: <path>: not valid JSON; use /v1/extract/ner (see \"<path>\", "
	               "/tmp) or a/b/c");
	char small[12] = "x /a/b/c/d";
	text_redact_paths(small, sizeof small);
	CHECK_STREQ(small, "x <path>");
	char tiny[8] = "/a/b";
	text_redact_paths(tiny, sizeof tiny);
	CHECK_STREQ(tiny, "<path>");
}

static void test_auth(void)
{
	struct auth *a = NULL;
	struct sy_error err = {0};
	CHECK(auth_load_text("keys", "# comment\n  tok-1  \n\nadmin:root-2\r\ntok-3", &err, &a) ==
	      SY_OK);
	CHECK_EQ_INT(auth_n_tokens(a), 3);
	CHECK_EQ_INT(auth_check(a, NULL), AUTH_LEVEL_NONE);
	CHECK_EQ_INT(auth_check(a, "Bearer tok-1"), AUTH_LEVEL_USER);
	CHECK_EQ_INT(auth_check(a, "bearer  tok-3 "), AUTH_LEVEL_USER);
	CHECK_EQ_INT(auth_check(a, "Bearer root-2"), AUTH_LEVEL_ADMIN);
	CHECK_EQ_INT(auth_check(a, "Bearer admin:root-2"), AUTH_LEVEL_NONE);
	CHECK_EQ_INT(auth_check(a, "Bearer tok-"), AUTH_LEVEL_NONE);
	CHECK_EQ_INT(auth_check(a, "Bearer tok-11"), AUTH_LEVEL_NONE);
	CHECK_EQ_INT(auth_check(a, "tok-1"), AUTH_LEVEL_NONE);
	CHECK_EQ_INT(auth_check(a, "Basic dG9rLTE="), AUTH_LEVEL_NONE);
	CHECK_EQ_INT(auth_check(a, "Bearer "), AUTH_LEVEL_NONE);
	auth_free(a);

	CHECK(auth_load_text("empty.txt", "# nothing\n\n", &err, &a) == SY_ERR_FORMAT);
	CHECK(strstr(err.msg, "empty.txt: no tokens") != NULL);
	CHECK(auth_load_text("sp.txt", "ok\nhas space\n", &err, &a) == SY_ERR_FORMAT);
	CHECK(strstr(err.msg, "sp.txt: line 2") != NULL);
	/* An empty admin token is refused, not taken as the user token "admin:" (issue 23.8). */
	CHECK(auth_load_text("ea.txt", "ok\nadmin:\n", &err, &a) == SY_ERR_FORMAT);
	CHECK(strstr(err.msg, "line 2") && strstr(err.msg, "empty admin token"));
	CHECK(auth_load_text("ea2.txt", "admin:   \n", &err, &a) == SY_ERR_FORMAT);
	CHECK(auth_load_text("ec.txt", "critical:\n", &err, &a) == SY_ERR_FORMAT);
	/* Identities: the line's index whatever the header's spelling; who may claim critical. */
	CHECK(auth_load_text("ids", "user-1\ncritical:crit-2\nadmin:root-3\n", &err, &a) == SY_OK);
	if (a) {
		struct auth_identity id = auth_identify(a, "Bearer   user-1  ");
		CHECK(id.level == AUTH_LEVEL_USER && id.index == 0 && !id.critical);
		id = auth_identify(a, "Bearer crit-2");
		CHECK(id.level == AUTH_LEVEL_USER && id.index == 1 && id.critical);
		id = auth_identify(a, "Bearer root-3");
		CHECK(id.level == AUTH_LEVEL_ADMIN && id.index == 2 && id.critical);
		id = auth_identify(a, "Bearer critical:crit-2");
		CHECK(id.level == AUTH_LEVEL_NONE && id.index == -1);
		auth_free(a);
		a = NULL;
	}
	CHECK(auth_load_file("/nonexistent/keys", &err, &a) != SY_OK);
	CHECK(a == NULL);
}

static void test_config_yaml(void)
{
	struct serve_config c;
	struct sy_error err = {0};
	CHECK(serve_config_init(&c, &err) == SY_OK);
	CHECK_STREQ(c.host, "127.0.0.1");
	CHECK_EQ_INT(c.port, 8080);
	const char *yaml = "host: 0.0.0.0\n"
	                   "port: 9000\n"
	                   "memory-budget: 256M\n"
	                   "threads: 2\n"
	                   "max_batch_tokens: 4096\n"
	                   "max_wait_ms: 5\n"
	                   "api_key_file: /etc/keys\n"
	                   "models_dir: /srv/models\n"
	                   "max_body_bytes: 2M\n"
	                   "max_items: 100\n"
	                   "max_chars: 5000\n"
	                   "idle_ttl_s: 60\n"
	                   "quantize: int8\n"
	                   "routes: {retrieve: bge}\n" /* another layer's key: ignored */
	                   "models:\n"
	                   "  - id: BAAI/bge-small-en-v1.5\n"
	                   "    path: /m/bge\n"
	                   "    pinned: true\n"
	                   "    quantize: none\n"
	                   "  - {id: tiny, path: tests/fixtures/bert-tiny}\n";
	CHECK(serve_config_load_text(&c, "s.yaml", yaml, strlen(yaml), &err) == SY_OK);
	CHECK_STREQ(c.host, "0.0.0.0");
	CHECK_EQ_INT(c.port, 9000);
	CHECK_EQ_INT(c.engine.memory_budget, (size_t)256 << 20);
	CHECK_EQ_INT(c.engine.n_threads, 2);
	CHECK_EQ_INT(c.engine.max_batch_tokens, 4096);
	CHECK_EQ_INT(c.engine.max_wait_ms, 5);
	CHECK_EQ_INT(c.engine.idle_ttl_s, 60);
	CHECK(c.engine.precision == LINEAR_INT8);
	CHECK_STREQ(c.api_key_file, "/etc/keys");
	CHECK_STREQ(c.models_dir, "/srv/models");
	CHECK_EQ_INT(c.limits.max_body_bytes, 2u << 20);
	CHECK_EQ_INT(c.limits.max_items, 100);
	CHECK_EQ_INT(c.limits.max_chars, 5000);
	CHECK_EQ_INT(c.n_models, 2);
	if (c.n_models == 2) {
		CHECK_STREQ(c.models[0].id, "BAAI/bge-small-en-v1.5");
		CHECK_STREQ(c.models[0].path, "/m/bge");
		CHECK(c.models[0].pinned);
		CHECK(c.models[0].precision_set && c.models[0].precision == LINEAR_FP32);
		CHECK(!c.models[1].precision_set);
		CHECK_STREQ(c.models[1].id, "tiny");
		CHECK(!c.models[1].pinned);
	}
	/* A flag-style override replaces the path of an existing id and appends new ones. */
	CHECK(serve_config_model_set(&c, "tiny", "/other", true, &err) == SY_OK);
	CHECK(serve_config_model_set(&c, "new", "/new", false, &err) == SY_OK);
	CHECK_EQ_INT(c.n_models, 3);
	CHECK_STREQ(c.models[1].path, "/other");
	CHECK(c.models[1].pinned);
	CHECK(serve_config_model_set(&c, "", "/x", false, &err) != SY_OK);
	serve_config_free(&c);

	/* An empty file changes nothing. */
	CHECK(serve_config_init(&c, &err) == SY_OK);
	CHECK(serve_config_load_text(&c, "e.yaml", "", 0, &err) == SY_OK);
	CHECK_EQ_INT(c.port, 8080);
	serve_config_free(&c);

	static const struct {
		const char *yaml, *frag;
	} bad[] = {
	    {"port: 70000\n", "bad.yaml: line 1: port: expected an integer in [0, 65535]"},
	    {"port: [1]\n", "bad.yaml: line 1: port: expected a value"},
	    {"threads: two\n", "threads: expected an integer"},
	    {"memory_budget: lots\n", "bad.yaml: line 1: memory_budget: 'lots'"},
	    {"models: {a: b}\n", "models: expected a list"},
	    {"models:\n  - id: x\n", "bad.yaml: line 2: models[0].path: missing"},
	    {"models:\n  - path: /p\n", "models[0].id: missing"},
	    {"models:\n  - id: x\n    path: /p\n    pinned: maybe\n",
	     "line 4: models[0].pinned: expected true or false"},
	    {"models:\n  - just-a-string\n", "models[0]: expected a mapping"},
	    {"quantize: int4\n", "bad.yaml: line 1: quantize: \"int4\" is not a precision"},
	    {"models:\n  - id: x\n    path: /p\n    quantize: fp8\n",
	     "line 4: models[0].quantize: \"fp8\" is not a precision (use int8 or none)"},
	    {"- a\n- b\n", "expected a mapping of settings"},
	    /* A misspelt key is refused by name rather than left to pass for its default. */
	    {"max_conections: 5\n", "bad.yaml: line 1: max_conections: unknown key"},
	    {"models:\n  - id: x\n    path: /p\n    quantise: int8\n",
	     "line 4: models[0].quantise is not a models entry setting (id, path, pinned, "
	     "quantize, "
	     "dense_dims)"},
	    {"port: 1\n  bad indent: [\n", "bad.yaml: line"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(serve_config_init(&c, &err) == SY_OK);
		enum sy_status st =
		    serve_config_load_text(&c, "bad.yaml", bad[i].yaml, strlen(bad[i].yaml), &err);
		CHECKF(st != SY_OK, "accepted: %s", bad[i].yaml);
		CHECKF(strstr(err.msg, bad[i].frag) != NULL, "'%s' lacks '%s'", err.msg,
		       bad[i].frag);
		serve_config_free(&c);
	}
	CHECK(serve_config_init(&c, &err) == SY_OK);
	CHECK(serve_config_load_file(&c, "/nonexistent/serve.yaml", &err) != SY_OK);
	serve_config_free(&c);
}

static void test_metrics(void)
{
	struct metrics *m = metrics_create();
	CHECK(m != NULL);
	metrics_request_observe(m, METRICS_ROUTE_ENCODE, 200, 0.002);
	metrics_request_observe(m, METRICS_ROUTE_ENCODE, 200, 0.004);
	metrics_request_observe(m, METRICS_ROUTE_ENCODE, 413, 0.0001);
	metrics_request_observe(m, METRICS_ROUTE_HEALTHZ, 200, 20.0);
	metrics_request_observe(m, (enum metrics_route)99, 999, 0.1);
	struct sbuf b = {0};
	metrics_render(m, NULL, 3, &b);
	CHECK(b.data &&
	      strstr(b.data, "switchyard_http_requests_total{route=\"encode\",status=\"200\"}"
	                     " 2\n"));
	CHECK(
	    strstr(b.data, "switchyard_http_requests_total{route=\"encode\",status=\"413\"} 1\n"));
	CHECK(strstr(b.data, "switchyard_http_requests_total{route=\"other\",status=\"0\"} 1\n"));
	/* Buckets are cumulative: 0.0001 <= 0.0005; 0.002 <= 0.0025; 0.004 <= 0.005. */
	CHECK(strstr(b.data, "_bucket{route=\"encode\",le=\"0.0005\"} 1\n"));
	CHECK(strstr(b.data, "_bucket{route=\"encode\",le=\"0.0025\"} 2\n"));
	CHECK(strstr(b.data, "_bucket{route=\"encode\",le=\"0.005\"} 3\n"));
	CHECK(strstr(b.data, "_bucket{route=\"encode\",le=\"+Inf\"} 3\n"));
	CHECK(strstr(b.data, "_bucket{route=\"healthz\",le=\"10\"} 0\n"));
	CHECK(strstr(b.data, "_bucket{route=\"healthz\",le=\"+Inf\"} 1\n"));
	CHECK(
	    strstr(b.data, "switchyard_http_request_duration_seconds_count{route=\"encode\"} 3\n"));
	CHECK(strstr(b.data, "switchyard_http_inflight_requests 3\n"));
	CHECK(strstr(b.data, "# TYPE switchyard_http_request_duration_seconds histogram\n"));
	struct metrics_recent r;
	metrics_recent_get(m, &r);
	CHECK_EQ_INT(r.n, 2); /* successful encode/embeddings only */
	CHECK(fabs(r.p50_ms - 2.0) < 1e-9 && fabs(r.max_ms - 4.0) < 1e-9);
	CHECK_EQ_INT(r.total_requests, 5);
	CHECK_EQ_INT(r.total_errors, 1); /* the 413 (999 is out of range, counted as 0) */
	sbuf_free(&b);
	metrics_free(m);
}

/* The OpenAPI document covers exactly the route table: every route the server answers is
 * documented with its method, and every documented path and method is a route. */
static void test_openapi_covers_routes(void)
{
	size_t len;
	const char *text = server_openapi_json(&len);
	CHECK(len > 1000 && strlen(text) == len);
	cJSON *doc = cJSON_ParseWithLength(text, len);
	CHECK(doc != NULL);
	if (!doc)
		return;
	const cJSON *ver = cJSON_GetObjectItemCaseSensitive(doc, "openapi");
	CHECK(cJSON_IsString(ver) && !strncmp(ver->valuestring, "3.1", 3));
	const cJSON *paths = cJSON_GetObjectItemCaseSensitive(doc, "paths");
	CHECK(cJSON_IsObject(paths));
	const int n = server_route_count();
	CHECK(n >= 28);
	for (int i = 0; i < n; i++) {
		const struct server_route r = server_route_at(i);
		char method[8];
		size_t k = 0;
		for (; r.method[k] && k + 1 < sizeof method; k++)
			method[k] = (char)(r.method[k] - 'A' + 'a');
		method[k] = '\0';
		const cJSON *item = cJSON_GetObjectItemCaseSensitive(paths, r.path);
		CHECKF(item && cJSON_GetObjectItemCaseSensitive(item, method), "%s %s undocumented",
		       r.method, r.path);
	}
	int documented = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, paths)
	{
		const cJSON *op;
		cJSON_ArrayForEach(op, item)
		{
			documented++;
			bool found = false;
			for (int i = 0; i < n && !found; i++) {
				const struct server_route r = server_route_at(i);
				found = !strcmp(r.path, item->string) &&
				        !strcasecmp(r.method, op->string);
			}
			CHECKF(found, "documented %s %s is not a route", op->string, item->string);
			CHECKF(cJSON_GetObjectItemCaseSensitive(op, "responses") != NULL,
			       "%s %s has no responses", op->string, item->string);
		}
	}
	CHECK_EQ_INT(documented, n);
	/* Every $ref names a schema that exists. */
	const cJSON *schemas = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(doc, "components"), "schemas");
	for (const char *p = text; (p = strstr(p, "\"$ref\": \"#/components/schemas/"));) {
		p += strlen("\"$ref\": \"#/components/schemas/");
		char name[64];
		size_t m = 0;
		while (p[m] && p[m] != '"' && m + 1 < sizeof name) {
			name[m] = p[m];
			m++;
		}
		name[m] = '\0';
		CHECKF(cJSON_GetObjectItemCaseSensitive(schemas, name) != NULL, "$ref %s missing",
		       name);
	}
	cJSON_Delete(doc);
}

/* TEI's error shape and types. */
static void test_tei_errors(void)
{
	struct api_error e;
	struct sbuf b = {0};
	api_error_set(&e, 400, "TEI_EMPTY", "`inputs` cannot be empty");
	tei_error_write_json(&e, &b);
	CHECK_STREQ(b.data, "{\"error\":\"`inputs` cannot be empty\",\"error_type\":\"Empty\"}");
	b.len = 0;
	api_error_set(&e, 503, "QUEUE_FULL", "full");
	e.http_status = 429;
	tei_error_write_json(&e, &b);
	CHECK(strstr(b.data, "\"error_type\":\"Overloaded\"") != NULL);
	b.len = 0;
	api_error_set(&e, 413, "INVALID_INPUT", "too big");
	tei_error_write_json(&e, &b);
	CHECK(strstr(b.data, "\"error_type\":\"Validation\"") != NULL);
	b.len = 0;
	api_error_set(&e, 503, "MODEL_LOADING", "loading");
	tei_error_write_json(&e, &b);
	CHECK(strstr(b.data, "\"error_type\":\"Unhealthy\"") != NULL);
	b.len = 0;
	api_error_set(&e, 424, "TEI_BACKEND", "not a re-ranker");
	tei_error_write_json(&e, &b);
	CHECK(strstr(b.data, "\"error_type\":\"Backend\"") != NULL);
	sbuf_free(&b);
}

/* Decoding ids back to text with the fixture's WordPiece tokenizer (tokenizer.json) and with
 * the decoders of other tokenizer families, written inline. */
static void decode_expect(const char *tok_json, const int32_t *ids, int n, bool skip,
                          const char *want)
{
	struct sy_error err = {0};
	struct tokenizer *t = NULL;
	CHECKF(tokenizer_load_json(tok_json, strlen(tok_json), &err, &t) == SY_OK, "%s", err.msg);
	if (!t)
		return;
	struct sbuf out = {0};
	CHECKF(tokenizer_decode(t, ids, n, skip, &err, &out) == SY_OK, "%s", err.msg);
	CHECKF(out.len && !strcmp(out.data, want), "decoded '%s', want '%s'",
	       out.len ? out.data : "", want);
	sbuf_free(&out);
	tokenizer_free(t);
}

static void test_tokenizer_decode(void)
{
	struct sy_error err = {0};
	struct tokenizer *t = NULL;
	CHECK(tokenizer_load("tests/fixtures/bert-tiny", &err, &t) == SY_OK);
	if (t) {
		struct tok_encode_params p = tokenizer_default_params();
		struct tok_encoding enc = {0};
		const char *text = "hello, world! it's unbelievable";
		CHECK(tokenizer_encode(t, text, strlen(text), NULL, 0, &p, &err, &enc) == SY_OK);
		struct sbuf out = {0};
		CHECK(tokenizer_decode(t, enc.ids, enc.n, true, &err, &out) == SY_OK);
		/* As the Rust library (and so TEI) decodes: cleanup runs per piece, so " ," joins
		 * but the apostrophe's pieces keep their spaces. */
		CHECKF(out.len && !strcmp(out.data, "hello, world! it ' s unbelievable"),
		       "got '%s'", out.len ? out.data : "");
		out.len = 0;
		CHECK(tokenizer_decode(t, enc.ids, enc.n, false, &err, &out) == SY_OK);
		CHECKF(out.len && !strncmp(out.data, "[CLS] hello", 11), "got '%s'",
		       out.len ? out.data : "");
		const int32_t bad = 1 << 30;
		CHECK(tokenizer_decode(t, &bad, 1, true, &err, &out) == SY_ERR_INVALID_ARG);
		sbuf_free(&out);
		tok_encoding_free(&enc);
		tokenizer_free(t);
	}
	/* Metaspace (SentencePiece): the leading replacement of the first piece goes. */
	const char *meta =
	    "{\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"\u2581hello\":0,\"\u2581wor\":1,"
	    "\"ld\":2,\"<s>\":3},\"unk_token\":\"<s>\"},\"added_tokens\":[{\"id\":3,\"content\":"
	    "\"<s>\",\"special\":true}],\"decoder\":{\"type\":\"Metaspace\",\"replacement\":"
	    "\"\u2581\",\"prepend_scheme\":\"always\"}}";
	const int32_t m_ids[] = {3, 0, 1, 2};
	decode_expect(meta, m_ids, 4, true, "hello world");
	/* ByteLevel (GPT-2): U+0120 stands for a space, U+00C3 U+00A9 for the bytes of é. */
	const char *bl = "{\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"caf\":0,"
	                 "\"\u00c3\u00a9\":1,\"\u0120ok\":2},\"unk_token\":\"caf\"},"
	                 "\"decoder\":{\"type\":\"ByteLevel\"}}";
	const int32_t b_ids[] = {0, 1, 2};
	decode_expect(bl, b_ids, 3, true, "caf\xc3\xa9 ok");
	/* Sequence with ByteFallback, Fuse and Strip (Llama). */
	const char *seq = "{\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"\u2581a\":0,"
	                  "\"<0xC3>\":1,\"<0xA9>\":2},\"unk_token\":\"\u2581a\"},\"decoder\":{"
	                  "\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":"
	                  "{\"String\":\"\u2581\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},"
	                  "{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,"
	                  "\"stop\":0}]}}";
	const int32_t s_ids[] = {0, 1, 2, 0};
	decode_expect(seq, s_ids, 4, true, "a\xc3\xa9 a");
}

int main(void)
{
	RUN(test_sbuf);
	RUN(test_json_write_str);
	RUN(test_json_write_floats);
	RUN(test_json_write_float_matches_printf);
	RUN(test_json_write_base64);
	RUN(test_utf8_count);
	RUN(test_encode_parse_ok);
	RUN(test_encode_parse_errors);
	RUN(test_embeddings_parse);
	RUN(test_model_info_json);
	RUN(test_errors);
	RUN(test_auth);
	RUN(test_redact_paths);
	RUN(test_config_yaml);
	RUN(test_metrics);
	RUN(test_openapi_covers_routes);
	RUN(test_tei_errors);
	RUN(test_tokenizer_decode);
	return harness_summary();
}
