/* PyTorch zip checkpoints (src/model/formats/torch_ckpt.c) and the restricted unpickler
 * (src/model/formats/torch_pickle.c): fixtures written by the real torch.save
 * (tools/reference/make_torch_ckpt.py) read back exactly, a model loads from pytorch_model.bin
 * with the same outputs as from model.safetensors, and hostile pickles and archives are refused
 * with errors that name the problem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "model/families.h"
#include "model/model.h"
#include "model/registry.h"
#include "model/formats/safetensors.h"
#include "model/formats/torch_ckpt.h"
#include "model/formats/torch_pickle.h"
#include "model/formats/weights.h"

static float f32_at(const struct safetensors *st, const char *name, size_t i)
{
	const struct st_tensor *t = safetensors_find(st, name);
	float *f = NULL;
	struct sy_error err;
	if (!t || i >= t->n_elems || safetensors_tensor_to_f32(t, &err, &f) != SY_OK)
		return -12345.0f;
	float v = f[i];
	free(f);
	return v;
}

static void check_mixed(const char *path)
{
	struct sy_error err;
	struct safetensors *st;
	CHECKF(torch_ckpt_open(path, &err, &st) == SY_OK, "%s", err.msg);
	if (!st)
		return;
	CHECK_EQ_INT(st->n_tensors, 11);
	const struct st_tensor *t = safetensors_find(st, "f32");
	CHECK(t && t->dtype == ST_DTYPE_F32 && t->n_dims == 2 && t->shape[0] == 3 &&
	      t->shape[1] == 4);
	for (int i = 0; i < 12; i++)
		CHECK(f32_at(st, "f32", (size_t)i) == i * 0.5f);
	for (int i = 0; i < 6; i++)
		CHECK(f32_at(st, "f16", (size_t)i) == i * 0.25f);
	for (int i = 0; i < 5; i++)
		CHECK(f32_at(st, "bf16", (size_t)i) == i * 2.0f);
	for (int i = 0; i < 4; i++)
		CHECK(f32_at(st, "f64", (size_t)i) == i * 1.5f);
	for (int i = 0; i < 3; i++)
		CHECK(f32_at(st, "i64", (size_t)i) == (float)(i - 1));
	for (int i = 0; i < 7; i++)
		CHECK(f32_at(st, "i32", (size_t)i) == (float)i);
	for (int i = 0; i < 10; i++) {
		CHECK(f32_at(st, "tied_a", (size_t)i) == (float)i);
		CHECK(f32_at(st, "tied_b", (size_t)i) == (float)(10 + i));
	}
	/* arange(6).reshape(2,3).t() is [3,2]: row r holds r, r+3 */
	t = safetensors_find(st, "transposed");
	CHECK(t && t->shape[0] == 3 && t->shape[1] == 2);
	for (int r = 0; r < 3; r++)
		for (int c = 0; c < 2; c++)
			CHECK(f32_at(st, "transposed", (size_t)(r * 2 + c)) == (float)(r + 3 * c));
	CHECK(f32_at(st, "param", 1) == 3.0f);
	t = safetensors_find(st, "scalar");
	CHECK(t && t->n_dims == 0 && t->n_elems == 1 && f32_at(st, "scalar", 0) == 7.0f);
	safetensors_close(st);
}

static void test_mixed_stored(void)
{
	check_mixed("tests/torch_ckpt/mixed.bin");
}

static void test_mixed_deflated(void)
{
	check_mixed("tests/torch_ckpt/mixed-deflate.bin");
}

/* A temporary model directory: distilbert-tiny's files, with pytorch_model.bin instead of
 * model.safetensors. */
static char *make_pt_dir(void)
{
	char tmpl[] = "/tmp/sy_torchckpt_XXXXXX";
	char *dir = mkdtemp(tmpl);
	if (!dir)
		return NULL;
	static const char *const files[] = {"config.json", "special_tokens_map.json",
	                                    "tokenizer.json", "tokenizer_config.json", "vocab.txt"};
	char cwd[4096], src[8192], dst[8192];
	if (!getcwd(cwd, sizeof cwd))
		return NULL;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(src, sizeof src, "%s/tests/fixtures/distilbert-tiny/%s", cwd, files[i]);
		snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
		if (symlink(src, dst) != 0)
			return NULL;
	}
	snprintf(src, sizeof src, "%s/tests/torch_ckpt/distilbert-tiny.bin", cwd);
	snprintf(dst, sizeof dst, "%s/pytorch_model.bin", dir);
	if (symlink(src, dst) != 0)
		return NULL;
	return strdup(dir);
}

