/* Linear-layer GEMM (placeholder: packing is a copy and the kernel is scalar until the packed
 * AVX2+FMA kernel lands). */
#include <stdlib.h>
#include <string.h>

#include "base/threads.h"
#include "tensor/gemm.h"

enum sy_status gemm_weights_pack(const float *w, int n, int k, struct sy_error *err,
				 struct gemm_weights *out)
{
	out->n = n;
	out->k = k;
	out->packed_len = (size_t)n * k;
	out->packed = malloc(out->packed_len * sizeof(float));
	if (!out->packed)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory packing %dx%d weights", n, k);
	memcpy(out->packed, w, out->packed_len * sizeof(float));
	return SY_OK;
}

void gemm_weights_free(struct gemm_weights *w)
{
	free(w->packed);
	w->packed = NULL;
}

void gemm_linear(const float *x, int ldx, const struct gemm_weights *w, const float *bias,
		 enum gemm_epilogue epi, float *y, int ldy, int m, int ith, int nth)
{
	int b, e;
	sy_split(m, ith, nth, &b, &e);
	if (e > b)
		gemm_linear_ref(x + (size_t)b * ldx, ldx, w->packed, bias, epi, y + (size_t)b * ldy, ldy,
				e - b, w->n, w->k);
}
