/* A linear layer's weights in the precision the model was opened with: fp32 (gemm.h) or int8
 * with dynamic activation quantisation (qgemm.h). Model code packs and runs layers through
 * this, so the choice is made once at load and the forward pass does not branch on it. */
#ifndef SY_TENSOR_LINEAR_H
#define SY_TENSOR_LINEAR_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "tensor/gemm.h"
#include "tensor/qgemm.h"

enum linear_precision {
	LINEAR_FP32 = 0,
	LINEAR_INT8, /* per-channel 7-bit weights, per-row 8-bit activations (qgemm.h) */
};

struct linear {
	enum linear_precision prec;
	struct gemm_weights f;
	struct qgemm_weights q;
};

/* Parses "fp32"/"none"/"" and "int8"; returns false for anything else. */
bool linear_precision_parse(const char *s, enum linear_precision *out);
const char *linear_precision_name(enum linear_precision p);

/* Packs w (n x k, the nn.Linear layout) in precision prec. The caller may free w. */
enum sy_status linear_pack(const float *w, int n, int k, enum linear_precision prec,
                           struct sy_error *err, struct linear *out);
void linear_free(struct linear *l);
/* Bytes the packed weights hold. */
size_t linear_bytes(const struct linear *l);

/* y = epi(x W^T + bias), part ith of nth, as gemm_linear / qgemm_linear. */
void linear_run(const float *x, int ldx, const struct linear *l, const float *bias,
                enum gemm_epilogue epi, float *y, int ldy, int m, int ith, int nth);

#endif
