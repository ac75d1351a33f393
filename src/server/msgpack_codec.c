/* msgpack <-> the JSON of the routes (see msgpack_codec.h). */
#include "server/msgpack_codec.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <msgpack.h>

#include "base/json_write.h"
#include "base/sbuf.h"

/* libmsgpack-c's unpacker keeps a fixed stack of 32 open containers. */
#define MSGPACK_MAX_DEPTH 32
/* Dimensions of one msgpack-numpy array. */
#define ND_MAX_DIMS 8

/* ---- content negotiation ---- */

static bool media_is(const char *s, size_t n, const char *type)
{
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n == strlen(type) && !strncasecmp(s, type, n);
}

/* Calls back on each media range of a header value, without its parameters. */
static int media_find(const char *h, const char *const *types, int n_types)
{
	for (const char *p = h; p && *p;) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const size_t n = (size_t)((semi ? semi : end) - p);
		for (int t = 0; t < n_types; t++)
			if (media_is(p, n, types[t]))
				return t;
		p = comma ? comma + 1 : NULL;
	}
	return -1;
}

bool msgpack_content_type(const char *content_type)
{
	static const char *const types[] = {"application/msgpack", "application/x-msgpack"};
	return content_type && media_find(content_type, types, 2) >= 0;
}

bool msgpack_answer_wanted(const char *accept, bool request_msgpack)
{
	static const char *const types[] = {"application/msgpack", "application/x-msgpack",
	                                    "application/json"};
	if (!accept)
		return request_msgpack;
	const int first = media_find(accept, types, 3);
	if (first == 0 || first == 1)
		return true;
	if (first == 2)
		return false;
	return request_msgpack; /* any type, or none named: the request's own format */
}

/* ---- half precision ---- */

unsigned short msgpack_float_to_half(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	const uint32_t sign = (x >> 16) & 0x8000u;
	const uint32_t absx = x & 0x7fffffffu;
	if (absx >= 0x7f800000u) /* Inf or NaN */
		return (unsigned short)(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0));
	if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow to Inf */
		return (unsigned short)(sign | 0x7c00u);
	if (absx < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
		if (absx < 0x33000000u) /* under half the smallest subnormal: zero */
			return (unsigned short)sign;
		const uint32_t e = absx >> 23;
		const uint32_t m = (absx & 0x7fffffu) | 0x800000u;
		const uint32_t shift = 126 - e; /* value = m 2^(e-150); the unit is 2^-24 */
		uint32_t h = m >> shift;
		const uint32_t rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
		if (rem > halfway || (rem == halfway && (h & 1)))
			h++;
		return (unsigned short)(sign | h);
	}
	uint32_t h = ((absx >> 13) - (112u << 10));
	const uint32_t rem = absx & 0x1fffu;
	if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
		h++;
	return (unsigned short)(sign | h);
}

float msgpack_half_to_float(unsigned short h)
{
	const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
	if (e == 0) {
		if (m == 0) {
			x = sign;
		} else { /* subnormal: normalise */
			e = 113;
			while (!(m & 0x400u)) {
				m <<= 1;
				e--;
			}
			x = sign | (e << 23) | ((m & 0x3ffu) << 13);
		}
	} else if (e == 31) {
		x = sign | 0x7f800000u | (m << 13);
	} else {
		x = sign | ((e + 112) << 23) | (m << 13);
	}
	float f;
	memcpy(&f, &x, 4);
	return f;
}

/* ---- the scan of untrusted bytes ---- */

