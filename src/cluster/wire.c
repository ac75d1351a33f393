/* The cluster's JSON messages (see wire.h). Writers use the server's JSON helpers; readers
 * use cJSON and validate every field, since a message may come from anywhere on the bus. */
#include "cluster/wire.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/json_codec.h"

/* ---- work ---- */

enum wire_kind wire_kind_of(const struct engine_request *req)
{
	switch (req->task) {
	case ENGINE_TASK_SCORE: return WIRE_DENSE;
	case ENGINE_TASK_EXTRACT: return WIRE_ENTITIES;
	case ENGINE_TASK_ENCODE: break;
	}
	const unsigned o = req->encode.outputs ? req->encode.outputs : ENGINE_OUTPUT_DENSE;
	return o & ENGINE_OUTPUT_MULTIVECTOR ? WIRE_MULTIVECTOR
	       : o & ENGINE_OUTPUT_SPARSE    ? WIRE_SPARSE
	                                     : WIRE_DENSE;
}

bool wire_reply_subject_ok(const char *subject)
{
	static const char prefix[] = "_INBOX.";
	const size_t n = strlen(subject);
	if (n > 255 || strncmp(subject, prefix, sizeof prefix - 1) != 0)
		return false;
	const char *p = subject + sizeof prefix - 1;
	bool token = false; /* inside a token (no empty ones: "a..b", a trailing '.') */
	for (; *p; p++) {
		if (*p == '.') {
			if (!token)
				return false;
			token = false;
		} else if (isalnum((unsigned char)*p) || *p == '_' || *p == '-') {
			token = true;
		} else {
			return false;
		}
	}
	return token;
}

/* Item i's image, or NULL when it is a text. */
static const struct model_image *image_at(const struct engine_request *req, int i)
{
	return req->items.images && req->items.images[i].data ? &req->items.images[i] : NULL;
}

void wire_work_write(struct sbuf *b, const char *reply, const char *req_id, int first, int n,
                     const struct engine_request *req, bool return_tokens)
{
	const bool enc = req->task == ENGINE_TASK_ENCODE, score = req->task == ENGINE_TASK_SCORE;
	const struct extract_params *xp =
	    req->task == ENGINE_TASK_EXTRACT ? req->extract.params : NULL;
	const char *instruction = enc     ? req->encode.instruction
	                          : score ? req->score.instruction
	                                  : NULL;
	const int normalize = enc ? req->encode.normalize : -1;
	sbuf_puts(b, "{\"v\":1,\"reply\":");
	json_write_str(b, reply, -1);
	sbuf_puts(b, ",\"req\":");
	json_write_str(b, req_id, -1);
	sbuf_printf(b, ",\"first\":%d,\"model\":", first);
	json_write_str(b, req->items.model, -1);
	sbuf_printf(b,
	            ",\"p\":{\"task\":%d,\"outputs\":%u,\"normalize\":%d,\"truncate\":%s,"
	            "\"is_query\":%s,\"dims\":%d,",
	            (int)req->task, enc ? req->encode.outputs : 0u,
	            normalize < 0 ? -1 : normalize > 0, req->items.truncate ? "true" : "false",
	            enc && req->encode.is_query ? "true" : "false",
	            enc ? req->encode.dimensions : 0);
	/* Written only when set, so units from older gateways and the usual ones read alike. */
	if (req->items.max_length > 0 || req->items.truncate_left)
		sbuf_printf(b, "\"max_len\":%d,\"left\":%s,", req->items.max_length,
		            req->items.truncate_left ? "true" : "false");
	if (enc && req->encode.pooling)
		sbuf_printf(b, "\"pool\":%d,", req->encode.pooling);
	sbuf_puts(b, "\"instruction\":");
	if (instruction)
		json_write_str(b, instruction, -1);
	else
		sbuf_puts(b, "null");
	sbuf_puts(b, ",\"query\":");
	if (score && req->score.query)
		json_write_str(b, req->score.query, (long)req->score.query_len);
	else
		sbuf_puts(b, "null");
	sbuf_puts(b, ",\"labels\":");
	if (xp && xp->labels) {
		sbuf_putc(b, '[');
		for (int i = 0; i < xp->n_labels; i++) {
			if (i)
				sbuf_putc(b, ',');
			json_write_str(b, xp->labels[i], -1);
		}
		sbuf_putc(b, ']');
	} else {
		sbuf_puts(b, "null");
	}
	sbuf_puts(b, ",\"threshold\":");
	json_write_float(b, xp ? xp->threshold : -1.0f);
	sbuf_printf(b, ",\"aggregation\":%d,\"tokens\":%s},\"texts\":[",
	            xp ? (int)xp->aggregation : 0, return_tokens ? "true" : "false");
	for (int i = 0; i < n; i++) {
		if (i)
			sbuf_putc(b, ',');
		const struct model_image *im = image_at(req, first + i);
		if (im)
			sbuf_puts(b, "\"\"");
		else
			json_write_str(b, req->items.texts[first + i],
			               (long)req->items.lens[first + i]);
	}
	sbuf_putc(b, ']');
	/* Images: their places in the bytes after the JSON, then the bytes themselves. */
	const struct model_image *q =
	    score && req->score.query_image && req->score.query_image->data ? req->score.query_image
	                                                                    : NULL;
	size_t at = 0;
	if (q) {
		sbuf_printf(b, ",\"qimage\":{\"f\":%d,\"o\":0,\"n\":%zu}", q->format, q->len);
		at = q->len;
	}
	bool any = false;
	for (int i = 0; i < n; i++)
		any = any || image_at(req, first + i);
	for (int i = 0; any && i < n; i++) {
		const struct model_image *im = image_at(req, first + i);
		sbuf_puts(b, i ? "," : ",\"images\":[");
		if (im) {
			sbuf_printf(b, "{\"f\":%d,\"o\":%zu,\"n\":%zu}", im->format, at, im->len);
			at += im->len;
		} else {
			sbuf_puts(b, "null");
		}
	}
	sbuf_puts(b, any ? "]}" : "}");
	if (!q && !any)
		return;
	sbuf_putc(b, '\0');
	if (q)
		sbuf_put(b, (const char *)q->data, q->len);
	for (int i = 0; i < n; i++) {
		const struct model_image *im = image_at(req, first + i);
		if (im)
			sbuf_put(b, (const char *)im->data, im->len);
	}
}

