/* Tests for src/model: the safetensors reader on malformed files, config.json and
 * sentence-transformers metadata parsing, and the BERT-family encoder + pooling head against
 * the goldens that tools/reference/make_fixtures.py computed with an independent float64
 * reference (tests/golden/<fixture>.safetensors). Each golden check prints its worst error, the
 * way llm.c's test_gpt2 does, so a regression shows how far off it is and not only that it is. */
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/file.h"
#include "base/status.h"
#include "harness.h"
#include "model/arch/bert.h"
#include "model/config.h"
#include "model/families.h"
#include "model/model.h"
#include "model/registry.h"
#include "model/inspect.h"
#include "model/heads/pooling.h"
#include "model/formats/safetensors.h"
#include "model/st_meta.h"
#include "text/tokenizer.h"

#define HIDDEN_TOL 1e-4f
#define POOLED_TOL 1e-4f
#define COS_MIN 0.99999

static const char *const fixtures[] = {"bert-tiny", "roberta-tiny", "distilbert-tiny"};
#define N_FIXTURES 3

/* ---- safetensors: hand-made files ---- */

/* Builds a safetensors image in an exactly-sized heap block (so ASan catches any read past its
 * end): 8-byte length, the header text, then data_len bytes of data (values i & 0xff). */
static unsigned char *st_image(const char *header, size_t data_len, uint64_t claimed_len,
                               size_t *len)
{
	size_t hl = strlen(header);
	*len = 8 + hl + data_len;
	unsigned char *b = malloc(*len);
	uint64_t n = claimed_len ? claimed_len : hl;
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(n >> (8 * i));
	memcpy(b + 8, header, hl);
	for (size_t i = 0; i < data_len; i++)
		b[8 + hl + i] = (unsigned char)i;
	return b;
}

/* Parses the image; returns its status and copies the message to msg. */
static enum sy_status st_try(const char *header, size_t data_len, uint64_t claimed, char *msg)
{
	size_t len;
	unsigned char *b = st_image(header, data_len, claimed, &len);
	struct sy_error err = {0};
	struct safetensors *st;
	enum sy_status s = safetensors_parse(b, len, "t.safetensors", &err, &st);
	snprintf(msg, SY_ERROR_MSG_LEN, "%s", s == SY_OK ? "" : err.msg);
	if (s == SY_OK)
		safetensors_close(st);
	free(b);
	return s;
}

#define EXPECT_ST_ERR(header, data_len, claimed, status, needle)                               \
	do {                                                                                   \
		char _m[SY_ERROR_MSG_LEN];                                                     \
		enum sy_status _s = st_try(header, data_len, claimed, _m);                     \
		CHECKF(_s == (status), "status %s, want %s (%s)", sy_status_str(_s),           \
		       sy_status_str(status), _m);                                             \
		CHECKF(strstr(_m, needle) != NULL, "message \"%s\" lacks \"%s\"", _m, needle); \
	} while (0)

static void test_safetensors_valid(void)
{
	const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},"
	                  "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
	                  "\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[16,22]},"
	                  "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[22,26]},"
	                  "\"i\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[26,34]},"
	                  "\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[34,34]},"
	                  "\"m\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[34,35]}}";
	size_t len;
	unsigned char *b = st_image(hdr, 35, 0, &len);
	size_t d = len - 35;
	float f[4] = {1.5f, -2.0f, 0.25f, 1e-3f};
	memcpy(b + d, f, 16);
	unsigned short h[3] = {0x3c00, 0xc000, 0x0001}; /* 1, -2, smallest subnormal */
	memcpy(b + d + 16, h, 6);
	unsigned short bf[2] = {0x3f80, 0xc0a0}; /* 1, -5 */
	memcpy(b + d + 22, bf, 4);
	int64_t iv = -7;
	memcpy(b + d + 26, &iv, 8);
	struct sy_error err = {0};
	struct safetensors *st;
	CHECKF(safetensors_parse(b, len, "ok.safetensors", &err, &st) == SY_OK, "%s", err.msg);
	if (!st) {
		free(b);
		return;
	}
	CHECK_EQ_INT(st->n_tensors, 6);
	float *out;
	CHECK(safetensors_read_f32(st, "w", 2, (int64_t[]){2, 2}, &err, &out) == SY_OK);
	CHECK(out && !memcmp(out, f, 16));
	free(out);
	CHECK(safetensors_read_f32(st, "h", 1, (int64_t[]){-1}, &err, &out) == SY_OK);
	CHECK(out && out[0] == 1.0f && out[1] == -2.0f && out[2] == ldexpf(1, -24));
	free(out);
	CHECK(safetensors_read_f32(st, "b", 1, (int64_t[]){2}, &err, &out) == SY_OK);
	CHECK(out && out[0] == 1.0f && out[1] == -5.0f);
	free(out);
	CHECK(safetensors_read_f32(st, "i", 0, NULL, &err, &out) == SY_OK);
	CHECK(out && out[0] == -7.0f);
	free(out);
	const struct st_tensor *t = safetensors_find(st, "e");
	CHECK(t && t->n_elems == 0 && t->n_bytes == 0);
	/* Shape mismatch names the tensor and both shapes. */
	CHECK(safetensors_read_f32(st, "w", 2, (int64_t[]){2, 3}, &err, &out) == SY_ERR_FORMAT);
	CHECKF(strstr(err.msg, "tensor w: expected shape [2,3], found [2,2]"), "%s", err.msg);
	CHECK(safetensors_read_f32(st, "w", 1, (int64_t[]){4}, &err, &out) == SY_ERR_FORMAT);
	CHECK(safetensors_read_f32(st, "nope", 1, (int64_t[]){4}, &err, &out) == SY_ERR_NOT_FOUND);
	CHECKF(strstr(err.msg, "tensor nope not found"), "%s", err.msg);
	CHECK(safetensors_read_f32(st, "m", 1, (int64_t[]){1}, &err, &out) == SY_ERR_UNSUPPORTED);
	CHECKF(strstr(err.msg, "BOOL"), "%s", err.msg);
	safetensors_close(st);
	free(b);
}

