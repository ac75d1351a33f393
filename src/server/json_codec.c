/* JSON codecs of the HTTP API (see json_codec.h): request parsing with field-precise errors and
 * response writing into an sbuf. */
#include "server/json_codec.h"
#include "image/image.h"

#include "server/quantize.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing helpers ---- */

static const char *json_type_name(const cJSON *v)
{
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsBool(v))
		return "boolean";
	if (cJSON_IsNumber(v))
		return "number";
	if (cJSON_IsString(v))
		return "string";
	if (cJSON_IsArray(v))
		return "array";
	if (cJSON_IsObject(v))
		return "object";
	return "invalid";
}

/* Parses the body as one JSON object. */
static enum sy_status parse_object(const char *body, size_t len, struct api_error *err, cJSON **out)
{
	*out = NULL;
	if (len == 0)
		return api_error_set(err, 400, "INVALID_INPUT",
		                     "body: empty; expected a JSON object");
	const char *end = NULL;
	cJSON *doc = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (!doc) {
		size_t at = end && end >= body && end <= body + len ? (size_t)(end - body) : 0;
		return api_error_set(err, 400, "INVALID_INPUT",
		                     "body: malformed JSON near byte %zu", at);
	}
	/* Only whitespace may follow the value. */
	for (const char *p = end; p && p < body + len; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			cJSON_Delete(doc);
			return api_error_set(
			    err, 400, "INVALID_INPUT",
			    "body: unexpected data after the JSON value at byte %zu",
			    (size_t)(p - body));
		}
	}
	if (!cJSON_IsObject(doc)) {
		api_error_set(err, 400, "INVALID_INPUT", "body: expected a JSON object, got %s",
		              json_type_name(doc));
		cJSON_Delete(doc);
		return SY_ERR_INVALID_ARG;
	}
	*out = doc;
	return SY_OK;
}

/* Checks one text: valid UTF-8 and at most limit characters (0: no limit); `field` names it in
 * errors and `what` says whose limit it is. */
static enum sy_status check_chars(const char *field, const char *s, size_t len, int limit,
                                  const char *what, struct api_error *err)
{
	size_t bad = 0;
	long chars = json_utf8_count(s, len, &bad);
	if (chars < 0)
		return api_error_set(err, 400, "INVALID_INPUT", "%s: invalid UTF-8 at byte %zu",
		                     field, bad);
	if (limit > 0 && chars > limit)
		return api_error_set(err, 422, "INVALID_INPUT",
		                     "%s: %ld characters exceed the limit of %d %s", field, chars,
		                     limit, what);
	return SY_OK;
}

static enum sy_status check_text(const char *field, const char *s, size_t len,
                                 const struct server_limits *lim, struct api_error *err)
{
	return check_chars(field, s, len, lim->max_chars, "per item", err);
}

/* An instruction or a score query goes with every item of its request (into every work unit
 * through the gateway): bounded on its own, well below an item's limit. */
static enum sy_status check_prefix(const char *field, const char *s, size_t len,
                                   const struct server_limits *lim, struct api_error *err)
{
	return check_chars(field, s, len, lim->max_prefix_chars, "(it goes with every item)", err);
}

/* Standard base64 (RFC 4648; padding optional, whitespace refused) decoded in place: the
 * decoding is never longer than the text. -1 when s is not base64. */
static long base64_decode_inplace(char *s)
{
	static signed char val[256];
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	if (!val[0]) { /* idempotent, so a race between first callers is harmless */
		for (int i = 0; i < 256; i++)
			val[i] = -1;
		for (int i = 0; i < 64; i++)
			val[(unsigned char)tab[i]] = (signed char)i;
	}
	size_t n = strlen(s);
	while (n && s[n - 1] == '=')
		n--;
	if (n % 4 == 1 || strlen(s) - n > 2)
		return -1;
	size_t k = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		const int v = val[(unsigned char)s[i]];
		if (v < 0)
			return -1;
		acc = (acc << 6 | (unsigned)v) & 0xFFFFFF;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			s[k++] = (char)(acc >> bits & 0xFF);
		}
	}
	return (long)k;
}

/* items[i].images: [{"data": base64, "format": "jpeg" | "png" | "webp"}] (SIE's Item), one
 * image per item. The data is decoded in place in the request's document, which *out then
 * points into. No images field: out->data stays NULL. */
static enum sy_status parse_item_images(cJSON *it, const char *where, struct api_error *err,
                                        struct model_image *out)
{
	cJSON *arr = cJSON_GetObjectItemCaseSensitive(it, "images");
	if (!arr || cJSON_IsNull(arr))
		return SY_OK;
	if (!cJSON_IsArray(arr))
		return api_error_set(err, 400, "INVALID_INPUT", "%s.images: expected array, got %s",
		                     where, json_type_name(arr));
	const int n = cJSON_GetArraySize(arr);
	if (n == 0)
		return SY_OK;
	if (n > 1)
		return api_error_set(err, 400, "INVALID_INPUT",
		                     "%s.images: %d images; one image per item is supported "
		                     "(send each as its own item)",
		                     where, n);
	cJSON *im = arr->child;
	if (!cJSON_IsObject(im))
		return api_error_set(err, 400, "INVALID_INPUT",
		                     "%s.images[0]: expected object, got %s", where,
		                     json_type_name(im));
	cJSON *data = cJSON_GetObjectItemCaseSensitive(im, "data");
	if (!cJSON_IsString(data))
		return api_error_set(err, 400, "INVALID_INPUT",
		                     "%s.images[0].data: expected a base64 string, got %s", where,
		                     data ? json_type_name(data) : "nothing");
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(im, "format");
	int f = 0;
	if (fmt && !cJSON_IsNull(fmt)) {
		f = cJSON_IsString(fmt) ? image_format_parse(fmt->valuestring) : -1;
		if (f < 0)
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "%s.images[0].format: unsupported image format; "
			                     "expected \"jpeg\", \"png\" or \"webp\"",
			                     where);
	}
	const long len = base64_decode_inplace(data->valuestring);
	if (len <= 0)
		return api_error_set(err, 400, "INVALID_INPUT", "%s.images[0].data: %s", where,
		                     len < 0 ? "not valid base64" : "empty");
	*out = (struct model_image){(const unsigned char *)data->valuestring, (size_t)len, f};
	return SY_OK;
}

