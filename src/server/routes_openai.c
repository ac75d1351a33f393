/* POST /v1/embeddings, the OpenAI-compatible embeddings route.
 *
 * Follows the OpenAI API shape so its SDKs work unchanged: `input` is a string or an array of
 * strings (token-id arrays are refused: our models have their own vocabularies), embeddings come
 * back as float arrays or, with encoding_format "base64", as the base64 of little-endian float32
 * bytes, and usage counts the tokens the model's real tokenizer produced (special tokens
 * included). `dimensions` below the model's size is accepted only for models trained for it
 * (Matryoshka: nomic-embed-text-v1.5, Qwen3-Embedding; the engine refuses it for the others,
 * whose truncated vectors would be silently worse). Texts longer than the model's
 * limit are truncated (the OpenAI service refuses them; truncating is the friendlier choice for
 * an embedding server, and /v1/encode offers truncate:false). */
#include <stdio.h>
#include <string.h>

#include "server/json_codec.h"
#include "server/server_internal.h"

static void write_embeddings_response(struct request *rq, const struct embeddings_request *req,
                                      const struct engine_result *res, struct response *rs)
{
	struct sbuf *b = &rs->body;
	size_t per = req->base64 ? (size_t)res->dims * 6 : (size_t)res->dims * 13;
	sbuf_reserve(b, (size_t)res->n_items * (per + 64) + 256);
	sbuf_puts(b, "{\"object\":\"list\",\"data\":[");
	long tokens = 0;
	for (int i = 0; i < res->n_items; i++) {
		const float *v = res->dense + (size_t)i * (size_t)res->dims;
		if (i)
			sbuf_putc(b, ',');
		sbuf_printf(b, "{\"object\":\"embedding\",\"index\":%d,\"embedding\":", i);
		if (req->base64) {
			/* x86-64 and every target we build for store floats little-endian. */
			sbuf_putc(b, '"');
			json_write_base64(b, v, (size_t)res->dims * sizeof(float));
			sbuf_putc(b, '"');
		} else {
			json_write_floats(b, v, res->dims);
		}
		sbuf_putc(b, '}');
		tokens += res->n_tokens ? res->n_tokens[i] : 0;
	}
	sbuf_puts(b, "],\"model\":");
	json_write_str(b, req->model, -1);
	sbuf_printf(b, ",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}}", tokens, tokens);
	response_timing_headers(rs, res->queue_ms, res->inference_ms, request_elapsed_ms(rq));
	rs->status = 200;
}

void route_embeddings(struct request *rq, struct response *rs)
{
	struct embeddings_request req;
	struct api_error ae;
	if (json_embeddings_request_parse(rq->body, rq->body_len, &rq->srv->limits, &ae, &req) !=
	    SY_OK) {
		response_error(rs, &ae);
		return;
	}
	struct engine_request er = {
	    .task = ENGINE_TASK_ENCODE,
	    .encode = {.items = {req.model, req.n_inputs, req.texts, req.lens, true},
	               .outputs = ENGINE_OUTPUT_DENSE,
	               .normalize = -1,
	               .dimensions = req.dimensions}};
	struct engine_result res = {0};
	if (!server_dispatch(rq, &er, rs, &res))
		goto out;
	write_embeddings_response(rq, &req, &res, rs);
	engine_result_free(&res);
out:
	json_embeddings_request_free(&req);
}