static void test_safetensors_bad(void)
{
	const char *ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
	char msg[SY_ERROR_MSG_LEN];
	CHECK(st_try(ok, 16, 0, msg) == SY_OK);
	/* Truncated before the header length is complete. */
	{
		unsigned char *b = malloc(5);
		memset(b, 0, 5);
		struct sy_error err = {0};
		struct safetensors *st;
		CHECK(safetensors_parse(b, 5, "short.safetensors", &err, &st) == SY_ERR_FORMAT);
		CHECKF(strstr(err.msg, "short.safetensors: truncated"), "%s", err.msg);
		free(b);
	}
	EXPECT_ST_ERR(ok, 16, 1000, SY_ERR_FORMAT, "header length 1000 past the end of the file");
	EXPECT_ST_ERR(ok, 16, UINT64_MAX, SY_ERR_FORMAT, "past the end of the file");
	EXPECT_ST_ERR(ok, 12, 0, SY_ERR_FORMAT,
	              "tensor a: data_offsets [0, 16] past the end of the data (12 bytes");
	EXPECT_ST_ERR("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", 24, 0,
	              SY_ERR_FORMAT, "tensor a: F32 [2,3] needs 24 bytes but data_offsets give 16");
	EXPECT_ST_ERR("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, 0,
	              SY_ERR_FORMAT, "tensor a: unknown dtype \"Q4\"");
	EXPECT_ST_ERR("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]", 16, 0,
	              SY_ERR_FORMAT, "header is not valid JSON");
	EXPECT_ST_ERR("[1,2]", 0, 0, SY_ERR_FORMAT, "header: expected a JSON object");
	EXPECT_ST_ERR("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2,2],\"data_offsets\":[0,16]}}", 16, 0,
	              SY_ERR_FORMAT, "tensor a: shape[0]: expected a non-negative integer");
	EXPECT_ST_ERR("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,16]}}", 16, 0,
	              SY_ERR_FORMAT, "shape[0]");
	EXPECT_ST_ERR("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,0]}}", 16, 0,
	              SY_ERR_FORMAT, "begin after end");
	EXPECT_ST_ERR("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0]}}", 16, 0,
	              SY_ERR_FORMAT, "data_offsets: expected [begin, end]");
	EXPECT_ST_ERR("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", 16, 0, SY_ERR_FORMAT,
	              "tensor a: shape: expected an array");
	EXPECT_ST_ERR("{\"a\":{\"dtype\":7,\"shape\":[4],\"data_offsets\":[0,16]}}", 16, 0,
	              SY_ERR_FORMAT, "tensor a: dtype: expected a string");
	EXPECT_ST_ERR("{\"a\":[]}", 16, 0, SY_ERR_FORMAT, "tensor a: expected an object");
	/* A shape whose element count overflows size_t. */
	EXPECT_ST_ERR("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
	              "\"data_offsets\":[0,16]}}",
	              16, 0, SY_ERR_FORMAT, "shape overflows");
	EXPECT_ST_ERR("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
	              "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
	              16, 0, SY_ERR_FORMAT, "tensor a appears twice");
	/* Overlapping ranges (issue 23.16): refused, as docs/SECURITY.md says; touching ones and
	 * empty tensors are fine. */
	EXPECT_ST_ERR("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
	              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
	              16, 0, SY_ERR_FORMAT, "overlapping data_offsets");
	CHECK(st_try("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
	             "\"c\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
	             16, 0, msg) == SY_OK);
	EXPECT_ST_ERR("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
	              "\"data_offsets\":[0,4]}}",
	              16, 0, SY_ERR_UNSUPPORTED, "9 dimensions");
}

/* A real fixture cut short on disk: the header then promises data the file does not have. */
static void test_safetensors_truncated_file(void)
{
	struct sy_mmap m;
	if (sy_mmap_open("tests/fixtures/bert-tiny/model.safetensors", NULL, &m) != SY_OK) {
		CHECKF(0, "tests/fixtures/bert-tiny/model.safetensors is missing");
		return;
	}
	char path[] = "/tmp/sy-test-st-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, m.data, m.len / 2) == (ssize_t)(m.len / 2));
	close(fd);
	sy_mmap_close(&m);
	struct sy_error err = {0};
	struct safetensors *st;
	CHECK(safetensors_open(path, &err, &st) == SY_ERR_FORMAT);
	CHECKF(strstr(err.msg, path) && strstr(err.msg, "past the end of the data"), "%s", err.msg);
	CHECK(truncate(path, 100) == 0);
	CHECK(safetensors_open(path, &err, &st) == SY_ERR_FORMAT);
	CHECKF(strstr(err.msg, "past the end of the file"), "%s", err.msg);
	remove(path);
	CHECK(safetensors_open("/nonexistent.safetensors", &err, &st) == SY_ERR_IO);
}

static void test_prefix_detect(void)
{
	const char *names[] = {"", "bert.", "roberta.", "distilbert.", "model."};
	for (int i = 0; i < 5; i++) {
		char hdr[256];
		snprintf(
		    hdr, sizeof hdr,
		    "{\"%sembeddings.word_embeddings.weight\":{\"dtype\":\"F32\",\"shape\":[1],"
		    "\"data_offsets\":[0,4]}}",
		    names[i]);
		size_t len;
		unsigned char *b = st_image(hdr, 4, 0, &len);
		struct safetensors *st;
		CHECK(safetensors_parse(b, len, "p", NULL, &st) == SY_OK);
		const char *p = bert_detect_prefix(st);
		CHECK_STREQ(p, names[i]);
		safetensors_close(st);
		free(b);
	}
}

/* ---- config.json ---- */

static enum sy_status cfg_parse(const char *json, struct bert_config *c, char *msg)
{
	struct sy_error err = {0};
	enum sy_status s = bert_config_parse(json, strlen(json), "config.json", &err, c);
	snprintf(msg, SY_ERROR_MSG_LEN, "%s", s == SY_OK ? "" : err.msg);
	return s;
}