static enum sy_status get_bool(const cJSON *obj, const char *name, const char *prefix,
                               struct api_error *err, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (!v || cJSON_IsNull(v))
		return SY_OK;
	if (!cJSON_IsBool(v))
		return api_error_set(err, 400, "INVALID_INPUT", "%s%s: expected boolean, got %s",
		                     prefix, name, json_type_name(v));
	*out = cJSON_IsTrue(v) ? 1 : 0;
	return SY_OK;
}

/* ---- POST /v1/encode/{model} ---- */

static enum sy_status parse_output_types(const cJSON *v, struct api_error *err, unsigned *out)
{
	if (!cJSON_IsArray(v))
		return api_error_set(err, 400, "INVALID_INPUT",
		                     "params.output_types: expected array of strings, got %s",
		                     json_type_name(v));
	unsigned bits = 0;
	int i = 0;
	for (const cJSON *t = v->child; t; t = t->next, i++) {
		if (!cJSON_IsString(t))
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "params.output_types[%d]: expected string, got %s", i,
			                     json_type_name(t));
		if (!strcmp(t->valuestring, "dense"))
			bits |= ENGINE_OUTPUT_DENSE;
		else if (!strcmp(t->valuestring, "sparse"))
			bits |= ENGINE_OUTPUT_SPARSE;
		else if (!strcmp(t->valuestring, "multivector"))
			bits |= ENGINE_OUTPUT_MULTIVECTOR;
		else
			return api_error_set(
			    err, 400, "INVALID_INPUT",
			    "params.output_types[%d]: unknown output type; expected "
			    "dense, sparse or multivector",
			    i);
	}
	if (!bits)
		return api_error_set(err, 400, "INVALID_INPUT",
		                     "params.output_types: must name at least one output type");
	*out = bits;
	return SY_OK;
}

static enum sy_status parse_encode_params(const cJSON *p, const struct server_limits *lim,
                                          struct api_error *err, struct encode_request *r)
{
	if (!p || cJSON_IsNull(p))
		return SY_OK;
	if (!cJSON_IsObject(p))
		return api_error_set(err, 400, "INVALID_INPUT", "params: expected object, got %s",
		                     json_type_name(p));
	const cJSON *ot = cJSON_GetObjectItemCaseSensitive(p, "output_types");
	if (ot && !cJSON_IsNull(ot) && parse_output_types(ot, err, &r->outputs) != SY_OK)
		return SY_ERR_INVALID_ARG;
	int truncate = 1, is_query = 0;
	if (get_bool(p, "normalize", "params.", err, &r->normalize) != SY_OK ||
	    get_bool(p, "truncate", "params.", err, &truncate) != SY_OK ||
	    get_bool(p, "is_query", "params.", err, &is_query) != SY_OK)
		return SY_ERR_INVALID_ARG;
	r->truncate = truncate;
	const cJSON *ins = cJSON_GetObjectItemCaseSensitive(p, "instruction");
	if (ins && !cJSON_IsNull(ins)) {
		if (!cJSON_IsString(ins))
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "params.instruction: expected string, got %s",
			                     json_type_name(ins));
		r->instruction = ins->valuestring;
	}
	const cJSON *dm = cJSON_GetObjectItemCaseSensitive(p, "dimensions");
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(p, "output_dtype");
	/* SIE's params.options, merged over the (only, "default") profile. Precedence as SIE's
	 * encode route: output_types from options over params; output_dtype, instruction and
	 * dimensions from params over options; is_query and normalize from options over the
	 * older top-level params. */
	const cJSON *popts = cJSON_GetObjectItemCaseSensitive(p, "options");
	const char *query_template = NULL, *doc_template = NULL;
	if (popts && !cJSON_IsNull(popts)) {
		if (!cJSON_IsObject(popts))
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "params.options: expected object, got %s",
			                     json_type_name(popts));
		for (const cJSON *k = popts->child; k; k = k->next) {
			const char *key = k->string;
			if (cJSON_IsNull(k))
				continue;
			if (!strcmp(key, "is_query") || !strcmp(key, "normalize")) {
				int *dst = !strcmp(key, "is_query") ? &is_query : &r->normalize;
				if (get_bool(popts, key, "params.options.", err, dst) != SY_OK)
					return SY_ERR_INVALID_ARG;
			} else if (!strcmp(key, "output_types")) {
				if (parse_output_types(k, err, &r->outputs) != SY_OK)
					return SY_ERR_INVALID_ARG;
			} else if (!strcmp(key, "output_dtype")) {
				if (!dt || cJSON_IsNull(dt))
					dt = k;
			} else if (!strcmp(key, "dimensions")) {
				if (!dm || cJSON_IsNull(dm))
					dm = k;
			} else if (!strcmp(key, "instruction")) {
				if (!cJSON_IsString(k))
					return api_error_set(err, 400, "INVALID_INPUT",
					                     "params.options.instruction: expected "
					                     "string, got %s",
					                     json_type_name(k));
				if (!r->instruction)
					r->instruction = k->valuestring;
			} else if (!strcmp(key, "query_template") || !strcmp(key, "doc_template")) {
				/* "PREFIX{text}": the prefix goes before each text, as an
				 * instruction does; other shapes are refused, not half-applied. */
				const char *t = cJSON_IsString(k) ? k->valuestring : NULL;
				const char *at = t ? strstr(t, "{text}") : NULL;
				if (!at || strcmp(at, "{text}") != 0)
					return api_error_set(
					    err, 400, "INVALID_INPUT",
					    "params.options.%s: Switchyard takes "
					    "templates of the form \"PREFIX{text}\" "
					    "only",
					    key);
				*(key[0] == 'q' ? &query_template : &doc_template) = t;
			} else if (!strcmp(key, "pooling")) {
				/* SIE's names; sentence-transformers' "lasttoken" too */
				const char *v = cJSON_IsString(k) ? k->valuestring : "";
				r->pooling =
				    !strcmp(v, "lasttoken") ? POOLING_LAST : pooling_mode_parse(v);
				if (r->pooling == POOLING_DEFAULT)
					return api_error_set(
					    err, 400, "INVALID_INPUT",
					    "params.options.pooling: expected one of "
					    "cls, mean, max, last");
			} else if (!strcmp(key, "max_seq_length")) {
				if (!cJSON_IsNumber(k) || k->valuedouble < 1 ||
				    k->valuedouble > 1 << 20 ||
				    k->valuedouble != (double)(int)k->valuedouble)
					return api_error_set(
					    err, 400, "INVALID_INPUT",
					    "params.options.max_seq_length: expected a "
					    "positive integer (tokens)");
				r->max_length = (int)k->valuedouble;
			} else if (!strcmp(key, "profile")) {
				if (!cJSON_IsString(k) || strcmp(k->valuestring, "default") != 0)
					return api_error_set(
					    err, 400, "INVALID_INPUT",
					    "params.options.profile: unknown profile; "
					    "Switchyard models have only \"default\"");
			} else {
				return api_error_set(
				    err, 400, "INVALID_INPUT",
				    "params.options.%.64s: option not supported by "
				    "Switchyard (encode takes is_query, normalize, "
				    "instruction, output_types, output_dtype, "
				    "dimensions, pooling, max_seq_length, "
				    "query_template, doc_template, profile)",
				    key);
			}
		}
	}
	r->is_query = is_query;
	if (!r->instruction && (is_query ? query_template : doc_template)) {
		const char *t = is_query ? query_template : doc_template;
		const size_t n = (size_t)(strstr(t, "{text}") - t);
		if (n > 0) {
			/* The prefix, cut in place: the template lives in the request's tree. */
			((char *)t)[n] = '\0';
			r->instruction = t;
		}
	}
	if (r->instruction && check_prefix("params.instruction", r->instruction,
	                                   strlen(r->instruction), lim, err) != SY_OK)
		return SY_ERR_INVALID_ARG;
	if (dm && !cJSON_IsNull(dm)) {
		if (!cJSON_IsNumber(dm) || !(dm->valuedouble >= 1 && dm->valuedouble <= 1e6) ||
		    floor(dm->valuedouble) != dm->valuedouble)
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "params.dimensions: expected a positive integer");
		r->dimensions = (int)dm->valuedouble;
	}
	if (dt && !cJSON_IsNull(dt)) {
		const int d = cJSON_IsString(dt) ? output_dtype_parse(dt->valuestring) : -1;
		if (d < 0)
			return api_error_set(
			    err, 400, "INVALID_INPUT",
			    "params.output_dtype: expected one of float32, float16, "
			    "int8, uint8, binary, ubinary");
		r->output_dtype = d;
	}
	const cJSON *tk = cJSON_GetObjectItemCaseSensitive(p, "sparse_top_k");
	if (tk && !cJSON_IsNull(tk)) {
		if (!cJSON_IsNumber(tk) || !(tk->valuedouble >= 1 && tk->valuedouble <= 1e7) ||
		    floor(tk->valuedouble) != tk->valuedouble)
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "params.sparse_top_k: expected a positive integer");
		r->sparse_top_k = (int)tk->valuedouble;
	}
	const cJSON *th = cJSON_GetObjectItemCaseSensitive(p, "sparse_threshold");
	if (th && !cJSON_IsNull(th)) {
		if (!cJSON_IsNumber(th) || !(th->valuedouble >= 0 && th->valuedouble < 1e30))
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "params.sparse_threshold: expected a number >= 0");
		r->sparse_threshold = th->valuedouble;
	}
	int rt = 0;
	if (get_bool(p, "return_tokens", "params.", err, &rt) != SY_OK)
		return SY_ERR_INVALID_ARG;
	r->return_tokens = rt;
	return SY_OK;
}

