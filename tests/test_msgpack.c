/* The SIE wire format: output quantisation (server/quantize.c, checked against values numpy
 * gives for SIE's formulas), half precision, and the msgpack codec both ways
 * (server/msgpack_codec.c), including the bodies it must refuse. */
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "server/msgpack_codec.h"
#include "server/quantize.h"

static void test_quantize_int8(void)
{
	/* round(x / max|x| * 127), half to even: 63.5 -> 64, -63.5 -> -64, 31.75 -> 32. */
	const float x[] = {-2.0f, 1.0f, -1.0f, 0.5f, 0.0f};
	int8_t q[5];
	quantize_int8(x, 5, q);
	const int8_t want[] = {-127, 64, -64, 32, 0};
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(q[i], want[i]);
	const float zero[] = {0, 0, 0};
	int8_t z[3] = {1, 1, 1};
	quantize_int8(zero, 3, z); /* an all-zero row stays zero */
	CHECK(z[0] == 0 && z[1] == 0 && z[2] == 0);
	const float tie[] = {2.0f, 1.0f / 127.0f}; /* 0.5 exactly in float32 -> 0 (even) */
	int8_t t[2];
	quantize_int8(tie, 2, t);
	CHECK_EQ_INT(t[0], 127);
}

static void test_quantize_uint8(void)
{
	/* round((x - min) / (max - min) * 255): 127.5 -> 128 (even). */
	const float x[] = {0.0f, 1.0f, 0.5f, 0.25f};
	uint8_t q[4];
	quantize_uint8(x, 4, q);
	CHECK_EQ_INT(q[0], 0);
	CHECK_EQ_INT(q[1], 255);
	CHECK_EQ_INT(q[2], 128);
	CHECK_EQ_INT(q[3], 64); /* 63.75 */
	const float flat[] = {3, 3, 3};
	uint8_t f[3] = {9, 9, 9};
	quantize_uint8(flat, 3, f); /* a constant row: range 1, all 0 (SIE's batch path) */
	CHECK(f[0] == 0 && f[1] == 0 && f[2] == 0);
	const float neg[] = {-1.0f, 1.0f, 0.0f};
	quantize_uint8(neg, 3, q);
	CHECK(q[0] == 0 && q[1] == 255 && q[2] == 128);
}

static void test_packbits(void)
{
	/* packbits(x > 0), most significant bit first; 10 values -> 2 bytes. */
	const float x[] = {1, -1, 1, 0, 0, 0, 0, 2, 5, -3};
	uint8_t q[2] = {0xff, 0xff};
	quantize_packbits(x, 10, q);
	CHECK_EQ_INT(q[0], 0xA1);
	CHECK_EQ_INT(q[1], 0x80);
	CHECK_EQ_INT(output_dtype_parse("ubinary"), OUTPUT_DTYPE_UBINARY);
	CHECK_EQ_INT(output_dtype_parse("float64"), -1);
	CHECK_STREQ(output_dtype_name(OUTPUT_DTYPE_FLOAT16), "float16");
}

static void test_half(void)
{
	CHECK_EQ_INT(msgpack_float_to_half(1.0f), 0x3c00);
	CHECK_EQ_INT(msgpack_float_to_half(-2.0f), 0xc000);
	CHECK_EQ_INT(msgpack_float_to_half(65504.0f), 0x7bff);
	CHECK_EQ_INT(msgpack_float_to_half(65520.0f), 0x7c00); /* rounds to Inf */
	CHECK_EQ_INT(msgpack_float_to_half(5.9604645e-8f), 0x0001); /* smallest subnormal */
	CHECK_EQ_INT(msgpack_float_to_half(2.9802322e-8f), 0x0000); /* its half: tie to even */
	CHECK_EQ_INT(msgpack_float_to_half(1.0f + 1.0f / 2048), 0x3c00); /* tie to even */
	CHECK_EQ_INT(msgpack_float_to_half(1.0f + 3.0f / 2048), 0x3c02);
	/* Every finite half survives the round trip. */
	int bad = 0;
	for (unsigned h = 0; h < 0x10000; h++) {
		if ((h & 0x7c00) == 0x7c00)
			continue;
		bad += msgpack_float_to_half(msgpack_half_to_float((unsigned short)h)) != h;
	}
	CHECK_EQ_INT(bad, 0);
}