static const char *get_str(const cJSON *o, const char *k, bool nullable, bool *ok)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (nullable && (!v || cJSON_IsNull(v)))
		return NULL;
	if (!cJSON_IsString(v)) {
		*ok = false;
		return NULL;
	}
	return v->valuestring;
}

static double get_num(const cJSON *o, const char *k, double lo, double hi, bool *ok)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) {
		*ok = false;
		return lo;
	}
	return v->valuedouble;
}

static bool get_bool(const cJSON *o, const char *k, bool *ok)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsBool(v)) {
		*ok = false;
		return false;
	}
	return cJSON_IsTrue(v);
}

/* An image's place {"f":format,"o":offset,"n":bytes} in the bytes after the JSON: true and
 * *im set (data pointing into blob) when it is one and lies inside them. */
static bool blob_ref(const cJSON *o, const unsigned char *blob, size_t blob_len,
                     struct model_image *im)
{
	bool ok = cJSON_IsObject(o);
	const double f = ok ? get_num(o, "f", 0, 3, &ok) : 0;
	const double off = ok ? get_num(o, "o", 0, (double)blob_len, &ok) : 0;
	const double n = ok ? get_num(o, "n", 1, (double)blob_len, &ok) : 0;
	if (!ok || off + n > (double)blob_len)
		return false;
	*im = (struct model_image){blob + (size_t)off, (size_t)n, (int)f};
	return true;
}

