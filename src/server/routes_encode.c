/* POST /v1/encode/{model} and /v1/extract/{model} (DESIGN.md section 3; score and rerank are in
 * routes_score.c).
 *
 * Both parse and validate the whole request first (limits, types, UTF-8), so a bad request
 * costs no engine work; then one dispatched encode request, whose items the engine batches
 * with those of concurrent requests. Encode answers dense, sparse (SPLADE) or multivector
 * (ColBERT: {token_dims, num_tokens, dtype, values}, values a list of vectors) in SIE's
 * shapes, each vector in the output_dtype asked for (quantize.h: per row, so a multi-vector is
 * quantised per token); extract answers entities with character offsets (code points, as
 * Python counts them) into each text, and SIE's other result lists (empty here). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "server/json_codec.h"
#include "server/msgpack_codec.h"
#include "server/quantize.h"
#include "text/tokenizer.h"
#include "server/server_internal.h"

static bool model_missing(struct request *rq, const char *model, const char *route,
                          struct response *rs)
{
	if (!model[0]) {
		response_error_set(rs, 404, "MODEL_NOT_FOUND",
		                   "no model named in the path; use /v1/%s/{model}", route);
		return true;
	}
	return false;
}

struct term {
	int index;
	float value;
};

/* The JSON array of one row of n floats in dtype d: numbers for float32 and float16 (rounded
 * to half precision), integers for int8 and uint8, packed bytes (0..255) for binary. false when
 * out of memory. */
static bool write_row(struct sbuf *b, const float *v, int n, enum output_dtype d, bool brackets)
{
	if (brackets)
		sbuf_putc(b, '[');
	if (d == OUTPUT_DTYPE_FLOAT32 || d == OUTPUT_DTYPE_FLOAT16) {
		for (int i = 0; i < n; i++) {
			if (i)
				sbuf_putc(b, ',');
			json_write_float(b, d == OUTPUT_DTYPE_FLOAT16
			                        ? msgpack_half_to_float(msgpack_float_to_half(v[i]))
			                        : v[i]);
		}
	} else {
		const int m = d == OUTPUT_DTYPE_INT8 || d == OUTPUT_DTYPE_UINT8 ? n : (n + 7) / 8;
		uint8_t *q = malloc((size_t)(m > 0 ? m : 1));
		if (!q)
			return false;
		if (d == OUTPUT_DTYPE_INT8)
			quantize_int8(v, n, (int8_t *)q);
		else if (d == OUTPUT_DTYPE_UINT8)
			quantize_uint8(v, n, q);
		else
			quantize_packbits(v, n, q);
		for (int i = 0; i < m; i++)
			sbuf_printf(b, i ? ",%d" : "%d",
			            d == OUTPUT_DTYPE_INT8 ? (int)(int8_t)q[i] : q[i]);
		free(q);
	}
	if (brackets)
		sbuf_putc(b, ']');
	return true;
}

/* {"dims":n,"dtype":...,"values":[...]} of a dense vector; dims is the width before packing. */
static bool write_dense(struct sbuf *b, const float *v, int n, enum output_dtype d)
{
	sbuf_printf(b, "{\"dims\":%d,\"dtype\":\"%s\",\"values\":", n, output_dtype_name(d));
	if (d == OUTPUT_DTYPE_FLOAT32)
		json_write_floats(b, v, n);
	else if (!write_row(b, v, n, d, true))
		return false;
	sbuf_putc(b, '}');
	return true;
}

static int by_value_desc(const void *a, const void *b)
{
	const struct term *x = a, *y = b;
	if (x->value != y->value)
		return x->value < y->value ? 1 : -1;
	return x->index - y->index;
}

static int by_index(const void *a, const void *b)
{
	return ((const struct term *)a)->index - ((const struct term *)b)->index;
}

/* {"indices":[...],"values":[...],"tokens"?:[...]} of one item's terms (n of them, in index
 * order): those above the threshold, the top_k largest when asked, in index order. terms is
 * reordered. */
