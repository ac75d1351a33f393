/* Internal interface between the tokenizer pipeline and its models (WordPiece, Unigram, BPE,
 * WordLevel). The pipeline hands a model one pre-tokenized piece of normalized text (UTF-8, not
 * NUL-terminated); the model appends tokens with byte ranges relative to the start of that piece;
 * the pipeline maps those ranges back to the original input. */
#ifndef SY_TEXT_TEXT_MODEL_H
#define SY_TEXT_TEXT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/status.h"

struct tok_piece {
	int32_t id;
	uint32_t start, end; /* byte range within the piece passed to tokenize */
};

struct tok_piece_buf {
	struct tok_piece *v;
	int n, cap;
};

/* Appends one piece; returns SY_OK or SY_ERR_NOMEM. */
enum sy_status tok_piece_push(struct tok_piece_buf *b, int32_t id, uint32_t start, uint32_t end);

struct text_model_vt {
	const char *kind; /* "WordPiece", "Unigram", "BPE", "WordLevel" */
	enum sy_status (*tokenize)(const void *impl, const char *piece, size_t len,
	                           struct tok_piece_buf *out, struct sy_error *err);
	int32_t (*token_to_id)(const void *impl, const char *tok, size_t len); /* -1 if absent */
	const char *(*id_to_token)(const void *impl, int32_t id); /* NULL if absent */
	int (*vocab_size)(const void *impl);
	size_t (*bytes)(const void *impl); /* what it holds, for the model's memory budget */
	void (*free)(void *impl);
};

struct text_model {
	const struct text_model_vt *vt;
	void *impl;
};

/* Builders from the tokenizer.json "model" object. Errors name the offending field, e.g.
 * "model.vocab[3]: expected [piece, score]". */
enum sy_status wordpiece_from_json(const cJSON *model, struct sy_error *err,
                                   struct text_model *out);
enum sy_status unigram_from_json(const cJSON *model, struct sy_error *err, struct text_model *out);
enum sy_status bpe_from_json(const cJSON *model, struct sy_error *err, struct text_model *out);
enum sy_status wordlevel_from_json(const cJSON *model, struct sy_error *err,
                                   struct text_model *out);

#endif