enum sy_status wire_work_parse(const char *data, size_t len, struct sy_error *err,
                               struct wire_work *out)
{
	memset(out, 0, sizeof *out);
	/* The JSON ends at the first NUL byte; the images' bytes follow it. */
	const char *nul = memchr(data, '\0', len);
	const unsigned char *blob = nul ? (const unsigned char *)nul + 1 : NULL;
	const size_t blob_len = nul ? len - (size_t)(nul - data) - 1 : 0;
	out->doc = cJSON_ParseWithLength(data, nul ? (size_t)(nul - data) : len);
	if (!cJSON_IsObject(out->doc)) {
		wire_work_free(out);
		return sy_error_set(err, SY_ERR_FORMAT, "work message: not a JSON object");
	}
	bool ok = get_num(out->doc, "v", 1, 1, &(bool){true}) == 1;
	if (!ok) {
		wire_work_free(out);
		return sy_error_set(err, SY_ERR_FORMAT, "work message: unknown version");
	}
	out->reply = get_str(out->doc, "reply", false, &ok);
	out->req_id = get_str(out->doc, "req", false, &ok);
	out->model = get_str(out->doc, "model", false, &ok);
	out->first = (int)get_num(out->doc, "first", 0, WIRE_MAX_TEXTS, &ok);
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(out->doc, "p");
	const cJSON *texts = cJSON_GetObjectItemCaseSensitive(out->doc, "texts");
	if (!ok || !cJSON_IsObject(p) || !cJSON_IsArray(texts)) {
		wire_work_free(out);
		return sy_error_set(
		    err, SY_ERR_FORMAT,
		    "work message: reply, req, model, first, p and texts are required");
	}
	if (strlen(out->req_id) >= sizeof(((struct wire_reply *)0)->req_id) ||
	    !wire_reply_subject_ok(out->reply) || !out->model[0]) {
		wire_work_free(out);
		return sy_error_set(err, SY_ERR_FORMAT, "work message: bad reply, req or model");
	}
	struct engine_request *er = &out->er;
	const int task = (int)get_num(p, "task", 1, 4, &ok);
	const unsigned outputs = (unsigned)get_num(p, "outputs", 0, 7, &ok);
	const int normalize = (int)get_num(p, "normalize", -1, 1, &ok);
	const bool truncate = get_bool(p, "truncate", &ok);
	const bool is_query = get_bool(p, "is_query", &ok);
	/* "dims" is optional: units from a gateway that predates it ask for every dimension */
	const int dims = cJSON_GetObjectItemCaseSensitive(p, "dims")
	                     ? (int)get_num(p, "dims", 0, 1 << 20, &ok)
	                     : 0;
	/* optional: a per-request token limit, truncation from the start, a pooling */
	const int max_len = cJSON_GetObjectItemCaseSensitive(p, "max_len")
	                        ? (int)get_num(p, "max_len", 0, 1 << 20, &ok)
	                        : 0;
	const bool left = cJSON_GetObjectItemCaseSensitive(p, "left") && get_bool(p, "left", &ok);
	const int pool = cJSON_GetObjectItemCaseSensitive(p, "pool")
	                     ? (int)get_num(p, "pool", 0, POOLING_LAST, &ok)
	                     : 0;
	const char *instruction = get_str(p, "instruction", true, &ok);
	const char *query = get_str(p, "query", true, &ok);
	const cJSON *qimage = cJSON_GetObjectItemCaseSensitive(out->doc, "qimage");
	if (qimage && !blob_ref(qimage, blob, blob_len, &out->qimage))
		ok = false;
	if (task == ENGINE_TASK_ENCODE && outputs != 0)
		*er = (struct engine_request){.task = ENGINE_TASK_ENCODE,
		                              .encode = {.outputs = outputs,
		                                         .normalize = normalize,
		                                         .is_query = is_query,
		                                         .instruction = instruction,
		                                         .dimensions = dims,
		                                         .pooling = pool}};
	else if (task == ENGINE_TASK_SCORE && (query || out->qimage.data))
		*er = (struct engine_request){
		    .task = ENGINE_TASK_SCORE,
		    .score = {.query = query ? query : "",
		              .query_len = query ? strlen(query) : 0,
		              .query_image = out->qimage.data ? &out->qimage : NULL,
		              .instruction = instruction}};
	else if (task == ENGINE_TASK_EXTRACT)
		*er = (struct engine_request){.task = ENGINE_TASK_EXTRACT,
		                              .extract = {.params = &out->xp}};
	else
		ok = false;
	er->items.model = out->model;
	er->items.truncate = truncate;
	er->items.max_length = max_len;
	er->items.truncate_left = left;
	out->xp.threshold = (float)get_num(p, "threshold", -1, 1, &ok);
	out->xp.aggregation = (enum ner_aggregation)get_num(p, "aggregation", 0, 3, &ok);
	out->return_tokens = get_bool(p, "tokens", &ok);
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(p, "labels");
	const int n_labels = cJSON_IsArray(labels) ? cJSON_GetArraySize(labels) : 0;
	const int n = cJSON_GetArraySize(texts);
	if (ok && labels && !cJSON_IsNull(labels) &&
	    (!cJSON_IsArray(labels) || n_labels < 1 || n_labels > WIRE_MAX_LABELS))
		ok = false;
	if (!ok || n < 1 || n > WIRE_MAX_TEXTS || out->first + n > WIRE_MAX_TEXTS) {
		wire_work_free(out);
		return sy_error_set(err, SY_ERR_FORMAT, "work message: bad parameters or texts");
	}
	out->texts = calloc((size_t)n, sizeof *out->texts);
	out->lens = calloc((size_t)n, sizeof *out->lens);
	out->labels = n_labels ? calloc((size_t)n_labels, sizeof *out->labels) : NULL;
	out->params = cJSON_PrintUnformatted(p);
	if (!out->texts || !out->lens || (n_labels && !out->labels) || !out->params) {
		wire_work_free(out);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	int i = 0;
	for (const cJSON *t = texts->child; t; t = t->next, i++) {
		if (!cJSON_IsString(t)) {
			wire_work_free(out);
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "work message: texts[%d] is not a string", i);
		}
		out->texts[i] = t->valuestring;
		out->lens[i] = strlen(t->valuestring);
	}
	i = 0;
	for (const cJSON *l = n_labels ? labels->child : NULL; l; l = l->next, i++) {
		if (!cJSON_IsString(l) || !l->valuestring[0]) {
			wire_work_free(out);
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "work message: labels[%d] is not a name", i);
		}
		out->labels[i] = l->valuestring;
	}
	const cJSON *images = cJSON_GetObjectItemCaseSensitive(out->doc, "images");
	if (images && (!cJSON_IsArray(images) || cJSON_GetArraySize(images) != n ||
	               task == ENGINE_TASK_EXTRACT)) {
		wire_work_free(out);
		return sy_error_set(err, SY_ERR_FORMAT, "work message: bad images");
	}
	if (images) {
		out->images = calloc((size_t)n, sizeof *out->images);
		if (!out->images) {
			wire_work_free(out);
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		}
		i = 0;
		for (const cJSON *im = images->child; im; im = im->next, i++)
			if (!cJSON_IsNull(im) && !blob_ref(im, blob, blob_len, &out->images[i])) {
				wire_work_free(out);
				return sy_error_set(err, SY_ERR_FORMAT,
				                    "work message: images[%d] is not a place in "
				                    "its bytes",
				                    i);
			}
		er->items.images = out->images;
	}
	out->xp.labels = out->labels;
	out->xp.n_labels = n_labels;
	er->items.n_items = n;
	er->items.texts = out->texts;
	er->items.lens = out->lens;
	return SY_OK;
}

