/* TensorFlow.js weights: manifest parsing, shard reading, dequantising lookups (see tfjs.h). */
#include "model/formats/tfjs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "base/file.h"
#include "tensor/ops.h"

const char *tfjs_dtype_name(enum tfjs_dtype d)
{
	switch (d) {
	case TFJS_DTYPE_FLOAT32: return "float32";
	case TFJS_DTYPE_INT32: return "int32";
	case TFJS_DTYPE_BOOL: return "bool";
	case TFJS_DTYPE_COMPLEX64: return "complex64";
	case TFJS_DTYPE_STRING: return "string";
	case TFJS_DTYPE_UINT8: return "uint8";
	case TFJS_DTYPE_UINT16: return "uint16";
	case TFJS_DTYPE_FLOAT16: return "float16";
	}
	return "?";
}

/* Parses a dtype name; returns -1 when unknown. */
static int dtype_parse(const char *s)
{
	static const enum tfjs_dtype all[] = {
	    TFJS_DTYPE_FLOAT32, TFJS_DTYPE_INT32, TFJS_DTYPE_BOOL,   TFJS_DTYPE_COMPLEX64,
	    TFJS_DTYPE_STRING,  TFJS_DTYPE_UINT8, TFJS_DTYPE_UINT16, TFJS_DTYPE_FLOAT16,
	};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (!strcmp(s, tfjs_dtype_name(all[i])))
			return (int)all[i];
	return -1;
}

/* Bytes per element of a fixed-size storage type (0 for string). */
static size_t dtype_size(enum tfjs_dtype d)
{
	switch (d) {
	case TFJS_DTYPE_FLOAT32:
	case TFJS_DTYPE_INT32: return 4;
	case TFJS_DTYPE_BOOL:
	case TFJS_DTYPE_UINT8: return 1;
	case TFJS_DTYPE_UINT16:
	case TFJS_DTYPE_FLOAT16: return 2;
	case TFJS_DTYPE_COMPLEX64: return 8;
	case TFJS_DTYPE_STRING: return 0;
	}
	return 0;
}

void tfjs_weights_free(struct tfjs_weights *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->n_tensors; i++)
		free(w->names[i]);
	free(w->names);
	free(w->tensors);
	sy_strmap_free(&w->index);
	for (int g = 0; g < w->n_groups; g++)
		free(w->groups[g]);
	free(w->groups);
	free(w->path);
	free(w);
}

/* Shard paths are relative to model.json; an absolute path or a ".." component could reach
 * files outside the model directory, which a model file has no business naming. */
static int shard_path_ok(const char *p)
{
	if (!*p || p[0] == '/')
		return 0;
	for (const char *s = p; *s;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return 0;
		s += n;
		if (*s == '/')
			s++;
	}
	return 1;
}

/* Reads the shards of group gi into one buffer. */
static enum sy_status read_group(const cJSON *paths, int gi, const char *dir, const char *what,
                                 struct sy_error *err, unsigned char **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	int n = cJSON_GetArraySize(paths);
	size_t *sizes = calloc(n ? (size_t)n : 1, sizeof *sizes);
	if (!sizes)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	size_t total = 0;
	/* Sizes first, so the buffer is allocated once and a missing shard is reported before any
	 * large read. */
	for (int i = 0; i < n; i++) {
		const cJSON *p = cJSON_GetArrayItem(paths, i);
		if (!cJSON_IsString(p) || !shard_path_ok(p->valuestring)) {
			free(sizes);
			return sy_error_set(
			    err, SY_ERR_FORMAT,
			    "%s: weightsManifest[%d].paths[%d]: expected a relative "
			    "file name inside the model directory",
			    what, gi, i);
		}
		char *full = sy_path_join(dir, p->valuestring);
		struct stat st;
		int rc = full ? stat(full, &st) : -1;
		int e = full ? errno : ENOMEM;
		free(full);
		if (rc != 0 || !S_ISREG(st.st_mode)) {
			free(sizes);
			return sy_error_set(
			    err, SY_ERR_IO, "%s: weightsManifest[%d].paths[%d]: shard %s: %s", what,
			    gi, i, p->valuestring, rc ? strerror(e) : "not a regular file");
		}
		sizes[i] = (size_t)st.st_size;
		total += sizes[i];
	}
	unsigned char *buf = malloc(total ? total : 1);
	if (!buf) {
		free(sizes);
		return sy_error_set(err, SY_ERR_NOMEM, "%s: out of memory for %zu bytes of weights",
		                    what, total);
	}
	size_t off = 0;
	enum sy_status s = SY_OK;
	for (int i = 0; i < n && s == SY_OK; i++) {
		const char *name = cJSON_GetArrayItem(paths, i)->valuestring;
		char *full = sy_path_join(dir, name);
		FILE *f = full ? fopen(full, "rb") : NULL;
		int e = full ? errno : ENOMEM;
		free(full);
		if (!f) {
			s = sy_error_set(err, SY_ERR_IO, "%s: shard %s: %s", what, name,
			                 strerror(e));
			break;
		}
		size_t got = fread(buf + off, 1, sizes[i], f);
		/* A shard that changed size since the stat would misplace every later tensor. */
		if (got != sizes[i] || fgetc(f) != EOF)
			s = sy_error_set(err, SY_ERR_IO, "%s: shard %s changed while being read",
			                 what, name);
		fclose(f);
		off += got;
	}
	free(sizes);
	if (s != SY_OK) {
		free(buf);
		return s;
	}
	*out = buf;
	*out_len = total;
	return SY_OK;
}

