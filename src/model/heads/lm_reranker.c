/* Rerankers that are causal LMs asked a yes/no question, in two prompt styles:
 *
 * Qwen3-Reranker (model_type qwen3), as its model card computes the score:
 *   text  = PREFIX + "<Instruct>: " instruction + "\n<Query>: " query + "\n<Document>: " doc
 *           + SUFFIX      (the chat template: system line, user turn, assistant turn with an
 *                          empty <think> block); the answer tokens are "yes" and "no".
 * mxbai-rerank-v2 (model_type qwen2), as mixedbread's mxbai_rerank package builds it:
 *   ids   = PREFIX + tok(["instruction: " instr "\n"] "query: " query) + tok("\n")
 *           + tok("document: " doc) + tok("\n") + tok(TASK) + tok(SUFFIX)
 *           with every piece tokenized apart; the query part keeps at most 3/4 of max_length and
 *           the document fills the rest; the answer tokens are "1" and "0".
 *
 *   score = softmax(logit_no, logit_yes)[yes] = sigmoid(logit_yes - logit_no)
 *
 * with the logits of the two answer tokens at the last position (mxbai's package returns the
 * difference itself, whose sigmoid this is). Only those two rows of the LM head are read and
 * kept (lm_head.weight, or the embedding table when tied): the vocabulary is never computed.
 *
 * Detected as a Qwen3/Qwen2 causal-LM directory without sentence-transformers files (those are
 * the embedding models). Qwen3-Reranker's instruction defaults to the card's web-search one;
 * mxbai has none by default; a request's instruction replaces either. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/arch/encoder.h"
#include "model/arch/packed_batch.h"
#include "model/families.h"
#include "model/formats/weights.h"
#include "text/tokenizer.h"

#define LMR_BATCH_TOKENS 2048
#define LMR_MAX_LENGTH 8192 /* both cards' max_length */

static const char QWEN3_PREFIX[] =
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
    "and the Instruct provided. Note that the answer can only be \"yes\" or \"no\"."
    "<|im_end|>\n<|im_start|>user\n";
static const char QWEN3_SUFFIX[] = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
static const char QWEN3_INSTRUCTION[] =
    "Given a web search query, retrieve relevant passages that answer the query";

static const char MXBAI_PREFIX[] = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. "
                                   "You are a helpful assistant.<|im_end|>\n<|im_start|>user\n";
static const char MXBAI_TASK[] =
    "You are a search relevance expert who evaluates how well documents match search queries. "
    "For each query-document pair, carefully analyze the semantic relationship between them, "
    "then provide your binary relevance judgment (0 for not relevant, 1 for relevant).\n"
    "Relevance:";
static const char MXBAI_SUFFIX[] = "<|im_end|>\n<|im_start|>assistant\n";

enum lmr_style {
	LMR_QWEN3, /* Qwen3-Reranker */
	LMR_MXBAI, /* mxbai-rerank-v2 */
};

struct lm_reranker {
	struct encoder enc;
	struct tokenizer *tok;
	enum lmr_style style;
	/* the fixed token runs around a pair: the chat prefix, and what follows the pair (Qwen3:
	 * the chat suffix; mxbai: "\n", the task and the chat suffix); mxbai's "\n" alone */
	struct tok_encoding prefix, suffix, sep;
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
	tok_encoding_free(&r->sep);
	free(r->yes_row);
	free(r->no_row);
	packed_batch_free(&r->batch);
	free(r);
}

static enum sy_status tokenize_plain(const struct lm_reranker *r, const char *text, size_t len,
                                     struct sy_error *err, struct tok_encoding *out)
{
	struct tok_encode_params p = tokenizer_default_params();
	p.add_special_tokens = false;
	p.max_length = -1;
	return tokenizer_encode(r->tok, text, len, NULL, 0, &p, err, out);
}

