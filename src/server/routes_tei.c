/* The routes of Hugging Face Text Embeddings Inference (TEI), answered as TEI answers them, so
 * its clients work unchanged: POST /embed, /embed_sparse, /rerank, /tokenize, /decode and GET
 * /info, /health. Bodies and answers follow TEI's router (router/src/http/types.rs): bare
 * arrays, `inputs` a string or a list, and errors {"error": "...", "error_type": "..."} with
 * TEI's statuses (Empty 400, Validation 413, Tokenizer 422, Overloaded 429, Backend 424,
 * Unhealthy 503; a body that is not JSON 400, a field of the wrong type 422, as axum rejects).
 *
 * TEI serves one model per process; these routes use the body's "model" when it names one,
 * else --tei-model, else the only model in the catalogue. The work goes through
 * server_dispatch like every route (tokenize and decode through server_tokenizer_use). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/json_write.h"
#include "server/server_internal.h"
#include "text/tokenizer.h"
#include "switchyard.h"

#define TEI_ERR(rs, status, code, ...) response_error_set(rs, status, "TEI_" code, __VA_ARGS__)

/* ---- the request ---- */

struct tei_body {
	cJSON *doc;
	char model[256];
	const char **texts; /* [n] into doc */
	size_t *lens;
	int n;
};

static void tei_body_free(struct tei_body *b)
{
	cJSON_Delete(b->doc);
	free(b->texts);
	free(b->lens);
}

static bool tei_parse(struct request *rq, struct tei_body *b, struct response *rs)
{
	memset(b, 0, sizeof *b);
	const char *end = NULL;
	b->doc = rq->body_len ? cJSON_ParseWithLengthOpts(rq->body, rq->body_len, &end, 0) : NULL;
	if (!b->doc) {
		TEI_ERR(rs, 400, "VALIDATION", "Failed to parse the request body as JSON");
		return false;
	}
	if (!cJSON_IsObject(b->doc)) {
		TEI_ERR(rs, 422, "VALIDATION",
		        "Failed to deserialize the JSON body: expected an object");
		return false;
	}
	return true;
}

/* The model of a TEI route: the body's "model", --tei-model, or the only one catalogued. */
static bool tei_model(struct request *rq, const cJSON *doc, char *out, size_t cap,
                      struct response *rs)
{
	const cJSON *m = doc ? cJSON_GetObjectItemCaseSensitive(doc, "model") : NULL;
	if (m && !cJSON_IsNull(m) && !cJSON_IsString(m)) {
		TEI_ERR(rs, 422, "VALIDATION",
		        "Failed to deserialize the JSON body: `model` must be a string");
		return false;
	}
	if (cJSON_IsString(m) && m->valuestring[0]) {
		snprintf(out, cap, "%s", m->valuestring);
		return true;
	}
	if (rq->srv->tei_model[0]) {
		snprintf(out, cap, "%s", rq->srv->tei_model);
		return true;
	}
	struct engine_model_info *models = NULL;
	int n = server_models_snapshot(rq->srv->engine, &models);
	if (n == 1)
		snprintf(out, cap, "%s", models[0].id);
	free(models);
	if (n == 1)
		return true;
	TEI_ERR(rs, 400, "VALIDATION",
	        "the server has %d models and the TEI routes serve one: start it with --tei-model "
	        "ID (or SWITCHYARD_TEI_MODEL), or name it as \"model\" in the body",
	        n);
	return false;
}

static bool check_text(struct request *rq, const char *s, size_t len, const char *field,
                       struct response *rs)
{
	size_t bad = 0;
	long chars = json_utf8_count(s, len, &bad);
	if (chars < 0) {
		TEI_ERR(rs, 422, "TOKENIZER", "%s: invalid UTF-8 at byte %zu", field, bad);
		return false;
	}
	if (rq->srv->limits.max_chars > 0 && chars > rq->srv->limits.max_chars) {
		TEI_ERR(rs, 413, "VALIDATION", "`%s` must have less than %d characters. Given: %ld",
		        field, rq->srv->limits.max_chars, chars);
		return false;
	}
	return true;
}