/* Name of the last shard of a group, for messages about missing bytes. */
static const char *last_shard(const cJSON *paths)
{
	int n = cJSON_GetArraySize(paths);
	const cJSON *p = n > 0 ? cJSON_GetArrayItem(paths, n - 1) : NULL;
	return cJSON_IsString(p) ? p->valuestring : "(none)";
}

/* Parses weight entry j of group gi (fields only; data placement is done by the caller). */
static enum sy_status parse_entry(const cJSON *e, int gi, int j, const char *what,
                                  struct sy_error *err, struct tfjs_tensor *t, const char **name)
{
	memset(t, 0, sizeof *t);
	if (!cJSON_IsObject(e))
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: weightsManifest[%d].weights[%d]: expected an object", what,
		                    gi, j);
	const cJSON *jn = cJSON_GetObjectItemCaseSensitive(e, "name");
	if (!cJSON_IsString(jn))
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: weightsManifest[%d].weights[%d].name: expected a string",
		                    what, gi, j);
	*name = jn->valuestring;
	const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
	if (!cJSON_IsArray(js) || cJSON_GetArraySize(js) > TFJS_MAX_DIMS)
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: weight %s: shape: expected an array of at most %d sizes",
		                    what, *name, TFJS_MAX_DIMS);
	t->n_dims = cJSON_GetArraySize(js);
	t->n_elems = 1;
	for (int d = 0; d < t->n_dims; d++) {
		const cJSON *v = cJSON_GetArrayItem(js, d);
		double x = cJSON_IsNumber(v) ? v->valuedouble : -1;
		if (!(x >= 0 && x <= 4294967296.0 && x == floor(x)))
			return sy_error_set(
			    err, SY_ERR_FORMAT,
			    "%s: weight %s: shape[%d]: expected a non-negative integer", what,
			    *name, d);
		t->shape[d] = (int64_t)x;
		if (t->shape[d] != 0 && t->n_elems > SIZE_MAX / 16 / (size_t)t->shape[d])
			return sy_error_set(err, SY_ERR_LIMIT, "%s: weight %s: shape too large",
			                    what, *name);
		t->n_elems *= (size_t)t->shape[d];
	}
	const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
	int dt = cJSON_IsString(jd) ? dtype_parse(jd->valuestring) : -1;
	if (dt < 0 || dt >= TFJS_DTYPE_UINT8)
		return sy_error_set(
		    err, cJSON_IsString(jd) ? SY_ERR_UNSUPPORTED : SY_ERR_FORMAT,
		    "%s: weight %s: dtype: expected float32, int32, bool, complex64 "
		    "or string, got %s",
		    what, *name, cJSON_IsString(jd) ? jd->valuestring : "no string");
	t->dtype = (enum tfjs_dtype)dt;
	t->stored = t->dtype;
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(e, "quantization");
	if (!q || cJSON_IsNull(q))
		return SY_OK;
	if (!cJSON_IsObject(q))
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: weight %s: quantization: expected an object", what, *name);
	const cJSON *qd = cJSON_GetObjectItemCaseSensitive(q, "dtype");
	int qt = cJSON_IsString(qd) ? dtype_parse(qd->valuestring) : -1;
	if (qt != TFJS_DTYPE_UINT8 && qt != TFJS_DTYPE_UINT16 && qt != TFJS_DTYPE_FLOAT16)
		return sy_error_set(err, cJSON_IsString(qd) ? SY_ERR_UNSUPPORTED : SY_ERR_FORMAT,
		                    "%s: weight %s: quantization.dtype: expected uint8, uint16 or "
		                    "float16, got %s",
		                    what, *name,
		                    cJSON_IsString(qd) ? qd->valuestring : "no string");
	t->stored = (enum tfjs_dtype)qt;
	const cJSON *od = cJSON_GetObjectItemCaseSensitive(q, "original_dtype");
	if (od && !cJSON_IsString(od))
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: weight %s: quantization.original_dtype: expected a string",
		                    what, *name);
	if (qt == TFJS_DTYPE_FLOAT16) {
		if (t->dtype != TFJS_DTYPE_FLOAT32)
			return sy_error_set(
			    err, SY_ERR_UNSUPPORTED,
			    "%s: weight %s: float16 quantisation of a %s tensor (only "
			    "float32 can be)",
			    what, *name, tfjs_dtype_name(t->dtype));
		return SY_OK;
	}
	if (t->dtype != TFJS_DTYPE_FLOAT32 && t->dtype != TFJS_DTYPE_INT32)
		return sy_error_set(
		    err, SY_ERR_UNSUPPORTED,
		    "%s: weight %s: %s quantisation of a %s tensor (only float32 and "
		    "int32 can be)",
		    what, *name, tfjs_dtype_name(t->stored), tfjs_dtype_name(t->dtype));
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(q, "scale");
	const cJSON *mn = cJSON_GetObjectItemCaseSensitive(q, "min");
	if (!cJSON_IsNumber(sc) || !cJSON_IsNumber(mn) || !isfinite(sc->valuedouble) ||
	    !isfinite(mn->valuedouble))
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: weight %s: quantization: %s needs numbers scale and min",
		                    what, *name, tfjs_dtype_name(t->stored));
	t->scale = sc->valuedouble;
	t->min = mn->valuedouble;
	return SY_OK;
}