static uint64_t be_read(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Walks one value at p; returns its end, or NULL with *why set when the bytes cannot be one
 * well-formed value: a length past the end, a reserved byte, nesting too deep. */
static const uint8_t *scan_value(const uint8_t *p, const uint8_t *end, int depth, const char **why)
{
	if (p >= end) {
		*why = "truncated";
		return NULL;
	}
	if (depth > MSGPACK_MAX_DEPTH) {
		*why = "nested more than 32 levels deep";
		return NULL;
	}
	const uint8_t b = *p++;
	uint64_t n = 0; /* payload bytes, or elements of a container */
	int len_bytes = 0, fixed = 0;
	bool container = false, map = false;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return p;
	if (b >= 0x80 && b <= 0x8f) {
		n = b & 0x0f, container = map = true;
	} else if (b >= 0x90 && b <= 0x9f) {
		n = b & 0x0f, container = true;
	} else if (b >= 0xa0 && b <= 0xbf) {
		fixed = b & 0x1f;
	} else {
		switch (b) {
		case 0xc4:
		case 0xd9: len_bytes = 1; break; /* bin8, str8 */
		case 0xc5:
		case 0xda: len_bytes = 2; break;
		case 0xc6:
		case 0xdb: len_bytes = 4; break;
		case 0xc7: len_bytes = 1, fixed = 1; break; /* ext8: length, then the type byte */
		case 0xc8: len_bytes = 2, fixed = 1; break;
		case 0xc9: len_bytes = 4, fixed = 1; break;
		case 0xca:
		case 0xce:
		case 0xd2: fixed = 4; break;
		case 0xcb:
		case 0xcf:
		case 0xd3: fixed = 8; break;
		case 0xcc:
		case 0xd0: fixed = 1; break;
		case 0xcd:
		case 0xd1: fixed = 2; break;
		case 0xd4: fixed = 2; break; /* fixext: type byte + 1, 2, 4, 8, 16 */
		case 0xd5: fixed = 3; break;
		case 0xd6: fixed = 5; break;
		case 0xd7: fixed = 9; break;
		case 0xd8: fixed = 17; break;
		case 0xdc: len_bytes = 2, container = true; break;
		case 0xdd: len_bytes = 4, container = true; break;
		case 0xde: len_bytes = 2, container = map = true; break;
		case 0xdf: len_bytes = 4, container = map = true; break;
		default: *why = "reserved byte 0xc1"; return NULL;
		}
	}
	if (len_bytes) {
		if (end - p < len_bytes) {
			*why = "truncated";
			return NULL;
		}
		n = be_read(p, len_bytes);
		p += len_bytes;
	}
	if (!container) {
		const uint64_t total = n + (uint64_t)fixed;
		if ((uint64_t)(end - p) < total) {
			*why = "truncated";
			return NULL;
		}
		return p + total;
	}
	const uint64_t elems = map ? n * 2 : n;
	if (elems > (uint64_t)(end - p)) { /* every element takes at least one byte */
		*why = "a container longer than the body";
		return NULL;
	}
	for (uint64_t i = 0; i < elems; i++)
		if (!(p = scan_value(p, end, depth + 1, why)))
			return NULL;
	return p;
}

/* ---- msgpack -> cJSON ---- */

struct nd_type {
	const char *name;
	int size;
};

static const struct nd_type nd_types[] = {
    {"<f4", 4}, {"<f8", 8}, {"<f2", 2}, {"|i1", 1}, {"|u1", 1},
    {"<i4", 4}, {"<i8", 8}, {"<u4", 4}, {"|b1", 1}, {"<i2", 2},
};

static double nd_element(const struct nd_type *t, const uint8_t *p)
{
	uint64_t v = 0; /* little-endian */
	for (int i = t->size - 1; i >= 0; i--)
		v = v << 8 | p[i];
	const char *n = t->name;
	if (!strcmp(n, "<f4")) {
		float f;
		uint32_t u = (uint32_t)v;
		memcpy(&f, &u, 4);
		return f;
	}
	if (!strcmp(n, "<f8")) {
		double d;
		memcpy(&d, &v, 8);
		return d;
	}
	if (!strcmp(n, "<f2"))
		return msgpack_half_to_float((unsigned short)v);
	if (!strcmp(n, "|i1"))
		return (int8_t)v;
	if (!strcmp(n, "<i2"))
		return (int16_t)v;
	if (!strcmp(n, "<i4"))
		return (int32_t)v;
	if (!strcmp(n, "<i8"))
		return (double)(int64_t)v;
	return (double)v; /* |u1, <u4, |b1 */
}

/* A str or bin's bytes. */
static bool raw_bytes(const msgpack_object *o, const char **p, size_t *n)
{
	if (o->type == MSGPACK_OBJECT_STR) {
		*p = o->via.str.ptr, *n = o->via.str.size;
		return true;
	}
	if (o->type == MSGPACK_OBJECT_BIN) {
		*p = o->via.bin.ptr, *n = o->via.bin.size;
		return true;
	}
	return false;
}

static bool raw_is(const msgpack_object *o, const char *s)
{
	const char *p;
	size_t n;
	return raw_bytes(o, &p, &n) && n == strlen(s) && !memcmp(p, s, n);
}

static const msgpack_object *map_get(const msgpack_object *m, const char *key)
{
	for (uint32_t i = 0; i < m->via.map.size; i++)
		if (raw_is(&m->via.map.ptr[i].key, key))
			return &m->via.map.ptr[i].val;
	return NULL;
}

/* Nested arrays of shape[d..] from the elements at *p. */
static cJSON *nd_build(const struct nd_type *t, const uint64_t *shape, int n_dims, int d,
                       const uint8_t **p)
{
	if (d == n_dims) {
		cJSON *v = cJSON_CreateNumber(nd_element(t, *p));
		*p += t->size;
		return v;
	}
	cJSON *a = cJSON_CreateArray();
	for (uint64_t i = 0; a && i < shape[d]; i++) {
		cJSON *c = nd_build(t, shape, n_dims, d + 1, p);
		if (!c) {
			cJSON_Delete(a);
			return NULL;
		}
		cJSON_AddItemToArray(a, c);
	}
	return a;
}

static enum sy_status nd_decode(const msgpack_object *m, struct api_error *err, cJSON **out)
{
	const msgpack_object *type = map_get(m, "type"), *shape = map_get(m, "shape"),
	                     *data = map_get(m, "data");
	const char *tp, *dp;
	size_t tn, dn;
	if (!type || !shape || !data || !raw_bytes(type, &tp, &tn) || !raw_bytes(data, &dp, &dn) ||
	    shape->type != MSGPACK_OBJECT_ARRAY)
		return api_error_set(err, 400, "INVALID_INPUT",
		                     "body: a msgpack-numpy array needs type, shape and data");
	const struct nd_type *t = NULL;
	for (size_t i = 0; i < sizeof nd_types / sizeof *nd_types; i++)
		if (tn == strlen(nd_types[i].name) && !memcmp(tp, nd_types[i].name, tn))
			t = &nd_types[i];
	if (!t)
		return api_error_set(
		    err, 400, "INVALID_INPUT",
		    "body: msgpack-numpy type %.*s is not supported (<f4, <f8, <f2, "
		    "|i1, |u1, <i2, <i4, <i8, <u4, |b1)",
		    (int)(tn < 16 ? tn : 16), tp);
	const uint32_t n_dims = shape->via.array.size;
	if (n_dims > ND_MAX_DIMS)
		return api_error_set(err, 400, "INVALID_INPUT",
		                     "body: msgpack-numpy arrays of more than %d dimensions are "
		                     "not supported",
		                     ND_MAX_DIMS);
	uint64_t dims[ND_MAX_DIMS], count = 1;
	for (uint32_t d = 0; d < n_dims; d++) {
		const msgpack_object *s = &shape->via.array.ptr[d];
		if (s->type != MSGPACK_OBJECT_POSITIVE_INTEGER || s->via.u64 > dn)
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "body: msgpack-numpy shape does not match its data");
		dims[d] = s->via.u64;
		count *= dims[d]; /* each <= dn <= 16 MiB-ish, and checked below */
		if (count > dn)
			count = dn + 1; /* saturate: mismatch below unless a later dim is 0 */
	}
	if (count * (uint64_t)t->size != dn)
		return api_error_set(err, 400, "INVALID_INPUT",
		                     "body: msgpack-numpy shape does not match its %zu data bytes",
		                     dn);
	const uint8_t *p = (const uint8_t *)dp;
	*out = nd_build(t, dims, (int)n_dims, 0, &p);
	return *out ? SY_OK : api_error_set(err, 500, "INTERNAL_ERROR", "out of memory");
}

