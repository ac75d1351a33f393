/* Linear-layer GEMM, Y = epi(X W^T + bias): the ISA-neutral part (packing W once at load, in the
 * layout both kernel paths stream). The kernels and the blocked driver are per ISA:
 * gemm_avx2.c (AVX2+FMA) and gemm_portable.c (plain C), chosen at start by isa.c; the driver
 * (blocking and thread split) is shared by both through gemm_driver.h. */
#include <stdlib.h>
#include <string.h>

#include "tensor/gemm.h"
#include "tensor/gemm_micro.h"

enum sy_status gemm_weights_pack(const float *w, int n, int k, struct sy_error *err,
                                 struct gemm_weights *out)
{
	memset(out, 0, sizeof *out);
	if (n < 0 || k < 0)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "gemm_weights_pack: bad shape %dx%d",
		                    n, k);
	size_t panels = ((size_t)n + GEMM_NR - 1) / GEMM_NR;
	size_t len = panels * GEMM_NR * (size_t)k;
	/* aligned_alloc wants a size that is a multiple of the alignment. */
	size_t bytes = (len * sizeof(float) + 63) / 64 * 64;
	float *p = aligned_alloc(64, bytes ? bytes : 64);
	if (!p)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory packing %dx%d weights", n, k);
	gemm_pack_bt(p, w, (size_t)k, n, k);
	out->n = n;
	out->k = k;
	out->packed = p;
	out->packed_len = len;
	return SY_OK;
}

void gemm_weights_free(struct gemm_weights *w)
{
	free(w->packed);
	w->packed = NULL;
	w->packed_len = 0;
}