/* Byte length of entry t starting at data[off], given the group holds len bytes. String
 * tensors are self-delimiting (a 4-byte length before each element), so they are walked. */
static enum sy_status entry_bytes(const struct tfjs_tensor *t, const char *name,
                                  const unsigned char *data, size_t off, size_t len,
                                  const char *shard, const char *what, struct sy_error *err,
                                  size_t *out)
{
	size_t es = dtype_size(t->stored);
	if (es) {
		*out = t->n_elems * es;
		return SY_OK;
	}
	size_t n = 0;
	for (size_t i = 0; i < t->n_elems; i++) {
		if (off + n + 4 > len)
			break;
		uint32_t sl;
		memcpy(&sl, data + off + n, 4);
		n += 4 + (size_t)sl;
		if (n > len - off)
			break;
		if (i + 1 == t->n_elems) {
			*out = n;
			return SY_OK;
		}
	}
	if (t->n_elems == 0) {
		*out = 0;
		return SY_OK;
	}
	return sy_error_set(err, SY_ERR_FORMAT,
	                    "%s: weight %s: string data runs past the end of the shards (is %s "
	                    "short?)",
	                    what, name, shard);
}

enum sy_status tfjs_weights_load(const cJSON *root, const char *dir, const char *what,
                                 struct sy_error *err, struct tfjs_weights **out)
{
	*out = NULL;
	const cJSON *man =
	    cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "weightsManifest") : NULL;
	if (!cJSON_IsArray(man))
		return sy_error_set(err, SY_ERR_FORMAT, "%s: weightsManifest: expected an array",
		                    what);
	struct tfjs_weights *w = calloc(1, sizeof *w);
	if (!w)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	sy_strmap_init(&w->index);
	w->path = strdup(what);
	int n_groups = cJSON_GetArraySize(man);
	size_t n_entries = 0;
	for (int g = 0; g < n_groups; g++) {
		const cJSON *grp = cJSON_GetArrayItem(man, g);
		const cJSON *ws = cJSON_GetObjectItemCaseSensitive(grp, "weights");
		const cJSON *ps = cJSON_GetObjectItemCaseSensitive(grp, "paths");
		if (!cJSON_IsObject(grp) || !cJSON_IsArray(ws) || !cJSON_IsArray(ps)) {
			tfjs_weights_free(w);
			return sy_error_set(
			    err, SY_ERR_FORMAT,
			    "%s: weightsManifest[%d]: expected an object with arrays "
			    "paths and weights",
			    what, g);
		}
		n_entries += (size_t)cJSON_GetArraySize(ws);
	}
	w->tensors = calloc(n_entries ? n_entries : 1, sizeof *w->tensors);
	w->names = calloc(n_entries ? n_entries : 1, sizeof *w->names);
	w->groups = calloc(n_groups > 0 ? (size_t)n_groups : 1, sizeof *w->groups);
	if (!w->path || !w->tensors || !w->names || !w->groups) {
		tfjs_weights_free(w);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	enum sy_status s = SY_OK;
	for (int g = 0; g < n_groups && s == SY_OK; g++) {
		const cJSON *grp = cJSON_GetArrayItem(man, g);
		const cJSON *ws = cJSON_GetObjectItemCaseSensitive(grp, "weights");
		const cJSON *ps = cJSON_GetObjectItemCaseSensitive(grp, "paths");
		size_t len;
		s = read_group(ps, g, dir, what, err, &w->groups[g], &len);
		if (s != SY_OK)
			break;
		w->n_groups = g + 1;
		w->total_bytes += len;
		const unsigned char *data = w->groups[g];
		size_t off = 0;
		int n = cJSON_GetArraySize(ws);
		for (int j = 0; j < n && s == SY_OK; j++) {
			struct tfjs_tensor *t = &w->tensors[w->n_tensors];
			const char *name = NULL;
			s = parse_entry(cJSON_GetArrayItem(ws, j), g, j, what, err, t, &name);
			size_t nb = 0;
			if (s == SY_OK)
				s = entry_bytes(t, name, data, off, len, last_shard(ps), what, err,
				                &nb);
			if (s != SY_OK)
				break;
			if (nb > len - off) {
				s = sy_error_set(err, SY_ERR_FORMAT,
				                 "%s: weightsManifest[%d]: weight %s needs bytes "
				                 "[%zu, %zu) but the shards hold only %zu (is %s "
				                 "short?)",
				                 what, g, name, off, off + nb, len, last_shard(ps));
				break;
			}
			w->names[w->n_tensors] = strdup(name);
			if (!w->names[w->n_tensors] ||
			    sy_strmap_put(&w->index, name, strlen(name), w->n_tensors) != 0) {
				s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
				break;
			}
			t->name = w->names[w->n_tensors];
			t->data = data + off;
			t->n_bytes = nb;
			off += nb;
			w->n_tensors++;
		}
		if (s == SY_OK && off != len)
			s = sy_error_set(
			    err, SY_ERR_FORMAT,
			    "%s: weightsManifest[%d]: the shards hold %zu bytes but the "
			    "weights use %zu",
			    what, g, len, off);
	}
	if (s != SY_OK) {
		tfjs_weights_free(w);
		return s;
	}
	*out = w;
	return SY_OK;
}