/* A list of texts from `name` (a string or a list of strings), checked as TEI does. */
static bool tei_texts(struct request *rq, struct tei_body *b, const char *name, struct response *rs)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(b->doc, name);
	if (!v) {
		TEI_ERR(rs, 422, "VALIDATION",
		        "Failed to deserialize the JSON body: missing field `%s`", name);
		return false;
	}
	const bool one = cJSON_IsString(v);
	if (!one && !cJSON_IsArray(v)) {
		TEI_ERR(rs, 422, "VALIDATION",
		        "Failed to deserialize the JSON body: `%s` must be a string or a list of "
		        "strings",
		        name);
		return false;
	}
	const int n = one ? 1 : cJSON_GetArraySize(v);
	if (n == 0) {
		TEI_ERR(rs, 400, "EMPTY", "`%s` cannot be empty", name);
		return false;
	}
	if (n > rq->srv->limits.max_items) {
		TEI_ERR(rs, 413, "VALIDATION", "batch size %d > maximum allowed batch size %d", n,
		        rq->srv->limits.max_items);
		return false;
	}
	b->texts = calloc((size_t)n, sizeof *b->texts);
	b->lens = calloc((size_t)n, sizeof *b->lens);
	if (!b->texts || !b->lens) {
		response_error_set(rs, 500, "INTERNAL_ERROR", "out of memory");
		return false;
	}
	int i = 0;
	const cJSON *it;
	if (one) {
		b->texts[0] = v->valuestring;
	} else {
		cJSON_ArrayForEach(it, v)
		{
			if (cJSON_IsArray(it)) {
				TEI_ERR(rs, 422, "VALIDATION",
				        "%s[%d]: token-id inputs are not supported; send text",
				        name, i);
				return false;
			}
			if (!cJSON_IsString(it)) {
				TEI_ERR(
				    rs, 422, "VALIDATION",
				    "Failed to deserialize the JSON body: %s[%d] must be a string",
				    name, i);
				return false;
			}
			b->texts[i++] = it->valuestring;
		}
	}
	b->n = n;
	for (i = 0; i < n; i++) {
		b->lens[i] = strlen(b->texts[i]);
		if (!check_text(rq, b->texts[i], b->lens[i], name, rs))
			return false;
	}
	return true;
}

/* An optional boolean field; false (answered) when it has another type. */
static bool tei_bool(const cJSON *doc, const char *name, bool dflt, bool *out, struct response *rs)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, name);
	*out = dflt;
	if (!v || cJSON_IsNull(v))
		return true;
	if (!cJSON_IsBool(v)) {
		TEI_ERR(rs, 422, "VALIDATION",
		        "Failed to deserialize the JSON body: `%s` must be a boolean", name);
		return false;
	}
	*out = cJSON_IsTrue(v);
	return true;
}

/* truncate (default false, as TEI without --auto-truncate) and truncation_direction ("Right",
 * or "Left": tokens cut from the start; *left NULL where the route cannot, the reranker's pairs,
 * which refuse it). */
static bool tei_truncate(const cJSON *doc, bool *truncate, bool *left, struct response *rs)
{
	if (left)
		*left = false;
	if (!tei_bool(doc, "truncate", false, truncate, rs))
		return false;
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(doc, "truncation_direction");
	if (!d || cJSON_IsNull(d))
		return true;
	if (!cJSON_IsString(d) ||
	    (strcmp(d->valuestring, "Right") && strcmp(d->valuestring, "right") &&
	     strcmp(d->valuestring, "Left") && strcmp(d->valuestring, "left"))) {
		TEI_ERR(rs, 422, "VALIDATION",
		        "Failed to deserialize the JSON body: `truncation_direction` must be "
		        "\"Left\" or \"Right\"");
		return false;
	}
	const bool is_left = d->valuestring[0] == 'L' || d->valuestring[0] == 'l';
	if (left)
		*left = is_left;
	else if (*truncate && is_left) {
		TEI_ERR(
		    rs, 422, "VALIDATION",
		    "truncation_direction Left is not supported by /rerank: a pair's document is "
		    "cut at its end");
		return false;
	}
	return true;
}

/* dimensions (TEI's /embed: the first N of a Matryoshka model's dimensions, renormalised);
 * absent or null: all. */
static bool tei_dimensions(const cJSON *doc, int *out, struct response *rs)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(doc, "dimensions");
	*out = 0;
	if (!d || cJSON_IsNull(d))
		return true;
	if (!cJSON_IsNumber(d) || d->valuedouble < 1 || d->valuedouble > 1 << 20 ||
	    d->valuedouble != (double)(int)d->valuedouble) {
		TEI_ERR(rs, 422, "VALIDATION",
		        "Failed to deserialize the JSON body: `dimensions` must be a positive "
		        "integer");
		return false;
	}
	*out = (int)d->valuedouble;
	return true;
}