/* A msgpack bin as a cJSON string of its base64, or NULL when out of memory. */
static cJSON *bin_to_base64(const msgpack_object *o)
{
	struct sbuf b = {0};
	json_write_base64(&b, o->via.bin.ptr, o->via.bin.size);
	const bool oom = b.oom;
	size_t len;
	char *text = sbuf_take(&b, &len);
	cJSON *c = !oom ? cJSON_CreateString(text ? text : "") : NULL;
	free(text);
	return c;
}

static enum sy_status to_cjson(const msgpack_object *o, struct api_error *err, cJSON **out)
{
	*out = NULL;
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: *out = cJSON_CreateNull(); break;
	case MSGPACK_OBJECT_BOOLEAN: *out = cJSON_CreateBool(o->via.boolean); break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = cJSON_CreateNumber((double)o->via.u64); break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = cJSON_CreateNumber((double)o->via.i64); break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (!isfinite(o->via.f64))
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "body: msgpack number is not finite (NaN or Inf)");
		*out = cJSON_CreateNumber(o->via.f64);
		break;
	case MSGPACK_OBJECT_STR: {
		const size_t n = o->via.str.size;
		/* An empty string's pointer may be NULL. */
		if (n && memchr(o->via.str.ptr, 0, n))
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "body: a msgpack string holds a NUL byte");
		char *s = malloc(n + 1);
		if (!s)
			break;
		if (n)
			memcpy(s, o->via.str.ptr, n);
		s[n] = '\0';
		*out = cJSON_CreateString(s);
		free(s);
		break;
	}
	case MSGPACK_OBJECT_BIN:
		return api_error_set(err, 400, "INVALID_INPUT",
		                     "body: msgpack binary data is only read inside a "
		                     "msgpack-numpy array");
	case MSGPACK_OBJECT_EXT:
		return api_error_set(err, 400, "INVALID_INPUT",
		                     "body: msgpack extension types are not supported");
	case MSGPACK_OBJECT_ARRAY:
		if (!(*out = cJSON_CreateArray()))
			break;
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			cJSON *c;
			if (to_cjson(&o->via.array.ptr[i], err, &c) != SY_OK) {
				cJSON_Delete(*out);
				*out = NULL;
				return SY_ERR_INVALID_ARG;
			}
			cJSON_AddItemToArray(*out, c);
		}
		break;
	case MSGPACK_OBJECT_MAP: {
		const msgpack_object *nd = map_get(o, "nd");
		if (nd && nd->type == MSGPACK_OBJECT_BOOLEAN && nd->via.boolean)
			return nd_decode(o, err, out);
		if (!(*out = cJSON_CreateObject()))
			break;
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			const char *kp;
			size_t kn;
			char key[256];
			if (!raw_bytes(&kv->key, &kp, &kn) || kn == 0 || kn >= sizeof key ||
			    memchr(kp, 0, kn)) {
				cJSON_Delete(*out);
				*out = NULL;
				return api_error_set(err, 400, "INVALID_INPUT",
				                     "body: msgpack map keys must be strings (or "
				                     "bytes) of 1 to 255 bytes");
			}
			memcpy(key, kp, kn);
			key[kn] = '\0';
			cJSON *c;
			if (!strcmp(key, "data") && kv->val.type == MSGPACK_OBJECT_BIN) {
				/* An image's raw bytes (SIE's Item.images[].data in msgpack): the
				 * routes read base64 strings, so they become one. */
				if (!(c = bin_to_base64(&kv->val))) {
					cJSON_Delete(*out);
					*out = NULL;
					return api_error_set(err, 500, "INTERNAL_ERROR",
					                     "out of memory");
				}
			} else if (to_cjson(&kv->val, err, &c) != SY_OK) {
				cJSON_Delete(*out);
				*out = NULL;
				return SY_ERR_INVALID_ARG;
			}
			/* A repeated key: the last one wins, as in Python's dict. */
			if (cJSON_GetObjectItemCaseSensitive(*out, key))
				cJSON_ReplaceItemInObjectCaseSensitive(*out, key, c);
			else
				cJSON_AddItemToObject(*out, key, c);
		}
		break;
	}
	default: return api_error_set(err, 400, "INVALID_INPUT", "body: unknown msgpack type");
	}
	if (!*out)
		return api_error_set(err, 500, "INTERNAL_ERROR", "out of memory");
	return SY_OK;
}