static enum sy_status encode_request_alloc(int n, struct encode_request *r)
{
	size_t m = n > 0 ? (size_t)n : 1;
	r->ids = calloc(m, sizeof *r->ids);
	r->texts = calloc(m, sizeof *r->texts);
	r->lens = calloc(m, sizeof *r->lens);
	r->images = calloc(m, sizeof *r->images);
	return r->ids && r->texts && r->lens && r->images ? SY_OK : SY_ERR_NOMEM;
}

/* POST /v1/extract/{model} params: labels?, threshold?, aggregation?. */
static enum sy_status parse_extract_params(const cJSON *p, struct api_error *err,
                                           struct encode_request *r)
{
	if (!p || cJSON_IsNull(p))
		return SY_OK;
	if (!cJSON_IsObject(p))
		return api_error_set(err, 400, "INVALID_INPUT", "params: expected object, got %s",
		                     json_type_name(p));
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(p, "labels");
	if (l && !cJSON_IsNull(l)) {
		if (!cJSON_IsArray(l))
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "params.labels: expected array of strings, got %s",
			                     json_type_name(l));
		const int n = cJSON_GetArraySize(l);
		if (n < 1 || n > 256)
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "params.labels: expected 1 to 256 labels, got %d", n);
		r->labels = calloc((size_t)n, sizeof *r->labels);
		if (!r->labels)
			return api_error_set(err, 500, "INTERNAL_ERROR", "out of memory");
		int i = 0;
		for (const cJSON *t = l->child; t; t = t->next, i++) {
			size_t bad;
			if (!cJSON_IsString(t))
				return api_error_set(err, 400, "INVALID_INPUT",
				                     "params.labels[%d]: expected string, got %s",
				                     i, json_type_name(t));
			const size_t len = strlen(t->valuestring);
			if (len == 0 || len > 63)
				return api_error_set(err, 400, "INVALID_INPUT",
				                     "params.labels[%d]: expected 1 to 63 bytes",
				                     i);
			if (json_utf8_count(t->valuestring, len, &bad) < 0)
				return api_error_set(err, 400, "INVALID_INPUT",
				                     "params.labels[%d]: invalid UTF-8 at byte %zu",
				                     i, bad);
			r->labels[i] = t->valuestring;
		}
		r->n_labels = n;
	}
	const cJSON *th = cJSON_GetObjectItemCaseSensitive(p, "threshold");
	if (th && !cJSON_IsNull(th)) {
		if (!cJSON_IsNumber(th) || !(th->valuedouble >= 0 && th->valuedouble <= 1))
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "params.threshold: expected a number from 0 to 1");
		r->threshold = th->valuedouble;
		r->has_threshold = true;
	}
	const cJSON *ag = cJSON_GetObjectItemCaseSensitive(p, "aggregation");
	if (ag && !cJSON_IsNull(ag)) {
		int a = cJSON_IsString(ag) ? ner_aggregation_parse(ag->valuestring) : -1;
		if (a < 0)
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "params.aggregation: expected \"simple\", \"first\", "
			                     "\"average\" or \"max\"");
		r->aggregation = a;
	}
	/* SIE's params.options of GLiNER: threshold (over params.threshold); flat_ner and
	 * multi_label as Switchyard decodes (flat, one label per span), other values refused. */
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(p, "options");
	if (o && !cJSON_IsNull(o)) {
		if (!cJSON_IsObject(o))
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "params.options: expected object, got %s",
			                     json_type_name(o));
		for (const cJSON *k = o->child; k; k = k->next) {
			if (cJSON_IsNull(k))
				continue;
			if (!strcmp(k->string, "threshold")) {
				if (!cJSON_IsNumber(k) ||
				    !(k->valuedouble >= 0 && k->valuedouble <= 1))
					return api_error_set(err, 400, "INVALID_INPUT",
					                     "params.options.threshold: expected a "
					                     "number from 0 to 1");
				r->threshold = k->valuedouble;
				r->has_threshold = true;
			} else if (!strcmp(k->string, "flat_ner") ||
			           !strcmp(k->string, "multi_label")) {
				const bool want = !strcmp(k->string, "flat_ner");
				if (!cJSON_IsBool(k) || (bool)cJSON_IsTrue(k) != want)
					return api_error_set(
					    err, 400, "INVALID_INPUT",
					    "params.options.%s: only %s is supported "
					    "(flat decoding, one label per span)",
					    k->string, want ? "true" : "false");
			} else if (!strcmp(k->string, "profile") && cJSON_IsString(k) &&
			           !strcmp(k->valuestring, "default")) {
				continue;
			} else {
				return api_error_set(
				    err, 400, "INVALID_INPUT",
				    "params.options.%.64s: option not supported by "
				    "Switchyard (extract takes threshold, flat_ner, "
				    "multi_label, profile)",
				    k->string);
			}
		}
	}
	static const char *const known[] = {"labels", "threshold", "aggregation", "options"};
	for (const cJSON *k = p->child; k; k = k->next) {
		bool ok = false;
		for (size_t i = 0; i < sizeof known / sizeof *known; i++)
			ok |= !strcmp(k->string, known[i]);
		if (!ok)
			return api_error_set(
			    err, 400, "INVALID_INPUT",
			    "params.%.64s: unknown parameter; extract takes labels, "
			    "threshold, aggregation and options",
			    k->string);
	}
	return SY_OK;
}