/* An engine failure in TEI's terms: a text too long is Validation (413), a model that cannot
 * do the route's task or failed to load is Backend (424), a full queue is Overloaded (429). */
static void tei_error_adjust(struct response *rs)
{
	struct api_error *e = &rs->error;
	if (!rs->has_error)
		return;
	if (e->http_status == 422) {
		e->http_status = 413;
		e->code = "TEI_VALIDATION";
	} else if (e->http_status == 400 || e->http_status == 502) {
		e->http_status = 424;
		e->code = "TEI_BACKEND";
	} else if (e->code && !strcmp(e->code, "QUEUE_FULL")) {
		e->http_status = 429;
		e->code = "TEI_OVERLOADED";
	} else if (e->http_status == 503) {
		e->code = "TEI_UNHEALTHY";
	}
	rs->status = e->http_status;
}

/* The encode of a TEI route's texts; false when answered (a TEI-shaped error). */
struct tei_encode_opts {
	bool truncate, left; /* left: cut from the start (truncation_direction Left) */
	unsigned outputs;
	int normalize; /* -1 the model's, 0, 1 */
	const char *prompt; /* prompt_name's text, or NULL */
	int dimensions; /* Matryoshka width, 0 all */
};

static bool tei_encode(struct request *rq, const struct tei_body *b, const char *model,
                       const struct tei_encode_opts *o, struct response *rs,
                       struct engine_result *res)
{
	struct engine_request er = {
	    .task = ENGINE_TASK_ENCODE,
	    .encode = {.items = {model, b->n, b->texts, b->lens, o->truncate, NULL, 0,
	                         o->truncate && o->left},
	               .outputs = o->outputs,
	               .normalize = o->normalize,
	               .instruction = o->prompt,
	               .dimensions = o->dimensions}};
	if (server_dispatch(rq, &er, rs, res))
		return true;
	tei_error_adjust(rs);
	return false;
}

/* ---- prompt_name: a prompt of the model's sentence-transformers config ---- */

struct prompt_job {
	const char *name;
	char text[1024];
	bool found;
};

static enum sy_status prompt_find(void *ctx, const struct tokenizer *tok, const struct model *m,
                                  struct sy_error *err)
{
	(void)tok, (void)err;
	struct prompt_job *j = ctx;
	const char *p = model_prompt(m, j->name);
	if (p && strlen(p) < sizeof j->text) {
		snprintf(j->text, sizeof j->text, "%s", p);
		j->found = true;
	}
	return SY_OK;
}

/* The text of prompt_name (NULL when none was asked), in j; false when answered. */
static bool tei_prompt(struct request *rq, const cJSON *doc, const char *model,
                       struct prompt_job *j, const char **out, struct response *rs)
{
	*out = NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "prompt_name");
	if (!v || cJSON_IsNull(v))
		return true;
	if (!cJSON_IsString(v)) {
		TEI_ERR(rs, 422, "VALIDATION",
		        "Failed to deserialize the JSON body: `prompt_name` must be a string");
		return false;
	}
	j->name = v->valuestring;
	if (rq->srv->backend.run) {
		*out = v->valuestring; /* the workers resolve the name (engine instruction) */
		return true;
	}
	if (!server_tokenizer_use(rq, model, prompt_find, j, rs)) {
		tei_error_adjust(rs);
		return false;
	}
	if (!j->found) {
		TEI_ERR(rs, 413, "VALIDATION",
		        "Prompt name `%s` was not found in the definition list of model %s",
		        v->valuestring, model);
		return false;
	}
	*out = j->text;
	return true;
}

/* ---- POST /embed, POST /embed_sparse ---- */

static void write_sparse_row(struct sbuf *b, const float *w, int dims)
{
	sbuf_putc(b, '[');
	bool first = true;
	for (int v = 0; v < dims; v++) {
		if (w[v] <= 0)
			continue;
		sbuf_printf(b, "%s{\"index\":%d,\"value\":", first ? "" : ",", v);
		json_write_float(b, w[v]);
		sbuf_putc(b, '}');
		first = false;
	}
	sbuf_putc(b, ']');
}