enum sy_status msgpack_to_json_tree(const void *data, size_t len, struct api_error *err,
                                    cJSON **out)
{
	*out = NULL;
	if (len == 0)
		return api_error_set(err, 400, "INVALID_INPUT",
		                     "body: empty; expected a msgpack map");
	const uint8_t *p = data, *end = p + len;
	const char *why = NULL;
	const uint8_t *stop = scan_value(p, end, 0, &why);
	if (!stop)
		return api_error_set(err, 400, "INVALID_INPUT", "body: malformed msgpack (%s)",
		                     why);
	if (stop != end)
		return api_error_set(err, 400, "INVALID_INPUT",
		                     "body: unexpected data after the msgpack value at byte %zu",
		                     (size_t)(stop - p));
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0;
	const msgpack_unpack_return r = msgpack_unpack_next(&u, data, len, &off);
	enum sy_status st;
	if (r == MSGPACK_UNPACK_NOMEM_ERROR)
		st = api_error_set(err, 500, "INTERNAL_ERROR", "out of memory");
	else if (r != MSGPACK_UNPACK_SUCCESS || off != len)
		st = api_error_set(err, 400, "INVALID_INPUT", "body: malformed msgpack");
	else
		st = to_cjson(&u.data, err, out);
	msgpack_unpacked_destroy(&u);
	return st;
}

