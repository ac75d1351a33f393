/* SPLADE sparse encoder: a BertForMaskedLM checkpoint read as a bag of weighted vocabulary terms
 * (naver/splade, opensearch neural sparse encoders). For each token the MLM head gives logits
 * over the vocabulary (transform dense -> activation -> LayerNorm -> decoder, the decoder being
 * the word-embedding matrix as the checkpoints tie it, plus cls.predictions.bias); the text's
 * weight for term j is max over its tokens of log(1 + relu(logit_j)). The result is a vector of
 * vocabulary size, almost all zeros; the server sends the nonzero entries (indices, values).
 *
 * DistilBertForMaskedLM checkpoints (opensearch-neural-sparse-encoding-doc-v2-distill) have the
 * same head under other names: vocab_transform -> activation -> vocab_layer_norm ->
 * vocab_projector (tied to the word embeddings, with its own bias).
 *
 * Inference-free queries: a model directory with an idf.json (token -> weight, as OpenSearch's
 * doc-only sparse encoders ship) encodes queries (is_query) without the network: the query's
 * token ids, special tokens included, each get their idf weight (tokens absent from idf.json
 * weigh 0, and idf.json tokens missing from the vocabulary are ignored). Documents of such a
 * model have the special tokens' weights set to 0, as those models' reference code does.
 *
 * It is an encode task with sparse output of dims = vocabulary size, so requests are batched
 * like dense ones. The decoder runs over chunks of 64 tokens, on the
 * encoder's threads, so the logits scratch stays at 64 x vocabulary floats (7.8 MB for 30,522
 * terms). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/threads.h"
#include "model/arch/bert.h"
#include "model/config.h"
#include "model/families.h"
#include "model/arch/packed_batch.h"
#include "model/formats/safetensors.h"
#include "model/formats/weights.h"
#include "tensor/gemm.h"
#include "tensor/ops.h"
#include "text/tokenizer.h"

#define SPLADE_BATCH_TOKENS 1024
#define SPLADE_CHUNK 64 /* tokens per decoder GEMM */

struct splade {
	struct bert_model *model;
	struct tokenizer *tok;
	struct bert_config cfg;
	int hidden, vocab, max_length;
	struct gemm_weights tw; /* transform dense [H][H] */
	float *bt, *ln_g, *ln_b; /* [H] */
	struct gemm_weights dec; /* [V][H] */
	float *dec_bias; /* [V] */
	float *idf; /* [V] query weights from idf.json, or NULL */
	int32_t special[8]; /* ids zeroed in documents when idf is set */
	int n_special;
	float *chunk_h, *logits; /* [CHUNK][H], [CHUNK][V] */
	struct packed_batch batch; /* the chunk being run */
};

bool splade_detect(const struct model_desc *d)
{
	return model_desc_architecture(d, "BertForMaskedLM", false) ||
	       model_desc_architecture(d, "DistilBertForMaskedLM", false);
}

static void splade_free(struct splade *sp)
{
	if (!sp)
		return;
	bert_model_free(sp->model);
	tokenizer_free(sp->tok);
	gemm_weights_free(&sp->tw);
	free(sp->bt);
	free(sp->ln_g);
	free(sp->ln_b);
	gemm_weights_free(&sp->dec);
	free(sp->dec_bias);
	free(sp->idf);
	free(sp->chunk_h);
	free(sp->logits);
	packed_batch_free(&sp->batch);
	free(sp);
}