void route_tei_embed(struct request *rq, bool sparse, struct response *rs)
{
	struct tei_body b;
	char model[256];
	bool truncate, left, normalize = true;
	int dimensions = 0;
	struct prompt_job pj = {0};
	const char *prompt = NULL;
	if (!tei_parse(rq, &b, rs) || !tei_model(rq, b.doc, model, sizeof model, rs) ||
	    !tei_texts(rq, &b, "inputs", rs) || !tei_truncate(b.doc, &truncate, &left, rs) ||
	    (!sparse && !tei_bool(b.doc, "normalize", true, &normalize, rs)) ||
	    (!sparse && !tei_dimensions(b.doc, &dimensions, rs)) ||
	    !tei_prompt(rq, b.doc, model, &pj, &prompt, rs)) {
		tei_body_free(&b);
		return;
	}
	struct engine_result res = {0};
	const struct tei_encode_opts eo = {truncate,
	                                   left,
	                                   sparse ? ENGINE_OUTPUT_SPARSE : ENGINE_OUTPUT_DENSE,
	                                   sparse ? -1 : normalize,
	                                   prompt,
	                                   dimensions};
	if (!tei_encode(rq, &b, model, &eo, rs, &res)) {
		tei_body_free(&b);
		return;
	}
	struct sbuf *o = &rs->body;
	sbuf_putc(o, '[');
	for (int i = 0; i < res.n_items; i++) {
		if (i)
			sbuf_putc(o, ',');
		if (!sparse) {
			const struct model_item_result *it = res.items ? &res.items[i] : NULL;
			if (res.dense)
				json_write_floats(o, res.dense + (size_t)i * (size_t)res.dims,
				                  res.dims);
			else
				json_write_floats(o, it->dense, it->dense_dims);
		} else if (res.dense) {
			write_sparse_row(o, res.dense + (size_t)i * (size_t)res.dims, res.dims);
		} else {
			const struct model_item_result *it = &res.items[i];
			sbuf_putc(o, '[');
			for (int k = 0; k < it->n_sparse; k++) {
				sbuf_printf(o, "%s{\"index\":%d,\"value\":", k ? "," : "",
				            it->sparse_ids[k]);
				json_write_float(o, it->sparse_weights[k]);
				sbuf_putc(o, '}');
			}
			sbuf_putc(o, ']');
		}
	}
	sbuf_putc(o, ']');
	response_timing_headers(rs, res.queue_ms, res.inference_ms, request_elapsed_ms(rq));
	rs->status = 200;
	engine_result_free(&res);
	tei_body_free(&b);
}

/* ---- POST /similarity ---- */

/* {inputs: {source_sentence, sentences: [...]}, parameters?: {truncate, truncation_direction,
 * prompt_name}} -> the cosine similarity of each sentence to the source sentence, from one
 * encode of all of them (unnormalised, as TEI does). */
