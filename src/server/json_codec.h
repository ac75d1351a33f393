/* JSON codecs of the HTTP API: request parsing (cJSON) with field-precise errors, and fast
 * response writing straight into a buffer (no intermediate tree, so a 32 x 1024 float answer
 * costs one pass).
 *
 * Parsing errors name the field ("items[2].text: expected string") and carry the HTTP status
 * (struct api_error): malformed JSON, wrong types and missing fields answer 400; too many items
 * answers 413; a text over the characters-per-item limit answers 422. Text must be valid UTF-8
 * (JSON requires it): invalid bytes answer 400 naming the field and byte offset, rather than
 * being silently replaced, so a client learns its encoding is wrong. */
#ifndef SY_SERVER_JSON_CODEC_H
#define SY_SERVER_JSON_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/status.h"
#include "server/errors.h"
#include "base/json_write.h"
#include "base/sbuf.h"
#include "server/server.h"

/* ---- POST /v1/encode/{model} ---- */

/* Image items one request may hold: each is kept decoded and preprocessed (3 x S x S floats,
 * 0.6 MB at 224 pixels) from parsing until its batch runs, so the count is bounded apart from
 * max_items. */
#define JSON_MAX_IMAGES 256

struct encode_request {
	cJSON *doc; /* the parsed body; texts and ids point into it */
	int n_items;
	const char **ids; /* [n_items]; NULL entries mean the default "item-<i>" */
	const char **texts; /* [n_items] UTF-8 */
	size_t *lens; /* [n_items] bytes */
	/* [n_items]: items[i].images[0] decoded (data into doc), or data NULL for a text item */
	struct model_image *images;
	int n_images; /* items that are images */
	unsigned outputs; /* ENGINE_OUTPUT_* bits asked for (default dense) */
	int normalize; /* -1 model default, 0, 1 */
	bool truncate; /* default true */
	bool is_query; /* default false */
	const char *instruction; /* NULL when absent */
	int sparse_top_k; /* sparse output: keep the k largest weights; 0 = all */
	double sparse_threshold; /* sparse output: keep weights above this (default 0) */
	bool return_tokens; /* sparse output: the vocabulary piece of each index */
	int dimensions; /* params.dimensions: Matryoshka size, 0 = the model's */
	int output_dtype; /* enum output_dtype (server/quantize.h), float32 by default */
	int pooling; /* options.pooling: enum pooling_mode, POOLING_DEFAULT the model's */
	int max_length; /* options.max_seq_length: tokens, 0 the model's */
	/* extract */
	const char **labels; /* [n_labels] or NULL */
	int n_labels;
	double threshold;
	bool has_threshold;
	int aggregation; /* enum ner_aggregation */
};

/* Parses and validates a body against the limits. On failure fills err; *out is then empty. */
enum sy_status json_encode_request_parse(const char *body, size_t len,
                                         const struct server_limits *lim, struct api_error *err,
                                         struct encode_request *out);
void json_encode_request_free(struct encode_request *r);
/* POST /v1/extract/{model}: {items:[{id?,text}], params?:{labels?, threshold?, aggregation?}}
 * into the same struct (its extract fields). */
enum sy_status json_extract_request_parse(const char *body, size_t len,
                                          const struct server_limits *lim, struct api_error *err,
                                          struct encode_request *out);

/* ---- POST /v1/embeddings (OpenAI) ---- */

struct embeddings_request {
	cJSON *doc;
	const char *model;
	int n_inputs;
	const char **texts; /* [n_inputs] */
	size_t *lens; /* [n_inputs] bytes */
	bool base64; /* encoding_format "base64" (else "float") */
	int dimensions; /* 0 when not given */
};

enum sy_status json_embeddings_request_parse(const char *body, size_t len,
                                             const struct server_limits *lim, struct api_error *err,
                                             struct embeddings_request *out);
void json_embeddings_request_free(struct embeddings_request *r);

/* ---- POST /v1/score/{model} and POST /v1/rerank (cross-encoders) ---- */

/* Both shapes parse into this: score {query:{text}|"text", items:[{id?,text}]}; rerank
 * (Cohere/Jina) {model, query:"text", documents:["text"|{text}], top_n?, return_documents?}. */
struct pairs_request {
	cJSON *doc;
	const char *model; /* rerank only */
	const char *query;
	size_t query_len;
	int n_items;
	const char **ids; /* [n_items]; NULL entries: "item-<i>" (score only) */
	const char **texts; /* [n_items] */
	size_t *lens; /* [n_items] */
	struct model_image *images; /* [n_items] as in encode_request (score only) */
	struct model_image
	    query_image; /* score: query.images[0] (query is then ""), or data NULL */
	int n_images;
	int top_n; /* rerank: results to return (n_items when absent) */
	bool return_documents; /* rerank */
	struct score_params score; /* options.score_mode, options.score_weights (BGE-M3) */
	const char *instruction; /* "instruction": the task for models that read one (LLM
	                            rerankers, ColBERT), or NULL */
	const char *query_id; /* score: query.id, echoed as query_id; NULL when absent */
	bool has_score; /* either was given */
};

enum sy_status json_score_request_parse(const char *body, size_t len,
                                        const struct server_limits *lim, struct api_error *err,
                                        struct pairs_request *out);
enum sy_status json_rerank_request_parse(const char *body, size_t len,
                                         const struct server_limits *lim, struct api_error *err,
                                         struct pairs_request *out);
void json_pairs_request_free(struct pairs_request *r);

/* ---- models ---- */

/* One model object of GET /v1/models (DESIGN.md section 10), with SIE's fields (name, inputs,
 * loaded, max_sequence_length, profiles) when sie is set. */
void json_model_info_write(struct sbuf *b, const struct engine_model_info *m, bool sie);
/* One entry of SIE's `models` list: {name, inputs, outputs, dims:{output: n}, loaded, state,
 * max_sequence_length, profiles}. */
void json_model_info_write_sie(struct sbuf *b, const struct engine_model_info *m);

/* ,"timing":{...} of an engine result (the caller writes the braces around). */
void json_timing_write(struct sbuf *b, const struct engine_result *res, double total_ms,
                       double postprocessing_ms);

#endif