static enum sy_status load_head(struct splade *sp, const struct safetensors *st,
                                struct sy_error *err)
{
	const int H = sp->hidden, V = sp->vocab;
	const bool distil = sp->cfg.arch == BERT_ARCH_DISTILBERT;
	const char *tw_name = distil ? "vocab_transform" : "cls.predictions.transform.dense";
	const char *ln_name = distil ? "vocab_layer_norm" : "cls.predictions.transform.LayerNorm";
	char name[128];
	float *wt = NULL;
	snprintf(name, sizeof name, "%s.weight", tw_name);
	enum sy_status s = safetensors_read_f32(st, name, 2, (int64_t[]){H, H}, err, &wt);
	if (s == SY_OK)
		s = gemm_weights_pack(wt, H, H, err, &sp->tw);
	free(wt);
	snprintf(name, sizeof name, "%s.bias", tw_name);
	if (s == SY_OK)
		s = safetensors_read_f32(st, name, 1, (int64_t[]){H}, err, &sp->bt);
	snprintf(name, sizeof name, "%s.weight", ln_name);
	if (s == SY_OK)
		s = safetensors_read_f32(st, name, 1, (int64_t[]){H}, err, &sp->ln_g);
	snprintf(name, sizeof name, "%s.bias", ln_name);
	if (s == SY_OK)
		s = safetensors_read_f32(st, name, 1, (int64_t[]){H}, err, &sp->ln_b);
	if (s != SY_OK)
		return s;
	/* The decoder is tied to the word embeddings; a checkpoint may also store it. */
	const char *dec_name = distil ? "vocab_projector.weight" : "cls.predictions.decoder.weight";
	char emb_name[96];
	if (!safetensors_find(st, dec_name)) {
		snprintf(emb_name, sizeof emb_name, "%sembeddings.word_embeddings.weight",
		         bert_model_prefix(sp->model));
		dec_name = emb_name;
	}
	float *w = NULL;
	s = safetensors_read_f32(st, dec_name, 2, (int64_t[]){V, H}, err, &w);
	if (s == SY_OK)
		s = gemm_weights_pack(w, V, H, err, &sp->dec);
	free(w);
	if (s != SY_OK)
		return s;
	const char *bias_name = distil ? "vocab_projector.bias"
	                        : safetensors_find(st, "cls.predictions.bias")
	                            ? "cls.predictions.bias"
	                            : "cls.predictions.decoder.bias";
	return safetensors_read_f32(st, bias_name, 1, (int64_t[]){V}, err, &sp->dec_bias);
}

/* idf.json (optional): {"token": weight, ...} -> sp->idf[V]; and the special token ids. */
static enum sy_status load_idf(struct splade *sp, const char *dir, struct sy_error *err)
{
	char *path = sy_path_join(dir, "idf.json");
	if (!path)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	if (!sy_path_exists(path)) {
		free(path);
		return SY_OK;
	}
	char *text = NULL;
	size_t len = 0;
	enum sy_status s = sy_file_read(path, err, &text, &len);
	cJSON *doc = s == SY_OK ? cJSON_ParseWithLength(text, len) : NULL;
	free(text);
	if (s == SY_OK && !cJSON_IsObject(doc))
		s = sy_error_set(err, SY_ERR_FORMAT, "%s: not a JSON object of token weights",
		                 path);
	if (s == SY_OK && !(sp->idf = calloc((size_t)sp->vocab, sizeof *sp->idf)))
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	const cJSON *t;
	const cJSON *weights = s == SY_OK ? doc : (const cJSON *)NULL;
	cJSON_ArrayForEach(t, weights)
	{
		if (!cJSON_IsNumber(t) || !isfinite(t->valuedouble)) {
			s = sy_error_set(err, SY_ERR_FORMAT,
			                 "%s: the weight of \"%.40s\" is not a number", path,
			                 t->string);
			break;
		}
		int32_t id = tokenizer_token_to_id(sp->tok, t->string, strlen(t->string));
		if (id >= 0 && id < sp->vocab)
			sp->idf[id] = (float)t->valuedouble;
	}
	cJSON_Delete(doc);
	free(path);
	static const char *const names[] = {"[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]",
	                                    "<s>",   "</s>",  "<pad>", "<unk>", "<mask>"};
	for (size_t i = 0; s == SY_OK && i < sizeof names / sizeof *names && sp->n_special < 8;
	     i++) {
		int32_t id = tokenizer_token_to_id(sp->tok, names[i], strlen(names[i]));
		if (id >= 0 && id < sp->vocab)
			sp->special[sp->n_special++] = id;
	}
	return s;
}