void route_tei_similarity(struct request *rq, struct response *rs)
{
	struct tei_body b;
	char model[256];
	bool truncate = false, left = false;
	struct prompt_job pj = {0};
	const char *prompt = NULL;
	if (!tei_parse(rq, &b, rs) || !tei_model(rq, b.doc, model, sizeof model, rs)) {
		tei_body_free(&b);
		return;
	}
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(b.doc, "inputs");
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(in, "source_sentence");
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(in, "sentences");
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(b.doc, "parameters");
	const char *bad = !cJSON_IsObject(in)    ? "`inputs` must be an object"
	                  : !cJSON_IsString(src) ? "`inputs.source_sentence` "
	                                           "must be a string"
	                  : !cJSON_IsArray(list) ? "`inputs.sentences` must be "
	                                           "a list of strings"
	                  : params && !cJSON_IsNull(params) && !cJSON_IsObject(params)
	                      ? "`parameters` must be an object"
	                      : NULL;
	if (bad) {
		TEI_ERR(rs, 422, "VALIDATION", "Failed to deserialize the JSON body: %s", bad);
		tei_body_free(&b);
		return;
	}
	const int n = cJSON_GetArraySize(list) + 1;
	if (n == 1) {
		TEI_ERR(rs, 400, "EMPTY", "`inputs.sentences` cannot be empty");
		tei_body_free(&b);
		return;
	}
	if (n > rq->srv->limits.max_items) {
		TEI_ERR(rs, 413, "VALIDATION", "batch size %d > maximum allowed batch size %d", n,
		        rq->srv->limits.max_items);
		tei_body_free(&b);
		return;
	}
	b.texts = calloc((size_t)n, sizeof *b.texts);
	b.lens = calloc((size_t)n, sizeof *b.lens);
	if (!b.texts || !b.lens) {
		response_error_set(rs, 500, "INTERNAL_ERROR", "out of memory");
		tei_body_free(&b);
		return;
	}
	b.texts[0] = src->valuestring;
	int i = 1;
	for (const cJSON *s = list->child; s; s = s->next, i++) {
		if (!cJSON_IsString(s)) {
			TEI_ERR(
			    rs, 422, "VALIDATION",
			    "Failed to deserialize the JSON body: inputs.sentences[%d] must be a "
			    "string",
			    i - 1);
			tei_body_free(&b);
			return;
		}
		b.texts[i] = s->valuestring;
	}
	b.n = n;
	for (i = 0; i < n; i++) {
		b.lens[i] = strlen(b.texts[i]);
		if (!check_text(rq, b.texts[i], b.lens[i],
		                i ? "inputs.sentences" : "inputs.source_sentence", rs)) {
			tei_body_free(&b);
			return;
		}
	}
	if (params && cJSON_IsObject(params) &&
	    (!tei_truncate(params, &truncate, &left, rs) ||
	     !tei_prompt(rq, params, model, &pj, &prompt, rs))) {
		tei_body_free(&b);
		return;
	}
	struct engine_result res = {0};
	const struct tei_encode_opts eo = {truncate, left, ENGINE_OUTPUT_DENSE, 0, prompt, 0};
	if (!tei_encode(rq, &b, model, &eo, rs, &res)) {
		tei_body_free(&b);
		return;
	}
	struct sbuf *o = &rs->body;
	sbuf_putc(o, '[');
	for (i = 1; i < res.n_items; i++) {
		const float *a = res.dense, *v = res.dense + (size_t)i * (size_t)res.dims;
		double dot = 0, na = 0, nv = 0;
		for (int d = 0; d < res.dims; d++) {
			dot += (double)a[d] * v[d];
			na += (double)a[d] * a[d];
			nv += (double)v[d] * v[d];
		}
		if (i > 1)
			sbuf_putc(o, ',');
		json_write_float(o, na > 0 && nv > 0 ? (float)(dot / sqrt(na * nv)) : 0.0f);
	}
	sbuf_putc(o, ']');
	response_timing_headers(rs, res.queue_ms, res.inference_ms, request_elapsed_ms(rq));
	rs->status = 200;
	engine_result_free(&res);
	tei_body_free(&b);
}

/* ---- POST /rerank ---- */

struct rank {
	int index;
	float score;
};

static int by_score(const void *a, const void *b)
{
	const struct rank *x = a, *y = b;
	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return x->index - y->index;
}

void route_tei_rerank(struct request *rq, struct response *rs)
{
	struct tei_body b;
	char model[256];
	bool truncate, raw, return_text;
	if (!tei_parse(rq, &b, rs) || !tei_model(rq, b.doc, model, sizeof model, rs)) {
		tei_body_free(&b);
		return;
	}
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(b.doc, "query");
	if (!cJSON_IsString(q)) {
		TEI_ERR(rs, 422, "VALIDATION", "Failed to deserialize the JSON body: %s",
		        q ? "`query` must be a string" : "missing field `query`");
		tei_body_free(&b);
		return;
	}
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(b.doc, "texts");
	if (t && !cJSON_IsArray(t)) {
		TEI_ERR(rs, 422, "VALIDATION",
		        "Failed to deserialize the JSON body: `texts` must be a list of strings");
		tei_body_free(&b);
		return;
	}
	if (!check_text(rq, q->valuestring, strlen(q->valuestring), "query", rs) ||
	    !tei_texts(rq, &b, "texts", rs) || !tei_truncate(b.doc, &truncate, NULL, rs) ||
	    !tei_bool(b.doc, "raw_scores", false, &raw, rs) ||
	    !tei_bool(b.doc, "return_text", false, &return_text, rs)) {
		tei_body_free(&b);
		return;
	}
	struct engine_request er = {.task = ENGINE_TASK_SCORE,
	                            .score = {.items = {model, b.n, b.texts, b.lens, true},
	                                      .query = q->valuestring,
	                                      .query_len = strlen(q->valuestring)}};
	struct engine_result res = {0};
	if (!server_dispatch(rq, &er, rs, &res)) {
		tei_error_adjust(rs);
		tei_body_free(&b);
		return;
	}
	struct rank *order = malloc((size_t)res.n_items * sizeof *order);
	if (!order) {
		response_error_set(rs, 500, "INTERNAL_ERROR", "out of memory");
		engine_result_free(&res);
		tei_body_free(&b);
		return;
	}
	for (int i = 0; i < res.n_items; i++) {
		float s = res.scores[i];
		if (raw) {
			/* The logit behind a sigmoid score (one-label cross-encoders, TEI's rerankers). */
			const double p = fmin(fmax((double)s, 1e-12), 1 - 1e-12);
			s = (float)log(p / (1 - p));
		}
		order[i] = (struct rank){i, s};
	}
	qsort(order, (size_t)res.n_items, sizeof *order, by_score);
	struct sbuf *o = &rs->body;
	sbuf_putc(o, '[');
	for (int r = 0; r < res.n_items; r++) {
		const int i = order[r].index;
		sbuf_printf(o, "%s{\"index\":%d", r ? "," : "", i);
		if (return_text) {
			sbuf_puts(o, ",\"text\":");
			json_write_str(o, b.texts[i], (long)b.lens[i]);
		}
		sbuf_puts(o, ",\"score\":");
		json_write_float(o, order[r].score);
		sbuf_putc(o, '}');
	}
	sbuf_putc(o, ']');
	response_timing_headers(rs, res.queue_ms, res.inference_ms, request_elapsed_ms(rq));
	rs->status = 200;
	free(order);
	engine_result_free(&res);
	tei_body_free(&b);
}

