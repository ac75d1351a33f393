/* safetensors reader: maps the file, parses the JSON header with cJSON and validates every
 * tensor entry before anything reads tensor data.
 *
 * The file is untrusted input. The checks, in order: the 8-byte header length fits in the file
 * (and under the 100 MB the format allows); the header is a JSON object; each entry other than
 * "__metadata__" is an object with a known dtype string, a shape of at most ST_MAX_DIMS
 * non-negative integers, and data_offsets [begin, end] with begin <= end <= size of the data
 * section and end - begin == product(shape) * sizeof(dtype), all computed with overflow checks.
 * Overlapping tensors are allowed (they are harmless for a reader); out-of-bounds ones never are. */
#include "model/formats/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tensor/ops.h"

#define ST_MAX_HEADER_LEN (100u << 20)

static const struct {
	const char *name;
	enum st_dtype dtype;
	size_t size;
} st_dtypes[] = {
    {"F32", ST_DTYPE_F32, 4},   {"F16", ST_DTYPE_F16, 2},         {"BF16", ST_DTYPE_BF16, 2},
    {"F64", ST_DTYPE_F64, 8},   {"I32", ST_DTYPE_I32, 4},         {"I64", ST_DTYPE_I64, 8},
    {"I16", ST_DTYPE_I16, 2},   {"I8", ST_DTYPE_I8, 1},           {"U8", ST_DTYPE_U8, 1},
    {"U16", ST_DTYPE_U16, 2},   {"U32", ST_DTYPE_U32, 4},         {"U64", ST_DTYPE_U64, 8},
    {"BOOL", ST_DTYPE_BOOL, 1}, {"F8_E4M3", ST_DTYPE_F8_E4M3, 1}, {"F8_E5M2", ST_DTYPE_F8_E5M2, 1},
};

#define N_DTYPES (sizeof st_dtypes / sizeof st_dtypes[0])

const char *st_dtype_name(enum st_dtype d)
{
	for (size_t i = 0; i < N_DTYPES; i++)
		if (st_dtypes[i].dtype == d)
			return st_dtypes[i].name;
	return "?";
}

size_t st_dtype_size(enum st_dtype d)
{
	for (size_t i = 0; i < N_DTYPES; i++)
		if (st_dtypes[i].dtype == d)
			return st_dtypes[i].size;
	return 0;
}

static int st_dtype_parse(const char *s, enum st_dtype *out)
{
	for (size_t i = 0; i < N_DTYPES; i++)
		if (!strcmp(st_dtypes[i].name, s)) {
			*out = st_dtypes[i].dtype;
			return 0;
		}
	return -1;
}

void st_shape_format(const int64_t *shape, int n_dims, char *buf, size_t cap)
{
	size_t n = 0;
	if (cap == 0)
		return;
	buf[0] = '\0';
	n += (size_t)snprintf(buf + n, cap - n, "[");
	for (int i = 0; i < n_dims && n < cap; i++)
		n +=
		    (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)shape[i]);
	if (n < cap)
		snprintf(buf + n, cap - n, "]");
}

/* A JSON number that is a non-negative integer below 2^53 (exactly representable). */
static int json_uint(const cJSON *v, uint64_t *out)
{
	if (!cJSON_IsNumber(v))
		return -1;
	double d = v->valuedouble;
	if (!(d >= 0) || d > 9007199254740992.0 || floor(d) != d)
		return -1;
	*out = (uint64_t)d;
	return 0;
}

void safetensors_close(struct safetensors *st)
{
	if (!st)
		return;
	sy_strmap_free(&st->index);
	free(st->tensors);
	free(st->names);
	for (int i = 0; i < st->n_owned; i++)
		free(st->owned[i]);
	free(st->owned);
	free(st->path);
	sy_mmap_close(&st->map);
	free(st);
}