enum sy_status tfjs_weights_open(const char *model_json, struct sy_error *err,
                                 struct tfjs_weights **out)
{
	*out = NULL;
	char *text;
	size_t len;
	enum sy_status s = sy_file_read(model_json, err, &text, &len);
	if (s != SY_OK)
		return s;
	cJSON *root = cJSON_ParseWithLength(text, len);
	free(text);
	if (!root)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: not valid JSON", model_json);
	/* Shards are relative to the directory of model.json. */
	char *dir = strdup(model_json);
	if (!dir) {
		cJSON_Delete(root);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	char *slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	s = tfjs_weights_load(root, slash ? dir : ".", model_json, err, out);
	free(dir);
	cJSON_Delete(root);
	return s;
}

const struct tfjs_tensor *tfjs_weights_find(const struct tfjs_weights *w, const char *name)
{
	int32_t i = sy_strmap_get(&w->index, name, strlen(name));
	return i < 0 ? NULL : &w->tensors[i];
}

static void shape_str(char *buf, size_t cap, int n, const int64_t *shape)
{
	size_t k = (size_t)snprintf(buf, cap, "[");
	for (int d = 0; d < n && k < cap; d++)
		k +=
		    (size_t)snprintf(buf + k, cap - k, "%s%lld", d ? "," : "", (long long)shape[d]);
	if (k < cap)
		snprintf(buf + k, cap - k, "]");
}

/* Finds name and checks its dtype and shape. */
static enum sy_status lookup(const struct tfjs_weights *w, const char *name, enum tfjs_dtype dt,
                             int n_dims, const int64_t *shape, struct sy_error *err,
                             const struct tfjs_tensor **out)
{
	const struct tfjs_tensor *t = tfjs_weights_find(w, name);
	*out = t;
	if (!t)
		return sy_error_set(err, SY_ERR_NOT_FOUND, "%s: no weight named %s", w->path, name);
	if (t->dtype != dt)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: weight %s is %s, expected %s", w->path,
		                    name, tfjs_dtype_name(t->dtype), tfjs_dtype_name(dt));
	int same = t->n_dims == n_dims;
	for (int d = 0; same && d < n_dims; d++)
		same = t->shape[d] == shape[d];
	if (!same) {
		char have[128], want[128];
		shape_str(have, sizeof have, t->n_dims, t->shape);
		shape_str(want, sizeof want, n_dims, shape);
		return sy_error_set(err, SY_ERR_FORMAT, "%s: weight %s has shape %s, expected %s",
		                    w->path, name, have, want);
	}
	return SY_OK;
}

