/* Dense-embedding head: pools the encoder's token states of each sequence into one vector
 * (cls, mean, max or last token over the valid tokens), then applies the optional
 * sentence-transformers Dense layers and L2 normalisation.
 *
 * Token states arrive packed: the sequences' valid tokens back to back, [sum lens][hidden], as
 * bert_forward produces them. With only valid tokens present, "over valid tokens" needs no mask,
 * and the results equal sentence-transformers' masked versions (mean divides by the token count;
 * max ignores padding; last is the last valid token). */
#ifndef SY_MODEL_POOLING_H
#define SY_MODEL_POOLING_H

#include <stdbool.h>

#include "base/status.h"
#include "model/model.h"
#include "model/st_meta.h"
#include "tensor/gemm.h"

/* Pools n sequences of lens[i] tokens from hidden ([sum lens][dim], packed) into out[n][dim].
 * A sequence of length 0 pools to zeros. mode must not be POOLING_DEFAULT. */
void pooling_f32(enum pooling_mode mode, const float *hidden, const int *lens, int n, int dim,
                 float *out);

struct pooling_dense {
	struct gemm_weights w; /* [out][in] packed */
	float *bias; /* [out], or NULL */
	enum gemm_epilogue act;
	int in, out;
};

struct pooling_head {
	enum pooling_mode mode; /* resolved; never POOLING_DEFAULT */
	bool normalize;
	int hidden; /* width of the token states */
	int dims; /* width of the output */
	int n_dense;
	struct pooling_dense dense[ST_META_MAX_DENSE];
	/* Scratch for the Dense chain, grown to the largest batch seen: two [cap_rows][max width]. */
	float *buf[2];
	int cap_rows, max_width;
	long n_scratch_allocs; /* (re)allocations of buf, for tests of steady-state allocation */
};

/* Builds the head from the metadata (loading Dense weights from their safetensors), with
 * overrides from opts (pooling, normalize; may be NULL). Defaults without metadata: cls, no
 * normalisation. Free with pooling_head_free. */
enum sy_status pooling_head_init(const struct st_meta *meta, const struct model_options *opts,
                                 int hidden, struct sy_error *err, struct pooling_head *out);
void pooling_head_free(struct pooling_head *h);

/* Pools, runs the Dense layers and normalises n sequences into out[n][h->dims]. modes[n], when
 * not NULL, overrides the head's pooling per sequence (POOLING_DEFAULT: the head's). */
enum sy_status pooling_head_apply(struct pooling_head *h, const float *hidden, const int *lens,
                                  int n, const enum pooling_mode *modes, struct sy_error *err,
                                  float *out);

#endif
