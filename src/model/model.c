/* What every model shares: option parsing, result and prepared-item lifetimes, the accessors
 * over the optional entry points, and the one-call helpers that prepare and run together. */
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

#include "tensor/ops.h"

enum pooling_mode pooling_mode_parse(const char *s)
{
	if (!s)
		return POOLING_DEFAULT;
	if (!strcmp(s, "cls"))
		return POOLING_CLS;
	if (!strcmp(s, "mean"))
		return POOLING_MEAN;
	if (!strcmp(s, "max"))
		return POOLING_MAX;
	if (!strcmp(s, "last"))
		return POOLING_LAST;
	return POOLING_DEFAULT;
}

const char *pooling_mode_name(enum pooling_mode m)
{
	switch (m) {
	case POOLING_CLS: return "cls";
	case POOLING_MEAN: return "mean";
	case POOLING_MAX: return "max";
	case POOLING_LAST: return "last";
	case POOLING_DEFAULT: break;
	}
	return "default";
}

int ner_aggregation_parse(const char *s)
{
	static const char *const names[] = {"first", "simple", "average", "max"};
	for (int i = 0; s && i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

const char *ner_aggregation_name(enum ner_aggregation a)
{
	switch (a) {
	case NER_AGG_FIRST: return "first";
	case NER_AGG_SIMPLE: return "simple";
	case NER_AGG_AVERAGE: return "average";
	case NER_AGG_MAX: return "max";
	}
	return "first";
}

struct model_options model_default_options(void)
{
	return (struct model_options){.pooling = POOLING_DEFAULT, .normalize = -1};
}

void model_item_result_free(struct model_item_result *r)
{
	if (!r)
		return;
	free(r->vectors);
	free(r->entities);
	free(r->dense);
	free(r->sparse_ids);
	free(r->sparse_weights);
	memset(r, 0, sizeof *r);
}

void model_close(struct model *m)
{
	if (!m)
		return;
	m->ops->close(m->impl);
	free(m);
}

size_t model_bytes(const struct model *m)
{
	return m->ops->bytes ? m->ops->bytes(m->impl) : 0;
}

int model_max_tokens(const struct model *m)
{
	return m->ops->max_tokens ? m->ops->max_tokens(m->impl) : 0;
}

enum model_matryoshka model_matryoshka(const struct model *m)
{
	return m->ops->matryoshka ? m->ops->matryoshka(m->impl) : MODEL_MRL_NONE;
}

void model_matryoshka_apply(enum model_matryoshka kind, float *v, int n, int dims, int keep)
{
	for (int i = 0; i < n; i++) {
		float *row = v + (size_t)i * dims, *dst = v + (size_t)i * keep;
		if (kind == MODEL_MRL_LAYER_NORM) /* torch's F.layer_norm: no affine, eps 1e-5 */
			layer_norm_f32(row, row, NULL, NULL, dims, 1e-5f);
		memmove(dst, row, (size_t)keep * sizeof *dst);
		l2_normalize_f32(dst, keep);
	}
}

const char *model_prompt(const struct model *m, const char *name)
{
	return m->ops->prompt ? m->ops->prompt(m->impl, name) : NULL;
}

int model_dims(const struct model *m)
{
	return m->encode ? m->encode->dims(m->impl) : 0;
}

unsigned model_outputs(const struct model *m)
{
	if (!m->encode)
		return 0;
	return m->encode->outputs ? m->encode->outputs : (unsigned)m->encode->output;
}

int model_output_dims(const struct model *m, enum model_output o)
{
	if (!(model_outputs(m) & (unsigned)o))
		return 0;
	if (m->encode->output_dims)
		return m->encode->output_dims(m->impl, o);
	return m->encode->dims(m->impl);
}

const char *model_output_name(unsigned bit)
{
	switch (bit) {
	case MODEL_OUTPUT_DENSE: return "dense";
	case MODEL_OUTPUT_SPARSE: return "sparse";
	case MODEL_OUTPUT_MULTIVECTOR: return "multivector";
	default: return "";
	}
}

int model_score_mode_parse(const char *s)
{
	if (!strcmp(s, "dense"))
		return MODEL_SCORE_DENSE;
	if (!strcmp(s, "sparse"))
		return MODEL_SCORE_SPARSE;
	if (!strcmp(s, "colbert"))
		return MODEL_SCORE_COLBERT;
	if (!strcmp(s, "hybrid"))
		return MODEL_SCORE_HYBRID;
	return -1;
}

const char *model_score_mode_name(enum model_score_mode m)
{
	switch (m) {
	case MODEL_SCORE_DENSE: return "dense";
	case MODEL_SCORE_SPARSE: return "sparse";
	case MODEL_SCORE_COLBERT: return "colbert";
	case MODEL_SCORE_HYBRID: return "hybrid";
	case MODEL_SCORE_DEFAULT: break;
	}
	return "default";
}

const char *const *model_labels(const struct model *m, int *n)
{
	*n = 0;
	return m->extract && m->extract->labels ? m->extract->labels(m->impl, n) : NULL;
}

const struct tokenizer *model_tokenizer(const struct model *m)
{
	return m->ops && m->ops->tokenizer ? m->ops->tokenizer(m->impl) : NULL;
}

const char *model_token(const struct model *m, int id)
{
	return m->encode && m->encode->token ? m->encode->token(m->impl, id) : NULL;
}

void model_prepared_free(const struct model *m, struct model_prepared *p)
{
	if (!p)
		return;
	tok_encoding_free(&p->enc);
	if (p->extra && m->ops->free_extra)
		m->ops->free_extra(p->extra);
	memset(p, 0, sizeof *p);
}

enum sy_status model_too_long(struct sy_error *err, int n, int limit)
{
	return sy_error_set(err, SY_ERR_LIMIT, "%d tokens, more than the %d the model takes", n,
	                    limit);
}

enum sy_status model_join_prefix(const struct model_input *in, struct sy_error *err,
                                 const char **text, size_t *len, char **joined)
{
	*text = in->text;
	*len = in->len;
	*joined = NULL;
	if (!in->prefix || !in->prefix_len)
		return SY_OK;
	char *j = malloc(in->prefix_len + in->len + 1);
	if (!j)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory for a prompt");
	memcpy(j, in->prefix, in->prefix_len);
	memcpy(j + in->prefix_len, in->text, in->len);
	j[in->prefix_len + in->len] = '\0';
	*text = *joined = j;
	*len = in->prefix_len + in->len;
	return SY_OK;
}

enum sy_status model_tokenize(const struct tokenizer *tok, const struct model_input *in,
                              int max_length, struct sy_error *err, struct tok_encoding *out)
{
	const char *text;
	size_t len;
	char *joined;
	if (model_join_prefix(in, err, &text, &len, &joined) != SY_OK)
		return SY_ERR_NOMEM;
	struct tok_encode_params p = tokenizer_default_params();
	p.add_special_tokens = true;
	if (in->max_length > 0 && (max_length <= 0 || in->max_length < max_length))
		max_length = in->max_length; /* the request's own, lower limit */
	p.max_length = in->truncate ? max_length : -1;
	p.truncate_left = in->truncate_left;
	enum sy_status s = tokenizer_encode(tok, text, len, NULL, 0, &p, err, out);
	free(joined);
	if (s == SY_OK && !in->truncate && max_length > 0 && out->n > max_length) {
		s = model_too_long(err, out->n, max_length);
		tok_encoding_free(out);
	}
	return s;
}

model_prepare_fn model_task_prepare(const struct model *m, enum model_task task)
{
	switch (task) {
	case MODEL_TASK_ENCODE: return m->encode ? m->encode->prepare : NULL;
	case MODEL_TASK_SCORE: return m->score ? m->score->prepare : NULL;
	case MODEL_TASK_EXTRACT: return m->extract ? m->extract->prepare : NULL;
	}
	return NULL;
}

static _Thread_local const struct model_stop *current_stop;

const struct model_stop *model_stop_current(void)
{
	return current_stop;
}

bool model_stop_requested(const struct model_stop *stop)
{
	return stop && stop->stop && stop->stop(stop->ctx);
}

enum sy_status model_stopped_error(struct sy_error *err)
{
	return sy_error_set(err, SY_ERR_UNAVAILABLE,
	                    "stopped: every caller of the batch went away");
}

enum sy_status model_task_run(struct model *m, enum model_task task, const struct model_item *items,
                              int n, const struct model_stop *stop, struct sy_error *err,
                              float *out, struct model_item_result *res)
{
	if (model_stop_requested(stop))
		return model_stopped_error(err);
	current_stop = stop;
	enum sy_status s;
	if (task == MODEL_TASK_SCORE) {
		s = m->score->run(m->impl, items, n, err, out);
	} else {
		if (res)
			memset(res, 0, (size_t)n * sizeof *res);
		s = task == MODEL_TASK_ENCODE ? m->encode->run(m->impl, items, n, err, out, res)
		                              : m->extract->run(m->impl, items, n, err, res);
		for (int i = 0; s != SY_OK && res && i < n; i++)
			model_item_result_free(&res[i]);
	}
	current_stop = NULL;
	return s;
}

enum sy_status model_run_inputs(struct model *m, enum model_task task,
                                const struct model_input *ins, int n, struct sy_error *err,
                                float *out, struct model_item_result *res, int *n_tokens)
{
	model_prepare_fn prepare = model_task_prepare(m, task);
	if (!prepare)
		return sy_error_set(err, SY_ERR_UNSUPPORTED, "model %s does not %s", m->arch,
		                    task == MODEL_TASK_ENCODE  ? "encode"
		                    : task == MODEL_TASK_SCORE ? "score"
		                                               : "extract");
	const bool multi = task == MODEL_TASK_EXTRACT ||
	                   (task == MODEL_TASK_ENCODE &&
	                    (m->encode->outputs || m->encode->output == MODEL_OUTPUT_MULTIVECTOR));
	if (multi ? !res : !out)
		return sy_error_set(
		    err, SY_ERR_INVALID_ARG, "model %s: %s output needs %s", m->arch,
		    multi ? (task == MODEL_TASK_EXTRACT ? "entity" : "multivector") : "fixed-size",
		    multi ? "per-item results" : "an output array");
	if (n <= 0)
		return SY_OK;
	struct model_prepared *preps = calloc((size_t)n, sizeof *preps);
	struct model_item *items = calloc((size_t)n, sizeof *items);
	enum sy_status s = preps && items
	                       ? SY_OK
	                       : sy_error_set(err, SY_ERR_NOMEM, "out of memory for %d items", n);
	int done = 0;
	for (; s == SY_OK && done < n; done++) {
		s = prepare(m->impl, &ins[done], err, &preps[done]);
		items[done] = (struct model_item){&ins[done], &preps[done]};
		if (s == SY_OK && n_tokens)
			n_tokens[done] = preps[done].n_tokens;
	}
	if (s == SY_OK)
		s = model_task_run(m, task, items, n, NULL, err, out, res);
	for (int i = 0; i < done; i++)
		model_prepared_free(m, &preps[i]);
	free(preps);
	free(items);
	return s;
}

/* n items of one task, texts[i] in the frame of tmpl. */
static enum sy_status run_call(struct model *m, enum model_task task, const char *const *texts,
                               const size_t *lens, int n, const struct model_input *tmpl,
                               struct sy_error *err, float *out, struct model_item_result *res,
                               int *n_tokens)
{
	struct model_input *ins = calloc((size_t)(n > 0 ? n : 1), sizeof *ins);
	if (!ins)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory for %d items", n);
	for (int i = 0; i < n; i++) {
		ins[i] = *tmpl;
		ins[i].text = texts[i];
		ins[i].len = lens[i];
	}
	enum sy_status s = model_run_inputs(m, task, ins, n, err, out, res, n_tokens);
	free(ins);
	return s;
}

enum sy_status model_encode_texts(struct model *m, const char *const *texts, const size_t *lens,
                                  int n, const struct model_input *tmpl, struct sy_error *err,
                                  float *out, struct model_item_result *res, int *n_tokens)
{
	struct model_input def = {.truncate = true, .normalize = -1};
	return run_call(m, MODEL_TASK_ENCODE, texts, lens, n, tmpl ? tmpl : &def, err, out, res,
	                n_tokens);
}

enum sy_status model_score_pairs(struct model *m, const char *query, size_t query_len,
                                 const char *const *docs, const size_t *lens, int n,
                                 struct sy_error *err, float *scores, int *n_tokens)
{
	struct model_input tmpl = {
	    .query = query, .query_len = query_len, .truncate = true, .normalize = -1};
	return run_call(m, MODEL_TASK_SCORE, docs, lens, n, &tmpl, err, scores, NULL, n_tokens);
}

enum sy_status model_extract_texts(struct model *m, const char *const *texts, const size_t *lens,
                                   int n, const struct extract_params *xp, struct sy_error *err,
                                   struct model_item_result *res, int *n_tokens)
{
	struct model_input tmpl = {.extract = xp, .truncate = true, .normalize = -1};
	return run_call(m, MODEL_TASK_EXTRACT, texts, lens, n, &tmpl, err, NULL, res, n_tokens);
}

enum sy_status model_tokenizer_load(const char *dir, int rows, struct sy_error *err,
                                    struct tokenizer **out)
{
	enum sy_status s = tokenizer_load(dir, err, out);
	if (s != SY_OK)
		return s;
	const int n = tokenizer_vocab_size(*out);
	if (rows > 0 && n > rows) {
		tokenizer_free(*out);
		*out = NULL;
		return sy_error_set(
		    err, SY_ERR_FORMAT,
		    "%s: the tokenizer gives ids up to %d but the model's embedding "
		    "table has %d rows",
		    dir, n - 1, rows);
	}
	return SY_OK;
}