static void write_terms(struct request *rq, const char *model, const struct encode_request *req,
                        struct term *terms, int n, int dims, struct sbuf *b)
{
	int m = 0;
	for (int i = 0; i < n; i++)
		if (terms[i].value > 0 && terms[i].value > req->sparse_threshold)
			terms[m++] = terms[i];
	n = m;
	if (req->sparse_top_k > 0 && n > req->sparse_top_k) {
		qsort(terms, (size_t)n, sizeof *terms, by_value_desc);
		n = req->sparse_top_k;
		qsort(terms, (size_t)n, sizeof *terms, by_index);
	}
	/* Sparse values stay float: float16 when asked, float32 for every other dtype (SIE). */
	const bool half = req->output_dtype == OUTPUT_DTYPE_FLOAT16;
	if (dims > 0)
		sbuf_printf(b, "{\"dims\":%d", dims);
	else
		sbuf_puts(b, "{\"dims\":null");
	sbuf_printf(b, ",\"dtype\":\"%s\",\"indices\":[", half ? "float16" : "float32");
	for (int i = 0; i < n; i++)
		sbuf_printf(b, i ? ",%d" : "%d", terms[i].index);
	sbuf_puts(b, "],\"values\":[");
	for (int i = 0; i < n; i++) {
		if (i)
			sbuf_putc(b, ',');
		json_write_float(b,
		                 half ? msgpack_half_to_float(msgpack_float_to_half(terms[i].value))
		                      : terms[i].value);
	}
	sbuf_putc(b, ']');
	if (req->return_tokens) {
		sbuf_puts(b, ",\"tokens\":[");
		for (int i = 0; i < n; i++) {
			char tok[256];
			if (i)
				sbuf_putc(b, ',');
			if (server_model_token(rq->srv, model, terms[i].index, tok, sizeof tok) ==
			    SY_OK)
				json_write_str(b, tok, -1);
			else
				sbuf_puts(b, "null");
		}
		sbuf_putc(b, ']');
	}
	sbuf_putc(b, '}');
}

/* The same of a vocabulary-sized row of weights. */
static void write_sparse(struct request *rq, const char *model, const struct encode_request *req,
                         const float *w, int dims, struct term *terms, struct sbuf *b)
{
	int n = 0;
	for (int v = 0; v < dims; v++)
		if (w[v] > 0)
			terms[n++] = (struct term){v, w[v]};
	write_terms(rq, model, req, terms, n, dims, b);
}

/* {token_dims, num_tokens, dtype, values}: values is [num_tokens][token_dims] as SIE's JSON has
 * it, each row quantised on its own as SIE quantises a multi-vector's rows. */
static bool write_multivector(const struct model_item_result *r, enum output_dtype d,
                              struct sbuf *b)
{
	sbuf_printf(b, "{\"token_dims\":%d,\"num_tokens\":%d,\"dtype\":\"%s\",\"values\":", r->dims,
	            r->n_vectors, output_dtype_name(d));
	sbuf_putc(b, '[');
	for (int t = 0; t < r->n_vectors; t++) {
		const float *v = r->vectors + (size_t)t * (size_t)r->dims;
		if (t)
			sbuf_putc(b, ',');
		if (d == OUTPUT_DTYPE_FLOAT32)
			json_write_floats(b, v, r->dims);
		else if (!write_row(b, v, r->dims, d, true))
			return false;
	}
	sbuf_putc(b, ']');
	sbuf_putc(b, '}');
	return true;
}

/* An item of a model that gave several outputs in one run (BGE-M3): each asked-for output under
 * its key. */