void wire_work_free(struct wire_work *w)
{
	cJSON_Delete(w->doc);
	free(w->params);
	free(w->texts);
	free(w->lens);
	free(w->labels);
	free(w->images);
	memset(w, 0, sizeof *w);
}

/* ---- replies ---- */

void wire_reply_write_error(struct sbuf *b, const char *req_id, int first,
                            const struct sy_error *err)
{
	sbuf_puts(b, "{\"req\":");
	json_write_str(b, req_id, -1);
	sbuf_printf(b, ",\"first\":%d,\"ok\":false,\"status\":%d,\"hint\":%u,\"message\":", first,
	            (int)err->status, err->hint & 7u);
	json_write_str(b, err->msg, -1);
	sbuf_putc(b, '}');
}

void wire_reply_write_ok(struct sbuf *b, const char *req_id, int first,
                         const struct engine_result *res, int from, int n,
                         const struct engine_request *req, bool return_tokens,
                         const char *(*tokens)(void *ctx, int id), void *tokens_ctx)
{
	sbuf_puts(b, "{\"req\":");
	json_write_str(b, req_id, -1);
	sbuf_printf(b, ",\"first\":%d,\"ok\":true,\"dims\":%d,\"n_tokens\":[", first, res->dims);
	for (int i = 0; i < n; i++)
		sbuf_printf(b, i ? ",%d" : "%d", res->n_tokens[from + i]);
	sbuf_printf(b, "],\"queue_ms\":%.3f,\"inference_ms\":%.3f", res->queue_ms,
	            res->inference_ms);
	const bool sparse = req->task == ENGINE_TASK_ENCODE &&
	                    (req->encode.outputs & ENGINE_OUTPUT_SPARSE) && !res->items;
	if (res->items && req->task == ENGINE_TASK_EXTRACT) {
		sbuf_puts(b, ",\"entities\":[");
		for (int i = 0; i < n; i++) {
			const struct model_item_result *r = &res->items[from + i];
			sbuf_puts(b, i ? ",[" : "[");
			for (int k = 0; k < r->n_entities; k++) {
				const struct model_entity *e = &r->entities[k];
				sbuf_puts(b, k ? ",{\"l\":" : "{\"l\":");
				json_write_str(b, e->label, -1);
				sbuf_printf(b, ",\"s\":%zu,\"e\":%zu,\"x\":", e->start, e->end);
				json_write_float(b, e->score);
				sbuf_putc(b, '}');
			}
			sbuf_putc(b, ']');
		}
		sbuf_puts(b, "]}");
		return;
	}
	if (res->items) {
		sbuf_puts(b, ",\"multivector\":[");
		for (int i = 0; i < n; i++) {
			const struct model_item_result *r = &res->items[from + i];
			sbuf_printf(b, "%s{\"d\":%d,\"n\":%d,\"v\":", i ? "," : "", r->dims,
			            r->n_vectors);
			json_write_floats(b, r->vectors, r->n_vectors * r->dims);
			sbuf_putc(b, '}');
		}
		sbuf_puts(b, "]}");
		return;
	}
	/* Scores travel as dense vectors of one dimension. */
	const float *rows = res->scores ? res->scores : res->dense;
	sbuf_puts(b, sparse ? ",\"sparse\":[" : ",\"dense\":[");
	for (int i = 0; i < n; i++) {
		const float *v = rows + (size_t)(from + i) * (size_t)res->dims;
		if (i)
			sbuf_putc(b, ',');
		if (!sparse) {
			json_write_floats(b, v, res->dims);
			continue;
		}
		sbuf_puts(b, "{\"i\":[");
		int k = 0;
		for (int d = 0; d < res->dims; d++)
			if (v[d] != 0)
				sbuf_printf(b, k++ ? ",%d" : "%d", d);
		sbuf_puts(b, "],\"v\":[");
		k = 0;
		for (int d = 0; d < res->dims; d++)
			if (v[d] != 0) {
				if (k++)
					sbuf_putc(b, ',');
				json_write_float(b, v[d]);
			}
		sbuf_putc(b, ']');
		if (return_tokens && tokens) {
			sbuf_puts(b, ",\"t\":[");
			k = 0;
			for (int d = 0; d < res->dims; d++)
				if (v[d] != 0) {
					const char *t = tokens(tokens_ctx, d);
					if (k++)
						sbuf_putc(b, ',');
					if (t)
						json_write_str(b, t, -1);
					else
						sbuf_puts(b, "null");
				}
			sbuf_putc(b, ']');
		}
		sbuf_putc(b, '}');
	}
	sbuf_puts(b, "]}");
}

