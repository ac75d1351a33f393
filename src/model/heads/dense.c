/* Dense embeddings from any encoder (arch/encoder.h: the BERT family, NewModel, ...):
 * tokenizer -> encoder -> pooling head (sentence-transformers pooling, Dense layers,
 * Normalize), as the encode task.
 *
 * prepare tokenises prompt + text (joined before tokenisation, as sentence-transformers does).
 * run packs the prepared items back to back (no padding) in chunks of at most
 * DENSE_BATCH_TOKENS; because the encoder only ever computes real tokens, sorting texts by
 * length would save nothing, so results are written in input order. The chunk bounds the
 * scratch memory: activations are about (6 H + I) floats per token, so 2048 tokens of a
 * base-size model take about 60 MB.
 *
 * The sequence limit is, in order of precedence: the max_length option, sentence-transformers'
 * max_seq_length, the tokenizer's own truncation length, the model's position table; it is
 * always clamped to what the position table allows. */
#include <stdlib.h>
#include <string.h>

#include "model/arch/encoder.h"
#include "model/arch/packed_batch.h"
#include "model/config.h"
#include "model/families.h"
#include "model/formats/weights.h"
#include "model/heads/pooling.h"
#include "model/st_meta.h"
#include "tensor/ops.h"
#include "text/tokenizer.h"

#define DENSE_BATCH_TOKENS 1024

struct dense {
	struct tokenizer *tok;
	struct encoder enc;
	struct st_meta meta;
	struct pooling_head head;
	int max_length; /* tokens per text, special tokens included */
	struct packed_batch batch; /* the chunk being run */
};

static void dense_close(void *impl)
{
	struct dense *b = impl;
	if (!b)
		return;
	tokenizer_free(b->tok);
	encoder_free(&b->enc);
	pooling_head_free(&b->head);
	st_meta_free(&b->meta);
	packed_batch_free(&b->batch);
	free(b);
}

struct dense_run {
	struct dense *b;
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
	struct dense *b = r->b;
	struct encoder_input in = packed_batch_input(pb);
	const float *hidden;
	enum sy_status s = encoder_forward(&b->enc, &in, err, &hidden);
	if (s != SY_OK)
		return s;
	const int dims = b->head.dims;
	float *out = r->out + (size_t)first * dims;
	const bool model_default = b->head.normalize;
	/* Items that ask for a pooling of their own (SIE's options.pooling) pool one by one. */
	enum pooling_mode *modes = NULL;
	for (int i = 0; i < count && !modes; i++)
		if (r->items[first + i].in->pooling != POOLING_DEFAULT) {
			modes = calloc((size_t)count, sizeof *modes);
			if (!modes)
				return sy_error_set(err, SY_ERR_NOMEM, "out of memory for pooling");
			for (int k = 0; k < count; k++)
				modes[k] = (enum pooling_mode)r->items[first + k].in->pooling;
		}
	b->head.normalize = false;
	s = pooling_head_apply(&b->head, hidden, in.lens, count, modes, err, out);
	free(modes);
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
	const struct dense *b = impl;
	enum sy_status s = model_tokenize(b->tok, in, b->max_length, err, &out->enc);
	if (s == SY_OK)
		out->n_tokens = out->enc.n;
	return s;
}

static enum sy_status dense_run(void *impl, const struct model_item *items, int n,
                                struct sy_error *err, float *out, struct model_item_result *res)
{
	(void)res;
	struct dense *b = impl;
	struct dense_run r = {b, items, out};
	return packed_batch_chunks(&b->batch, items, n, DENSE_BATCH_TOKENS, true, run_chunk, &r,
	                           err);
}

/* Weights (fp32, packed) plus the encoder scratch reserved at open for a full packed batch. */
static size_t dense_bytes(const void *impl)
{
	const struct dense *b = impl;
	size_t bytes = encoder_bytes(&b->enc) + tokenizer_bytes(b->tok);
	for (int i = 0; i < b->head.n_dense; i++)
		bytes += ((size_t)b->head.dense[i].in + 1) * (size_t)b->head.dense[i].out *
		         sizeof(float);
	return bytes;
}