/* Element i of a uint8/uint16 quantised tensor, dequantised in double as tfjs-core does. */
static double quantised(const struct tfjs_tensor *t, size_t i)
{
	if (t->stored == TFJS_DTYPE_UINT8)
		return t->data[i] * t->scale + t->min;
	uint16_t q;
	memcpy(&q, t->data + 2 * i, 2);
	return q * t->scale + t->min;
}

enum sy_status tfjs_weights_f32(const struct tfjs_weights *w, const char *name, int n_dims,
                                const int64_t *shape, struct sy_error *err, float **out)
{
	*out = NULL;
	const struct tfjs_tensor *t;
	enum sy_status s = lookup(w, name, TFJS_DTYPE_FLOAT32, n_dims, shape, err, &t);
	if (s != SY_OK)
		return s;
	size_t n = t->n_elems;
	float *v = malloc((n ? n : 1) * sizeof *v);
	if (!v)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory for weight %s", name);
	if (t->stored == TFJS_DTYPE_FLOAT32) {
		memcpy(v, t->data, n * sizeof *v);
	} else if (t->stored == TFJS_DTYPE_FLOAT16) {
		/* The shard bytes may be unaligned; the converter reads aligned uint16. */
		unsigned short *h = malloc((n ? n : 1) * sizeof *h);
		if (!h) {
			free(v);
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory for weight %s", name);
		}
		memcpy(h, t->data, n * sizeof *h);
		f16_to_f32(v, h, n);
		free(h);
	} else {
		for (size_t i = 0; i < n; i++)
			v[i] = (float)quantised(t, i);
	}
	*out = v;
	return SY_OK;
}

enum sy_status tfjs_weights_i32(const struct tfjs_weights *w, const char *name, int n_dims,
                                const int64_t *shape, struct sy_error *err, int32_t **out)
{
	*out = NULL;
	const struct tfjs_tensor *t;
	enum sy_status s = lookup(w, name, TFJS_DTYPE_INT32, n_dims, shape, err, &t);
	if (s != SY_OK)
		return s;
	size_t n = t->n_elems;
	int32_t *v = malloc((n ? n : 1) * sizeof *v);
	if (!v)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory for weight %s", name);
	if (t->stored == TFJS_DTYPE_INT32) {
		memcpy(v, t->data, n * sizeof *v);
	} else {
		for (size_t i = 0; i < n; i++) {
			/* Math.round: halves go up. */
			double x = floor(quantised(t, i) + 0.5);
			v[i] = x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : (int32_t)x;
		}
	}
	*out = v;
	return SY_OK;
}

/* A scalar may be stored with shape [] or [1]. */
static int scalar_dims(const struct tfjs_weights *w, const char *name)
{
	const struct tfjs_tensor *t = tfjs_weights_find(w, name);
	return t && t->n_dims == 1 ? 1 : 0;
}

enum sy_status tfjs_weights_scalar_f32(const struct tfjs_weights *w, const char *name,
                                       struct sy_error *err, float *out)
{
	const int64_t one = 1;
	float *v;
	enum sy_status s = tfjs_weights_f32(w, name, scalar_dims(w, name), &one, err, &v);
	if (s != SY_OK)
		return s;
	*out = v[0];
	free(v);
	return SY_OK;
}

enum sy_status tfjs_weights_scalar_i32(const struct tfjs_weights *w, const char *name,
                                       struct sy_error *err, int32_t *out)
{
	const int64_t one = 1;
	int32_t *v;
	enum sy_status s = tfjs_weights_i32(w, name, scalar_dims(w, name), &one, err, &v);
	if (s != SY_OK)
		return s;
	*out = v[0];
	free(v);
	return SY_OK;
}