/* Validates one header entry and fills t (except name). */
static enum sy_status parse_entry(const struct safetensors *st, const cJSON *e,
                                  const unsigned char *data, size_t data_len, struct sy_error *err,
                                  struct st_tensor *t)
{
	const char *name = e->string;
	if (!cJSON_IsObject(e))
		return sy_error_set(err, SY_ERR_FORMAT, "%s: tensor %s: expected an object",
		                    st->path, name);
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
	const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
	const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
	if (!cJSON_IsString(dt))
		return sy_error_set(err, SY_ERR_FORMAT, "%s: tensor %s: dtype: expected a string",
		                    st->path, name);
	if (st_dtype_parse(dt->valuestring, &t->dtype) != 0)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: tensor %s: unknown dtype \"%.32s\"",
		                    st->path, name, dt->valuestring);
	if (!cJSON_IsArray(shape))
		return sy_error_set(err, SY_ERR_FORMAT, "%s: tensor %s: shape: expected an array",
		                    st->path, name);
	int nd = cJSON_GetArraySize(shape);
	if (nd > ST_MAX_DIMS)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: tensor %s: %d dimensions (max %d)", st->path, name, nd,
		                    ST_MAX_DIMS);
	t->n_dims = nd;
	size_t n_elems = 1;
	int i = 0;
	const cJSON *d;
	cJSON_ArrayForEach(d, shape)
	{
		uint64_t v;
		if (json_uint(d, &v) != 0)
			return sy_error_set(
			    err, SY_ERR_FORMAT,
			    "%s: tensor %s: shape[%d]: expected a non-negative integer", st->path,
			    name, i);
		t->shape[i++] = (int64_t)v;
		if (__builtin_mul_overflow(n_elems, (size_t)v, &n_elems))
			return sy_error_set(err, SY_ERR_FORMAT, "%s: tensor %s: shape overflows",
			                    st->path, name);
	}
	t->n_elems = n_elems;
	uint64_t begin, end;
	if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
	    json_uint(cJSON_GetArrayItem(offs, 0), &begin) != 0 ||
	    json_uint(cJSON_GetArrayItem(offs, 1), &end) != 0)
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: tensor %s: data_offsets: expected [begin, end] integers",
		                    st->path, name);
	if (begin > end)
		return sy_error_set(
		    err, SY_ERR_FORMAT, "%s: tensor %s: data_offsets [%llu, %llu]: begin after end",
		    st->path, name, (unsigned long long)begin, (unsigned long long)end);
	if (end > data_len)
		return sy_error_set(
		    err, SY_ERR_FORMAT,
		    "%s: tensor %s: data_offsets [%llu, %llu] past the end of the data "
		    "(%zu bytes; file truncated?)",
		    st->path, name, (unsigned long long)begin, (unsigned long long)end, data_len);
	size_t want;
	if (__builtin_mul_overflow(n_elems, st_dtype_size(t->dtype), &want) ||
	    want != end - begin) {
		char sb[128];
		st_shape_format(t->shape, t->n_dims, sb, sizeof sb);
		return sy_error_set(
		    err, SY_ERR_FORMAT,
		    "%s: tensor %s: %s %s needs %zu bytes but data_offsets give %llu", st->path,
		    name, dt->valuestring, sb, n_elems * st_dtype_size(t->dtype),
		    (unsigned long long)(end - begin));
	}
	t->data = data ? data + begin : NULL;
	t->n_bytes = (size_t)(end - begin);
	return SY_OK;
}

static int by_data(const void *a, const void *b)
{
	const struct st_tensor *x = *(const struct st_tensor *const *)a;
	const struct st_tensor *y = *(const struct st_tensor *const *)b;
	return x->data < y->data ? -1 : x->data > y->data;
}

/* Tensors whose byte ranges overlap: one write would show in another, and a crafted file could
 * alias a tensor the model expects to be separate. Refused (empty tensors take no room). */
static enum sy_status check_overlaps(struct safetensors *st, struct sy_error *err)
{
	if (st->n_tensors < 2)
		return SY_OK;
	const struct st_tensor **v = malloc((size_t)st->n_tensors * sizeof *v);
	if (!v)
		return sy_error_set(err, SY_ERR_NOMEM, "%s: out of memory", st->path);
	int n = 0;
	for (int i = 0; i < st->n_tensors; i++)
		if (st->tensors[i].n_bytes)
			v[n++] = &st->tensors[i];
	qsort(v, (size_t)n, sizeof *v, by_data);
	enum sy_status s = SY_OK;
	for (int i = 1; i < n && s == SY_OK; i++)
		if (v[i]->data < v[i - 1]->data + v[i - 1]->n_bytes)
			s = sy_error_set(err, SY_ERR_FORMAT,
			                 "%s: tensors %s and %s have overlapping data_offsets",
			                 st->path, v[i - 1]->name, v[i]->name);
	free(v);
	return s;
}