static enum sy_status parse_items_request(const char *body, size_t len,
                                          const struct server_limits *lim, struct api_error *err,
                                          struct encode_request *out, bool extract);

enum sy_status json_encode_request_parse(const char *body, size_t len,
                                         const struct server_limits *lim, struct api_error *err,
                                         struct encode_request *out)
{
	return parse_items_request(body, len, lim, err, out, false);
}

enum sy_status json_extract_request_parse(const char *body, size_t len,
                                          const struct server_limits *lim, struct api_error *err,
                                          struct encode_request *out)
{
	return parse_items_request(body, len, lim, err, out, true);
}

static enum sy_status parse_items_request(const char *body, size_t len,
                                          const struct server_limits *lim, struct api_error *err,
                                          struct encode_request *out, bool extract)
{
	memset(out, 0, sizeof *out);
	out->normalize = -1;
	out->truncate = true;
	out->outputs = ENGINE_OUTPUT_DENSE;
	if (parse_object(body, len, err, &out->doc) != SY_OK)
		return SY_ERR_INVALID_ARG;
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(out->doc, "items");
	if (!items) {
		api_error_set(err, 400, "INVALID_INPUT", "items: required field is missing");
		goto fail;
	}
	if (!cJSON_IsArray(items)) {
		api_error_set(err, 400, "INVALID_INPUT", "items: expected array, got %s",
		              json_type_name(items));
		goto fail;
	}
	int n = cJSON_GetArraySize(items);
	if (n == 0) {
		api_error_set(err, 400, "INVALID_INPUT", "items: must not be empty");
		goto fail;
	}
	if (lim->max_items > 0 && n > lim->max_items) {
		api_error_set(err, 413, "INVALID_INPUT",
		              "items: %d items exceed the limit of %d per request", n,
		              lim->max_items);
		goto fail;
	}
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(out->doc, "params");
	if ((extract ? parse_extract_params(params, err, out)
	             : parse_encode_params(params, lim, err, out)) != SY_OK)
		goto fail;
	if (encode_request_alloc(n, out) != SY_OK) {
		api_error_set(err, 500, "INTERNAL_ERROR", "out of memory");
		goto fail;
	}
	char field[64];
	int i = 0;
	for (const cJSON *it = items->child; it; it = it->next, i++) {
		if (!cJSON_IsObject(it)) {
			api_error_set(err, 400, "INVALID_INPUT",
			              "items[%d]: expected object, got %s", i, json_type_name(it));
			goto fail;
		}
		snprintf(field, sizeof field, "items[%d]", i);
		if (!extract &&
		    parse_item_images((cJSON *)it, field, err, &out->images[i]) != SY_OK)
			goto fail;
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "text");
		if (!t && out->images[i].data) {
			out->texts[i] = "";
			out->n_images++;
		} else if (!t) {
			api_error_set(err, 400, "INVALID_INPUT",
			              "items[%d].text: required field is missing%s", i,
			              extract ? "" : " (or images)");
			goto fail;
		}
		if (t && out->images[i].data) {
			api_error_set(err, 400, "INVALID_INPUT",
			              "items[%d]: give text or images, not both", i);
			goto fail;
		}
		if (t && !cJSON_IsString(t)) {
			api_error_set(err, 400, "INVALID_INPUT",
			              "items[%d].text: expected string, got %s", i,
			              json_type_name(t));
			goto fail;
		}
		if (t) {
			out->texts[i] = t->valuestring;
			out->lens[i] = strlen(t->valuestring);
			snprintf(field, sizeof field, "items[%d].text", i);
			if (check_text(field, out->texts[i], out->lens[i], lim, err) != SY_OK)
				goto fail;
		}
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
		if (id && !cJSON_IsNull(id)) {
			if (!cJSON_IsString(id)) {
				api_error_set(err, 400, "INVALID_INPUT",
				              "items[%d].id: expected string, got %s", i,
				              json_type_name(id));
				goto fail;
			}
			size_t bad;
			if (json_utf8_count(id->valuestring, strlen(id->valuestring), &bad) < 0) {
				api_error_set(err, 400, "INVALID_INPUT",
				              "items[%d].id: invalid UTF-8 at byte %zu", i, bad);
				goto fail;
			}
			out->ids[i] = id->valuestring;
		}
	}
	if (out->n_images > JSON_MAX_IMAGES) {
		api_error_set(err, 413, "INVALID_INPUT",
		              "items: %d images exceed the limit of %d per request (each is held "
		              "decoded until it runs)",
		              out->n_images, JSON_MAX_IMAGES);
		goto fail;
	}
	out->n_items = n;
	return SY_OK;
