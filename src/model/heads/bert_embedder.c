/* The BERT-family embedder: tokenizer -> encoder -> pooling head, behind struct embedder.
 *
 * Texts are tokenised one at a time into a packed batch (ids back to back, no padding) and the
 * batch is run whenever adding the next text would pass a token budget. Because the encoder only
 * ever computes real tokens, sorting texts by length would save nothing, so results are written
 * in input order as they come. The budget bounds the scratch memory: activations are about
 * (6 H + I) floats per token, so 2048 tokens of a base-size model take about 60 MB.
 *
 * The sequence limit is, in order of precedence: the max_length option, sentence-transformers'
 * max_seq_length, the tokenizer's own truncation length, the model's position table; it is
 * always clamped to what the position table allows.
 *
 * The optional operations (struct embedder_ext) add per-item prompts or instructions (joined in
 * front of the text before tokenisation, as sentence-transformers does), per-item normalisation
 * (the head runs without its Normalize step and each row is normalised as asked, with the same
 * function, so results equal the plain path bit for bit) and token counts. */
#include <stdlib.h>
#include <string.h>

#include "model/arch/bert.h"
#include "model/arch/packed_batch.h"
#include "model/embedder.h"
#include "model/heads/pooling.h"
#include "model/st_meta.h"
#include "tensor/ops.h"
#include "text/tokenizer.h"

#define BERT_EMBED_BATCH_TOKENS 1024

struct bert_embedder {
	struct tokenizer *tok;
	struct bert_model *model;
	struct st_meta meta;
	struct pooling_head head;
	int max_length; /* tokens per text, special tokens included */
	struct packed_batch batch; /* the batch being filled */
	char *join; /* prefix + text of the item being tokenised, [cap_join] bytes */
	size_t cap_join;
};

static void bert_embedder_close(void *impl)
{
	struct bert_embedder *b = impl;
	if (!b)
		return;
	tokenizer_free(b->tok);
	bert_model_free(b->model);
	pooling_head_free(&b->head);
	st_meta_free(&b->meta);
	packed_batch_free(&b->batch);
	free(b->join);
	free(b);
}

static int bert_embedder_dims(const void *impl)
{
	const struct bert_embedder *b = impl;
	return b->head.dims;
}

/* Runs the packed batch and writes its texts' vectors to out[n][dims], then empties it.
 * normalize[n] (or NULL for the model's default) overrides the head's normalisation per text. */
static enum sy_status run_batch(struct bert_embedder *b, const signed char *normalize,
                                struct sy_error *err, float *out)
{
	const int n = b->batch.n_seqs;
	if (n == 0)
		return SY_OK;
	struct bert_input in = packed_batch_input(&b->batch);
	packed_batch_clear(&b->batch);
	const float *hidden;
	enum sy_status s = bert_forward(b->model, &in, err, &hidden);
	if (s != SY_OK)
		return s;
	if (!normalize)
		return pooling_head_apply(&b->head, hidden, in.lens, n, err, out);
	const bool model_default = b->head.normalize;
	b->head.normalize = false;
	s = pooling_head_apply(&b->head, hidden, in.lens, n, err, out);
	b->head.normalize = model_default;
	const int dims = b->head.dims;
	for (int i = 0; s == SY_OK && i < n; i++)
		if (normalize[i] < 0 ? model_default : normalize[i] != 0)
			l2_normalize_f32(out + (size_t)i * dims, dims);
	return s;
}

/* Points *text, *len at prefix + text, joined in b->join when there is a prefix. */
static enum sy_status item_text(struct bert_embedder *b, const struct embed_call *c, int i,
                                struct sy_error *err, const char **text, size_t *len)
{
	const char *pre = c->prefixes ? c->prefixes[i] : NULL;
	size_t pl = pre ? c->prefix_lens[i] : 0;
	*text = c->texts[i];
	*len = c->lens[i];
	if (pl == 0)
		return SY_OK;
	size_t need = pl + c->lens[i] + 1;
	if (need > b->cap_join) {
		char *j = realloc(b->join, need);
		if (!j)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory for a prompt");
		b->join = j;
		b->cap_join = need;
	}
	memcpy(b->join, pre, pl);
	memcpy(b->join + pl, c->texts[i], c->lens[i]);
	b->join[pl + c->lens[i]] = '\0';
	*text = b->join;
	*len = pl + c->lens[i];
	return SY_OK;
}

static enum sy_status bert_embedder_encode_ex(void *impl, const struct embed_call *c,
                                              struct sy_error *err, float *out, int *n_tokens_out)
{
	struct bert_embedder *b = impl;
	struct tok_encode_params params = tokenizer_default_params();
	params.max_length = b->max_length;
	params.add_special_tokens = true;
	const int dims = b->head.dims;
	int first = 0;
	packed_batch_clear(&b->batch);
	for (int i = 0; i < c->n; i++) {
		const char *text;
		size_t len;
		enum sy_status s = item_text(b, c, i, err, &text, &len);
		if (s != SY_OK)
			return s;
		struct tok_encoding enc;
		s = tokenizer_encode(b->tok, text, len, NULL, 0, &params, err, &enc);
		if (s != SY_OK)
			return s;
		if (n_tokens_out)
			n_tokens_out[i] = enc.n;
		if (b->batch.n_seqs > 0 && b->batch.n_tokens + enc.n > BERT_EMBED_BATCH_TOKENS) {
			s = run_batch(b, c->normalize ? c->normalize + first : NULL, err,
			              out + (size_t)first * dims);
			first = i;
		}
		if (s == SY_OK)
			s = packed_batch_add(&b->batch, enc.ids, enc.type_ids, enc.n, err);
		tok_encoding_free(&enc);
		if (s != SY_OK)
			return s;
	}
	return run_batch(b, c->normalize ? c->normalize + first : NULL, err,
	                 out + (size_t)first * dims);
}