static enum sy_status parse_header(struct safetensors *st, const unsigned char *data, size_t len,
                                   struct sy_error *err)
{
	if (len < 8)
		return sy_error_set(
		    err, SY_ERR_FORMAT,
		    "%s: truncated: %zu bytes, too short for the 8-byte header length", st->path,
		    len);
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | data[i];
	if (hlen > len - 8)
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: header length %llu past the end of the file (%zu bytes; "
		                    "truncated or not safetensors)",
		                    st->path, (unsigned long long)hlen, len);
	if (hlen > ST_MAX_HEADER_LEN)
		return sy_error_set(err, SY_ERR_LIMIT,
		                    "%s: header length %llu over the 100 MB limit", st->path,
		                    (unsigned long long)hlen);
	const char *hdr = (const char *)data + 8;
	const unsigned char *body = data + 8 + hlen;
	size_t body_len = len - 8 - (size_t)hlen;
	/* No error position in the message: cJSON_GetErrorPtr is a process-wide global, and another
	 * thread may be parsing at the same time. */
	cJSON *root = cJSON_ParseWithLength(hdr, (size_t)hlen);
	if (!root)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: header is not valid JSON", st->path);
	enum sy_status s = SY_OK;
	if (!cJSON_IsObject(root)) {
		s = sy_error_set(err, SY_ERR_FORMAT, "%s: header: expected a JSON object",
		                 st->path);
		goto out;
	}
	int n = 0;
	size_t names_len = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, root)
	{
		if (!e->string) {
			s = sy_error_set(err, SY_ERR_FORMAT, "%s: header: entry without a name",
			                 st->path);
			goto out;
		}
		if (!strcmp(e->string, "__metadata__"))
			continue;
		n++;
		names_len += strlen(e->string) + 1;
	}
	st->tensors = calloc(n ? (size_t)n : 1, sizeof *st->tensors);
	st->names = malloc(names_len ? names_len : 1);
	if (!st->tensors || !st->names) {
		s = sy_error_set(err, SY_ERR_NOMEM, "%s: out of memory", st->path);
		goto out;
	}
	char *np = st->names;
	cJSON_ArrayForEach(e, root)
	{
		if (!strcmp(e->string, "__metadata__"))
			continue;
		struct st_tensor *t = &st->tensors[st->n_tensors];
		s = parse_entry(st, e, body, body_len, err, t);
		if (s != SY_OK)
			goto out;
		size_t nl = strlen(e->string);
		memcpy(np, e->string, nl + 1);
		t->name = np;
		np += nl + 1;
		if (sy_strmap_get(&st->index, t->name, nl) >= 0) {
			s = sy_error_set(err, SY_ERR_FORMAT, "%s: tensor %s appears twice",
			                 st->path, t->name);
			goto out;
		}
		if (sy_strmap_put(&st->index, t->name, nl, st->n_tensors) != 0) {
			s = sy_error_set(err, SY_ERR_NOMEM, "%s: out of memory", st->path);
			goto out;
		}
		st->n_tensors++;
	}
	s = check_overlaps(st, err);
out:
	cJSON_Delete(root);
	return s;
}