static void remove_pt_dir(char *dir)
{
	static const char *const files[] = {"config.json",    "special_tokens_map.json",
	                                    "tokenizer.json", "tokenizer_config.json",
	                                    "vocab.txt",      "pytorch_model.bin"};
	char p[8192];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
	free(dir);
}

static void test_distilbert_same_tensors(void)
{
	struct sy_error err;
	struct safetensors *a, *b;
	CHECKF(safetensors_open("tests/fixtures/distilbert-tiny/model.safetensors", &err, &a) ==
	           SY_OK,
	       "%s", err.msg);
	CHECKF(torch_ckpt_open("tests/torch_ckpt/distilbert-tiny.bin", &err, &b) == SY_OK, "%s",
	       err.msg);
	if (!a || !b) {
		safetensors_close(a);
		safetensors_close(b);
		return;
	}
	CHECK_EQ_INT(a->n_tensors, b->n_tensors);
	int same = 0;
	for (int i = 0; i < a->n_tensors; i++) {
		const struct st_tensor *x = &a->tensors[i], *y = safetensors_find(b, x->name);
		if (y && x->dtype == y->dtype && x->n_dims == y->n_dims &&
		    x->n_bytes == y->n_bytes && !memcmp(x->shape, y->shape, sizeof x->shape) &&
		    !memcmp(x->data, y->data, x->n_bytes))
			same++;
		else
			CHECKF(0, "tensor %s differs", x->name);
	}
	CHECK_EQ_INT(same, a->n_tensors);
	safetensors_close(a);
	safetensors_close(b);
}

static void test_distilbert_same_embeddings(void)
{
	char *dir = make_pt_dir();
	CHECK(dir != NULL);
	if (!dir)
		return;
	struct sy_error err;
	struct safetensors *st;
	const char *file = NULL;
	CHECKF(model_weights_open(dir, &err, &st, &file) == SY_OK, "%s", err.msg);
	CHECK(file && !strcmp(file, "pytorch_model.bin"));
	safetensors_close(st);
	struct model_options opts = model_default_options();
	opts.n_threads = 1;
	struct model *ea = NULL, *eb = NULL;
	CHECKF(model_open("tests/fixtures/distilbert-tiny", &opts, &err, &ea) == SY_OK, "%s",
	       err.msg);
	CHECKF(model_open(dir, &opts, &err, &eb) == SY_OK, "%s", err.msg);
	if (ea && eb) {
		const char *texts[] = {"hello world", "a checkpoint in another format"};
		size_t lens[] = {11, 30};
		int d = model_dims(ea);
		CHECK_EQ_INT(model_dims(eb), d);
		float *va = calloc((size_t)2 * d, sizeof(float)), *vb = calloc((size_t)2 * d, 4);
		CHECK(model_encode_texts(ea, texts, lens, 2, NULL, &err, va, NULL, NULL) == SY_OK);
		CHECK(model_encode_texts(eb, texts, lens, 2, NULL, &err, vb, NULL, NULL) == SY_OK);
		CHECK(memcmp(va, vb, (size_t)2 * d * sizeof(float)) == 0);
		free(va);
		free(vb);
	}
	model_close(ea);
	model_close(eb);
	remove_pt_dir(dir);
}

/* ---- hostile input ---- */

struct zbuf {
	unsigned char b[1 << 16];
	size_t n;
};

static void put(struct zbuf *z, const void *p, size_t n)
{
	memcpy(z->b + z->n, p, n);
	z->n += n;
}

static void put_le(struct zbuf *z, unsigned long long v, int w)
{
	for (int i = 0; i < w; i++)
		z->b[z->n++] = (unsigned char)(v >> (8 * i));
}

/* A stored zip archive of n entries. */
static void make_zip(struct zbuf *z, int n, const char *const *names, const char *const *data,
                     const size_t *lens)
{
	size_t off[8];
	z->n = 0;
	for (int i = 0; i < n; i++) {
		off[i] = z->n;
		put_le(z, 0x04034b50, 4);
		put_le(z, 20, 2);
		put_le(z, 0, 2);
		put_le(z, 0, 2);
		put_le(z, 0, 4);
		put_le(z, 0, 4);
		put_le(z, lens[i], 4);
		put_le(z, lens[i], 4);
		put_le(z, strlen(names[i]), 2);
		put_le(z, 0, 2);
		put(z, names[i], strlen(names[i]));
		put(z, data[i], lens[i]);
	}
	size_t cd = z->n;
	for (int i = 0; i < n; i++) {
		put_le(z, 0x02014b50, 4);
		put_le(z, 20, 2);
		put_le(z, 20, 2);
		put_le(z, 0, 2);
		put_le(z, 0, 2);
		put_le(z, 0, 4);
		put_le(z, 0, 4);
		put_le(z, lens[i], 4);
		put_le(z, lens[i], 4);
		put_le(z, strlen(names[i]), 2);
		put_le(z, 0, 2);
		put_le(z, 0, 2);
		put_le(z, 0, 2);
		put_le(z, 0, 2);
		put_le(z, 0, 4);
		put_le(z, off[i], 4);
		put(z, names[i], strlen(names[i]));
	}
	size_t cd_size = z->n - cd;
	put_le(z, 0x06054b50, 4);
	put_le(z, 0, 4);
	put_le(z, (unsigned)n, 2);
	put_le(z, (unsigned)n, 2);
	put_le(z, cd_size, 4);
	put_le(z, cd, 4);
	put_le(z, 0, 2);
}

