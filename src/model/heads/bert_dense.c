/* BERT-family dense embeddings: tokenizer -> encoder -> pooling head (sentence-transformers
 * pooling, Dense layers, Normalize), as the encode task.
 *
 * prepare tokenises prompt + text (joined before tokenisation, as sentence-transformers does).
 * run packs the prepared items back to back (no padding) in chunks of at most
 * BERT_DENSE_BATCH_TOKENS; because the encoder only ever computes real tokens, sorting texts by
 * length would save nothing, so results are written in input order. The chunk bounds the
 * scratch memory: activations are about (6 H + I) floats per token, so 2048 tokens of a
 * base-size model take about 60 MB.
 *
 * The sequence limit is, in order of precedence: the max_length option, sentence-transformers'
 * max_seq_length, the tokenizer's own truncation length, the model's position table; it is
 * always clamped to what the position table allows. */
#include <stdlib.h>
#include <string.h>

#include "model/arch/bert.h"
#include "model/arch/packed_batch.h"
#include "model/config.h"
#include "model/families.h"
#include "model/formats/weights.h"
#include "model/heads/pooling.h"
#include "model/st_meta.h"
#include "tensor/ops.h"
#include "text/tokenizer.h"

#define BERT_DENSE_BATCH_TOKENS 1024

struct bert_dense {
	struct tokenizer *tok;
	struct bert_model *model;
	struct st_meta meta;
	struct pooling_head head;
	int max_length; /* tokens per text, special tokens included */
	struct packed_batch batch; /* the chunk being run */
};

static void dense_close(void *impl)
{
	struct bert_dense *b = impl;
	if (!b)
		return;
	tokenizer_free(b->tok);
	bert_model_free(b->model);
	pooling_head_free(&b->head);
	st_meta_free(&b->meta);
	packed_batch_free(&b->batch);
	free(b);
}

struct dense_run {
	struct bert_dense *b;
	const struct model_item *items;
	float *out;
};

/* Runs one packed chunk (items [first, first+count)) and writes their vectors. Each item's
 * normalize option overrides the head's: the head runs without its Normalize step and each row
 * is normalised as asked, with the same function, so results equal the plain path bit for bit. */
static enum sy_status run_chunk(void *ctx, struct packed_batch *pb, int first, int count,
                                struct sy_error *err)
{
	struct dense_run *r = ctx;
	struct bert_dense *b = r->b;
	struct bert_input in = packed_batch_input(pb);
	const float *hidden;
	enum sy_status s = bert_forward(b->model, &in, err, &hidden);
	if (s != SY_OK)
		return s;
	const int dims = b->head.dims;
	float *out = r->out + (size_t)first * dims;
	const bool model_default = b->head.normalize;
	b->head.normalize = false;
	s = pooling_head_apply(&b->head, hidden, in.lens, count, err, out);
	b->head.normalize = model_default;
	for (int i = 0; s == SY_OK && i < count; i++) {
		const signed char want = r->items[first + i].in->normalize;
		if (want < 0 ? model_default : want != 0)
			l2_normalize_f32(out + (size_t)i * dims, dims);
	}
	return s;
}

static enum sy_status dense_prepare(const void *impl, const struct model_input *in,
                                    struct sy_error *err, struct model_prepared *out)
{
	const struct bert_dense *b = impl;
	enum sy_status s = model_tokenize(b->tok, in, b->max_length, err, &out->enc);
	if (s == SY_OK)
		out->n_tokens = out->enc.n;
	return s;
}

static enum sy_status dense_run(void *impl, const struct model_item *items, int n,
                                struct sy_error *err, float *out, struct model_item_result *res)
{
	(void)res;
	struct bert_dense *b = impl;
	struct dense_run r = {b, items, out};
	return packed_batch_chunks(&b->batch, items, n, BERT_DENSE_BATCH_TOKENS, true, run_chunk,
	                           &r, err);
}

/* Weights (fp32, packed) plus the encoder scratch reserved at open for a full packed batch. */
static size_t dense_bytes(const void *impl)
{
	const struct bert_dense *b = impl;
	size_t bytes = bert_model_weight_bytes(b->model) + bert_model_scratch_bytes(b->model) +
	               tokenizer_bytes(b->tok);
	for (int i = 0; i < b->head.n_dense; i++)
		bytes += ((size_t)b->head.dense[i].in + 1) * (size_t)b->head.dense[i].out *
		         sizeof(float);
	return bytes;
}

static const char *dense_prompt(const void *impl, const char *name)
{
	const struct bert_dense *b = impl;
	return st_meta_prompt(&b->meta, name);
}

static int dense_max_tokens(const void *impl)
{
	return ((const struct bert_dense *)impl)->max_length;
}

static int dense_dims(const void *impl)
{
	return ((const struct bert_dense *)impl)->head.dims;
}

static const struct model_ops dense_ops = {
    .close = dense_close,
    .bytes = dense_bytes,
    .max_tokens = dense_max_tokens,
    .prompt = dense_prompt,
};

static const struct model_encode_task dense_encode = {
    .output = MODEL_OUTPUT_DENSE,
    .dims = dense_dims,
    .prepare = dense_prepare,
    .run = dense_run,
};

struct bert_model *bert_dense_model(const struct model *m)
{
	if (!m || m->ops != &dense_ops)
		return NULL;
	return ((struct bert_dense *)m->impl)->model;
}

/* Any config.json the other families did not take: the BERT family's parser decides. */
bool bert_dense_detect(const struct model_desc *d)
{
	return d->has[MODEL_FILE_CONFIG];
}

enum sy_status bert_dense_open(const struct model_desc *d, const struct model_options *opts,
                               struct sy_error *err, struct model *out)
{
	struct bert_dense *b = calloc(1, sizeof *b);
	if (!b)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	struct bert_config cfg;
	enum sy_status s = bert_config_from_desc(d, err, &cfg);
	struct safetensors *st = NULL;
	if (s == SY_OK)
		s = model_weights_open(d->path, err, &st, NULL);
	if (s == SY_OK)
		s = bert_model_load_st_prec(&cfg, st, opts->n_threads, opts->precision, err,
		                            &b->model);
	safetensors_close(st);
	if (s == SY_OK)
		s = st_meta_load(d->path, err, &b->meta);
	if (s == SY_OK)
		s = model_tokenizer_load(d->path, cfg.vocab_size, err, &b->tok);
	if (s == SY_OK)
		s = pooling_head_init(&b->meta, opts, cfg.hidden, err, &b->head);
	if (s != SY_OK) {
		dense_close(b);
		return s;
	}
	int max_len = opts->max_length;
	if (max_len <= 0)
		max_len = b->meta.max_seq_length;
	if (max_len <= 0)
		max_len = tokenizer_max_length(b->tok);
	if (max_len <= 0 || max_len > cfg.max_tokens)
		max_len = cfg.max_tokens;
	b->max_length = max_len;
	/* Activations are sized here, once: a chunk never holds more than BERT_DENSE_BATCH_TOKENS
	 * tokens (or one text of max_len), so the forward pass never allocates. */
	int rows = max_len > BERT_DENSE_BATCH_TOKENS ? max_len : BERT_DENSE_BATCH_TOKENS;
	s = bert_model_reserve(b->model, rows, rows, max_len, err);
	if (s != SY_OK) {
		dense_close(b);
		return s;
	}
	out->arch = bert_arch_name(cfg.arch);
	out->impl = b;
	out->ops = &dense_ops;
	out->encode = &dense_encode;
	return SY_OK;
}