static enum sy_status splade_load(const struct model_desc *d, const struct model_options *opts,
                                  struct sy_error *err, struct splade **out)
{
	*out = NULL;
	struct splade *sp = calloc(1, sizeof *sp);
	if (!sp)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	const char *dir = d->path;
	enum sy_status s = bert_config_from_desc(d, err, &sp->cfg);
	if (s == SY_OK && sp->cfg.arch == BERT_ARCH_ROBERTA)
		s = sy_error_set(err, SY_ERR_UNSUPPORTED,
		                 "%s: SPLADE is supported for BertForMaskedLM and "
		                 "DistilBertForMaskedLM checkpoints",
		                 dir);
	struct safetensors *st = NULL;
	if (s == SY_OK)
		s = model_weights_open(dir, err, &st, NULL);
	if (s == SY_OK)
		s = bert_model_load_st_prec(&sp->cfg, st, opts->n_threads, opts->precision, err,
		                            &sp->model);
	if (s == SY_OK) {
		sp->hidden = sp->cfg.hidden;
		sp->vocab = sp->cfg.vocab_size;
		s = load_head(sp, st, err);
	}
	safetensors_close(st);
	if (s == SY_OK)
		s = model_tokenizer_load(dir, sp->cfg.vocab_size, err, &sp->tok);
	if (s == SY_OK)
		s = load_idf(sp, dir, err);
	if (s == SY_OK) {
		int m = opts->max_length > 0 ? opts->max_length : tokenizer_max_length(sp->tok);
		sp->max_length = m > 0 && m < sp->cfg.max_tokens ? m : sp->cfg.max_tokens;
		sp->chunk_h = malloc((size_t)SPLADE_CHUNK * sp->hidden * sizeof(float));
		sp->logits = malloc((size_t)SPLADE_CHUNK * sp->vocab * sizeof(float));
		if (!sp->chunk_h || !sp->logits)
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	if (s == SY_OK) {
		int rows =
		    sp->max_length > SPLADE_BATCH_TOKENS ? sp->max_length : SPLADE_BATCH_TOKENS;
		s = bert_model_reserve(sp->model, rows, rows, sp->max_length, err);
	}
	if (s != SY_OK) {
		splade_free(sp);
		return s;
	}
	*out = sp;
	return SY_OK;
}

/* One decoder GEMM of a chunk, split across the model's threads (by vocabulary panels). */
struct dec_ctx {
	struct splade *sp;
	int rows;
};

static void dec_part(void *p, int ith, int nth)
{
	struct dec_ctx *c = p;
	gemm_linear(c->sp->chunk_h, c->sp->hidden, &c->sp->dec, c->sp->dec_bias, GEMM_EPILOGUE_RELU,
	            c->sp->logits, c->sp->vocab, c->rows, ith, nth);
}

/* out[V] = max over rows [0, n) of log1p(relu(head(h_row))). */
static void pool_sequence(struct splade *sp, const float *h, int n, float *out)
{
	const int H = sp->hidden, V = sp->vocab;
	memset(out, 0, (size_t)V * sizeof *out);
	for (int r0 = 0; r0 < n; r0 += SPLADE_CHUNK) {
		const int rows = n - r0 < SPLADE_CHUNK ? n - r0 : SPLADE_CHUNK;
		const enum gemm_epilogue act =
		    sp->cfg.act == BERT_ACT_GELU_ERF    ? GEMM_EPILOGUE_GELU_ERF
		    : sp->cfg.act == BERT_ACT_GELU_TANH ? GEMM_EPILOGUE_GELU_TANH
		                                        : GEMM_EPILOGUE_RELU;
		gemm_linear(h + (size_t)r0 * H, H, &sp->tw, sp->bt, act, sp->chunk_h, H, rows, 0,
		            1);
		for (int r = 0; r < rows; r++) {
			float *t = sp->chunk_h + (size_t)r * H;
			layer_norm_f32(t, t, sp->ln_g, sp->ln_b, H, sp->cfg.layer_norm_eps);
		}
		struct dec_ctx dc = {sp, rows};
		sy_pool_run(bert_model_pool(sp->model), dec_part, &dc);
		for (int r = 0; r < rows; r++) {
			const float *l = sp->logits + (size_t)r * V;
			for (int v = 0; v < V; v++)
				if (l[v] > 0) {
					float w = log1pf(l[v]);
					if (w > out[v])
						out[v] = w;
				}
		}
	}
}

struct splade_run {
	struct splade *sp;
	float *out;
	const int *index; /* [n] the output row of each packed item */
};

/* Runs one packed chunk and writes its texts' term weights. */
static enum sy_status run_chunk(void *ctx, struct packed_batch *pb, int first, int count,
                                struct sy_error *err)
{
	struct splade_run *r = ctx;
	struct splade *sp = r->sp;
	struct encoder_input in = packed_batch_input(pb);
	const float *hidden;
	enum sy_status s = bert_forward(sp->model, &in, err, &hidden);
	if (s != SY_OK)
		return s;
	int row = 0;
	for (int i = 0; i < count; i++) {
		float *o = r->out + (size_t)r->index[first + i] * sp->vocab;
		pool_sequence(sp, hidden + (size_t)row * sp->hidden, in.lens[i], o);
		for (int k = 0; sp->idf && k < sp->n_special; k++)
			o[sp->special[k]] = 0;
		row += in.lens[i];
	}
	return SY_OK;
}

static enum sy_status splade_prepare(const void *impl, const struct model_input *in,
                                     struct sy_error *err, struct model_prepared *out)
{
	const struct splade *sp = impl;
	enum sy_status s = model_tokenize(sp->tok, in, sp->max_length, err, &out->enc);
	if (s == SY_OK)
		out->n_tokens = out->enc.n;
	return s;
}

/* Inference-free queries (idf.json) are weighed at once; the other texts run through the
 * network in packed chunks. */
static enum sy_status splade_run(void *impl, const struct model_item *items, int n,
                                 struct sy_error *err, float *out, struct model_item_result *res)
{
	(void)res;
	struct splade *sp = impl;
	int *index = malloc((size_t)(n > 0 ? n : 1) * sizeof *index);
	struct model_item *rest = malloc((size_t)(n > 0 ? n : 1) * sizeof *rest);
	if (!index || !rest) {
		free(index);
		free(rest);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	int m = 0;
	for (int i = 0; i < n; i++) {
		if (!sp->idf || !items[i].in->is_query) {
			rest[m] = items[i];
			index[m++] = i;
			continue;
		}
		const struct tok_encoding *enc = &items[i].prep->enc;
		float *o = out + (size_t)i * sp->vocab;
		memset(o, 0, (size_t)sp->vocab * sizeof *o);
		for (int k = 0; k < enc->n; k++)
			if (enc->ids[k] >= 0 && enc->ids[k] < sp->vocab)
				o[enc->ids[k]] = sp->idf[enc->ids[k]];
	}
	struct splade_run r = {sp, out, index};
	enum sy_status s = packed_batch_chunks(&sp->batch, rest, m, SPLADE_BATCH_TOKENS, false,
	                                       run_chunk, &r, err);
	free(index);
	free(rest);
	return s;
}

static int splade_dims(const void *impl)
{
	return ((const struct splade *)impl)->vocab;
}

static size_t splade_bytes(const void *impl)
{
	const struct splade *sp = impl;
	return tokenizer_bytes(sp->tok) + bert_model_weight_bytes(sp->model) +
	       bert_model_scratch_bytes(sp->model) +
	       (sp->dec.packed_len + sp->tw.packed_len) * sizeof(float) +
	       (size_t)SPLADE_CHUNK * (size_t)(sp->vocab + sp->hidden) * sizeof(float);
}

static int splade_max_tokens(const void *impl)
{
	return ((const struct splade *)impl)->max_length;
}

static const char *splade_token(const void *impl, int id)
{
	return tokenizer_id_to_token(((const struct splade *)impl)->tok, id);
}

static void splade_close(void *impl)
{
	splade_free(impl);
}

/* The tokenizer, for the tokenize and decode routes. */
static const struct tokenizer *splade_tokenizer(const void *impl)
{
	return ((const struct splade *)impl)->tok;
}

static const struct model_ops splade_ops = {.tokenizer = splade_tokenizer,
                                            .close = splade_close,
                                            .bytes = splade_bytes,
                                            .max_tokens = splade_max_tokens};
static const struct model_encode_task splade_encode = {
    .output = MODEL_OUTPUT_SPARSE,
    .item_limits = true,
    .dims = splade_dims,
    .prepare = splade_prepare,
    .run = splade_run,
    .token = splade_token,
};

enum sy_status splade_open(const struct model_desc *d, const struct model_options *opts,
                           struct sy_error *err, struct model *out)
{
	struct splade *sp;
	enum sy_status s = splade_load(d, opts, err, &sp);
	if (s != SY_OK)
		return s;
	out->arch = "splade";
	out->impl = sp;
	out->ops = &splade_ops;
	out->encode = &splade_encode;
	return SY_OK;
}