/* ---- POST /tokenize ---- */

struct tei_tokenize_job {
	const struct tei_body *b;
	bool add_special;
	const char *prompt_name; /* NULL: none */
	struct sbuf out;
	bool bad_prompt;
};

static enum sy_status tei_tokenize_write(void *ctx, const struct tokenizer *tok,
                                         const struct model *m, struct sy_error *err)
{
	struct tei_tokenize_job *j = ctx;
	const char *prompt = "";
	if (j->prompt_name && !(prompt = model_prompt(m, j->prompt_name))) {
		j->bad_prompt = true;
		return SY_OK;
	}
	struct tok_encode_params p = tokenizer_default_params();
	p.max_length = -1;
	p.add_special_tokens = j->add_special;
	struct sbuf *o = &j->out;
	sbuf_putc(o, '[');
	for (int i = 0; i < j->b->n; i++) {
		/* As TEI: the prompt goes before the text and offsets count in the whole. */
		struct sbuf text = {0};
		sbuf_puts(&text, prompt);
		sbuf_put(&text, j->b->texts[i], j->b->lens[i]);
		const char *s = text.len ? text.data : "";
		struct tok_encoding enc = {0};
		enum sy_status st = tokenizer_encode(tok, s, text.len, NULL, 0, &p, err, &enc);
		if (st != SY_OK) {
			sbuf_free(&text);
			return st;
		}
		sbuf_puts(o, i ? ",[" : "[");
		for (int k = 0; k < enc.n; k++) {
			sbuf_printf(o, "%s{\"id\":%d,\"text\":", k ? "," : "", (int)enc.ids[k]);
			const uint32_t a = enc.offsets[2 * k], e = enc.offsets[2 * k + 1];
			if (enc.special[k]) {
				const char *t = tokenizer_id_to_token(tok, enc.ids[k]);
				json_write_str(o, t ? t : "", -1);
				sbuf_puts(o, ",\"special\":true,\"start\":null,\"stop\":null}");
			} else {
				json_write_str(o, s + a, (long)(e - a));
				sbuf_printf(o, ",\"special\":false,\"start\":%u,\"stop\":%u}", a,
				            e);
			}
		}
		sbuf_putc(o, ']');
		tok_encoding_free(&enc);
		sbuf_free(&text);
	}
	sbuf_putc(o, ']');
	return SY_OK;
}

void route_tei_tokenize(struct request *rq, struct response *rs)
{
	struct tei_body b;
	char model[256];
	struct tei_tokenize_job j = {.b = &b};
	if (!tei_parse(rq, &b, rs) || !tei_model(rq, b.doc, model, sizeof model, rs) ||
	    !tei_texts(rq, &b, "inputs", rs) ||
	    !tei_bool(b.doc, "add_special_tokens", true, &j.add_special, rs)) {
		tei_body_free(&b);
		return;
	}
	const cJSON *pn = cJSON_GetObjectItemCaseSensitive(b.doc, "prompt_name");
	if (pn && !cJSON_IsNull(pn) && !cJSON_IsString(pn)) {
		TEI_ERR(rs, 422, "VALIDATION",
		        "Failed to deserialize the JSON body: `prompt_name` must be a string");
		tei_body_free(&b);
		return;
	}
	j.prompt_name = cJSON_IsString(pn) ? pn->valuestring : NULL;
	if (!server_tokenizer_use(rq, model, tei_tokenize_write, &j, rs)) {
		tei_error_adjust(rs);
	} else if (j.bad_prompt) {
		TEI_ERR(rs, 413, "VALIDATION",
		        "Prompt name `%s` was not found in the definition list of model %s",
		        j.prompt_name, model);
	} else {
		rs->body = j.out;
		j.out = (struct sbuf){0};
		rs->status = 200;
	}
	sbuf_free(&j.out);
	tei_body_free(&b);
}