static void test_negotiation(void)
{
	CHECK(msgpack_content_type("application/msgpack"));
	CHECK(msgpack_content_type("application/x-msgpack; charset=binary"));
	CHECK(!msgpack_content_type("application/json"));
	CHECK(!msgpack_content_type(NULL));
	CHECK(msgpack_answer_wanted("application/msgpack", false));
	CHECK(!msgpack_answer_wanted("*/*", false)); /* curl: JSON */
	CHECK(msgpack_answer_wanted("*/*", true));
	CHECK(msgpack_answer_wanted(NULL, true));
	CHECK(!msgpack_answer_wanted("application/json", true));
	CHECK(msgpack_answer_wanted("text/plain, application/x-msgpack;q=1", false));
}

/* Decodes bytes and compares the JSON text. */
static void expect_json(const char *mp, size_t n, const char *want)
{
	struct api_error e = {0};
	char *json = NULL;
	size_t len = 0;
	const enum sy_status st = msgpack_to_json_text(mp, n, &e, &json, &len);
	CHECKF(st == SY_OK, "%s", e.message);
	if (st == SY_OK)
		CHECKF(!strcmp(json, want), "got %s want %s", json, want);
	free(json);
}

static void expect_refused(const char *mp, size_t n, const char *frag)
{
	struct api_error e = {0};
	cJSON *doc = NULL;
	CHECK(msgpack_to_json_tree(mp, n, &e, &doc) != SY_OK);
	CHECK(doc == NULL);
	CHECK_EQ_INT(e.http_status, 400);
	CHECKF(strstr(e.message, frag) != NULL, "message '%s' lacks '%s'", e.message, frag);
}

static void test_decode(void)
{
	/* {"items":[{"text":"hello","id":7}],"params":{"x":nil,"b":true,"f":1.5,"n":-3}} */
	static const char a[] = "\x82\xa5items\x91\x82\xa4text\xa5hello\xa2id\x07"
	                        "\xa6params\x84\xa1x\xc0\xa1"
	                        "b\xc3\xa1"
	                        "f\xcb\x3f\xf8\0\0\0\0\0\0"
	                        "\xa1n\xfd";
	expect_json(a, sizeof a - 1,
	            "{\"items\":[{\"text\":\"hello\",\"id\":7}],\"params\":{\"x\":null,\"b\":true,"
	            "\"f\":1.5,\"n\":-3}}");
	/* A msgpack-numpy array with bin keys, as Python writes it: float32 [2, 2]. */
	static const char nd[] =
	    "\x81\xa1v\x85\xc4\x02nd\xc3\xc4\x04type\xa3<f4\xc4\x04kind\xc4\x00"
	    "\xc4\x05shape\x92\x02\x02\xc4\x04"
	    "data\xc4\x10"
	    "\x00\x00\x80\x3f\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x40\x40";
	expect_json(nd, sizeof nd - 1, "{\"v\":[[1,-2],[0,3]]}");
	/* str keys, int8 and uint8 data. */
	static const char i8[] = "\x81\xa1v\x84\xa2nd\xc3\xa4type\xa3|i1\xa5shape\x91\x03\xa4"
	                         "data"
	                         "\xc4\x03\x81\x00\x7f";
	expect_json(i8, sizeof i8 - 1, "{\"v\":[-127,0,127]}");
}