enum sy_status msgpack_to_json_text(const void *data, size_t len, struct api_error *err, char **out,
                                    size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	cJSON *doc;
	enum sy_status st = msgpack_to_json_tree(data, len, err, &doc);
	if (st != SY_OK)
		return st;
	*out = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (!*out)
		return api_error_set(err, 500, "INTERNAL_ERROR", "out of memory");
	*out_len = strlen(*out);
	return SY_OK;
}

/* ---- JSON -> msgpack ---- */

static int sbuf_write(void *data, const char *buf, size_t len)
{
	struct sbuf *b = data;
	sbuf_put(b, buf, len);
	return b->oom ? -1 : 0;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	const size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void pack_bin_key(msgpack_packer *pk, const char *s)
{
	const size_t n = strlen(s);
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, s, n);
}

static void pack_number(msgpack_packer *pk, double v)
{
	if (v == floor(v) && fabs(v) < 9.2e18)
		msgpack_pack_int64(pk, (int64_t)v);
	else
		msgpack_pack_double(pk, v);
}

/* The numbers of a (possibly nested) JSON array, in order; count only when out is NULL. */
static size_t flatten(const cJSON *a, double *out, size_t at)
{
	for (const cJSON *c = a->child; c; c = c->next) {
		if (cJSON_IsArray(c))
			at = flatten(c, out, at);
		else {
			if (out)
				out[at] = cJSON_IsNumber(c) ? c->valuedouble : 0;
			at++;
		}
	}
	return at;
}

/* The numpy type an answer's dtype travels as. */
static const char *dtype_numpy(const char *dtype, int *size)
{
	static const struct {
		const char *dtype, *np;
		int size;
	} map[] = {{"float32", "<f4", 4}, {"float16", "<f2", 2}, {"int8", "|i1", 1},
	           {"uint8", "|u1", 1},   {"binary", "|u1", 1},  {"ubinary", "|u1", 1},
	           {"int32", "<i4", 4}};
	for (size_t i = 0; i < sizeof map / sizeof *map; i++)
		if (!strcmp(dtype, map[i].dtype)) {
			*size = map[i].size;
			return map[i].np;
		}
	return NULL;
}

