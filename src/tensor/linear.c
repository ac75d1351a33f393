/* Dispatch between the fp32 and int8 linear kernels (see linear.h). */
#include "tensor/linear.h"

#include <string.h>

bool linear_precision_parse(const char *s, enum linear_precision *out)
{
	if (!s || !*s || !strcmp(s, "fp32") || !strcmp(s, "none") || !strcmp(s, "float32")) {
		*out = LINEAR_FP32;
		return true;
	}
	if (!strcmp(s, "int8")) {
		*out = LINEAR_INT8;
		return true;
	}
	return false;
}

const char *linear_precision_name(enum linear_precision p)
{
	return p == LINEAR_INT8 ? "int8" : "fp32";
}

enum sy_status linear_pack(const float *w, int n, int k, enum linear_precision prec,
                           struct sy_error *err, struct linear *out)
{
	memset(out, 0, sizeof *out);
	out->prec = prec;
	if (prec == LINEAR_INT8)
		return qgemm_weights_pack(w, n, k, err, &out->q);
	return gemm_weights_pack(w, n, k, err, &out->f);
}

void linear_free(struct linear *l)
{
	gemm_weights_free(&l->f);
	qgemm_weights_free(&l->q);
}

size_t linear_bytes(const struct linear *l)
{
	return l->prec == LINEAR_INT8 ? l->q.bytes : l->f.packed_len * sizeof(float);
}

void linear_run(const float *x, int ldx, const struct linear *l, const float *bias,
                enum gemm_epilogue epi, float *y, int ldy, int m, int ith, int nth)
{
	if (l->prec == LINEAR_INT8)
		qgemm_linear(x, ldx, &l->q, bias, epi, y, ldy, m, ith, nth);
	else
		gemm_linear(x, ldx, &l->f, bias, epi, y, ldy, m, ith, nth);
}