static enum sy_status bert_embedder_encode(void *impl, const char *const *texts, const size_t *lens,
                                           int n, float *out, struct sy_error *err)
{
	struct embed_call c = {.n = n, .texts = texts, .lens = lens};
	return bert_embedder_encode_ex(impl, &c, err, out, NULL);
}

static enum sy_status bert_embedder_count_tokens(const void *impl, const char *prefix,
                                                 size_t prefix_len, const char *text, size_t len,
                                                 struct sy_error *err, int *out)
{
	const struct bert_embedder *b = impl;
	struct tok_encode_params params = tokenizer_default_params();
	params.max_length = -1;
	params.add_special_tokens = true;
	char *joined = NULL;
	if (prefix && prefix_len) {
		joined = malloc(prefix_len + len + 1);
		if (!joined)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory for a prompt");
		memcpy(joined, prefix, prefix_len);
		memcpy(joined + prefix_len, text, len);
		joined[prefix_len + len] = '\0';
		text = joined;
		len += prefix_len;
	}
	struct tok_encoding enc;
	enum sy_status s = tokenizer_encode(b->tok, text, len, NULL, 0, &params, err, &enc);
	free(joined);
	if (s != SY_OK)
		return s;
	*out = enc.n;
	tok_encoding_free(&enc);
	return SY_OK;
}

/* Weights (fp32, packed) plus the encoder scratch reserved at open for a full packed batch. */
static size_t bert_embedder_bytes(const void *impl)
{
	const struct bert_embedder *b = impl;
	size_t bytes = bert_model_weight_bytes(b->model) + bert_model_scratch_bytes(b->model);
	for (int i = 0; i < b->head.n_dense; i++)
		bytes += ((size_t)b->head.dense[i].in + 1) * (size_t)b->head.dense[i].out *
		         sizeof(float);
	return bytes;
}

static const char *bert_embedder_prompt(const void *impl, const char *name)
{
	const struct bert_embedder *b = impl;
	return st_meta_prompt(&b->meta, name);
}

static int bert_embedder_max_tokens(const void *impl)
{
	const struct bert_embedder *b = impl;
	return b->max_length;
}

static const struct embedder_ext bert_ext = {
    .encode_ex = bert_embedder_encode_ex,
    .count_tokens = bert_embedder_count_tokens,
    .bytes = bert_embedder_bytes,
    .prompt = bert_embedder_prompt,
    .max_tokens = bert_embedder_max_tokens,
};

static const struct embedder_vt bert_vt = {"bert", bert_embedder_dims, bert_embedder_encode,
                                           bert_embedder_close};
static const struct embedder_vt roberta_vt = {"roberta", bert_embedder_dims, bert_embedder_encode,
                                              bert_embedder_close};
static const struct embedder_vt distilbert_vt = {"distilbert", bert_embedder_dims,
                                                 bert_embedder_encode, bert_embedder_close};

struct bert_model *bert_embedder_model(const struct embedder *e)
{
	if (!e || (e->vt != &bert_vt && e->vt != &roberta_vt && e->vt != &distilbert_vt))
		return NULL;
	return ((struct bert_embedder *)e->impl)->model;
}

enum sy_status bert_embedder_open(const char *dir, const struct embed_options *opts,
                                  struct sy_error *err, struct embedder *out)
{
	struct embed_options defaults = embed_default_options();
	if (!opts)
		opts = &defaults;
	struct bert_embedder *b = calloc(1, sizeof *b);
	if (!b)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	enum sy_status s =
	    bert_model_load_prec(dir, opts->n_threads, opts->precision, err, &b->model);
	if (s == SY_OK)
		s = st_meta_load(dir, err, &b->meta);
	if (s == SY_OK)
		s = tokenizer_load(dir, err, &b->tok);
	const struct bert_config *cfg = s == SY_OK ? bert_model_config(b->model) : NULL;
	if (s == SY_OK)
		s = pooling_head_init(&b->meta, opts, cfg->hidden, err, &b->head);
	if (s != SY_OK) {
		bert_embedder_close(b);
		return s;
	}
	int max_len = opts->max_length;
	if (max_len <= 0)
		max_len = b->meta.max_seq_length;
	if (max_len <= 0)
		max_len = tokenizer_max_length(b->tok);
	if (max_len <= 0 || max_len > cfg->max_tokens)
		max_len = cfg->max_tokens;
	b->max_length = max_len;
	/* Activations are sized here, once: a batch never holds more than BERT_EMBED_BATCH_TOKENS
	 * tokens (or one text of max_len), so the forward pass never allocates. */
	int rows = max_len > BERT_EMBED_BATCH_TOKENS ? max_len : BERT_EMBED_BATCH_TOKENS;
	s = bert_model_reserve(b->model, rows, rows, max_len, err);
	if (s != SY_OK) {
		bert_embedder_close(b);
		return s;
	}
	out->impl = b;
	out->ext = &bert_ext;
	out->vt = cfg->arch == BERT_ARCH_ROBERTA      ? &roberta_vt
	          : cfg->arch == BERT_ARCH_DISTILBERT ? &distilbert_vt
	                                              : &bert_vt;
	return SY_OK;
}
