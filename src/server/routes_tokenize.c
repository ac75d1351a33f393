/* POST /v1/tokenize: {model, input: string | [string], add_special_tokens?} -> each text's token
 * ids, pieces and character offsets, with the model's own tokenizer (the one encode uses).
 *
 * Answer: {"model", "items":[{"ids":[...], "tokens":[...], "special":[...], "offsets":[[start,
 * end], ...]}], "usage":{"total_tokens"}}. Offsets count code points (as Python slices a str),
 * [start, end) into the text; special tokens added by the post-processor have [0, 0], as
 * Hugging Face gives them. No truncation: every token of the text is listed. */
#include <stdlib.h>
#include <string.h>

#include "server/json_codec.h"
#include "server/server_internal.h"
#include "text/tokenizer.h"

struct tokenize_job {
	const char **texts; /* [n] */
	size_t *lens; /* [n] */
	int n;
	bool add_special;
	struct sbuf *out;
	long total;
};

static enum sy_status tokenize_write(void *ctx, const struct tokenizer *tok, const struct model *m,
                                     struct sy_error *err)
{
	(void)m;
	struct tokenize_job *j = ctx;
	struct sbuf *b = j->out;
	struct tok_encode_params p = tokenizer_default_params();
	p.max_length = -1;
	p.add_special_tokens = j->add_special;
	for (int i = 0; i < j->n; i++) {
		struct tok_encoding enc = {0};
		enum sy_status st =
		    tokenizer_encode(tok, j->texts[i], j->lens[i], NULL, 0, &p, err, &enc);
		if (st != SY_OK)
			return st;
		sbuf_puts(b, i ? ",{\"ids\":[" : "{\"ids\":[");
		for (int k = 0; k < enc.n; k++)
			sbuf_printf(b, k ? ",%d" : "%d", (int)enc.ids[k]);
		sbuf_puts(b, "],\"tokens\":[");
		for (int k = 0; k < enc.n; k++) {
			const char *t = tokenizer_id_to_token(tok, enc.ids[k]);
			if (k)
				sbuf_putc(b, ',');
			json_write_str(b, t ? t : "", -1);
		}
		sbuf_puts(b, "],\"special\":[");
		for (int k = 0; k < enc.n; k++)
			sbuf_printf(b, "%s%s", k ? "," : "", enc.special[k] ? "true" : "false");
		sbuf_puts(b, "],\"offsets\":[");
		for (int k = 0; k < enc.n; k++) {
			const uint32_t s = enc.offsets[2 * k], e = enc.offsets[2 * k + 1];
			sbuf_printf(b, "%s[%zu,%zu]", k ? "," : "",
			            tokenizer_char_offset(j->texts[i], s),
			            tokenizer_char_offset(j->texts[i], e));
		}
		sbuf_puts(b, "]}");
		j->total += enc.n;
		tok_encoding_free(&enc);
	}
	return SY_OK;
}

void route_tokenize(struct request *rq, struct response *rs)
{
	struct embeddings_request req;
	struct api_error ae;
	/* The body has the OpenAI embeddings shape ({model, input}), so its parser checks it. */
	if (json_embeddings_request_parse(rq->body, rq->body_len, &rq->srv->limits, &ae, &req) !=
	    SY_OK) {
		response_error(rs, &ae);
		return;
	}
	bool add_special = true;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req.doc, "add_special_tokens");
	if (v && !cJSON_IsNull(v) && !cJSON_IsBool(v)) {
		response_error_set(rs, 400, "INVALID_INPUT",
		                   "add_special_tokens: expected boolean");
		json_embeddings_request_free(&req);
		return;
	}
	if (cJSON_IsBool(v))
		add_special = cJSON_IsTrue(v);
	struct sbuf body = {0};
	struct tokenize_job j = {req.texts, req.lens, req.n_inputs, add_special, &body, 0};
	sbuf_puts(&body, "[");
	if (server_tokenizer_use(rq, req.model, tokenize_write, &j, rs)) {
		struct sbuf *b = &rs->body;
		sbuf_puts(b, "{\"model\":");
		json_write_str(b, req.model, -1);
		sbuf_puts(b, ",\"items\":");
		sbuf_put(b, body.data, body.len);
		sbuf_printf(b, "],\"usage\":{\"total_tokens\":%ld}}", j.total);
		rs->status = 200;
	}
	sbuf_free(&body);
	json_embeddings_request_free(&req);
}