fail:
	json_encode_request_free(out);
	return SY_ERR_INVALID_ARG;
}

void json_encode_request_free(struct encode_request *r)
{
	cJSON_Delete(r->doc);
	free(r->images);
	free(r->ids);
	free(r->texts);
	free(r->lens);
	free(r->labels);
	memset(r, 0, sizeof *r);
}

/* ---- POST /v1/score/{model}, POST /v1/rerank ---- */

void json_pairs_request_free(struct pairs_request *r)
{
	cJSON_Delete(r->doc);
	free(r->images);
	free(r->ids);
	free(r->texts);
	free(r->lens);
	memset(r, 0, sizeof *r);
}

/* The query: a string, or (score) an object with a "text" string. */
static enum sy_status pairs_query(const cJSON *q, bool object_ok, const struct server_limits *lim,
                                  struct api_error *err, struct pairs_request *out)
{
	if (!q)
		return api_error_set(err, 400, "INVALID_INPUT", "query: required field is missing");
	if (object_ok && cJSON_IsObject(q)) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(q, "text");
		/* score: an image as the query ({images:[...]}), for image models */
		if (parse_item_images((cJSON *)q, "query", err, &out->query_image) != SY_OK)
			return SY_ERR_INVALID_ARG;
		if (t && out->query_image.data)
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "query: give text or images, not both");
		if (!t && !out->query_image.data)
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "query.text: required field is missing (or images)");
		if (t && !cJSON_IsString(t))
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "query.text: expected string, got %s",
			                     json_type_name(t));
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(q, "id");
		if (id && !cJSON_IsNull(id)) {
			size_t bad;
			if (!cJSON_IsString(id) ||
			    json_utf8_count(id->valuestring, strlen(id->valuestring), &bad) < 0)
				return api_error_set(err, 400, "INVALID_INPUT",
				                     "query.id: expected a UTF-8 string");
			out->query_id = id->valuestring;
		}
		if (!t) {
			out->query = "";
			out->query_len = 0;
			return SY_OK;
		}
		q = t;
	} else if (!cJSON_IsString(q)) {
		return api_error_set(err, 400, "INVALID_INPUT", "query: expected %s, got %s",
		                     object_ok ? "object with text, or string" : "string",
		                     json_type_name(q));
	}
	out->query = q->valuestring;
	out->query_len = strlen(q->valuestring);
	return check_prefix("query", out->query, out->query_len, lim, err);
}

/* items (score) or documents (rerank): [{id?, text} | "text" (documents only)]. */
static enum sy_status pairs_items(const cJSON *arr, const char *name, bool strings_ok,
                                  const struct server_limits *lim, struct api_error *err,
                                  struct pairs_request *out)
{
	if (!arr)
		return api_error_set(err, 400, "INVALID_INPUT", "%s: required field is missing",
		                     name);
	if (!cJSON_IsArray(arr))
		return api_error_set(err, 400, "INVALID_INPUT", "%s: expected array, got %s", name,
		                     json_type_name(arr));
	int n = cJSON_GetArraySize(arr);
	if (n == 0)
		return api_error_set(err, 400, "INVALID_INPUT", "%s: must not be empty", name);
	if (lim->max_items > 0 && n > lim->max_items)
		return api_error_set(err, 413, "INVALID_INPUT",
		                     "%s: %d items exceed the limit of %d per request", name, n,
		                     lim->max_items);
	out->ids = calloc((size_t)n, sizeof *out->ids);
	out->texts = calloc((size_t)n, sizeof *out->texts);
	out->lens = calloc((size_t)n, sizeof *out->lens);
	out->images = calloc((size_t)n, sizeof *out->images);
	if (!out->ids || !out->texts || !out->lens || !out->images)
		return api_error_set(err, 500, "INTERNAL_ERROR", "out of memory");
	char field[64];
	int i = 0;
	for (const cJSON *it = arr->child; it; it = it->next, i++) {
		const cJSON *t = it;
		if (cJSON_IsObject(it)) {
			t = cJSON_GetObjectItemCaseSensitive(it, "text");
			snprintf(field, sizeof field, "%s[%d]", name, i);
			if (!strings_ok &&
			    parse_item_images((cJSON *)it, field, err, &out->images[i]) != SY_OK)
				return SY_ERR_INVALID_ARG;
			if (t && out->images[i].data)
				return api_error_set(err, 400, "INVALID_INPUT",
				                     "%s[%d]: give text or images, not both", name,
				                     i);
			if (!t && !out->images[i].data)
				return api_error_set(err, 400, "INVALID_INPUT",
				                     "%s[%d].text: required field is missing%s",
				                     name, i, strings_ok ? "" : " (or images)");
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
			if (id && !cJSON_IsNull(id)) {
				size_t bad;
				if (!cJSON_IsString(id))
					return api_error_set(err, 400, "INVALID_INPUT",
					                     "%s[%d].id: expected string, got %s",
					                     name, i, json_type_name(id));
				if (json_utf8_count(id->valuestring, strlen(id->valuestring),
				                    &bad) < 0)
					return api_error_set(err, 400, "INVALID_INPUT",
					                     "%s[%d].id: invalid UTF-8 at byte %zu",
					                     name, i, bad);
				out->ids[i] = id->valuestring;
			}
		} else if (!strings_ok || !cJSON_IsString(it)) {
			return api_error_set(
			    err, 400, "INVALID_INPUT", "%s[%d]: expected %s, got %s", name, i,
			    strings_ok ? "string or object" : "object", json_type_name(it));
		}
		if (out->images[i].data) {
			out->texts[i] = "";
			out->n_images++;
			continue;
		}
		if (!cJSON_IsString(t))
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "%s[%d].text: expected string, got %s", name, i,
			                     json_type_name(t));
		out->texts[i] = t->valuestring;
		out->lens[i] = strlen(t->valuestring);
		snprintf(field, sizeof field, "%s[%d].text", name, i);
		if (check_text(field, out->texts[i], out->lens[i], lim, err) != SY_OK)
			return SY_ERR_INVALID_ARG;
	}
	if (out->n_images > JSON_MAX_IMAGES)
		return api_error_set(
		    err, 413, "INVALID_INPUT",
		    "%s: %d images exceed the limit of %d per request (each is held "
		    "decoded until it runs)",
		    name, out->n_images, JSON_MAX_IMAGES);
	out->n_items = n;
	out->top_n = n;
	return SY_OK;
}