/* Parses pkl (len bytes) as archive/data.pkl with one storage "0" of storage_bytes bytes;
 * returns the status and leaves the message in err. */
static enum sy_status parse_ckpt(const char *pkl, size_t len, size_t storage_bytes,
                                 struct sy_error *err)
{
	static struct zbuf z;
	static char storage[256];
	const char *names[] = {"archive/data.pkl", "archive/data/0", "archive/version"};
	const char *data[] = {pkl, storage, "3\n"};
	size_t lens[] = {len, storage_bytes, 2};
	make_zip(&z, 3, names, data, lens);
	struct safetensors *st = NULL;
	enum sy_status s = torch_ckpt_parse(z.b, z.n, "t.bin", err, &st);
	safetensors_close(st);
	return s;
}

#define PKL(lit) lit, sizeof(lit) - 1

/* {'w': _rebuild_tensor_v2(storage('0', FloatStorage, numel N), OFF, (2,3), (3,1), False, ())} */
#define TENSOR_PKL(numel, off)                                              \
	"\x80\x02}(X\x01\x00\x00\x00w"                                      \
	"ctorch._utils\n_rebuild_tensor_v2\n"                               \
	"((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" \
	"0"                                                                 \
	"X\x03\x00\x00\x00"                                                 \
	"cpuK" numel "tQK" off "K\x02K\x03\x86K\x03K\x01\x86\x89)tRu."

static void expect_refused(const char *pkl, size_t len, size_t storage, const char *needle)
{
	struct sy_error err = {0};
	enum sy_status s = parse_ckpt(pkl, len, storage, &err);
	CHECKF(s != SY_OK && strstr(err.msg, needle), "expected an error with \"%s\", got %d: %s",
	       needle, (int)s, err.msg);
}

static void test_hand_built_tensor_ok(void)
{
	struct sy_error err = {0};
	CHECKF(parse_ckpt(PKL(TENSOR_PKL("\x06", "\x00")), 24, &err) == SY_OK, "%s", err.msg);
	CHECKF(parse_ckpt(PKL(TENSOR_PKL("\x08", "\x02")), 32, &err) == SY_OK, "%s", err.msg);
}

static void test_refuses_bad_views(void)
{
	/* 6 elements needed, storage says 4 */
	expect_refused(PKL(TENSOR_PKL("\x04", "\x00")), 16, "storage of 4 elements");
	/* offset pushes the view past the storage */
	expect_refused(PKL(TENSOR_PKL("\x06", "\x01")), 24, "storage of 6 elements");
	/* storage claims 6 floats, the file holds 16 bytes */
	expect_refused(PKL(TENSOR_PKL("\x06", "\x00")), 16, "fewer than 6 elements");
}

static void test_refuses_globals(void)
{
	expect_refused(PKL("\x80\x02"
	                   "cos\nsystem\nX\x02\x00\x00\x00ls\x85R."),
	               0, "os.system");
	expect_refused(PKL("\x80\x02"
	                   "cbuiltins\neval\nX\x01\x00\x00\x00"
	                   "1\x85R."),
	               0, "builtins.eval");
	expect_refused(PKL("\x80\x04\x8c\x05posix\x8c\x06system\x93."), 0, "posix.system");
	expect_refused(PKL("\x80\x02"
	                   "ctorch\nFloatStorage\n)R."),
	               0, "cannot be called");
	expect_refused(PKL("\x80\x02"
	                   "ccollections\nOrderedDict\nK\x01\x85R."),
	               0, "only built empty");
	/* REDUCE of a non-global */
	expect_refused(PKL("\x80\x02K\x01)R."), 0, "REDUCE");
}