static void test_config(void)
{
	struct bert_config c;
	char msg[SY_ERROR_MSG_LEN];
	CHECK(cfg_parse("{\"model_type\":\"bert\",\"hidden_size\":64,\"num_attention_heads\":4,"
	                "\"num_hidden_layers\":2,\"intermediate_size\":128,\"vocab_size\":100,"
	                "\"max_position_embeddings\":64}",
	                &c, msg) == SY_OK);
	CHECK(c.arch == BERT_ARCH_BERT && c.hidden == 64 && c.n_heads == 4 && c.n_layers == 2);
	CHECK(c.intermediate == 128 && c.vocab_size == 100 && c.max_tokens == 64);
	CHECK(c.act == BERT_ACT_GELU_ERF && c.type_vocab_size == 2 && c.position_offset == 0);
	CHECK(fabsf(c.layer_norm_eps - 1e-12f) < 1e-20f);

	CHECK(
	    cfg_parse("{\"model_type\":\"roberta\",\"hidden_act\":\"gelu_new\","
	              "\"max_position_embeddings\":514,\"pad_token_id\":1,\"layer_norm_eps\":1e-5,"
	              "\"type_vocab_size\":1}",
	              &c, msg) == SY_OK);
	CHECK(c.arch == BERT_ARCH_ROBERTA && c.act == BERT_ACT_GELU_TANH);
	CHECK(c.position_offset == 2 && c.max_tokens == 512 && c.hidden == 768);
	CHECK(fabsf(c.layer_norm_eps - 1e-5f) < 1e-12f);

	CHECK(cfg_parse(
	          "{\"model_type\":\"xlm-roberta\",\"vocab_size\":250002,"
	          "\"hidden_act\":\"gelu_pytorch_tanh\",\"position_embedding_type\":\"absolute\"}",
	          &c, msg) == SY_OK);
	CHECK(c.arch == BERT_ARCH_ROBERTA && c.vocab_size == 250002 && c.max_tokens == 510);
	CHECK_STREQ(c.model_type, "xlm-roberta");
	CHECK(cfg_parse("{\"model_type\":\"camembert\",\"hidden_act\":\"relu\"}", &c, msg) ==
	      SY_OK);
	CHECK(c.arch == BERT_ARCH_ROBERTA && c.act == BERT_ACT_RELU);

	CHECK(cfg_parse("{\"model_type\":\"distilbert\",\"dim\":32,\"n_heads\":2,\"n_layers\":3,"
	                "\"hidden_dim\":48,\"activation\":\"gelu\",\"layer_norm_eps\":0.5}",
	                &c, msg) == SY_OK);
	CHECK(c.arch == BERT_ARCH_DISTILBERT && c.hidden == 32 && c.n_heads == 2);
	CHECK(c.n_layers == 3 && c.intermediate == 48 && c.type_vocab_size == 0);
	CHECK(fabsf(c.layer_norm_eps - 1e-12f) < 1e-20f); /* fixed, whatever the file says */

	CHECK(cfg_parse("{\"model_type\":\"gpt2\"}", &c, msg) == SY_ERR_UNSUPPORTED);
	CHECKF(strstr(msg, "model_type \"gpt2\" is not supported"), "%s", msg);
	CHECK(cfg_parse("{\"model_type\":\"bert\",\"position_embedding_type\":\"relative_key\"}",
	                &c, msg) == SY_ERR_UNSUPPORTED);
	CHECKF(strstr(msg, "position_embedding_type \"relative_key\""), "%s", msg);
	CHECK(cfg_parse("{\"model_type\":\"bert\",\"hidden_act\":\"swish\"}", &c, msg) ==
	      SY_ERR_UNSUPPORTED);
	CHECKF(strstr(msg, "hidden_act \"swish\""), "%s", msg);
	CHECK(cfg_parse("{\"model_type\":\"bert\",\"hidden_size\":65}", &c, msg) == SY_ERR_FORMAT);
	CHECKF(strstr(msg, "not a multiple"), "%s", msg);
	CHECK(cfg_parse("{\"model_type\":\"bert\",\"hidden_size\":\"big\"}", &c, msg) ==
	      SY_ERR_FORMAT);
	CHECKF(strstr(msg, "config.json: hidden_size"), "%s", msg);
	CHECK(cfg_parse("{\"model_type\":\"bert\",\"num_hidden_layers\":1e300}", &c, msg) ==
	      SY_ERR_FORMAT);
	CHECK(cfg_parse("{\"hidden_size\":64}", &c, msg) == SY_ERR_FORMAT);
	CHECKF(strstr(msg, "model_type"), "%s", msg);
	CHECK(cfg_parse("{\"model_type\":", &c, msg) == SY_ERR_FORMAT);
	CHECKF(strstr(msg, "not valid JSON"), "%s", msg);
	CHECK(cfg_parse("{\"model_type\":\"roberta\",\"max_position_embeddings\":2}", &c, msg) ==
	      SY_ERR_FORMAT);

	/* The fixtures' own config.json files. */
	struct sy_error err = {0};
	CHECKF(bert_config_load("tests/fixtures/distilbert-tiny", &err, &c) == SY_OK, "%s",
	       err.msg);
	CHECK(c.arch == BERT_ARCH_DISTILBERT && c.hidden == 64 && c.max_tokens == 64);
	CHECKF(bert_config_load("tests/fixtures/roberta-tiny", &err, &c) == SY_OK, "%s", err.msg);
	CHECK(c.arch == BERT_ARCH_ROBERTA && c.max_positions == 66 && c.max_tokens == 64);
	CHECK(bert_config_load("/nonexistent", &err, &c) == SY_ERR_IO);
}

/* ---- sentence-transformers metadata ---- */

static void write_file(const char *dir, const char *name, const char *text)
{
	char *p = sy_path_join(dir, name);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	free(p);
}