static void test_decode_refused(void)
{
	expect_refused("", 0, "empty");
	expect_refused("\x81\xa1"
	               "a",
	               3, "truncated");
	expect_refused("\xc1", 1, "reserved");
	expect_refused("\xdd\xff\xff\xff\xff", 5, "container longer than the body");
	expect_refused("\xdf\x7f\xff\xff\xff\x01", 6, "container longer than the body");
	expect_refused("\x80\x80", 2, "unexpected data after");
	expect_refused("\x81\xa1"
	               "a\xc4\x01x",
	               6, "binary data");
	expect_refused("\x81\xa1"
	               "a\xa2x\x00",
	               6, "NUL");
	expect_refused("\x81\x01\x02", 3, "map keys");
	expect_refused("\x81\xa1"
	               "a\xd4\x01\x02",
	               6, "extension");
	char deep[64];
	memset(deep, 0x91, sizeof deep);
	deep[63] = 0x01;
	expect_refused(deep, sizeof deep, "nested");
	/* shape and data disagree; unknown type */
	static const char nd[] = "\x84\xa2nd\xc3\xa4type\xa3<f4\xa5shape\x91\x03\xa4"
	                         "data\xc4\x04"
	                         "\0\0\0\0";
	expect_refused(nd, sizeof nd - 1, "shape does not match");
	static const char ty[] = "\x84\xa2nd\xc3\xa4type\xa3<c8\xa5shape\x91\x01\xa4"
	                         "data\xc4\x08"
	                         "\0\0\0\0\0\0\0\0";
	expect_refused(ty, sizeof ty - 1, "not supported");
	static const char nan[] = "\x81\xa1"
	                          "f\xca\x7f\xc0\x00\x00";
	expect_refused(nan, sizeof nan - 1, "not finite");
}

static void test_encode(void)
{
	/* A dense int8 vector, a sparse vector and a multivector come out as numpy arrays with bin
	 * keys; other fields map one to one. Decoding it back gives the same JSON. */
	const char *json =
	    "{\"model\":\"m\",\"items\":[{\"id\":\"a\",\"dense\":{\"dims\":3,"
	    "\"dtype\":\"int8\",\"values\":[-127,0,5]},\"sparse\":{\"dims\":10,"
	    "\"dtype\":\"float32\",\"indices\":[1,7],\"values\":[0.5,2]},"
	    "\"multivector\":{\"token_dims\":2,\"num_tokens\":2,\"dtype\":\"float16\","
	    "\"values\":[1,2,3,-0.5]}}],\"timing\":{\"total_ms\":1.25}}";
	struct sbuf mp = {0};
	CHECK(msgpack_from_json_text(json, strlen(json), &mp) == SY_OK);
	CHECK(memmem(mp.data, mp.len, "\xc4\x02nd\xc3\xc4\x04type\xa3|i1", 13) != NULL);
	CHECK(memmem(mp.data, mp.len, "\xa3<i4", 4) != NULL);
	CHECK(memmem(mp.data, mp.len, "\xc4\x05shape\x92\x02\x02", 9) != NULL);
	CHECK(memmem(mp.data, mp.len,
	             "\xc4\x04"
	             "data\xc4\x03\x81\x00\x05",
	             11) != NULL);
	expect_json(mp.data, mp.len,
	            "{\"model\":\"m\",\"items\":[{\"id\":\"a\",\"dense\":{\"dims\":3,\"dtype\":"
	            "\"int8\",\"values\":[-127,0,5]},\"sparse\":{\"dims\":10,\"dtype\":\"float32\","
	            "\"indices\":[1,7],\"values\":[0.5,2]},\"multivector\":{\"token_dims\":2,"
	            "\"num_tokens\":2,\"dtype\":\"float16\",\"values\":[[1,2],[3,-0.5]]}}],"
	            "\"timing\":{\"total_ms\":1.25}}");
	sbuf_free(&mp);
	CHECK(msgpack_from_json_text("{", 1, &mp) == SY_ERR_FORMAT);
	sbuf_free(&mp);
}

int main(void)
{
	RUN(test_quantize_int8);
	RUN(test_quantize_uint8);
	RUN(test_packbits);
	RUN(test_half);
	RUN(test_negotiation);
	RUN(test_decode);
	RUN(test_decode_refused);
	RUN(test_encode);
	return harness_summary();
}
