/* POST /v1/score/{model} and POST /v1/rerank (Cohere/Jina shape): a query against a list of
 * documents through a model's score task (a cross-encoder, or ColBERT's MaxSim). Both parse and
 * validate the whole request first, then dispatch one score request (each item is the pair
 * (query, document)), which the engine batches with concurrent requests. Answers are sorted by
 * score, best first; ties keep input order. A model that cannot score answers 400 saying so. */
#include <stdlib.h>
#include <string.h>

#include "server/json_codec.h"
#include "server/server_internal.h"

struct ranked {
	int index;
	float score;
};

static int by_score(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return x->index - y->index;
}

/* Runs the pairs; on success *order holds the items sorted by score (caller frees). */
static bool run_pairs(struct request *rq, const char *model, const struct pairs_request *req,
                      struct response *rs, struct engine_result *res, struct ranked **order)
{
	struct engine_request er = {
	    .task = ENGINE_TASK_SCORE,
	    .score = {.items = {model, req->n_items, req->texts, req->lens, true,
	                        req->n_images ? req->images : NULL},
	              .query = req->query,
	              .query_len = req->query_len,
	              .query_image = req->query_image.data ? &req->query_image : NULL,
	              .instruction = req->instruction,
	              .params = req->has_score ? &req->score : NULL}};
	if (!server_dispatch(rq, &er, rs, res))
		return false;
	*order = malloc((size_t)res->n_items * sizeof **order);
	if (!*order) {
		engine_result_free(res);
		response_error_set(rs, 500, "INTERNAL_ERROR", "out of memory");
		return false;
	}
	for (int i = 0; i < res->n_items; i++)
		(*order)[i] = (struct ranked){i, res->scores[i]};
	qsort(*order, (size_t)res->n_items, sizeof **order, by_score);
	return true;
}

void route_score(struct request *rq, const char *model, struct response *rs)
{
	if (!model[0]) {
		response_error_set(rs, 404, "MODEL_NOT_FOUND",
		                   "no model named in the path; use /v1/score/{model}");
		return;
	}
	struct pairs_request req;
	struct api_error ae;
	if (json_score_request_parse(rq->body, rq->body_len, &rq->srv->limits, &ae, &req) !=
	    SY_OK) {
		response_error(rs, &ae);
		return;
	}
	struct engine_result res;
	struct ranked *order;
	if (run_pairs(rq, model, &req, rs, &res, &order)) {
		struct sbuf *b = &rs->body;
		sbuf_puts(b, "{\"model\":");
		json_write_str(b, model, -1);
		if (req.query_id) {
			sbuf_puts(b, ",\"query_id\":");
			json_write_str(b, req.query_id, -1);
		}
		sbuf_puts(b, ",\"scores\":[");
		for (int r = 0; r < res.n_items; r++) {
			const int i = order[r].index;
			sbuf_puts(b, r ? ",{\"item_id\":" : "{\"item_id\":");
			if (req.ids[i])
				json_write_str(b, req.ids[i], -1);
			else
				sbuf_printf(b, "\"item-%d\"", i);
			sbuf_puts(b, ",\"score\":");
			json_write_float(b, order[r].score);
			sbuf_printf(b, ",\"rank\":%d}", r);
		}
		double total = request_elapsed_ms(rq);
		sbuf_putc(b, ']');
		json_timing_write(b, &res, total, 0);
		sbuf_putc(b, '}');
		response_timing_headers(rs, res.queue_ms, res.inference_ms, total);
		response_sie_timing_headers(rs, res.tokenization_ms, 0);
		rs->status = 200;
		free(order);
		engine_result_free(&res);
	}
	json_pairs_request_free(&req);
}

void route_rerank(struct request *rq, struct response *rs)
{
	struct pairs_request req;
	struct api_error ae;
	if (json_rerank_request_parse(rq->body, rq->body_len, &rq->srv->limits, &ae, &req) !=
	    SY_OK) {
		response_error(rs, &ae);
		return;
	}
	struct engine_result res;
	struct ranked *order;
	if (run_pairs(rq, req.model, &req, rs, &res, &order)) {
		struct sbuf *b = &rs->body;
		sbuf_puts(b, "{\"model\":");
		json_write_str(b, req.model, -1);
		sbuf_puts(b, ",\"results\":[");
		for (int r = 0; r < req.top_n; r++) {
			const int i = order[r].index;
			sbuf_printf(b, "%s{\"index\":%d,\"relevance_score\":", r ? "," : "", i);
			json_write_float(b, order[r].score);
			if (req.return_documents) {
				sbuf_puts(b, ",\"document\":{\"text\":");
				json_write_str(b, req.texts[i], (long)req.lens[i]);
				sbuf_putc(b, '}');
			}
			sbuf_putc(b, '}');
		}
		long tokens = 0;
		for (int i = 0; i < res.n_items; i++)
			tokens += res.n_tokens[i];
		sbuf_printf(b, "],\"usage\":{\"total_tokens\":%ld}}", tokens);
		response_timing_headers(rs, res.queue_ms, res.inference_ms, request_elapsed_ms(rq));
		rs->status = 200;
		free(order);
		engine_result_free(&res);
	}
	json_pairs_request_free(&req);
}