static bool write_outputs(struct request *rq, const char *model, const struct encode_request *req,
                          const struct model_item_result *r, int sparse_dims, struct sbuf *b)
{
	if ((req->outputs & ENGINE_OUTPUT_DENSE) && r->dense) {
		sbuf_puts(b, ",\"dense\":");
		if (!write_dense(b, r->dense, r->dense_dims, req->output_dtype))
			return false;
	}
	if (req->outputs & ENGINE_OUTPUT_SPARSE) {
		struct term *terms =
		    malloc((size_t)(r->n_sparse > 0 ? r->n_sparse : 1) * sizeof *terms);
		if (!terms)
			return false;
		for (int k = 0; k < r->n_sparse; k++)
			terms[k] = (struct term){r->sparse_ids[k], r->sparse_weights[k]};
		sbuf_puts(b, ",\"sparse\":");
		write_terms(rq, model, req, terms, r->n_sparse, sparse_dims, b);
		free(terms);
	}
	if ((req->outputs & ENGINE_OUTPUT_MULTIVECTOR) && r->vectors) {
		sbuf_puts(b, ",\"multivector\":");
		if (!write_multivector(r, req->output_dtype, b))
			return false;
	}
	return true;
}

static void write_encode_response(struct request *rq, const char *model,
                                  const struct encode_request *req, const struct engine_result *res,
                                  struct response *rs)
{
	const uint64_t t0 = sy_now_ns(); /* postprocessing: quantising and writing the answer */
	struct sbuf *b = &rs->body;
	/* Several outputs per item: results per item carry each, and no flat array. */
	const bool several = res->items && !res->dense && (req->outputs & (req->outputs - 1)) != 0;
	const bool sparse = !several && (req->outputs & ENGINE_OUTPUT_SPARSE) != 0;
	const bool multi = !several && res->items != NULL;
	struct term *terms = sparse ? malloc((size_t)res->dims * sizeof *terms) : NULL;
	if (sparse && !terms) {
		response_error_set(rs, 500, "INTERNAL_ERROR", "out of memory");
		return;
	}
	/* Rough size: ~13 bytes per float plus the ids; one reservation avoids regrowth. */
	if (!sparse && !multi && !several)
		sbuf_reserve(b, (size_t)res->n_items * ((size_t)res->dims * 13 + 64) + 256);
	sbuf_puts(b, "{\"model\":");
	json_write_str(b, model, -1);
	sbuf_puts(b, ",\"items\":[");
	for (int i = 0; i < res->n_items; i++) {
		if (i)
			sbuf_putc(b, ',');
		sbuf_puts(b, "{\"id\":");
		if (req->ids[i])
			json_write_str(b, req->ids[i], -1);
		else
			sbuf_printf(b, "\"item-%d\"", i);
		if (several) {
			if (!write_outputs(rq, model, req, &res->items[i], res->sparse_dims, b)) {
				response_error_set(rs, 500, "INTERNAL_ERROR", "out of memory");
				return;
			}
			sbuf_putc(b, '}');
			continue;
		}
		if (sparse) {
			sbuf_puts(b, ",\"sparse\":");
			write_sparse(rq, model, req, res->dense + (size_t)i * (size_t)res->dims,
			             res->dims, terms, b);
			sbuf_putc(b, '}');
			continue;
		}
		bool ok;
		if (multi) {
			sbuf_puts(b, ",\"multivector\":");
			ok = write_multivector(&res->items[i], req->output_dtype, b);
		} else {
			sbuf_puts(b, ",\"dense\":");
			ok = write_dense(b, res->dense + (size_t)i * (size_t)res->dims, res->dims,
			                 req->output_dtype);
		}
		if (!ok) {
			free(terms);
			response_error_set(rs, 500, "INTERNAL_ERROR", "out of memory");
			return;
		}
		sbuf_putc(b, '}');
	}
	free(terms);
	const double total_ms = request_elapsed_ms(rq);
	const double post_ms = (double)(sy_now_ns() - t0) / 1e6;
	sbuf_putc(b, ']');
	json_timing_write(b, res, total_ms, post_ms);
	sbuf_putc(b, '}');
	response_timing_headers(rs, res->queue_ms, res->inference_ms, total_ms);
	response_sie_timing_headers(rs, res->tokenization_ms, post_ms);
	rs->status = 200;
}