static const char *dense_prompt(const void *impl, const char *name)
{
	const struct dense *b = impl;
	const char *p = st_meta_prompt(&b->meta, name);
	if (p)
		return p;
	/* The architecture's own prefixes, under the names the engine asks for. */
	if (!strcmp(name, "search_query"))
		return b->enc.query_prefix;
	if (!strcmp(name, "search_document"))
		return b->enc.document_prefix;
	return NULL;
}

static int dense_max_tokens(const void *impl)
{
	return ((const struct dense *)impl)->max_length;
}

static int dense_dims(const void *impl)
{
	return ((const struct dense *)impl)->head.dims;
}

static enum model_matryoshka dense_matryoshka(const void *impl)
{
	const struct dense *b = impl;
	/* Only the encoder's own output is trained for it, not a Dense projection after it. */
	return b->head.n_dense ? MODEL_MRL_NONE : (enum model_matryoshka)b->enc.matryoshka;
}

/* The tokenizer, for the tokenize and decode routes. */
static const struct tokenizer *dense_tokenizer(const void *impl)
{
	return ((const struct dense *)impl)->tok;
}

static const struct model_ops dense_ops = {
    .tokenizer = dense_tokenizer,
    .matryoshka = dense_matryoshka,
    .close = dense_close,
    .bytes = dense_bytes,
    .max_tokens = dense_max_tokens,
    .prompt = dense_prompt,
};

static const struct model_encode_task dense_encode = {
    .output = MODEL_OUTPUT_DENSE,
    .item_limits = true,
    .pooling = true,
    .dims = dense_dims,
    .prepare = dense_prepare,
    .run = dense_run,
};

const struct encoder *dense_encoder(const struct model *m)
{
	if (!m || m->ops != &dense_ops)
		return NULL;
	return &((struct dense *)m->impl)->enc;
}

/* Any config.json the other families did not take: the encoder architectures decide. */
bool dense_detect(const struct model_desc *d)
{
	return d->has[MODEL_FILE_CONFIG];
}

enum sy_status dense_open(const struct model_desc *d, const struct model_options *opts,
                          struct sy_error *err, struct model *out)
{
	struct dense *b = calloc(1, sizeof *b);
	if (!b)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	enum sy_status s = encoder_open(d, opts->n_threads, opts->precision, err, &b->enc);
	if (s == SY_OK)
		s = st_meta_load(d->path, err, &b->meta);
	if (s == SY_OK)
		s = st_meta_choose_dense(d->path, opts->dense_dims, err, &b->meta);
	if (s == SY_OK)
		s = model_tokenizer_load(d->path, b->enc.vocab_size, err, &b->tok);
	if (s == SY_OK)
		s = pooling_head_init(&b->meta, opts, b->enc.hidden, err, &b->head);
	if (s != SY_OK) {
		dense_close(b);
		return s;
	}
	int max_len = opts->max_length;
	if (max_len <= 0)
		max_len = b->meta.max_seq_length;
	if (max_len <= 0)
		max_len = tokenizer_max_length(b->tok);
	if (max_len <= 0 || max_len > b->enc.max_tokens)
		max_len = b->enc.max_tokens;
	b->max_length = max_len;
	/* Activations are sized here, once: a chunk never holds more than DENSE_BATCH_TOKENS
	 * tokens (or one text of max_len), so the forward pass never allocates. */
	int rows = max_len > DENSE_BATCH_TOKENS ? max_len : DENSE_BATCH_TOKENS;
	s = encoder_reserve(&b->enc, rows, rows, max_len, err);
	if (s != SY_OK) {
		dense_close(b);
		return s;
	}
	out->arch = b->enc.arch;
	out->impl = b;
	out->ops = &dense_ops;
	out->encode = &dense_encode;
	return SY_OK;
}
