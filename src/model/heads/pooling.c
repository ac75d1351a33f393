/* Pooling head. The pooling itself is a few passes over the packed token states; the Dense
 * layers (sentence_transformers.models.Dense: act(W x + b)) reuse the linear-layer GEMM with the
 * activation as its epilogue. Both are tiny next to the encoder, so they run on the calling
 * thread. */
#include "model/heads/pooling.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "model/formats/safetensors.h"
#include "model/formats/weights.h"
#include "tensor/ops.h"

void pooling_f32(enum pooling_mode mode, const float *hidden, const int *lens, int n, int dim,
                 float *out)
{
	const float *seq = hidden;
	for (int i = 0; i < n; i++) {
		float *o = out + (size_t)i * dim;
		int len = lens[i];
		if (len <= 0) {
			memset(o, 0, (size_t)dim * sizeof *o);
			continue;
		}
		switch (mode) {
		case POOLING_MEAN: {
			memcpy(o, seq, (size_t)dim * sizeof *o);
			for (int t = 1; t < len; t++)
				add_f32(o, seq + (size_t)t * dim, dim);
			float inv = 1.0f / (float)len;
			for (int j = 0; j < dim; j++)
				o[j] *= inv;
			break;
		}
		case POOLING_MAX:
			memcpy(o, seq, (size_t)dim * sizeof *o);
			for (int t = 1; t < len; t++) {
				const float *r = seq + (size_t)t * dim;
				for (int j = 0; j < dim; j++)
					o[j] = r[j] > o[j] ? r[j] : o[j];
			}
			break;
		case POOLING_LAST:
			memcpy(o, seq + (size_t)(len - 1) * dim, (size_t)dim * sizeof *o);
			break;
		case POOLING_CLS:
		case POOLING_DEFAULT: memcpy(o, seq, (size_t)dim * sizeof *o); break;
		}
		seq += (size_t)len * dim;
	}
}

static enum sy_status dense_load(const struct st_dense_meta *dm, struct sy_error *err,
                                 struct pooling_dense *d)
{
	struct safetensors *st;
	enum sy_status s = model_weights_open(dm->dir, err, &st, NULL);
	if (s != SY_OK)
		return s;
	d->in = dm->in_features;
	d->out = dm->out_features;
	d->act = dm->act;
	float *w = NULL;
	s = safetensors_read_f32(st, "linear.weight", 2, (int64_t[]){d->out, d->in}, err, &w);
	if (s == SY_OK)
		s = gemm_weights_pack(w, d->out, d->in, err, &d->w);
	free(w);
	if (s == SY_OK && dm->bias)
		s = safetensors_read_f32(st, "linear.bias", 1, (int64_t[]){d->out}, err, &d->bias);
	safetensors_close(st);
	return s;
}

enum sy_status pooling_head_init(const struct st_meta *meta, const struct model_options *opts,
                                 int hidden, struct sy_error *err, struct pooling_head *out)
{
	memset(out, 0, sizeof *out);
	out->hidden = hidden;
	out->mode = meta && meta->pooling != POOLING_DEFAULT ? meta->pooling : POOLING_CLS;
	if (opts && opts->pooling != POOLING_DEFAULT)
		out->mode = opts->pooling;
	out->normalize = meta && meta->normalize;
	if (opts && opts->normalize >= 0)
		out->normalize = opts->normalize != 0;
	if (meta && meta->pooling_dim && meta->pooling_dim != hidden)
		return sy_error_set(
		    err, SY_ERR_FORMAT,
		    "Pooling word_embedding_dimension %d does not match the hidden size "
		    "%d",
		    meta->pooling_dim, hidden);
	int width = hidden;
	out->max_width = hidden;
	for (int i = 0; meta && i < meta->n_dense; i++) {
		const struct st_dense_meta *dm = &meta->dense[i];
		if (dm->in_features != width) {
			pooling_head_free(out);
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s/config.json: in_features %d, but the layer before "
			                    "gives %d",
			                    dm->dir, dm->in_features, width);
		}
		enum sy_status s = dense_load(dm, err, &out->dense[i]);
		out->n_dense = i + 1;
		if (s != SY_OK) {
			pooling_head_free(out);
			return s;
		}
		width = dm->out_features;
		if (width > out->max_width)
			out->max_width = width;
	}
	out->dims = width;
	return SY_OK;
}

void pooling_head_free(struct pooling_head *h)
{
	for (int i = 0; i < h->n_dense; i++) {
		gemm_weights_free(&h->dense[i].w);
		free(h->dense[i].bias);
	}
	free(h->buf[0]);
	free(h->buf[1]);
	memset(h, 0, sizeof *h);
}

/* The pooling step of the head: one mode for all, or each sequence's own. */
static void pool_rows(const struct pooling_head *h, const float *hidden, const int *lens, int n,
                      const enum pooling_mode *modes, float *out)
{
	if (!modes) {
		pooling_f32(h->mode, hidden, lens, n, h->hidden, out);
		return;
	}
	for (int i = 0; i < n; i++) {
		const enum pooling_mode m = modes[i] != POOLING_DEFAULT ? modes[i] : h->mode;
		pooling_f32(m, hidden, &lens[i], 1, h->hidden, out + (size_t)i * h->hidden);
		hidden += (size_t)(lens[i] > 0 ? lens[i] : 0) * h->hidden;
	}
}

enum sy_status pooling_head_apply(struct pooling_head *h, const float *hidden, const int *lens,
                                  int n, const enum pooling_mode *modes, struct sy_error *err,
                                  float *out)
{
	if (h->n_dense == 0) {
		pool_rows(h, hidden, lens, n, modes, out);
	} else {
		if (n > h->cap_rows) {
			size_t sz = (size_t)n * h->max_width * sizeof(float);
			for (int i = 0; i < 2; i++) {
				free(h->buf[i]);
				h->buf[i] = malloc(sz);
			}
			h->cap_rows = n;
			h->n_scratch_allocs++;
			if (!h->buf[0] || !h->buf[1]) {
				h->cap_rows = 0;
				return sy_error_set(err, SY_ERR_NOMEM,
				                    "out of memory for pooling scratch");
			}
		}
		pool_rows(h, hidden, lens, n, modes, h->buf[0]);
		int cur = 0;
		for (int i = 0; i < h->n_dense; i++) {
			const struct pooling_dense *d = &h->dense[i];
			float *dst = i == h->n_dense - 1 ? out : h->buf[cur ^ 1];
			gemm_linear(h->buf[cur], d->in, &d->w, d->bias, d->act, dst, d->out, n, 0,
			            1);
			cur ^= 1;
		}
	}
	if (h->normalize)
		for (int i = 0; i < n; i++)
			l2_normalize_f32(out + (size_t)i * h->dims, h->dims);
	return SY_OK;
}