/* options: {"score_mode": "dense" | "sparse" | "colbert" | "hybrid",
 *           "score_weights": [w_dense, w_sparse, w_colbert]} (BGE-M3), and SIE's profile
 * "default"; any other option is refused by name rather than ignored. */
static enum sy_status pairs_options(const cJSON *o, struct api_error *err,
                                    struct pairs_request *out)
{
	if (!o || cJSON_IsNull(o))
		return SY_OK;
	if (!cJSON_IsObject(o))
		return api_error_set(err, 400, "INVALID_INPUT", "options: expected object, got %s",
		                     json_type_name(o));
	for (const cJSON *k = o->child; k; k = k->next) {
		const bool profile = !strcmp(k->string, "profile") && cJSON_IsString(k) &&
		                     !strcmp(k->valuestring, "default");
		if (!profile && !cJSON_IsNull(k) && strcmp(k->string, "score_mode") != 0 &&
		    strcmp(k->string, "score_weights") != 0)
			return api_error_set(
			    err, 400, "INVALID_INPUT",
			    "options.%.64s: option not supported by Switchyard (score "
			    "takes score_mode, score_weights, profile)",
			    k->string);
	}
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "score_mode");
	if (m && !cJSON_IsNull(m)) {
		const int mode = cJSON_IsString(m) ? model_score_mode_parse(m->valuestring) : -1;
		if (mode < 0)
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "options.score_mode: expected one of dense, sparse, "
			                     "colbert, hybrid");
		out->score.mode = (enum model_score_mode)mode;
		out->has_score = true;
	}
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "score_weights");
	if (w && !cJSON_IsNull(w)) {
		double sum = 0;
		bool ok = cJSON_IsArray(w) && cJSON_GetArraySize(w) == 3;
		int k = 0;
		for (const cJSON *x = ok ? w->child : NULL; x; x = x->next, k++) {
			if (!cJSON_IsNumber(x) || !(x->valuedouble >= 0 && x->valuedouble <= 1e6)) {
				ok = false;
				break;
			}
			out->score.weights[k] = (float)x->valuedouble;
			sum += x->valuedouble;
		}
		if (!ok || !(sum > 0))
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "options.score_weights: expected [w_dense, w_sparse, "
			                     "w_colbert], three numbers >= 0 with a positive sum");
		if (out->score.mode != MODEL_SCORE_HYBRID)
			return api_error_set(err, 400, "INVALID_INPUT",
			                     "options.score_weights: only with options.score_mode "
			                     "hybrid");
		out->score.has_weights = true;
		out->has_score = true;
	}
	return SY_OK;
}

/* The optional top-level "instruction" of a score or rerank body. */
static enum sy_status pairs_instruction(const cJSON *ins, const struct server_limits *lim,
                                        struct api_error *err, struct pairs_request *out)
{
	if (!ins || cJSON_IsNull(ins))
		return SY_OK;
	if (!cJSON_IsString(ins))
		return api_error_set(err, 400, "INVALID_INPUT",
		                     "instruction: expected string, got %s", json_type_name(ins));
	if (check_prefix("instruction", ins->valuestring, strlen(ins->valuestring), lim, err) !=
	    SY_OK)
		return SY_ERR_INVALID_ARG;
	out->instruction = ins->valuestring;
	return SY_OK;
}

enum sy_status json_score_request_parse(const char *body, size_t len,
                                        const struct server_limits *lim, struct api_error *err,
                                        struct pairs_request *out)
{
	memset(out, 0, sizeof *out);
	if (parse_object(body, len, err, &out->doc) != SY_OK)
		return SY_ERR_INVALID_ARG;
	if (pairs_query(cJSON_GetObjectItemCaseSensitive(out->doc, "query"), true, lim, err, out) !=
	        SY_OK ||
	    pairs_items(cJSON_GetObjectItemCaseSensitive(out->doc, "items"), "items", false, lim,
	                err, out) != SY_OK ||
	    pairs_options(cJSON_GetObjectItemCaseSensitive(out->doc, "options"), err, out) !=
	        SY_OK ||
	    pairs_instruction(cJSON_GetObjectItemCaseSensitive(out->doc, "instruction"), lim, err,
	                      out) != SY_OK) {
		json_pairs_request_free(out);
		return SY_ERR_INVALID_ARG;
	}
	return SY_OK;
}

enum sy_status json_rerank_request_parse(const char *body, size_t len,
                                         const struct server_limits *lim, struct api_error *err,
                                         struct pairs_request *out)
{
	memset(out, 0, sizeof *out);
	if (parse_object(body, len, err, &out->doc) != SY_OK)
		return SY_ERR_INVALID_ARG;
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(out->doc, "model");
	enum sy_status s = SY_OK;
	if (!m)
		s = api_error_set(err, 400, "INVALID_INPUT", "model: required field is missing");
	else if (!cJSON_IsString(m) || !m->valuestring[0])
		s = api_error_set(err, 400, "INVALID_INPUT", "model: expected a model id string");
	else
		out->model = m->valuestring;
	if (s == SY_OK)
		s = pairs_query(cJSON_GetObjectItemCaseSensitive(out->doc, "query"), false, lim,
		                err, out);
	if (s == SY_OK)
		s = pairs_items(cJSON_GetObjectItemCaseSensitive(out->doc, "documents"),
		                "documents", true, lim, err, out);
	const cJSON *tn = cJSON_GetObjectItemCaseSensitive(out->doc, "top_n");
	if (s == SY_OK && tn && !cJSON_IsNull(tn)) {
		if (!cJSON_IsNumber(tn) || !(tn->valuedouble >= 1 && tn->valuedouble <= 1e9) ||
		    floor(tn->valuedouble) != tn->valuedouble)
			s = api_error_set(err, 400, "INVALID_INPUT",
			                  "top_n: expected a positive integer");
		else if (tn->valuedouble < out->n_items)
			out->top_n =
			    (int)tn->valuedouble; /* larger: all documents, as Cohere does */
	}
	int rd = 0;
	if (s == SY_OK)
		s = get_bool(out->doc, "return_documents", "", err, &rd);
	if (s == SY_OK)
		s = pairs_options(cJSON_GetObjectItemCaseSensitive(out->doc, "options"), err, out);
	if (s == SY_OK)
		s = pairs_instruction(cJSON_GetObjectItemCaseSensitive(out->doc, "instruction"),
		                      lim, err, out);
	out->return_documents = rd;
	if (s != SY_OK) {
		json_pairs_request_free(out);
		return SY_ERR_INVALID_ARG;
	}
	return SY_OK;
}