enum sy_status safetensors_parse(const unsigned char *data, size_t len, const char *name,
                                 struct sy_error *err, struct safetensors **out)
{
	*out = NULL;
	struct safetensors *st = calloc(1, sizeof *st);
	if (!st)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	sy_strmap_init(&st->index);
	st->path = strdup(name ? name : "safetensors");
	if (!st->path) {
		safetensors_close(st);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	enum sy_status s = parse_header(st, data, len, err);
	if (s != SY_OK) {
		safetensors_close(st);
		return s;
	}
	*out = st;
	return SY_OK;
}

enum sy_status safetensors_open(const char *path, struct sy_error *err, struct safetensors **out)
{
	*out = NULL;
	struct sy_mmap map;
	enum sy_status s = sy_mmap_open(path, err, &map);
	if (s != SY_OK)
		return s;
	s = safetensors_parse(map.data, map.len, path, err, out);
	if (s != SY_OK) {
		sy_mmap_close(&map);
		return s;
	}
	(*out)->map = map;
	return SY_OK;
}

const struct st_tensor *safetensors_find(const struct safetensors *st, const char *name)
{
	int32_t i = sy_strmap_get(&st->index, name, strlen(name));
	return i >= 0 ? &st->tensors[i] : NULL;
}

enum sy_status safetensors_get(const struct safetensors *st, const char *name, int n_dims,
                               const int64_t *shape, struct sy_error *err,
                               const struct st_tensor **out)
{
	*out = NULL;
	const struct st_tensor *t = safetensors_find(st, name);
	if (!t)
		return sy_error_set(err, SY_ERR_NOT_FOUND, "%s: tensor %s not found", st->path,
		                    name);
	int ok = t->n_dims == n_dims;
	for (int i = 0; ok && i < n_dims; i++)
		ok = shape[i] < 0 || shape[i] == t->shape[i];
	if (!ok) {
		char want[160], got[160];
		st_shape_format(shape, n_dims, want, sizeof want);
		st_shape_format(t->shape, t->n_dims, got, sizeof got);
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: tensor %s: expected shape %s, found %s", st->path, name,
		                    want, got);
	}
	*out = t;
	return SY_OK;
}

void safetensors_release(const struct safetensors *st, const struct st_tensor *t)
{
	sy_mmap_release(&st->map, t->data, t->n_bytes);
}

enum sy_status safetensors_tensor_read_f32(const struct st_tensor *t, struct sy_error *err,
                                           float *dst)
{
	size_t n = t->n_elems;
	const unsigned char *p = t->data;
	switch (t->dtype) {
	case ST_DTYPE_F32:
		if (n)
			memcpy(dst, p, n * 4);
		return SY_OK;
	case ST_DTYPE_F16:
	case ST_DTYPE_BF16: {
		/* Convert in chunks through an aligned buffer: the data may be unaligned. */
		unsigned short buf[1024];
		for (size_t i = 0; i < n; i += 1024) {
			size_t c = n - i < 1024 ? n - i : 1024;
			memcpy(buf, p + 2 * i, 2 * c);
			if (t->dtype == ST_DTYPE_F16)
				f16_to_f32(dst + i, buf, c);
			else
				bf16_to_f32(dst + i, buf, c);
		}
		return SY_OK;
	}
	case ST_DTYPE_F64:
		for (size_t i = 0; i < n; i++) {
			double v;
			memcpy(&v, p + 8 * i, 8);
			dst[i] = (float)v;
		}
		return SY_OK;
	case ST_DTYPE_I32:
		for (size_t i = 0; i < n; i++) {
			int32_t v;
			memcpy(&v, p + 4 * i, 4);
			dst[i] = (float)v;
		}
		return SY_OK;
	case ST_DTYPE_I64:
		for (size_t i = 0; i < n; i++) {
			int64_t v;
			memcpy(&v, p + 8 * i, 8);
			dst[i] = (float)v;
		}
		return SY_OK;
	default:
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "tensor %s: dtype %s cannot be read as float32", t->name,
		                    st_dtype_name(t->dtype));
	}
}

enum sy_status safetensors_tensor_to_f32(const struct st_tensor *t, struct sy_error *err,
                                         float **out)
{
	*out = NULL;
	float *dst = malloc(t->n_elems ? t->n_elems * sizeof(float) : 1);
	if (!dst)
		return sy_error_set(err, SY_ERR_NOMEM, "tensor %s: out of memory (%zu floats)",
		                    t->name, t->n_elems);
	enum sy_status s = safetensors_tensor_read_f32(t, err, dst);
	if (s != SY_OK) {
		free(dst);
		return s;
	}
	*out = dst;
	return SY_OK;
}

enum sy_status safetensors_read_f32(const struct safetensors *st, const char *name, int n_dims,
                                    const int64_t *shape, struct sy_error *err, float **out)
{
	*out = NULL;
	const struct st_tensor *t;
	enum sy_status s = safetensors_get(st, name, n_dims, shape, err, &t);
	if (s != SY_OK)
		return s;
	return safetensors_tensor_to_f32(t, err, out);
}