void route_encode(struct request *rq, const char *model, struct response *rs)
{
	if (model_missing(rq, model, "encode", rs))
		return;
	struct encode_request req;
	struct api_error ae;
	if (json_encode_request_parse(rq->body, rq->body_len, &rq->srv->limits, &ae, &req) !=
	    SY_OK) {
		response_error(rs, &ae);
		return;
	}
	struct engine_request er = {
	    .task = ENGINE_TASK_ENCODE,
	    .encode = {.items = {model, req.n_items, req.texts, req.lens, req.truncate,
	                         req.n_images ? req.images : NULL, req.max_length},
	               .outputs = req.outputs,
	               .pooling = req.pooling,
	               .normalize = req.normalize,
	               .is_query = req.is_query,
	               .instruction = req.instruction,
	               .dimensions = req.dimensions,
	               .want_tokens = req.return_tokens}};
	struct engine_result res = {0};
	if (!server_dispatch(rq, &er, rs, &res)) {
		json_encode_request_free(&req);
		return;
	}
	write_encode_response(rq, model, &req, &res, rs);
	engine_result_free(&res);
	json_encode_request_free(&req);
}

static void write_extract_response(const char *model, const struct encode_request *req,
                                   const struct engine_result *res, double total_ms,
                                   struct response *rs)
{
	struct sbuf *b = &rs->body;
	sbuf_puts(b, "{\"model\":");
	json_write_str(b, model, -1);
	sbuf_puts(b, ",\"items\":[");
	for (int i = 0; i < res->n_items; i++) {
		const struct model_item_result *r = &res->items[i];
		const char *text = req->texts[i];
		sbuf_puts(b, i ? ",{\"id\":" : "{\"id\":");
		if (req->ids[i])
			json_write_str(b, req->ids[i], -1);
		else
			sbuf_printf(b, "\"item-%d\"", i);
		sbuf_puts(b, ",\"entities\":[");
		for (int k = 0; k < r->n_entities; k++) {
			const struct model_entity *en = &r->entities[k];
			sbuf_puts(b, k ? ",{\"text\":" : "{\"text\":");
			json_write_str(b, text + en->start, (long)(en->end - en->start));
			sbuf_puts(b, ",\"label\":");
			json_write_str(b, en->label, -1);
			sbuf_puts(b, ",\"score\":");
			json_write_float(b, en->score);
			sbuf_printf(b, ",\"start\":%zu,\"end\":%zu,\"bbox\":null}",
			            tokenizer_char_offset(text, en->start),
			            tokenizer_char_offset(text, en->end));
		}
		/* SIE's other results; no Switchyard model gives them yet. */
		sbuf_puts(b, "],\"relations\":[],\"classifications\":[],\"objects\":[],"
		             "\"data\":{}}");
	}
	sbuf_putc(b, ']');
	json_timing_write(b, res, total_ms, 0);
	response_sie_timing_headers(rs, res->tokenization_ms, 0);
	sbuf_putc(b, '}');
	response_timing_headers(rs, res->queue_ms, res->inference_ms, total_ms);
	rs->status = 200;
}

void route_extract(struct request *rq, const char *model, struct response *rs)
{
	if (model_missing(rq, model, "extract", rs))
		return;
	struct encode_request req;
	struct api_error ae;
	if (json_extract_request_parse(rq->body, rq->body_len, &rq->srv->limits, &ae, &req) !=
	    SY_OK) {
		response_error(rs, &ae);
		return;
	}
	const struct extract_params xp = {
	    .labels = req.labels,
	    .n_labels = req.n_labels,
	    .threshold = req.has_threshold ? (float)req.threshold : -1.0f,
	    .aggregation = (enum ner_aggregation)req.aggregation,
	};
	struct engine_request er = {
	    .task = ENGINE_TASK_EXTRACT,
	    .extract = {.items = {model, req.n_items, req.texts, req.lens, true}, .params = &xp}};
	struct engine_result res = {0};
	if (server_dispatch(rq, &er, rs, &res))
		write_extract_response(model, &req, &res, request_elapsed_ms(rq), rs);
	engine_result_free(&res);
	json_encode_request_free(&req);
}