/* ---- POST /v1/embeddings (OpenAI) ---- */

enum sy_status json_embeddings_request_parse(const char *body, size_t len,
                                             const struct server_limits *lim, struct api_error *err,
                                             struct embeddings_request *out)
{
	memset(out, 0, sizeof *out);
	if (parse_object(body, len, err, &out->doc) != SY_OK)
		return SY_ERR_INVALID_ARG;
	const cJSON *doc = out->doc;
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(doc, "model");
	if (!model) {
		api_error_set(err, 400, "INVALID_INPUT", "model: required field is missing");
		goto fail;
	}
	if (!cJSON_IsString(model) || !model->valuestring[0]) {
		api_error_set(err, 400, "INVALID_INPUT",
		              "model: expected a non-empty string, got %s", json_type_name(model));
		goto fail;
	}
	out->model = model->valuestring;

	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(doc, "encoding_format");
	if (fmt && !cJSON_IsNull(fmt)) {
		if (!cJSON_IsString(fmt)) {
			api_error_set(err, 400, "INVALID_INPUT",
			              "encoding_format: expected string, got %s",
			              json_type_name(fmt));
			goto fail;
		}
		if (!strcmp(fmt->valuestring, "base64")) {
			out->base64 = true;
		} else if (strcmp(fmt->valuestring, "float") != 0) {
			api_error_set(err, 400, "INVALID_INPUT",
			              "encoding_format: expected \"float\" or \"base64\"");
			goto fail;
		}
	}
	const cJSON *dims = cJSON_GetObjectItemCaseSensitive(doc, "dimensions");
	if (dims && !cJSON_IsNull(dims)) {
		if (!cJSON_IsNumber(dims) || dims->valuedouble < 1 || dims->valuedouble > 1 << 20 ||
		    dims->valuedouble != (double)dims->valueint) {
			api_error_set(err, 400, "INVALID_INPUT",
			              "dimensions: expected a positive integer");
			goto fail;
		}
		out->dimensions = dims->valueint;
	}

	const cJSON *input = cJSON_GetObjectItemCaseSensitive(doc, "input");
	if (!input) {
		api_error_set(err, 400, "INVALID_INPUT", "input: required field is missing");
		goto fail;
	}
	int n;
	if (cJSON_IsString(input)) {
		n = 1;
	} else if (cJSON_IsArray(input)) {
		n = cJSON_GetArraySize(input);
		if (n == 0) {
			api_error_set(err, 400, "INVALID_INPUT", "input: must not be empty");
			goto fail;
		}
	} else {
		api_error_set(err, 400, "INVALID_INPUT",
		              "input: expected a string or an array of strings, got %s",
		              json_type_name(input));
		goto fail;
	}
	if (lim->max_items > 0 && n > lim->max_items) {
		api_error_set(err, 413, "INVALID_INPUT",
		              "input: %d inputs exceed the limit of %d per request", n,
		              lim->max_items);
		goto fail;
	}
	out->texts = calloc((size_t)n, sizeof *out->texts);
	out->lens = calloc((size_t)n, sizeof *out->lens);
	if (!out->texts || !out->lens) {
		api_error_set(err, 500, "INTERNAL_ERROR", "out of memory");
		goto fail;
	}
	char field[64];
	if (cJSON_IsString(input)) {
		out->texts[0] = input->valuestring;
		out->lens[0] = strlen(input->valuestring);
		if (check_text("input", out->texts[0], out->lens[0], lim, err) != SY_OK)
			goto fail;
	} else {
		int i = 0;
		for (const cJSON *t = input->child; t; t = t->next, i++) {
			if (cJSON_IsNumber(t) || cJSON_IsArray(t)) {
				api_error_set(err, 400, "INVALID_INPUT",
				              "input[%d]: token-id arrays are not supported; send "
				              "text",
				              i);
				goto fail;
			}
			if (!cJSON_IsString(t)) {
				api_error_set(err, 400, "INVALID_INPUT",
				              "input[%d]: expected string, got %s", i,
				              json_type_name(t));
				goto fail;
			}
			out->texts[i] = t->valuestring;
			out->lens[i] = strlen(t->valuestring);
			snprintf(field, sizeof field, "input[%d]", i);
			if (check_text(field, out->texts[i], out->lens[i], lim, err) != SY_OK)
				goto fail;
		}
	}
	out->n_inputs = n;
	return SY_OK;
fail:
	json_embeddings_request_free(out);
	return SY_ERR_INVALID_ARG;
}

void json_embeddings_request_free(struct embeddings_request *r)
{
	cJSON_Delete(r->doc);
	free(r->texts);
	free(r->lens);
	memset(r, 0, sizeof *r);
}

/* ---- answers ---- */

void json_timing_write(struct sbuf *b, const struct engine_result *res, double total_ms,
                       double postprocessing_ms)
{
	/* SIE's TimingInfo; tokenize_ms, the name before tokenization_ms, stays one release. */
	sbuf_printf(b,
	            ",\"timing\":{\"total_ms\":%.3f,\"queue_ms\":%.3f,\"tokenization_ms\":%.3f,"
	            "\"inference_ms\":%.3f,\"postprocessing_ms\":%.3f,\"tokenize_ms\":%.3f}",
	            total_ms, res->queue_ms, res->tokenization_ms, res->inference_ms,
	            postprocessing_ms, res->tokenization_ms);
}

/* ---- models ---- */

/* The model's outputs as SIE names them: its encode outputs, "score" for scoring models and
 * "entities" for extractors. */
static void outputs_write(struct sbuf *b, const struct engine_model_info *m, bool with_dims)
{
	int k = 0;
	sbuf_putc(b, with_dims ? '{' : '[');
	for (unsigned bit = 1, at = 0; bit <= MODEL_OUTPUTS_ALL; bit <<= 1, at++) {
		if (!(m->outputs & bit))
			continue;
		sbuf_printf(b, "%s\"%s\"", k++ ? "," : "", model_output_name(bit));
		if (with_dims)
			sbuf_printf(b, ":%d", m->output_dims[at]);
	}
	if (!with_dims) {
		if (m->tasks & ENGINE_TASK_SCORE)
			sbuf_puts(b, k++ ? ",\"score\"" : "\"score\"");
		if (m->tasks & ENGINE_TASK_EXTRACT)
			sbuf_puts(b, k++ ? ",\"entities\"" : "\"entities\"");
		if (!m->tasks && !m->outputs)
			sbuf_puts(b, "\"dense\""); /* not loaded yet: what an encoder gives */
	}
	sbuf_putc(b, with_dims ? '}' : ']');
}

