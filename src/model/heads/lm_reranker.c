/* Rerankers that are causal LMs asked a yes/no question (Qwen3-Reranker), as its model card
 * computes the score:
 *
 *   text  = PREFIX + "<Instruct>: " instruction + "\n<Query>: " query + "\n<Document>: " doc
 *           + SUFFIX      (the chat template: system line, user turn, assistant turn with an
 *                          empty <think> block)
 *   score = softmax(logit_no, logit_yes)[yes] = sigmoid(logit_yes - logit_no)
 *
 * with the logits of the tokens "yes" and "no" at the last position. Only those two rows of the
 * LM head are read and kept (lm_head.weight, or the embedding table when tied): the vocabulary
 * is never computed. The prefix, body and suffix are tokenized apart without special tokens and
 * joined, as the card does; the body is cut to leave room for the other two.
 *
 * Detected as a Qwen3/Qwen2 causal-LM directory without sentence-transformers files (those are
 * the embedding models). The instruction defaults to the card's web-search one; a request's
 * instruction replaces it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/arch/encoder.h"
#include "model/arch/packed_batch.h"
#include "model/families.h"
#include "model/formats/weights.h"
#include "text/tokenizer.h"

#define LMR_BATCH_TOKENS 2048
#define LMR_MAX_LENGTH 8192 /* the card's max_length */

static const char PREFIX[] =
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
    "and the Instruct provided. Note that the answer can only be \"yes\" or \"no\"."
    "<|im_end|>\n<|im_start|>user\n";
static const char SUFFIX[] = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
static const char DEFAULT_INSTRUCTION[] =
    "Given a web search query, retrieve relevant passages that answer the query";

struct lm_reranker {
	struct encoder enc;
	struct tokenizer *tok;
	struct tok_encoding prefix, suffix;
	float *yes_row, *no_row; /* [H] */
	int max_length;
	struct packed_batch batch;
};

static void lmr_close(void *impl)
{
	struct lm_reranker *r = impl;
	if (!r)
		return;
	encoder_free(&r->enc);
	tokenizer_free(r->tok);
	tok_encoding_free(&r->prefix);
	tok_encoding_free(&r->suffix);
	free(r->yes_row);
	free(r->no_row);
	packed_batch_free(&r->batch);
	free(r);
}

static enum sy_status tokenize_plain(const struct lm_reranker *r, const char *text, size_t len,
                                     int max_length, struct sy_error *err, struct tok_encoding *out)
{
	struct tok_encode_params p = tokenizer_default_params();
	p.add_special_tokens = false;
	p.max_length = max_length;
	return tokenizer_encode(r->tok, text, len, NULL, 0, &p, err, out);
}