static enum sy_status bad_reply(struct sy_error *err, struct wire_reply *r, const char *what)
{
	wire_reply_free(r);
	return sy_error_set(err, SY_ERR_FORMAT, "reply: %s", what);
}

/* Reads a float array of exactly n numbers into out. */
static bool read_floats(const cJSON *a, float *out, long n)
{
	if (!cJSON_IsArray(a))
		return false;
	long i = 0;
	for (const cJSON *x = a->child; x; x = x->next, i++) {
		if (i >= n || !cJSON_IsNumber(x))
			return false;
		out[i] = (float)x->valuedouble;
	}
	return i == n;
}

static enum sy_status parse_entities(const cJSON *list, struct wire_reply *r, struct sy_error *err)
{
	int i = 0;
	for (const cJSON *it = list->child; it; it = it->next, i++) {
		if (!cJSON_IsArray(it))
			return bad_reply(err, r, "entities must be arrays");
		const int m = cJSON_GetArraySize(it);
		struct model_item_result *ir = &r->items[i];
		ir->entities = m ? calloc((size_t)m, sizeof *ir->entities) : NULL;
		if (m && !ir->entities)
			return bad_reply(err, r, "out of memory");
		for (const cJSON *e = it->child; e; e = e->next) {
			bool ok = true;
			struct model_entity *en = &ir->entities[ir->n_entities];
			const char *l = get_str(e, "l", false, &ok);
			en->start = (size_t)get_num(e, "s", 0, 1e12, &ok);
			en->end = (size_t)get_num(e, "e", 0, 1e12, &ok);
			en->score = (float)get_num(e, "x", -1e30, 1e30, &ok);
			if (!ok || strlen(l) >= sizeof en->label || en->end < en->start)
				return bad_reply(err, r, "a malformed entity");
			snprintf(en->label, sizeof en->label, "%s", l);
			ir->n_entities++;
		}
	}
	return SY_OK;
}