static void test_st_meta(void)
{
	struct st_meta m;
	struct sy_error err = {0};
	CHECKF(st_meta_load("tests/fixtures/bert-tiny", &err, &m) == SY_OK, "%s", err.msg);
	CHECK(m.has_modules && m.pooling == POOLING_MEAN && m.normalize && m.n_dense == 0);
	CHECK(m.max_seq_length == 64 && m.do_lower_case == 0 && m.pooling_dim == 64);
	CHECK_STREQ(st_meta_prompt(&m, "query"), "query: ");
	CHECK(st_meta_prompt(&m, "passage") == NULL && m.default_prompt_name == NULL);
	CHECK_STREQ(m.similarity_fn, "cosine");
	st_meta_free(&m);

	CHECKF(st_meta_load("tests/fixtures/roberta-tiny", &err, &m) == SY_OK, "%s", err.msg);
	CHECK(m.pooling == POOLING_CLS && !m.normalize && m.n_dense == 1);
	CHECK(m.dense[0].in_features == 64 && m.dense[0].out_features == 32);
	CHECK(m.dense[0].bias && m.dense[0].act == GEMM_EPILOGUE_TANH);
	st_meta_free(&m);

	CHECKF(st_meta_load("tests/fixtures/distilbert-tiny", &err, &m) == SY_OK, "%s", err.msg);
	CHECK(!m.has_modules && m.pooling == POOLING_DEFAULT && !m.normalize && m.n_dense == 0);
	st_meta_free(&m);

	/* Malformed and unsupported metadata in a scratch directory. */
	char dir[] = "/tmp/sy-test-meta-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char sub[64];
	snprintf(sub, sizeof sub, "%s/1_Pooling", dir);
	mkdir(sub, 0700);
	write_file(dir, "modules.json",
	           "[{\"type\":\"sentence_transformers.models.Transformer\",\"path\":\"\"},"
	           "{\"type\":\"sentence_transformers.models.LSTM\",\"path\":\"1_LSTM\"}]");
	CHECK(st_meta_load(dir, &err, &m) == SY_ERR_UNSUPPORTED);
	CHECKF(strstr(err.msg, "modules.json: [1]: module type "
	                       "\"sentence_transformers.models.LSTM\" is not supported"),
	       "%s", err.msg);
	write_file(dir, "modules.json",
	           "[{\"type\":\"sentence_transformers.models.Pooling\",\"path\":\"../x\"}]");
	CHECK(st_meta_load(dir, &err, &m) == SY_ERR_FORMAT);
	CHECKF(strstr(err.msg, "leaves the model directory"), "%s", err.msg);
	write_file(dir, "modules.json",
	           "[{\"type\":\"sentence_transformers.models.Pooling\",\"path\":\"1_Pooling\"}]");
	CHECK(st_meta_load(dir, &err, &m) == SY_ERR_FORMAT);
	CHECKF(strstr(err.msg, "1_Pooling/config.json: missing"), "%s", err.msg);
	write_file(sub, "config.json",
	           "{\"pooling_mode_cls_token\":true,\"pooling_mode_mean_tokens\":true}");
	CHECK(st_meta_load(dir, &err, &m) == SY_ERR_UNSUPPORTED);
	CHECKF(strstr(err.msg, "2 pooling modes"), "%s", err.msg);
	write_file(sub, "config.json", "{\"pooling_mode_mean_sqrt_len_tokens\":true}");
	CHECK(st_meta_load(dir, &err, &m) == SY_ERR_UNSUPPORTED);
	CHECKF(strstr(err.msg, "pooling_mode_mean_sqrt_len_tokens"), "%s", err.msg);
	write_file(sub, "config.json", "{\"pooling_mode_lasttoken\":true}");
	CHECKF(st_meta_load(dir, &err, &m) == SY_OK, "%s", err.msg);
	CHECK(m.pooling == POOLING_LAST);
	st_meta_free(&m);
	write_file(dir, "modules.json", "{");
	CHECK(st_meta_load(dir, &err, &m) == SY_ERR_FORMAT);
	CHECKF(strstr(err.msg, "modules.json: not valid JSON"), "%s", err.msg);
	write_file(dir, "modules.json", "[]");
	write_file(dir, "config_sentence_transformers.json", "{\"prompts\":{\"q\":3}}");
	CHECK(st_meta_load(dir, &err, &m) == SY_ERR_FORMAT);
	CHECKF(strstr(err.msg, "prompts.q: expected a string"), "%s", err.msg);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

/* ---- goldens ---- */

struct golden {
	struct safetensors *st;
	int B, T, H;
	int *lens; /* [B] valid tokens per row */
	int32_t *ids; /* [sum lens] packed */
	int32_t *types; /* [sum lens] packed */
	int32_t *ids_pad; /* [B][T] */
	int total;
	cJSON *json; /* tests/golden/<name>.json */
};

static int32_t i32_at(const struct st_tensor *t, size_t i)
{
	int32_t v;
	memcpy(&v, t->data + 4 * i, 4);
	return v;
}

static int golden_load(const char *name, struct golden *g)
{
	memset(g, 0, sizeof *g);
	char path[256];
	struct sy_error err = {0};
	snprintf(path, sizeof path, "tests/golden/%s.safetensors", name);
	if (safetensors_open(path, &err, &g->st) != SY_OK) {
		CHECKF(0, "%s", err.msg);
		return -1;
	}
	const struct st_tensor *ids = safetensors_find(g->st, "input_ids");
	const struct st_tensor *mask = safetensors_find(g->st, "attention_mask");
	const struct st_tensor *types = safetensors_find(g->st, "token_type_ids");
	const struct st_tensor *h = safetensors_find(g->st, "last_hidden_state");
	CHECK(ids && mask && types && h && ids->dtype == ST_DTYPE_I32 && h->n_dims == 3);
	if (!ids || !mask || !types || !h)
		return -1;
	g->B = (int)ids->shape[0];
	g->T = (int)ids->shape[1];
	g->H = (int)h->shape[2];
	g->lens = calloc((size_t)g->B, sizeof *g->lens);
	g->ids = malloc(ids->n_elems * sizeof *g->ids);
	g->types = malloc(ids->n_elems * sizeof *g->types);
	g->ids_pad = malloc(ids->n_elems * sizeof *g->ids_pad);
	for (int b = 0; b < g->B; b++)
		for (int t = 0; t < g->T; t++) {
			size_t i = (size_t)b * g->T + t;
			g->ids_pad[i] = i32_at(ids, i);
			if (i32_at(mask, i)) {
				CHECKF(t == g->lens[b], "mask of row %d is not right-padded", b);
				g->ids[g->total] = i32_at(ids, i);
				g->types[g->total] = i32_at(types, i);
				g->lens[b]++;
				g->total++;
			}
		}
	snprintf(path, sizeof path, "tests/golden/%s.json", name);
	char *buf;
	size_t len;
	if (sy_file_read(path, &err, &buf, &len) == SY_OK) {
		g->json = cJSON_ParseWithLength(buf, len);
		free(buf);
	}
	CHECKF(g->json != NULL, "%s: cannot read", path);
	return g->json ? 0 : -1;
}

static void golden_free(struct golden *g)
{
	safetensors_close(g->st);
	free(g->lens);
	free(g->ids);
	free(g->types);
	free(g->ids_pad);
	cJSON_Delete(g->json);
}

/* Max abs error of packed hidden states against a [B][T][H] golden at the valid positions. */
static float hidden_err(const struct golden *g, const float *packed, const float *ref)
{
	float worst = 0;
	size_t r = 0;
	for (int b = 0; b < g->B; b++)
		for (int t = 0; t < g->lens[b]; t++, r++) {
			float e = harness_max_abs_diff(
			    packed + r * g->H, ref + ((size_t)b * g->T + t) * g->H, (size_t)g->H);
			worst = e > worst ? e : worst;
		}
	return worst;
}

/* Compares rows [n][d] of got against ref: worst max abs error and worst cosine. */
static void rows_err(const float *got, const float *ref, int n, int d, float *max_abs,
                     double *min_cos)
{
	*max_abs = 0;
	*min_cos = 1;
	for (int i = 0; i < n; i++) {
		float e = harness_max_abs_diff(got + (size_t)i * d, ref + (size_t)i * d, (size_t)d);
		double c = harness_cosine(got + (size_t)i * d, ref + (size_t)i * d, (size_t)d);
		*max_abs = e > *max_abs ? e : *max_abs;
		*min_cos = c < *min_cos ? c : *min_cos;
	}
}

static float *golden_f32(const struct golden *g, const char *name)
{
	const struct st_tensor *t = safetensors_find(g->st, name);
	CHECKF(t != NULL, "golden tensor %s missing", name);
	float *out = NULL;
	if (t)
		CHECK(safetensors_tensor_to_f32(t, NULL, &out) == SY_OK);
	return out;
}

static void golden_forward(const char *name, int n_threads)
{
	struct golden g;
	if (golden_load(name, &g) != 0) {
		golden_free(&g);
		return;
	}
	char dir[256];
	snprintf(dir, sizeof dir, "tests/fixtures/%s", name);
	struct sy_error err = {0};
	struct bert_model *m;
	if (bert_model_load(dir, n_threads, &err, &m) != SY_OK) {
		CHECKF(0, "%s", err.msg);
		golden_free(&g);
		return;
	}
	CHECK_EQ_INT(bert_model_config(m)->hidden, g.H);
	struct encoder_input in = {
	    .n_seqs = g.B, .lens = g.lens, .ids = g.ids, .type_ids = g.types};
	const float *hidden;
	CHECKF(bert_forward(m, &in, &err, &hidden) == SY_OK, "%s", err.msg);
	float *ref = golden_f32(&g, "last_hidden_state");
	if (!hidden || !ref)
		goto out;
	float e = hidden_err(&g, hidden, ref);
	printf("%-16s threads %d  last_hidden_state (batch %d, %d tokens)  max abs err %.2e\n",
	       name, n_threads, g.B, g.total, e);
	CHECKF(e <= HIDDEN_TOL, "%s: hidden max abs err %g", name, e);

	/* Every pooling mode on the packed states. */
	static const struct {
		enum pooling_mode mode;
		const char *tensor;
	} modes[] = {{POOLING_CLS, "pooled_cls"},
	             {POOLING_MEAN, "pooled_mean"},
	             {POOLING_MAX, "pooled_max"},
	             {POOLING_LAST, "pooled_last"}};
	float *pooled = malloc((size_t)g.B * g.H * sizeof(float));
	for (int i = 0; i < 4; i++) {
		float *pref = golden_f32(&g, modes[i].tensor);
		if (!pref)
			continue;
		pooling_f32(modes[i].mode, hidden, g.lens, g.B, g.H, pooled);
		float ma;
		double mc;
		rows_err(pooled, pref, g.B, g.H, &ma, &mc);
		printf("%-16s threads %d  %-18s max abs err %.2e  min cosine %.8f\n", name,
		       n_threads, modes[i].tensor, ma, mc);
		CHECKF(ma <= POOLED_TOL && mc >= COS_MIN, "%s %s: max abs %g, cosine %.8f", name,
		       modes[i].tensor, ma, mc);
		free(pref);
	}
	free(pooled);

	/* The model's own head (metadata: pooling, Dense, Normalize) from the golden ids. */
	struct st_meta meta;
	struct pooling_head head;
	CHECKF(st_meta_load(dir, &err, &meta) == SY_OK, "%s", err.msg);
	CHECKF(pooling_head_init(&meta, NULL, g.H, &err, &head) == SY_OK, "%s", err.msg);
	const struct st_tensor *se = safetensors_find(g.st, "sentence_embedding");
	CHECK(se && (int)se->shape[1] == head.dims);
	float *sref = golden_f32(&g, "sentence_embedding");
	if (se && sref && (int)se->shape[1] == head.dims) {
		float *emb = malloc((size_t)g.B * head.dims * sizeof(float));
		CHECK(pooling_head_apply(&head, hidden, g.lens, g.B, NULL, &err, emb) == SY_OK);
		float ma;
		double mc;
		rows_err(emb, sref, g.B, head.dims, &ma, &mc);
		printf("%-16s threads %d  sentence_embedding (%s%s%s, %d dims) max abs err %.2e  "
		       "min cosine %.8f\n",
		       name, n_threads, pooling_mode_name(head.mode),
		       head.n_dense ? " + dense" : "", head.normalize ? " + normalize" : "",
		       head.dims, ma, mc);
		CHECKF(ma <= POOLED_TOL && mc >= COS_MIN, "%s sentence_embedding: %g %.8f", name,
		       ma, mc);
		free(emb);
	}
	free(sref);
	pooling_head_free(&head);
	st_meta_free(&meta);

	/* Steady state: batches no larger than the first allocate no scratch. */
	long allocs = bert_model_scratch_allocs(m);
	CHECK_EQ_INT(allocs, 1);
	struct encoder_input half = {
	    .n_seqs = g.B / 2, .lens = g.lens, .ids = g.ids, .type_ids = g.types};
	for (int rep = 0; rep < 3; rep++) {
		CHECK(bert_forward(m, &half, &err, &hidden) == SY_OK);
		CHECK(bert_forward(m, &in, &err, &hidden) == SY_OK);
	}
	CHECK_EQ_INT(bert_model_scratch_allocs(m), allocs);
	CHECKF(hidden_err(&g, hidden, ref) == e, "repeated forward differs");
out:
	free(ref);
	bert_model_free(m);
	golden_free(&g);
}

/* Each text alone (tests/golden/<name>-single.safetensors) must match its unbatched golden. */
static void golden_single(const char *name)
{
	char path[256], dir[256];
	snprintf(path, sizeof path, "tests/golden/%s-single.safetensors", name);
	snprintf(dir, sizeof dir, "tests/fixtures/%s", name);
	struct sy_error err = {0};
	struct safetensors *st;
	struct bert_model *m;
	if (safetensors_open(path, &err, &st) != SY_OK) {
		CHECKF(0, "%s", err.msg);
		return;
	}
	if (bert_model_load(dir, 2, &err, &m) != SY_OK) {
		CHECKF(0, "%s", err.msg);
		safetensors_close(st);
		return;
	}
	float worst = 0;
	int n = 0;
	for (;; n++) {
		char nm[64];
		snprintf(nm, sizeof nm, "input_ids_%d", n);
		const struct st_tensor *ids = safetensors_find(st, nm);
		snprintf(nm, sizeof nm, "last_hidden_state_%d", n);
		const struct st_tensor *h = safetensors_find(st, nm);
		if (!ids || !h)
			break;
		int len = (int)ids->shape[1];
		int32_t *v = malloc((size_t)len * sizeof *v);
		for (int i = 0; i < len; i++)
			v[i] = i32_at(ids, (size_t)i);
		float *ref;
		CHECK(safetensors_tensor_to_f32(h, NULL, &ref) == SY_OK);
		struct encoder_input in = {.n_seqs = 1, .lens = &len, .ids = v};
		const float *hidden;
		CHECKF(bert_forward(m, &in, &err, &hidden) == SY_OK, "%s", err.msg);
		if (hidden) {
			float e = harness_max_abs_diff(hidden, ref, (size_t)len * h->shape[2]);
			worst = e > worst ? e : worst;
		}
		free(ref);
		free(v);
	}
	CHECK(n > 0);
	printf("%-16s single texts (%d, unbatched)  last_hidden_state max abs err %.2e\n", name, n,
	       worst);
	CHECKF(worst <= HIDDEN_TOL, "%s single: %g", name, worst);
	bert_model_free(m);
	safetensors_close(st);
}

static void test_golden_forward(void)
{
	for (int i = 0; i < N_FIXTURES; i++) {
		golden_forward(fixtures[i], 1);
		golden_forward(fixtures[i], 3);
		golden_single(fixtures[i]);
	}
}

static void test_forward_limits(void)
{
	struct sy_error err = {0};
	struct bert_model *m;
	if (bert_model_load("tests/fixtures/roberta-tiny", 1, &err, &m) != SY_OK) {
		CHECKF(0, "%s", err.msg);
		return;
	}
	CHECK(strcmp(bert_model_prefix(m), "") == 0);
	CHECK(bert_model_weight_bytes(m) > 30522 * 64 * 4);
	int32_t ids[65];
	for (int i = 0; i < 65; i++)
		ids[i] = 5 + i;
	int len = 65; /* 66 positions - padding_idx 1 - 1 = 64 usable */
	struct encoder_input in = {.n_seqs = 1, .lens = &len, .ids = ids};
	const float *h;
	CHECK(bert_forward(m, &in, &err, &h) == SY_ERR_INVALID_ARG);
	CHECKF(strstr(err.msg, "65 tokens"), "%s", err.msg);
	len = 64;
	CHECK(bert_forward(m, &in, &err, &h) == SY_OK);
	ids[3] = 30522;
	CHECK(bert_forward(m, &in, &err, &h) == SY_ERR_INVALID_ARG);
	CHECKF(strstr(err.msg, "token id 30522"), "%s", err.msg);
	ids[3] = 7;
	int32_t types[64] = {0};
	types[1] = 1; /* RoBERTa has one token type */
	in.type_ids = types;
	CHECK(bert_forward(m, &in, &err, &h) == SY_ERR_INVALID_ARG);
	/* An empty batch and an empty sequence are fine. */
	in.type_ids = NULL;
	in.n_seqs = 0;
	CHECK(bert_forward(m, &in, &err, &h) == SY_OK);
	len = 0;
	in.n_seqs = 1;
	CHECK(bert_forward(m, &in, &err, &h) == SY_OK);
	bert_model_free(m);

	/* A checkpoint whose shapes disagree with config.json. */
	struct bert_config c;
	CHECK(bert_config_load("tests/fixtures/bert-tiny", &err, &c) == SY_OK);
	c.intermediate = 96;
	struct safetensors *st;
	CHECK(safetensors_open("tests/fixtures/bert-tiny/model.safetensors", &err, &st) == SY_OK);
	CHECK(bert_model_load_st(&c, st, 1, &err, &m) == SY_ERR_FORMAT);
	CHECKF(strstr(err.msg, "tensor encoder.layer.0.intermediate.dense.weight: expected shape "
	                       "[96,64], found [128,64]"),
	       "%s", err.msg);
	safetensors_close(st);
}

/* The whole embedder on the golden texts, through the real tokenizer. */
static void golden_embedder(const char *name)
{
	struct golden g;
	if (golden_load(name, &g) != 0) {
		golden_free(&g);
		return;
	}
	char dir[256];
	snprintf(dir, sizeof dir, "tests/fixtures/%s", name);
	const cJSON *texts = cJSON_GetObjectItemCaseSensitive(g.json, "texts");
	const cJSON *ml = cJSON_GetObjectItemCaseSensitive(g.json, "max_length");
	int n = cJSON_GetArraySize(texts);
	CHECK(n == g.B && cJSON_IsNumber(ml));
	const char **tv = calloc((size_t)n, sizeof *tv);
	size_t *lv = calloc((size_t)n, sizeof *lv);
	for (int i = 0; i < n; i++) {
		tv[i] = cJSON_GetArrayItem(texts, i)->valuestring;
		lv[i] = strlen(tv[i]);
	}
	struct sy_error err = {0};

	/* Token ids equal the golden input_ids. */
	struct tokenizer *tok;
	if (tokenizer_load(dir, &err, &tok) == SY_OK) {
		struct tok_encode_params p = tokenizer_default_params();
		p.max_length = (int)ml->valuedouble;
		p.add_special_tokens = true;
		int mismatches = 0;
		for (int i = 0; i < n; i++) {
			struct tok_encoding enc;
			CHECK(tokenizer_encode(tok, tv[i], lv[i], NULL, 0, &p, &err, &enc) ==
			      SY_OK);
			int same = enc.n == g.lens[i];
			for (int t = 0; same && t < enc.n; t++)
				same = enc.ids[t] == g.ids_pad[(size_t)i * g.T + t];
			if (!same) {
				mismatches++;
				fprintf(stderr, "  %s text %d: %d tokens, golden %d\n", name, i,
				        enc.n, g.lens[i]);
			}
			tok_encoding_free(&enc);
		}
		printf("%-16s tokenizer ids vs golden input_ids: %d/%d texts differ\n", name,
		       mismatches, n);
		CHECK_EQ_INT(mismatches, 0);
		tokenizer_free(tok);
	} else {
		CHECKF(0, "%s", err.msg);
	}

	struct model_options opts = model_default_options();
	opts.max_length = (int)ml->valuedouble;
	opts.n_threads = 2;
	struct model *e;
	if (model_open(dir, &opts, &err, &e) != SY_OK) {
		CHECKF(0, "%s", err.msg);
		goto out;
	}
	int d = model_dims(e);
	float *sref = golden_f32(&g, "sentence_embedding");
	float *all = malloc((size_t)n * d * sizeof(float));
	float *one = malloc((size_t)n * d * sizeof(float));
	CHECKF(model_encode_texts(e, tv, lv, n, NULL, &err, all, NULL, NULL) == SY_OK, "%s",
	       err.msg);
	for (int i = 0; i < n; i++)
		CHECK(model_encode_texts(e, tv + i, lv + i, 1, NULL, &err, one + (size_t)i * d,
		                         NULL, NULL) == SY_OK);
	if (sref) {
		float ma, mb;
		double mc, mcb;
		rows_err(all, sref, n, d, &ma, &mc);
		rows_err(all, one, n, d, &mb, &mcb);
		printf("%-16s embedder (%s) vs sentence_embedding: max abs err %.2e  min cosine "
		       "%.8f; batch vs one-by-one max abs diff %.2e\n",
		       name, e->arch, ma, mc, mb);
		CHECKF(mc >= COS_MIN && ma <= POOLED_TOL, "%s embedder: %g %.8f", name, ma, mc);
		CHECKF(mb <= 1e-5f, "%s batch vs single: %g", name, mb);
	}
	/* Steady state: encoding again allocates no new scratch in the encoder. */
	long allocs = bert_model_scratch_allocs(bert_of_encoder(dense_encoder(e)));
	CHECK(model_encode_texts(e, tv, lv, n, NULL, &err, all, NULL, NULL) == SY_OK);
	CHECK_EQ_INT(bert_model_scratch_allocs(bert_of_encoder(dense_encoder(e))), allocs);
	free(all);
	free(one);
	free(sref);
	model_close(e);
out:
	free(tv);
	free(lv);
	golden_free(&g);
}

static void test_golden_embedder(void)
{
	for (int i = 0; i < N_FIXTURES; i++)
		golden_embedder(fixtures[i]);
}

/* int8 dynamic quantisation (--quantize int8) on the golden texts: every sentence embedding
 * within cosine 0.995 of the fp32 reference, and the quantised weights held are smaller. */
static void int8_embedder(const char *name)
{
	struct golden g;
	if (golden_load(name, &g) != 0) {
		golden_free(&g);
		return;
	}
	char dir[256];
	snprintf(dir, sizeof dir, "tests/fixtures/%s", name);
	const cJSON *texts = cJSON_GetObjectItemCaseSensitive(g.json, "texts");
	const cJSON *ml = cJSON_GetObjectItemCaseSensitive(g.json, "max_length");
	int n = cJSON_GetArraySize(texts);
	const char **tv = calloc((size_t)n, sizeof *tv);
	size_t *lv = calloc((size_t)n, sizeof *lv);
	for (int i = 0; i < n; i++) {
		tv[i] = cJSON_GetArrayItem(texts, i)->valuestring;
		lv[i] = strlen(tv[i]);
	}
	struct sy_error err = {0};
	struct model_options opts = model_default_options();
	opts.max_length = (int)ml->valuedouble;
	opts.n_threads = 2;
	opts.precision = LINEAR_INT8;
	struct model *e = NULL, *f = NULL;
	float *sref = golden_f32(&g, "sentence_embedding");
	CHECKF(model_open(dir, &opts, &err, &e) == SY_OK, "%s", err.msg);
	opts.precision = LINEAR_FP32;
	CHECKF(model_open(dir, &opts, &err, &f) == SY_OK, "%s", err.msg);
	if (e && f && sref) {
		int d = model_dims(e);
		float *out = malloc((size_t)n * d * sizeof(float));
		CHECK(model_encode_texts(e, tv, lv, n, NULL, &err, out, NULL, NULL) == SY_OK);
		float ma;
		double mc;
		rows_err(out, sref, n, d, &ma, &mc);
		struct bert_model *qm = bert_of_encoder(dense_encoder(e)),
		                  *fm = bert_of_encoder(dense_encoder(f));
		printf("%-16s int8 embedder vs fp32 golden: min cosine %.6f, max abs err %.3g; "
		       "weights %zu -> %zu bytes\n",
		       name, mc, ma, bert_model_weight_bytes(fm), bert_model_weight_bytes(qm));
		CHECKF(mc >= 0.995, "%s int8 cosine %.6f", name, mc);
		CHECK(bert_model_precision(qm) == LINEAR_INT8);
		CHECK(bert_model_weight_bytes(qm) < bert_model_weight_bytes(fm));
		free(out);
	}
	if (e)
		model_close(e);
	if (f)
		model_close(f);
	free(sref);
	free(tv);
	free(lv);
	golden_free(&g);
}

static void test_int8_embedder(void)
{
	for (int i = 0; i < N_FIXTURES; i++)
		int8_embedder(fixtures[i]);
}

static void test_embedder_options(void)
{
	struct sy_error err = {0};
	struct model_options opts = model_default_options();
	opts.pooling = POOLING_MAX;
	opts.normalize = 0;
	opts.n_threads = 1;
	struct model *e;
	if (model_open("tests/fixtures/bert-tiny", &opts, &err, &e) != SY_OK) {
		CHECKF(0, "%s", err.msg);
		return;
	}
	CHECK_STREQ(e->arch, "bert");
	CHECK_EQ_INT(model_dims(e), 64);
	const char *t = "hello world";
	size_t l = strlen(t);
	float v[64];
	CHECK(model_encode_texts(e, &t, &l, 1, NULL, &err, v, NULL, NULL) == SY_OK);
	double norm = 0;
	for (int i = 0; i < 64; i++)
		norm += (double)v[i] * v[i];
	CHECK(fabs(sqrt(norm) - 1) > 1e-3); /* normalisation turned off */
	model_close(e);
	CHECK(model_open("tests/fixtures/roberta-tiny", NULL, &err, &e) == SY_OK);
	if (e) {
		CHECK_STREQ(e->arch, "roberta");
		CHECK_EQ_INT(model_dims(e), 32);
		model_close(e);
	}
	CHECK(model_open("tests/fixtures/nonexistent", NULL, &err, &e) == SY_ERR_NOT_FOUND);
}

/* A tokenizer that gives ids past the model's embedding table is refused at load, naming both
 * (issue 23.5), rather than failing on the first text that reaches the missing rows. */
static void test_tokenizer_fits(void)
{
	char dir[] = "/tmp/sy-test-tokfit-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char *text = NULL;
	size_t len = 0;
	struct sy_error err = {0};
	CHECK(sy_file_read("tests/fixtures/bert-tiny/tokenizer.json", &err, &text, &len) == SY_OK);
	cJSON *doc = text ? cJSON_Parse(text) : NULL;
	free(text);
	cJSON *added = cJSON_GetObjectItemCaseSensitive(doc, "added_tokens");
	CHECK(cJSON_IsArray(added));
	cJSON *t = cJSON_CreateObject();
	cJSON_AddNumberToObject(t, "id", 40000);
	cJSON_AddStringToObject(t, "content", "[FAR]");
	cJSON_AddBoolToObject(t, "special", true);
	cJSON_AddItemToArray(added, t);
	char *out = cJSON_PrintUnformatted(doc);
	write_file(dir, "tokenizer.json", out);
	free(out);
	cJSON_Delete(doc);
	char *cfg = NULL;
	CHECK(sy_file_read("tests/fixtures/bert-tiny/config.json", &err, &cfg, &len) == SY_OK);
	write_file(dir, "config.json", cfg ? cfg : "{}");
	free(cfg);
	char abs[4096], dst[128];
	snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
	CHECK(realpath("tests/fixtures/bert-tiny/model.safetensors", abs) != NULL &&
	      symlink(abs, dst) == 0);
	struct model *m = NULL;
	CHECK(model_open(dir, NULL, &err, &m) == SY_ERR_FORMAT);
	CHECKF(strstr(err.msg, "tokenizer gives ids up to") && strstr(err.msg, "30522 rows"), "%s",
	       err.msg);
	model_close(m);
	char path[256];
	const char *files[] = {"tokenizer.json", "config.json", "model.safetensors"};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void test_inspect(void)
{
	static const char *const want[N_FIXTURES][4] = {
	    {"architecture:  bert (model_type bert)", "dtype F32",
	     "pooling:       mean, normalize yes", "prompt:        query = \"query: \""},
	    {"architecture:  roberta (model_type roberta)", "dtype F16",
	     "dense:         64 -> 32, tanh", "max positions: 66 (64 usable tokens)"},
	    {"architecture:  distilbert (model_type distilbert)", "dtype BF16",
	     "pooling:       cls (default: no modules.json)", "tokenizer:     WordPiece"},
	};
	for (int i = 0; i < N_FIXTURES; i++) {
		char dir[256];
		snprintf(dir, sizeof dir, "tests/fixtures/%s", fixtures[i]);
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		struct sy_error err = {0};
		CHECKF(model_inspect(dir, f, &err) == SY_OK, "%s", err.msg);
		fclose(f);
		for (int j = 0; j < 4; j++)
			CHECKF(strstr(buf, want[i][j]), "%s: no \"%s\" in:\n%s", fixtures[i],
			       want[i][j], buf);
		CHECKF(strstr(buf, "parameters:    2"), "%s", buf);
		free(buf);
	}
	struct sy_error err = {0};
	CHECK(model_inspect("/nonexistent", stdout, &err) == SY_ERR_IO);
}

int main(void)
{
	RUN(test_safetensors_valid);
	RUN(test_safetensors_bad);
	RUN(test_safetensors_truncated_file);
	RUN(test_prefix_detect);
	RUN(test_config);
	RUN(test_st_meta);
	RUN(test_golden_forward);
	RUN(test_forward_limits);
	RUN(test_golden_embedder);
	RUN(test_int8_embedder);
	RUN(test_embedder_options);
	RUN(test_tokenizer_fits);
	RUN(test_inspect);
	return harness_summary();
}
