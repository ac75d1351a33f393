/* Picks an encoder architecture for a model directory (see encoder.h). */
#include "model/arch/encoder.h"

#include <string.h>

#include "model/formats/weights.h"

enum sy_status encoder_open(const struct model_desc *d, int n_threads, enum linear_precision prec,
                            struct sy_error *err, struct encoder *out)
{
	memset(out, 0, sizeof *out);
	/* The config first: a broken one is the error to report, whatever the weights. */
	if (!d->config_text)
		return sy_error_set(err, SY_ERR_IO, "%s: not found", d->config_name);
	if (!d->config)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: not valid JSON", d->config_name);
	struct safetensors *st = NULL;
	enum sy_status s = model_weights_open(d->path, err, &st, NULL);
	if (s != SY_OK)
		return s;
	s = sy_error_set(err, SY_ERR_FORMAT, "%s: no encoder architecture takes it",
	                 d->config_name);
#define ENCODER_ARCH_TRY(sym)                                             \
	if (sym##_encoder_detect(d)) {                                    \
		s = sym##_encoder_open(d, st, n_threads, prec, err, out); \
		safetensors_close(st);                                    \
		return s;                                                 \
	}
	ENCODER_ARCHS(ENCODER_ARCH_TRY)
#undef ENCODER_ARCH_TRY
	safetensors_close(st);
	return s;
}

enum sy_status encoder_input_check(const struct encoder_input *in, const char *arch, int max_tokens,
                                   int vocab, int type_vocab, struct sy_error *err, int *rows,
                                   int *max_t)
{
	long long total = 0;
	*rows = *max_t = 0;
	for (int s = 0; s < in->n_seqs; s++) {
		if (in->lens[s] < 0 || in->lens[s] > max_tokens)
			return sy_error_set(err, SY_ERR_INVALID_ARG,
			                    "%s: sequence %d has %d tokens; the model takes 0..%d",
			                    arch, s, in->lens[s], max_tokens);
		total += in->lens[s];
		*max_t = in->lens[s] > *max_t ? in->lens[s] : *max_t;
	}
	if (total > (1 << 24))
		return sy_error_set(err, SY_ERR_LIMIT, "%s: batch of %lld tokens is too large",
		                    arch, total);
	for (long long r = 0; r < total; r++) {
		if (in->ids[r] < 0 || in->ids[r] >= vocab)
			return sy_error_set(err, SY_ERR_INVALID_ARG,
			                    "%s: token id %d outside the vocabulary (%d)", arch,
			                    (int)in->ids[r], vocab);
		if (type_vocab > 0 && in->type_ids &&
		    (in->type_ids[r] < 0 || in->type_ids[r] >= type_vocab))
			return sy_error_set(err, SY_ERR_INVALID_ARG,
			                    "%s: token type id %d outside 0..%d", arch,
			                    (int)in->type_ids[r], type_vocab - 1);
	}
	*rows = (int)total;
	return SY_OK;
}

void encoder_input_positions(const struct encoder_input *in, int *seq_start, int *pos_ids)
{
	int r = 0;
	for (int q = 0; q < in->n_seqs; q++) {
		seq_start[q] = r;
		for (int i = 0; i < in->lens[q]; i++)
			pos_ids[r++] = i;
	}
	seq_start[in->n_seqs] = r;
}

void encoder_free(struct encoder *e)
{
	if (e && e->ops)
		e->ops->free(e->impl);
	if (e)
		memset(e, 0, sizeof *e);
}