static enum sy_status parse_multivectors(const cJSON *list, struct wire_reply *r,
                                         struct sy_error *err)
{
	int i = 0;
	for (const cJSON *it = list->child; it; it = it->next, i++) {
		bool ok = true;
		struct model_item_result *ir = &r->items[i];
		ir->dims = (int)get_num(it, "d", 1, 65536, &ok);
		ir->n_vectors = (int)get_num(it, "n", 0, 1 << 20, &ok);
		if (!ok || (long)ir->dims * ir->n_vectors > (1L << 26))
			return bad_reply(err, r, "a malformed multivector");
		ir->vectors =
		    malloc((size_t)ir->dims * (size_t)(ir->n_vectors + 1) * sizeof(float));
		if (!ir->vectors)
			return bad_reply(err, r, "out of memory");
		if (!read_floats(cJSON_GetObjectItemCaseSensitive(it, "v"), ir->vectors,
		                 (long)ir->dims * ir->n_vectors))
			return bad_reply(err, r, "multivector values do not match d x n");
	}
	return SY_OK;
}

static enum sy_status parse_sparse(const cJSON *list, struct wire_reply *r, struct sy_error *err)
{
	int i = 0;
	for (const cJSON *it = list->child; it; it = it->next, i++) {
		const cJSON *ix = cJSON_GetObjectItemCaseSensitive(it, "i");
		const cJSON *vx = cJSON_GetObjectItemCaseSensitive(it, "v");
		const cJSON *tx = cJSON_GetObjectItemCaseSensitive(it, "t");
		if (!cJSON_IsArray(ix) || !cJSON_IsArray(vx) ||
		    cJSON_GetArraySize(ix) != cJSON_GetArraySize(vx) ||
		    (tx &&
		     (!cJSON_IsArray(tx) || cJSON_GetArraySize(tx) != cJSON_GetArraySize(ix))))
			return bad_reply(err, r, "a malformed sparse vector");
		float *row = r->dense + (size_t)i * (size_t)r->dims;
		const cJSON *v = vx->child, *t = tx ? tx->child : NULL;
		for (const cJSON *x = ix->child; x; x = x->next, v = v->next) {
			if (!cJSON_IsNumber(x) || !cJSON_IsNumber(v) || x->valuedouble < 0 ||
			    x->valuedouble >= r->dims)
				return bad_reply(err, r, "a sparse index out of range");
			const int id = (int)x->valuedouble;
			row[id] = (float)v->valuedouble;
			if (t) {
				if (cJSON_IsString(t)) {
					int *ids = realloc(r->term_ids,
					                   (size_t)(r->n_terms + 1) * sizeof *ids);
					if (ids)
						r->term_ids = ids;
					char **names =
					    realloc(r->term_names,
					            (size_t)(r->n_terms + 1) * sizeof *names);
					if (names)
						r->term_names = names;
					char *name = strdup(t->valuestring);
					if (!ids || !names || !name) {
						free(name);
						return bad_reply(err, r, "out of memory");
					}
					r->term_ids[r->n_terms] = id;
					r->term_names[r->n_terms++] = name;
				}
				t = t->next;
			}
		}
	}
	return SY_OK;
}