/* Tokenizes printf(fmt, ...) without special tokens. */
static enum sy_status tokenize_fmt(const struct lm_reranker *r, struct sy_error *err,
                                   struct tok_encoding *out, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum sy_status tokenize_fmt(const struct lm_reranker *r, struct sy_error *err,
                                   struct tok_encoding *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	const int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (!text)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	va_start(ap, fmt);
	vsnprintf(text, (size_t)n + 1, fmt, ap);
	va_end(ap);
	enum sy_status s = tokenize_plain(r, text, (size_t)n, err, out);
	free(text);
	return s;
}

/* Appends runs of ids to the prepared sequence (ids only: no token types). */
static enum sy_status join_ids(struct tok_encoding *out, struct sy_error *err, int n_parts,
                               const int32_t *const *ids, const int *lens)
{
	int n = 0;
	for (int i = 0; i < n_parts; i++)
		n += lens[i];
	out->ids = malloc((size_t)(n ? n : 1) * sizeof *out->ids);
	if (!out->ids)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	out->n = 0;
	for (int i = 0; i < n_parts; i++) {
		memcpy(out->ids + out->n, ids[i], (size_t)lens[i] * sizeof *ids[i]);
		out->n += lens[i];
	}
	return SY_OK;
}

/* Qwen3-Reranker: the body as one text, cut to leave room for the prefix and suffix. */
static enum sy_status prepare_qwen3(const struct lm_reranker *r, const struct model_input *in,
                                    struct sy_error *err, struct tok_encoding *out)
{
	const char *instr = in->prefix ? in->prefix : QWEN3_INSTRUCTION;
	const int ilen = (int)(in->prefix ? in->prefix_len : strlen(QWEN3_INSTRUCTION));
	struct tok_encoding b = {0};
	enum sy_status s = tokenize_fmt(
	    r, err, &b, "<Instruct>: %.*s\n<Query>: %.*s\n<Document>: %.*s", ilen, instr,
	    (int)in->query_len, in->query ? in->query : "", (int)in->len, in->text);
	if (s != SY_OK)
		return s;
	const int room = r->max_length - r->prefix.n - r->suffix.n;
	if (b.n > room && !in->truncate)
		s = model_too_long(err, b.n + r->prefix.n + r->suffix.n, r->max_length);
	const int nb = b.n < room ? b.n : room;
	if (s == SY_OK)
		s = join_ids(out, err, 3,
		             (const int32_t *const[]){r->prefix.ids, b.ids, r->suffix.ids},
		             (const int[]){r->prefix.n, nb, r->suffix.n});
	tok_encoding_free(&b);
	return s;
}

/* mxbai-rerank-v2: query and document tokenized apart; the query keeps at most 3/4 of
 * max_length, the document what is left of max_length (and of the model's positions). */
static enum sy_status prepare_mxbai(const struct lm_reranker *r, const struct model_input *in,
                                    struct sy_error *err, struct tok_encoding *out)
{
	struct tok_encoding q = {0}, d = {0};
	const char *query = in->query ? in->query : "";
	enum sy_status s =
	    in->prefix ? tokenize_fmt(r, err, &q, "instruction: %.*s\nquery: %.*s",
	                              (int)in->prefix_len, in->prefix, (int)in->query_len, query)
	               : tokenize_fmt(r, err, &q, "query: %.*s", (int)in->query_len, query);
	if (s == SY_OK)
		s = tokenize_fmt(r, err, &d, "document: %.*s", (int)in->len, in->text);
	if (s != SY_OK) {
		tok_encoding_free(&q);
		return s;
	}
	/* max_length counts the pair alone; the fixed runs come on top, within the positions */
	const int fixed = r->prefix.n + r->suffix.n;
	const int max_len = r->max_length - fixed;
	const int nq = q.n < max_len * 3 / 4 ? q.n : max_len * 3 / 4;
	int nd = max_len - nq - r->sep.n;
	if (nd < 0)
		nd = 0;
	if (d.n < nd)
		nd = d.n;
	if ((nq < q.n || nd < d.n) && !in->truncate)
		s = model_too_long(err, q.n + r->sep.n + d.n + fixed, r->max_length);
	if (s == SY_OK)
		s = join_ids(out, err, 5,
		             (const int32_t *const[]){r->prefix.ids, q.ids, r->sep.ids, d.ids,
		                                      r->suffix.ids},
		             (const int[]){r->prefix.n, nq, r->sep.n, nd, r->suffix.n});
	tok_encoding_free(&q);
	tok_encoding_free(&d);
	return s;
}

static enum sy_status lmr_prepare(const void *impl, const struct model_input *in,
                                  struct sy_error *err, struct model_prepared *out)
{
	const struct lm_reranker *r = impl;
	enum sy_status s = r->style == LMR_MXBAI ? prepare_mxbai(r, in, err, &out->enc)
	                                         : prepare_qwen3(r, in, err, &out->enc);
	if (s != SY_OK) {
		tok_encoding_free(&out->enc);
		return s;
	}
	out->n_tokens = out->enc.n;
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

/* The id an answer is read at: Qwen3-Reranker looks the token up by name, mxbai's package takes
 * the first id of the text tokenized alone. */
static int32_t answer_id(const struct lm_reranker *r, const char *text)
{
	if (r->style == LMR_QWEN3)
		return tokenizer_token_to_id(r->tok, text, strlen(text));
	struct sy_error ignored = {0};
	struct tok_encoding e = {0};
	int32_t id = -1;
	if (tokenize_plain(r, text, strlen(text), &ignored, &e) == SY_OK && e.n > 0)
		id = e.ids[0];
	tok_encoding_free(&e);
	return id;
}

/* The fixed token runs of the style: the prefix, and what follows the pair. */
static enum sy_status fixed_runs(struct lm_reranker *r, struct sy_error *err)
{
	if (r->style == LMR_QWEN3) {
		enum sy_status s =
		    tokenize_plain(r, QWEN3_PREFIX, strlen(QWEN3_PREFIX), err, &r->prefix);
		return s == SY_OK
		           ? tokenize_plain(r, QWEN3_SUFFIX, strlen(QWEN3_SUFFIX), err, &r->suffix)
		           : s;
	}
	struct tok_encoding task = {0}, chat = {0};
	enum sy_status s = tokenize_plain(r, MXBAI_PREFIX, strlen(MXBAI_PREFIX), err, &r->prefix);
	if (s == SY_OK)
		s = tokenize_plain(r, "\n", 1, err, &r->sep);
	if (s == SY_OK)
		s = tokenize_plain(r, MXBAI_TASK, strlen(MXBAI_TASK), err, &task);
	if (s == SY_OK)
		s = tokenize_plain(r, MXBAI_SUFFIX, strlen(MXBAI_SUFFIX), err, &chat);
	if (s == SY_OK)
		s = join_ids(&r->suffix, err, 3,
		             (const int32_t *const[]){r->sep.ids, task.ids, chat.ids},
		             (const int[]){r->sep.n, task.n, chat.n});
	tok_encoding_free(&task);
	tok_encoding_free(&chat);
	return s;
}

enum sy_status lm_reranker_open(const struct model_desc *d, const struct model_options *opts,
                                struct sy_error *err, struct model *out)
{
	struct lm_reranker *r = calloc(1, sizeof *r);
	if (!r)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	r->style = !strcmp(d->model_type, "qwen2") ? LMR_MXBAI : LMR_QWEN3;
	const char *yes_text = r->style == LMR_MXBAI ? "1" : "yes";
	const char *no_text = r->style == LMR_MXBAI ? "0" : "no";
	enum sy_status s = encoder_open(d, opts->n_threads, opts->precision, err, &r->enc);
	if (s == SY_OK)
		s = model_tokenizer_load(d->path, r->enc.vocab_size, err, &r->tok);
	int32_t yes = -1, no = -1;
	if (s == SY_OK) {
		yes = answer_id(r, yes_text);
		no = answer_id(r, no_text);
		if (yes < 0 || no < 0)
			s = sy_error_set(
			    err, SY_ERR_FORMAT,
			    "%s: the tokenizer has no \"%s\" or \"%s\" token to score with",
			    d->path, yes_text, no_text);
	}
	if (s == SY_OK)
		s = fixed_runs(r, err);
	struct safetensors *st = NULL;
	if (s == SY_OK)
		s = model_weights_open(d->path, err, &st, NULL);
	if (s == SY_OK)
		s = head_row(st, yes, r->enc.vocab_size, r->enc.hidden, err, &r->yes_row);
	if (s == SY_OK)
		s = head_row(st, no, r->enc.vocab_size, r->enc.hidden, err, &r->no_row);
	safetensors_close(st);
	/* Qwen3: max_length is the whole sequence; mxbai: the pair alone, the fixed runs on top */
	r->max_length = opts->max_length > 0 ? opts->max_length : LMR_MAX_LENGTH;
	if (r->style == LMR_MXBAI)
		r->max_length += r->prefix.n + r->suffix.n;
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