static void test_refuses_opcodes(void)
{
	expect_refused(PKL("\x80\x02(ios\nsystem\n."), 0, "opcode 0x69"); /* INST */
	expect_refused(PKL("\x80\x02"
	                   "ccollections\nOrderedDict\n)\x81."),
	               0, "0x81"); /* NEWOBJ */
	expect_refused(PKL("\x80\x02(o."), 0, "opcode 0x6f"); /* OBJ */
	expect_refused(PKL("\x80\x02]."), 0, "opcode 0x5d"); /* EMPTY_LIST */
	expect_refused(PKL("\x80\x02S'x'\n."), 0, "opcode 0x53"); /* STRING */
	expect_refused(PKL("\x80\x02K\x01."), 0, "not a state dict");
	expect_refused(PKL("\x80\x02}X\x01\x00\x00\x00kK\x01s."), 0, "entry k is not a tensor");
	expect_refused(PKL("\x80\x02}K\x01K\x01s."), 0, "not a string");
	/* a persistent id that is not a storage tuple */
	expect_refused(PKL("\x80\x02X\x02\x00\x00\x00hiQ."), 0, "persistent id");
}

static void test_refuses_limits(void)
{
	expect_refused(PKL("\x80\x02X\xff\xff\xff\x7f"), 0, "limit");
	expect_refused(PKL("\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\xff"), 0, "limit");
	expect_refused(PKL("\x80\x02X\x10\x00\x00\x00"
	                   "ab"),
	               0, "truncated");
	expect_refused(PKL("\x80\x02K\x01r\xff\xff\xff\x7f."), 0, "memo index");
	expect_refused(PKL("\x80\x02h\x05."), 0, "never stored");
	expect_refused(PKL("\x80\x02}"), 0, "without STOP");
	expect_refused(PKL("\x80\x02}s."), 0, "underflow");
	expect_refused(PKL("\x80\x02\x8a\x09"
	                   "123456789."),
	               0, "integer of 9 bytes");
	/* recursion bombs: nesting is a counter here, never C recursion */
	static char bomb[20000];
	memset(bomb, '(', sizeof bomb);
	expect_refused(bomb, sizeof bomb, 0, "nested MARKs");
	memset(bomb, ')', sizeof bomb);
	expect_refused(bomb, sizeof bomb, 0, "stack deeper");
	memset(bomb, 0x85, sizeof bomb); /* TUPLE1 on TUPLE1 ...: ((((),),),)... */
	bomb[0] = ')';
	bomb[sizeof bomb - 1] = '.';
	expect_refused(bomb, sizeof bomb, 0, "not a state dict");
}

static void test_refuses_bad_archives(void)
{
	struct sy_error err = {0};
	struct safetensors *st = NULL;
	CHECK(torch_ckpt_parse((const unsigned char *)"PK", 2, "x", &err, &st) != SY_OK);
	CHECK(strstr(err.msg, "not a zip") != NULL);
	static unsigned char buf[8192];
	FILE *f = fopen("tests/torch_ckpt/mixed.bin", "rb");
	size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
	if (f)
		fclose(f);
	CHECK(n > 100);
	/* truncated at every length: always an error, never a crash */
	int refused = 0;
	for (size_t cut = 0; cut < n; cut += 7) {
		if (torch_ckpt_parse(buf, cut, "x", &err, &st) != SY_OK)
			refused++;
		safetensors_close(st);
		st = NULL;
	}
	CHECK_EQ_INT(refused, (int)((n + 6) / 7));
	/* central directory offset pointing past the end */
	buf[n - 6] = 0xff;
	buf[n - 5] = 0xff;
	CHECK(torch_ckpt_parse(buf, n, "x", &err, &st) != SY_OK);
	CHECK(strstr(err.msg, "out of bounds") != NULL);
	/* no data.pkl */
	static struct zbuf z;
	const char *names[] = {"a/b"};
	const char *data[] = {"x"};
	size_t lens[] = {1};
	make_zip(&z, 1, names, data, lens);
	CHECK(torch_ckpt_parse(z.b, z.n, "x", &err, &st) != SY_OK);
	CHECK(strstr(err.msg, "data.pkl") != NULL);
}

int main(void)
{
	RUN(test_mixed_stored);
	RUN(test_mixed_deflated);
	RUN(test_distilbert_same_tensors);
	RUN(test_distilbert_same_embeddings);
	RUN(test_hand_built_tensor_ok);
	RUN(test_refuses_bad_views);
	RUN(test_refuses_globals);
	RUN(test_refuses_opcodes);
	RUN(test_refuses_limits);
	RUN(test_refuses_bad_archives);
	return harness_summary();
}