enum sy_status wire_reply_parse(const char *data, size_t len, int dims_limit, struct sy_error *err,
                                struct wire_reply *out)
{
	memset(out, 0, sizeof *out);
	cJSON *doc = cJSON_ParseWithLength(data, len);
	enum sy_status s = SY_OK;
	bool ok = cJSON_IsObject(doc);
	const char *req = ok ? get_str(doc, "req", false, &ok) : NULL;
	if (ok && strlen(req) >= sizeof out->req_id)
		ok = false;
	if (ok) {
		snprintf(out->req_id, sizeof out->req_id, "%s", req);
		out->first = (int)get_num(doc, "first", 0, WIRE_MAX_TEXTS, &ok);
	}
	const bool good = ok && get_bool(doc, "ok", &ok);
	if (!ok) {
		cJSON_Delete(doc);
		return bad_reply(err, out, "not a reply (req, first, ok)");
	}
	if (!good) {
		out->status = (enum sy_status)get_num(doc, "status", 1, SY_ERR_DEAD_LETTER, &ok);
		const char *m = get_str(doc, "message", false, &ok);
		if (!ok)
			out->status = SY_ERR_INTERNAL;
		snprintf(out->message, sizeof out->message, "%s", m ? m : "a worker failed");
		/* Optional; the engine's task bits (what the model offers) when present. */
		bool hint_ok = true;
		const unsigned hint = (unsigned)get_num(doc, "hint", 0, 7, &hint_ok);
		out->hint = hint_ok ? hint : 0;
		cJSON_Delete(doc);
		return SY_OK;
	}
	out->dims = (int)get_num(doc, "dims", 0, dims_limit, &ok);
	out->queue_ms = get_num(doc, "queue_ms", 0, 1e12, &ok);
	out->inference_ms = get_num(doc, "inference_ms", 0, 1e12, &ok);
	const cJSON *nt = cJSON_GetObjectItemCaseSensitive(doc, "n_tokens");
	const int n = cJSON_IsArray(nt) ? cJSON_GetArraySize(nt) : 0;
	if (!ok || n < 1 || n > WIRE_MAX_TEXTS) {
		cJSON_Delete(doc);
		return bad_reply(err, out, "bad dims, timing or n_tokens");
	}
	out->n = n;
	out->n_tokens = calloc((size_t)n, sizeof *out->n_tokens);
	if (!out->n_tokens) {
		cJSON_Delete(doc);
		return bad_reply(err, out, "out of memory");
	}
	int i = 0;
	for (const cJSON *x = nt->child; x; x = x->next, i++) {
		if (!cJSON_IsNumber(x) || !(x->valuedouble >= 0 && x->valuedouble <= 1e9)) {
			cJSON_Delete(doc);
			return bad_reply(err, out, "n_tokens must hold counts");
		}
		out->n_tokens[i] = (int)x->valuedouble;
	}
	const cJSON *dense = cJSON_GetObjectItemCaseSensitive(doc, "dense");
	const cJSON *sparse = cJSON_GetObjectItemCaseSensitive(doc, "sparse");
	const cJSON *multi = cJSON_GetObjectItemCaseSensitive(doc, "multivector");
	const cJSON *ents = cJSON_GetObjectItemCaseSensitive(doc, "entities");
	const cJSON *list = dense ? dense : sparse ? sparse : multi ? multi : ents;
	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) != n) {
		cJSON_Delete(doc);
		return bad_reply(err, out, "no results, or not one per text");
	}
	out->kind = dense    ? WIRE_DENSE
	            : sparse ? WIRE_SPARSE
	            : multi  ? WIRE_MULTIVECTOR
	                     : WIRE_ENTITIES;
	if (dense || sparse) {
		if ((size_t)n * (size_t)out->dims > ((size_t)1 << 28)) {
			cJSON_Delete(doc);
			return bad_reply(err, out, "too large");
		}
		out->dense = calloc((size_t)n * (size_t)(out->dims ? out->dims : 1), sizeof(float));
		if (!out->dense) {
			cJSON_Delete(doc);
			return bad_reply(err, out, "out of memory");
		}
		i = 0;
		if (dense) {
			for (const cJSON *row = dense->child; row; row = row->next, i++)
				if (!read_floats(row, out->dense + (size_t)i * out->dims,
				                 out->dims)) {
					cJSON_Delete(doc);
					return bad_reply(err, out,
					                 "a dense vector of the wrong size");
				}
		} else {
			s = parse_sparse(sparse, out, err);
		}
	} else {
		out->items = calloc((size_t)n, sizeof *out->items);
		if (!out->items) {
			cJSON_Delete(doc);
			return bad_reply(err, out, "out of memory");
		}
		s = multi ? parse_multivectors(multi, out, err) : parse_entities(ents, out, err);
	}
	cJSON_Delete(doc);
	return s;
}

void wire_reply_free(struct wire_reply *r)
{
	free(r->dense);
	for (int i = 0; r->items && i < r->n; i++)
		model_item_result_free(&r->items[i]);
	free(r->items);
	free(r->n_tokens);
	for (int i = 0; i < r->n_terms; i++)
		free(r->term_names[i]);
	free(r->term_names);
	free(r->term_ids);
	memset(r, 0, sizeof *r);
}

void wire_cancel_subject(char *buf, size_t cap, const char *pool)
{
	snprintf(buf, cap, "sy.cancel.%s", pool);
}

bool wire_cancel_key(char *buf, size_t cap, const char *reply, const char *req_id)
{
	const int k = snprintf(buf, cap, "%s %s", reply, req_id);
	return k > 0 && (size_t)k < cap;
}