/* Writes a JSON array as a msgpack-numpy array of the given type; false when out of memory. */
static bool pack_ndarray(msgpack_packer *pk, const cJSON *a, const char *np, int size,
                         const cJSON *num_tokens)
{
	const size_t n = flatten(a, NULL, 0);
	double *v = malloc((n ? n : 1) * sizeof *v);
	uint8_t *bytes = malloc((n ? n : 1) * (size_t)size);
	if (!v || !bytes) {
		free(v);
		free(bytes);
		return false;
	}
	flatten(a, v, 0);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = bytes + i * (size_t)size;
		uint64_t bits = 0;
		if (!strcmp(np, "<f4")) {
			float f = (float)v[i];
			uint32_t u;
			memcpy(&u, &f, 4);
			bits = u;
		} else if (!strcmp(np, "<f2")) {
			bits = msgpack_float_to_half((float)v[i]);
		} else if (!strcmp(np, "|i1")) {
			bits = (uint8_t)(int8_t)v[i];
		} else if (!strcmp(np, "<i4")) {
			bits = (uint32_t)(int32_t)v[i];
		} else {
			bits = (uint8_t)v[i];
		}
		for (int k = 0; k < size; k++)
			p[k] = (uint8_t)(bits >> (8 * k));
	}
	msgpack_pack_map(pk, 5);
	pack_bin_key(pk, "nd");
	msgpack_pack_true(pk);
	pack_bin_key(pk, "type");
	pack_str(pk, np);
	pack_bin_key(pk, "kind");
	msgpack_pack_bin(pk, 0);
	pack_bin_key(pk, "shape");
	const long rows = cJSON_IsNumber(num_tokens) ? (long)num_tokens->valuedouble : -1;
	if (rows > 0 && n % (size_t)rows == 0) {
		msgpack_pack_array(pk, 2);
		msgpack_pack_uint64(pk, (uint64_t)rows);
		msgpack_pack_uint64(pk, n / (size_t)rows);
	} else if (rows == 0) {
		msgpack_pack_array(pk, 2);
		msgpack_pack_uint64(pk, 0);
		msgpack_pack_uint64(pk, 0);
	} else {
		msgpack_pack_array(pk, 1);
		msgpack_pack_uint64(pk, n);
	}
	pack_bin_key(pk, "data");
	msgpack_pack_bin(pk, n * (size_t)size);
	msgpack_pack_bin_body(pk, bytes, n * (size_t)size);
	free(v);
	free(bytes);
	return true;
}

static bool pack_json(msgpack_packer *pk, const cJSON *v)
{
	if (cJSON_IsNull(v) || cJSON_IsInvalid(v))
		return msgpack_pack_nil(pk), true;
	if (cJSON_IsTrue(v))
		return msgpack_pack_true(pk), true;
	if (cJSON_IsFalse(v))
		return msgpack_pack_false(pk), true;
	if (cJSON_IsNumber(v))
		return pack_number(pk, v->valuedouble), true;
	if (cJSON_IsString(v))
		return pack_str(pk, v->valuestring), true;
	if (cJSON_IsArray(v)) {
		msgpack_pack_array(pk, (size_t)cJSON_GetArraySize(v));
		for (const cJSON *c = v->child; c; c = c->next)
			if (!pack_json(pk, c))
				return false;
		return true;
	}
	/* An object; a vector object (dtype + values) carries its arrays as numpy arrays. */
	const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(v, "dtype");
	int size = 0;
	const char *np = cJSON_IsString(dtype) ? dtype_numpy(dtype->valuestring, &size) : NULL;
	const cJSON *num_tokens = cJSON_GetObjectItemCaseSensitive(v, "num_tokens");
	msgpack_pack_map(pk, (size_t)cJSON_GetArraySize(v));
	for (const cJSON *c = v->child; c; c = c->next) {
		pack_str(pk, c->string ? c->string : "");
		bool ok;
		if (np && cJSON_IsArray(c) && !strcmp(c->string, "values"))
			ok = pack_ndarray(pk, c, np, size, num_tokens);
		else if (np && cJSON_IsArray(c) && !strcmp(c->string, "indices"))
			ok = pack_ndarray(pk, c, "<i4", 4, NULL);
		else
			ok = pack_json(pk, c);
		if (!ok)
			return false;
	}
	return true;
}

enum sy_status msgpack_from_json_text(const char *json, size_t len, struct sbuf *out)
{
	cJSON *doc = cJSON_ParseWithLength(json, len);
	if (!doc)
		return SY_ERR_FORMAT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, out, sbuf_write);
	const bool ok = pack_json(&pk, doc);
	cJSON_Delete(doc);
	return ok && !out->oom ? SY_OK : SY_ERR_NOMEM;
}