static enum sy_status lmr_prepare(const void *impl, const struct model_input *in,
                                  struct sy_error *err, struct model_prepared *out)
{
	const struct lm_reranker *r = impl;
	const char *instr = in->prefix ? in->prefix : DEFAULT_INSTRUCTION;
	const size_t ilen = in->prefix ? in->prefix_len : strlen(DEFAULT_INSTRUCTION);
	const size_t cap = ilen + in->query_len + in->len + 64;
	char *body = malloc(cap);
	if (!body)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	const int blen =
	    snprintf(body, cap, "<Instruct>: %.*s\n<Query>: %.*s\n<Document>: %.*s", (int)ilen,
	             instr, (int)in->query_len, in->query ? in->query : "", (int)in->len, in->text);
	const int room = r->max_length - r->prefix.n - r->suffix.n;
	struct tok_encoding b = {0};
	enum sy_status s = tokenize_plain(r, body, (size_t)blen, -1, err, &b);
	free(body);
	if (s != SY_OK)
		return s;
	if (b.n > room && !in->truncate) {
		s = model_too_long(err, b.n + r->prefix.n + r->suffix.n, r->max_length);
		tok_encoding_free(&b);
		return s;
	}
	const int nb = b.n < room ? b.n : room, n = r->prefix.n + nb + r->suffix.n;
	/* ids only (no token types): tok_encoding_free frees the ids block alone */
	out->enc.ids = malloc((size_t)n * sizeof *out->enc.ids);
	if (!out->enc.ids) {
		tok_encoding_free(&b);
		tok_encoding_free(&out->enc);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	memcpy(out->enc.ids, r->prefix.ids, (size_t)r->prefix.n * sizeof *out->enc.ids);
	memcpy(out->enc.ids + r->prefix.n, b.ids, (size_t)nb * sizeof *out->enc.ids);
	memcpy(out->enc.ids + r->prefix.n + nb, r->suffix.ids,
	       (size_t)r->suffix.n * sizeof *out->enc.ids);
	out->enc.n = n;
	out->n_tokens = n;
	tok_encoding_free(&b);
	return SY_OK;
}

struct lmr_run {
	struct lm_reranker *r;
	float *scores;
};

static enum sy_status run_chunk(void *ctx, struct packed_batch *pb, int first, int count,
                                struct sy_error *err)
{
	struct lmr_run *run = ctx;
	struct lm_reranker *r = run->r;
	struct encoder_input in = packed_batch_input(pb);
	const float *h;
	enum sy_status s = encoder_forward(&r->enc, &in, err, &h);
	if (s != SY_OK)
		return s;
	const int H = r->enc.hidden;
	long at = 0;
	for (int i = 0; i < count; i++) {
		at += in.lens[i];
		const float *last = h + (size_t)(at - 1) * H;
		double yes = 0, no = 0;
		for (int k = 0; k < H; k++) {
			yes += (double)last[k] * r->yes_row[k];
			no += (double)last[k] * r->no_row[k];
		}
		run->scores[first + i] = (float)(1.0 / (1.0 + exp(no - yes)));
	}
	return SY_OK;
}

static enum sy_status lmr_run(void *impl, const struct model_item *items, int n,
                              struct sy_error *err, float *scores)
{
	struct lm_reranker *r = impl;
	struct lmr_run run = {r, scores};
	return packed_batch_chunks(&r->batch, items, n, LMR_BATCH_TOKENS, false, run_chunk, &run,
	                           err);
}

static size_t lmr_bytes(const void *impl)
{
	const struct lm_reranker *r = impl;
	return encoder_bytes(&r->enc) + tokenizer_bytes(r->tok) +
	       2 * (size_t)r->enc.hidden * sizeof(float);
}

static int lmr_max_tokens(const void *impl)
{
	return ((const struct lm_reranker *)impl)->max_length;
}

/* The tokenizer, for the tokenize and decode routes. */
static const struct tokenizer *lmr_tokenizer(const void *impl)
{
	return ((const struct lm_reranker *)impl)->tok;
}

static const struct model_ops lmr_ops = {
    .tokenizer = lmr_tokenizer,
    .close = lmr_close,
    .bytes = lmr_bytes,
    .max_tokens = lmr_max_tokens,
};

static const struct model_score_task lmr_score = {
    .prepare = lmr_prepare,
    .run = lmr_run,
};

bool lm_reranker_detect(const struct model_desc *d)
{
	return (!strcmp(d->model_type, "qwen3") || !strcmp(d->model_type, "qwen2")) &&
	       !d->has[MODEL_FILE_ST_MODULES] && model_desc_architecture(d, "ForCausalLM", true);
}

/* Row id of the LM head (lm_head.weight, or the tied embedding table) as fp32, read alone. */
static enum sy_status head_row(const struct safetensors *st, int id, int vocab, int H,
                               struct sy_error *err, float **out)
{
	static const char *const names[] = {"lm_head.weight", "model.embed_tokens.weight",
	                                    "embed_tokens.weight"};
	const struct st_tensor *t = NULL;
	for (size_t i = 0; !t && i < sizeof names / sizeof *names; i++)
		t = safetensors_find(st, names[i]);
	if (!t)
		return sy_error_set(err, SY_ERR_NOT_FOUND,
		                    "%s: neither lm_head.weight nor the embedding table", st->path);
	if (t->n_dims != 2 || t->shape[0] != vocab || t->shape[1] != H)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: %s is not [%d][%d]", st->path, t->name,
		                    vocab, H);
	struct st_tensor view = *t; /* the one row */
	const size_t row = t->n_bytes / (size_t)vocab;
	view.n_dims = 1;
	view.shape[0] = H;
	view.n_elems = (size_t)H;
	view.n_bytes = row;
	view.data = t->data + (size_t)id * row;
	*out = malloc((size_t)H * sizeof **out);
	if (!*out)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	return safetensors_tensor_read_f32(&view, err, *out);
}

enum sy_status lm_reranker_open(const struct model_desc *d, const struct model_options *opts,
                                struct sy_error *err, struct model *out)
{
	struct lm_reranker *r = calloc(1, sizeof *r);
	if (!r)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	enum sy_status s = encoder_open(d, opts->n_threads, opts->precision, err, &r->enc);
	if (s == SY_OK)
		s = model_tokenizer_load(d->path, r->enc.vocab_size, err, &r->tok);
	int32_t yes = -1, no = -1;
	if (s == SY_OK) {
		yes = tokenizer_token_to_id(r->tok, "yes", 3);
		no = tokenizer_token_to_id(r->tok, "no", 2);
		if (yes < 0 || no < 0)
			s = sy_error_set(
			    err, SY_ERR_FORMAT,
			    "%s: the tokenizer has no \"yes\" or \"no\" token to score with",
			    d->path);
	}
	if (s == SY_OK)
		s = tokenize_plain(r, PREFIX, sizeof PREFIX - 1, -1, err, &r->prefix);
	if (s == SY_OK)
		s = tokenize_plain(r, SUFFIX, sizeof SUFFIX - 1, -1, err, &r->suffix);
	struct safetensors *st = NULL;
	if (s == SY_OK)
		s = model_weights_open(d->path, err, &st, NULL);
	if (s == SY_OK)
		s = head_row(st, yes, r->enc.vocab_size, r->enc.hidden, err, &r->yes_row);
	if (s == SY_OK)
		s = head_row(st, no, r->enc.vocab_size, r->enc.hidden, err, &r->no_row);
	safetensors_close(st);
	r->max_length = opts->max_length > 0 ? opts->max_length : LMR_MAX_LENGTH;
	if (r->max_length > r->enc.max_tokens)
		r->max_length = r->enc.max_tokens;
	if (s == SY_OK && r->max_length <= r->prefix.n + r->suffix.n)
		s = sy_error_set(err, SY_ERR_FORMAT,
		                 "%s: %d tokens leave no room for a pair after the prompt (%d)",
		                 d->path, r->max_length, r->prefix.n + r->suffix.n);
	if (s == SY_OK) {
		const int rows =
		    r->max_length > LMR_BATCH_TOKENS ? r->max_length : LMR_BATCH_TOKENS;
		s = encoder_reserve(&r->enc, rows, rows, r->max_length, err);
	}
	if (s != SY_OK) {
		lmr_close(r);
		return s;
	}
	out->arch = r->enc.arch;
	out->impl = r;
	out->ops = &lmr_ops;
	out->score = &lmr_score;
	return SY_OK;
}