/* SIE's fields that do not clash with ours: name, inputs, loaded, max_sequence_length,
 * profiles (each after a comma). */
static void sie_fields_write(struct sbuf *b, const struct engine_model_info *m)
{
	sbuf_puts(b, ",\"name\":");
	json_write_str(b, m->id, -1);
	sbuf_printf(b, ",\"inputs\":%s,\"loaded\":%s",
	            m->images ? "[\"text\",\"image\"]" : "[\"text\"]",
	            m->state == ENGINE_MODEL_LOADED ? "true" : "false");
	if (m->max_tokens > 0)
		sbuf_printf(b, ",\"max_sequence_length\":%d", m->max_tokens);
	else
		sbuf_puts(b, ",\"max_sequence_length\":null");
	sbuf_puts(b, ",\"profiles\":{\"default\":{\"is_default\":true}}");
}

void json_model_info_write_sie(struct sbuf *b, const struct engine_model_info *m)
{
	sbuf_puts(b, "{\"name\":");
	json_write_str(b, m->id, -1);
	sbuf_puts(b, m->images ? ",\"inputs\":[\"text\",\"image\"],\"outputs\":"
	                       : ",\"inputs\":[\"text\"],\"outputs\":");
	outputs_write(b, m, false);
	sbuf_puts(b, ",\"dims\":");
	outputs_write(b, m, true);
	sbuf_printf(
	    b, ",\"loaded\":%s,\"state\":", m->state == ENGINE_MODEL_LOADED ? "true" : "false");
	json_write_str(b, engine_model_state_str(m->state), -1);
	if (m->state == ENGINE_MODEL_FAILED) {
		sbuf_puts(b, ",\"last_error\":{\"code\":\"LOAD_FAILED\",\"message\":");
		json_write_str(b, m->error, -1);
		sbuf_printf(b, ",\"attempts\":%ld,\"permanent\":false}", m->n_load_failures);
	} else {
		sbuf_puts(b, ",\"last_error\":null");
	}
	if (m->max_tokens > 0)
		sbuf_printf(b, ",\"max_sequence_length\":%d", m->max_tokens);
	else
		sbuf_puts(b, ",\"max_sequence_length\":null");
	sbuf_puts(b, ",\"profiles\":{\"default\":{\"is_default\":true}}}");
}

void json_model_info_write(struct sbuf *b, const struct engine_model_info *m, bool sie)
{
	sbuf_puts(b, "{\"id\":");
	json_write_str(b, m->id, -1);
	sbuf_puts(b, ",\"object\":\"model\",\"owned_by\":\"switchyard\",\"state\":");
	json_write_str(b, engine_model_state_str(m->state), -1);
	/* Known once the model has loaded (until then: encode). Scoring models also rerank; the
	 * encode task's output type, and "entities" for extractors. */
	const unsigned t = m->tasks ? m->tasks : ENGINE_TASK_ENCODE;
	sbuf_puts(b, ",\"tasks\":[");
	int k = 0;
	if (t & ENGINE_TASK_ENCODE)
		sbuf_puts(b, k++ ? ",\"encode\"" : "\"encode\"");
	if (t & ENGINE_TASK_SCORE)
		sbuf_puts(b, k++ ? ",\"score\",\"rerank\"" : "\"score\",\"rerank\"");
	if (t & ENGINE_TASK_EXTRACT)
		sbuf_puts(b, k++ ? ",\"extract\"" : "\"extract\"");
	sbuf_puts(b, "],\"arch\":");
	json_write_str(b, m->arch, -1);
	sbuf_printf(b, ",\"precision\":\"%s\"", linear_precision_name(m->precision));
	if (m->outputs || (m->tasks & ENGINE_TASK_EXTRACT)) {
		sbuf_puts(b, ",\"outputs\":");
		const struct engine_model_info only = {.outputs = m->outputs,
		                                       .tasks = m->tasks & ENGINE_TASK_EXTRACT};
		outputs_write(b, &only, false);
	}
	if (m->labels[0]) {
		sbuf_puts(b, ",\"labels\":[");
		for (const char *l = m->labels; *l;) {
			const char *nl = strchr(l, '\n');
			size_t n = nl ? (size_t)(nl - l) : strlen(l);
			if (l != m->labels)
				sbuf_putc(b, ',');
			json_write_str(b, l, (long)n);
			l += n + (nl ? 1 : 0);
		}
		sbuf_putc(b, ']');
	}
	if (m->max_tokens > 0)
		sbuf_printf(b, ",\"max_tokens\":%d", m->max_tokens);
	/* dims: our dense width in the list's data; SIE's {output: width} map in a single model's
	 * answer, as SIE's SDK reads it. */
	if (sie) {
		sbuf_puts(b, ",\"dims\":");
		outputs_write(b, m, true);
	} else {
		sbuf_printf(b, ",\"dims\":%d", m->dims);
	}
	sbuf_printf(b,
	            ",\"bytes\":%zu,\"pinned\":%s,\"idle_s\":%.3f,"
	            "\"queue_items\":%ld,\"requests\":%ld,\"items\":%ld,\"tokens\":%ld,"
	            "\"batches\":%ld,\"errors\":%ld,\"loads\":%ld,\"evictions\":%ld,"
	            "\"load_failures\":%ld,\"cancelled_items\":%ld,\"load_ms\":%.3f",
	            m->bytes, m->pinned ? "true" : "false", m->idle_s, m->queue_items,
	            m->n_requests, m->n_items, m->n_tokens, m->n_batches, m->n_errors, m->n_loads,
	            m->n_evictions, m->n_load_failures, m->n_cancelled_items, m->load_ms);
	if (m->state == ENGINE_MODEL_FAILED || m->error[0]) {
		sbuf_puts(b, ",\"error\":");
		json_write_str(b, m->error, -1);
	}
	if (sie)
		sie_fields_write(b, m);
	sbuf_putc(b, '}');
}