/* ---- POST /decode ---- */

struct tei_decode_job {
	int32_t *ids; /* all sequences back to back */
	int *starts; /* [n_seqs + 1] */
	int n_seqs;
	bool skip_special;
	struct sbuf out;
};

static enum sy_status tei_decode_write(void *ctx, const struct tokenizer *tok,
                                       const struct model *m, struct sy_error *err)
{
	(void)m;
	struct tei_decode_job *j = ctx;
	sbuf_putc(&j->out, '[');
	for (int s = 0; s < j->n_seqs; s++) {
		struct sbuf text = {0};
		enum sy_status st =
		    tokenizer_decode(tok, j->ids + j->starts[s], j->starts[s + 1] - j->starts[s],
		                     j->skip_special, err, &text);
		if (st != SY_OK) {
			sbuf_free(&text);
			return st;
		}
		if (s)
			sbuf_putc(&j->out, ',');
		json_write_str(&j->out, text.len ? text.data : "", (long)text.len);
		sbuf_free(&text);
	}
	sbuf_putc(&j->out, ']');
	return SY_OK;
}

/* One list of ids into j (appended); false when answered. */
static bool decode_ids(const cJSON *arr, const char *field, struct tei_decode_job *j, int *n_ids,
                       int cap, struct response *rs)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 4294967295.0 ||
		    it->valuedouble != floor(it->valuedouble)) {
			TEI_ERR(
			    rs, 422, "VALIDATION",
			    "Failed to deserialize the JSON body: %s must hold token ids (integers "
			    ">= 0)",
			    field);
			return false;
		}
		if (*n_ids >= cap)
			return false;
		j->ids[(*n_ids)++] = it->valuedouble > 2147483647.0 ? -1 : (int32_t)it->valuedouble;
	}
	return true;
}

static int count_ids(const cJSON *v)
{
	int n = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, v) n += cJSON_IsArray(it) ? cJSON_GetArraySize(it) : 1;
	return n;
}

void route_tei_decode(struct request *rq, struct response *rs)
{
	struct tei_body b;
	char model[256];
	struct tei_decode_job j = {0};
	if (!tei_parse(rq, &b, rs) || !tei_model(rq, b.doc, model, sizeof model, rs) ||
	    !tei_bool(b.doc, "skip_special_tokens", true, &j.skip_special, rs))
		goto out;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(b.doc, "ids");
	if (!cJSON_IsArray(v)) {
		TEI_ERR(rs, 422, "VALIDATION", "Failed to deserialize the JSON body: %s",
		        v ? "`ids` must be a list of token ids or a list of such lists"
		          : "missing field `ids`");
		goto out;
	}
	const cJSON *first = v->child;
	const bool batch = first && cJSON_IsArray(first);
	const int n_seqs = batch ? cJSON_GetArraySize(v) : 1;
	if (n_seqs > rq->srv->limits.max_items) {
		TEI_ERR(rs, 413, "VALIDATION", "batch size %d > maximum allowed batch size %d",
		        n_seqs, rq->srv->limits.max_items);
		goto out;
	}
	const int total = count_ids(v);
	j.ids = malloc((size_t)(total > 0 ? total : 1) * sizeof *j.ids);
	j.starts = calloc((size_t)n_seqs + 1, sizeof *j.starts);
	if (!j.ids || !j.starts) {
		response_error_set(rs, 500, "INTERNAL_ERROR", "out of memory");
		goto out;
	}
	int n_ids = 0;
	if (batch) {
		const cJSON *it;
		int s = 0;
		cJSON_ArrayForEach(it, v)
		{
			char field[32];
			snprintf(field, sizeof field, "ids[%d]", s);
			if (!cJSON_IsArray(it)) {
				TEI_ERR(rs, 422, "VALIDATION",
				        "Failed to deserialize the JSON body: %s must be a list",
				        field);
				goto out;
			}
			if (!decode_ids(it, field, &j, &n_ids, total, rs))
				goto out;
			j.starts[++s] = n_ids;
		}
	} else {
		if (!decode_ids(v, "ids", &j, &n_ids, total, rs))
			goto out;
		j.starts[1] = n_ids;
	}
	j.n_seqs = n_seqs;
	if (!server_tokenizer_use(rq, model, tei_decode_write, &j, rs)) {
		if (rs->error.http_status == 400) { /* an id outside the vocabulary */
			rs->error.http_status = rs->status = 422;
			rs->error.code = "TEI_TOKENIZER";
		} else {
			tei_error_adjust(rs);
		}
		goto out;
	}
	rs->body = j.out;
	j.out = (struct sbuf){0};
	rs->status = 200;
out:
	sbuf_free(&j.out);
	free(j.ids);
	free(j.starts);
	tei_body_free(&b);
}

/* ---- GET /info, GET /health ---- */

void route_tei_info(struct request *rq, struct response *rs)
{
	char model[256];
	if (!tei_model(rq, NULL, model, sizeof model, rs))
		return;
	struct engine *e = rq->srv->engine;
	struct engine_model_info m;
	struct sy_error err = {0};
	enum sy_status st = engine_model_get(e, model, &err, &m);
	/* TEI's model is always loaded, so /info knows what it is: load it once if needed. */
	if (st == SY_OK && m.tasks == 0 && !rq->srv->backend.run &&
	    engine_model_load(e, model, &err) == SY_OK)
		st = engine_model_get(e, model, &err, &m);
	if (st != SY_OK) {
		struct api_error ae;
		api_error_from_engine(&ae, &err, atomic_load(&rq->srv->draining));
		response_error(rs, &ae);
		tei_error_adjust(rs);
		return;
	}
	struct sbuf *b = &rs->body;
	sbuf_puts(b, "{\"model_id\":");
	json_write_str(b, m.id, -1);
	sbuf_printf(b, ",\"model_sha\":null,\"model_dtype\":\"%s\",\"model_type\":",
	            m.precision == LINEAR_INT8 ? "int8" : "float32");
	if (m.tasks & ENGINE_TASK_SCORE) {
		sbuf_puts(b, "{\"reranker\":{\"id2label\":{\"0\":\"LABEL_0\"},"
		             "\"label2id\":{\"LABEL_0\":0}}}");
	} else if (m.tasks & ENGINE_TASK_ENCODE) {
		sbuf_printf(b, "{\"embedding\":{\"pooling\":\"%s\"}}",
		            m.outputs == ENGINE_OUTPUT_SPARSE ? "splade" : "model");
	} else if (m.tasks & ENGINE_TASK_EXTRACT) {
		sbuf_puts(b, "{\"classifier\":{\"id2label\":{},\"label2id\":{}}}");
	} else {
		sbuf_puts(b, "{\"embedding\":{\"pooling\":\"unknown\"}}");
	}
	sbuf_printf(b,
	            ",\"max_concurrent_requests\":%d,\"max_input_length\":%d,"
	            "\"max_batch_tokens\":%d,\"max_batch_requests\":null,"
	            "\"max_client_batch_size\":%d,\"auto_truncate\":false,"
	            "\"tokenization_workers\":1,\"version\":\"%d.%d.%d\",\"sha\":null,"
	            "\"docker_label\":null,\"backend\":\"switchyard\"}",
	            256, m.max_tokens, 8192, rq->srv->limits.max_items, SY_VERSION_MAJOR,
	            SY_VERSION_MINOR, SY_VERSION_PATCH);
	rs->status = 200;
}

void route_tei_health(struct request *rq, struct response *rs)
{
	if (atomic_load(&rq->srv->draining)) {
		TEI_ERR(rs, 503, "UNHEALTHY", "the server is shutting down");
		return;
	}
	char model[256];
	if (!tei_model(rq, NULL, model, sizeof model, rs)) {
		rs->error.http_status = rs->status = 503;
		rs->error.code = "TEI_UNHEALTHY";
		return;
	}
	struct engine_model_info m = {0};
	struct sy_error err = {0};
	if (engine_model_get(rq->srv->engine, model, &err, &m) != SY_OK ||
	    m.state == ENGINE_MODEL_FAILED) {
		TEI_ERR(rs, 503, "UNHEALTHY", "model %s: %s", model,
		        m.state == ENGINE_MODEL_FAILED ? m.error : "not in the catalogue");
		return;
	}
	rs->content_type = "text/plain";
	rs->status = 200; /* TEI answers 200 with an empty body */
}
